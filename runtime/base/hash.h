/* xxHash wrappers: XXH3-64 for section checksums, XXH3-128 for cache keys.
 * The streaming form hashes data that arrives in pieces (a multi-GB weights
 * section written chunk by chunk) and gives the same value as one call over
 * the concatenation. */
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

/* Streaming XXH3-64: create (NULL when out of memory), update any number of
 * times, digest (does not end the stream), destroy. */
typedef struct azc_hash64_stream azc_hash64_stream_t;
azc_hash64_stream_t *azc_hash64_stream_create(void);
void azc_hash64_stream_reset(azc_hash64_stream_t *s);
void azc_hash64_stream_update(azc_hash64_stream_t *s, const void *data, size_t size);
uint64_t azc_hash64_stream_digest(const azc_hash64_stream_t *s);
void azc_hash64_stream_destroy(azc_hash64_stream_t *s);

#endif
