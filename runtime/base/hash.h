/* xxHash wrappers: XXH3-64 for section checksums, XXH3-128 for cache keys. */
#ifndef AZC_BASE_HASH_H
#define AZC_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct azc_hash128 {
  uint64_t lo, hi;
} azc_hash128_t;

uint64_t azc_hash64(const void *data, size_t size);
azc_hash128_t azc_hash128(const void *data, size_t size);
/* 32 lowercase hex digits, hi then lo; buf must hold 33 bytes. */
void azc_hash128_hex(azc_hash128_t h, char *buf);

#endif
