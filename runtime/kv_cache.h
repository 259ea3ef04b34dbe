/* The KV cache: per layer, K and V rows for every (sequence, position), laid
 * out (n_seq, n_ctx, n_head_kv * head_dim) so that one token's keys are one
 * contiguous row, each value stored as the cache's type (runtime/kv_row.h:
 * f32, f16 or q8_0, the same for every layer). Both the eager interpreter and
 * compiled kernels read and write this layout. Memory comes from calloc, so
 * pages are only touched (and count towards RSS) as positions are filled. */
#ifndef AZC_RUNTIME_KV_CACHE_H
#define AZC_RUNTIME_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/kv_row.h"

typedef struct azc_kv_layer {
  int32_t n_head_kv, head_dim;
  size_t row_bytes; /* one token's row: azc_kv_bytes(type, n_head_kv * head_dim) */
  uint8_t *k, *v;   /* (n_seq, n_ctx, n_head_kv * head_dim) values of the cache's type */
} azc_kv_layer_t;

typedef struct azc_kv_cache {
  int32_t n_layer, n_seq, n_ctx;
  int32_t type; /* azc_kv_type_t */
  azc_kv_layer_t *layers;
  size_t bytes;
} azc_kv_cache_t;

/* n_head_kv[l], head_dim[l] per layer; type an azc_kv_type_t. q8_0 needs
 * every head_dim to be a multiple of 32 (the error names the layer). */
azc_status_t azc_kv_cache_create(int32_t n_layer, const int32_t *n_head_kv,
                                 const int32_t *head_dim, int32_t n_seq, int32_t n_ctx,
                                 int32_t type, azc_kv_cache_t **out);
void azc_kv_cache_destroy(azc_kv_cache_t *kv);

/* "f32", "f16", "q8_0" (case-insensitive; also "fp16"); -1 if none of them. */
int azc_kv_type_from_name(const char *name);
const char *azc_kv_type_name(int type); /* "f32", "f16", "q8_0"; "unknown" for others */

/* Row of one token (its bytes): kind 0 = K, 1 = V. */
static inline uint8_t *azc_kv_cache_row(const azc_kv_cache_t *kv, int32_t layer, int kind,
                                        int32_t seq, int32_t pos) {
  const azc_kv_layer_t *l = &kv->layers[layer];
  uint8_t *base = kind ? l->v : l->k;
  return base + ((size_t)seq * (size_t)kv->n_ctx + (size_t)pos) * l->row_bytes;
}

/* n values from value offset off of a token's row, as f32 (off a multiple of
 * head_dim) */
static inline void azc_kv_cache_read(const azc_kv_cache_t *kv, int32_t layer, int kind,
                                     int32_t seq, int32_t pos, int64_t off, float *dst,
                                     int64_t n) {
  azc_kv_load_ref(kv->type, azc_kv_cache_row(kv, layer, kind, seq, pos) + azc_kv_bytes(kv->type, off),
                  dst, n);
}

/* a token's whole row from f32 */
static inline void azc_kv_cache_write(const azc_kv_cache_t *kv, int32_t layer, int kind,
                                      int32_t seq, int32_t pos, const float *src) {
  const azc_kv_layer_t *l = &kv->layers[layer];
  azc_kv_store_ref(kv->type, azc_kv_cache_row(kv, layer, kind, seq, pos), src,
                   (int64_t)l->n_head_kv * l->head_dim);
}

#endif
