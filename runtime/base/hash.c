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

/* The stream is libxxhash's own state (allocated by it, 64-byte aligned); the
 * opaque type keeps xxhash.h out of every file that includes hash.h. */
azc_hash64_stream_t *azc_hash64_stream_create(void) {
  XXH3_state_t *st = XXH3_createState();
  if (st) XXH3_64bits_reset(st);
  return (azc_hash64_stream_t *)st;
}

void azc_hash64_stream_reset(azc_hash64_stream_t *s) { XXH3_64bits_reset((XXH3_state_t *)s); }

void azc_hash64_stream_update(azc_hash64_stream_t *s, const void *data, size_t size) {
  if (size) XXH3_64bits_update((XXH3_state_t *)s, data, size);
}

uint64_t azc_hash64_stream_digest(const azc_hash64_stream_t *s) {
  return XXH3_64bits_digest((const XXH3_state_t *)s);
}

void azc_hash64_stream_destroy(azc_hash64_stream_t *s) { XXH3_freeState((XXH3_state_t *)s); }
