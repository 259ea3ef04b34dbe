/* The KV cache: per layer, K and V rows for every (sequence, position), in
 * f32, laid out (n_seq, n_ctx, n_head_kv * head_dim) so that one token's keys
 * are one contiguous row. Both the eager interpreter and compiled kernels read
 * and write this layout. Memory comes from calloc, so pages are only touched
 * (and count towards RSS) as positions are filled. */
#ifndef AZC_RUNTIME_KV_CACHE_H
#define AZC_RUNTIME_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

typedef struct azc_kv_layer {
  int32_t n_head_kv, head_dim;
  float *k, *v; /* (n_seq, n_ctx, n_head_kv * head_dim) */
} azc_kv_layer_t;

typedef struct azc_kv_cache {
  int32_t n_layer, n_seq, n_ctx;
  azc_kv_layer_t *layers;
  size_t bytes;
} azc_kv_cache_t;

/* n_head_kv[l], head_dim[l] per layer. */
azc_status_t azc_kv_cache_create(int32_t n_layer, const int32_t *n_head_kv,
                                 const int32_t *head_dim, int32_t n_seq, int32_t n_ctx,
                                 azc_kv_cache_t **out);
void azc_kv_cache_destroy(azc_kv_cache_t *kv);

/* Row of one token: kind 0 = K, 1 = V. */
static inline float *azc_kv_cache_row(const azc_kv_cache_t *kv, int32_t layer, int kind,
                                      int32_t seq, int32_t pos) {
  const azc_kv_layer_t *l = &kv->layers[layer];
  size_t row = (size_t)l->n_head_kv * (size_t)l->head_dim;
  float *base = kind ? l->v : l->k;
  return base + ((size_t)seq * (size_t)kv->n_ctx + (size_t)pos) * row;
}

#endif
