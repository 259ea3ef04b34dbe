/* xxHash wrappers (see hash.h), over Debian's libxxhash. */
#include "runtime/base/hash.h"

#include <stdio.h>
#include <xxhash.h>

uint64_t azc_hash64(const void *data, size_t size) { return XXH3_64bits(data, size); }

azc_hash128_t azc_hash128(const void *data, size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  azc_hash128_t r = {h.low64, h.high64};
  return r;
}

void azc_hash128_hex(azc_hash128_t h, char *buf) {
  snprintf(buf, 33, "%016llx%016llx", (unsigned long long)h.hi, (unsigned long long)h.lo);
}
