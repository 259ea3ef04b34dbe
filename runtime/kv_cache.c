/* KV cache allocation (see kv_cache.h). */
#include "runtime/kv_cache.h"

#include <stdlib.h>

azc_status_t azc_kv_cache_create(int32_t n_layer, const int32_t *n_head_kv,
                                 const int32_t *head_dim, int32_t n_seq, int32_t n_ctx,
                                 azc_kv_cache_t **out) {
  *out = NULL;
  if (n_layer < 0 || n_seq <= 0 || n_ctx <= 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kv cache: %d layers, %d sequences, context %d", n_layer,
                   n_seq, n_ctx);
  azc_kv_cache_t *kv = calloc(1, sizeof(*kv));
  if (!kv) return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache");
  kv->n_layer = n_layer;
  kv->n_seq = n_seq;
  kv->n_ctx = n_ctx;
  kv->layers = calloc((size_t)(n_layer ? n_layer : 1), sizeof(*kv->layers));
  if (!kv->layers) {
    free(kv);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache");
  }
  for (int32_t l = 0; l < n_layer; l++) {
    azc_kv_layer_t *layer = &kv->layers[l];
    layer->n_head_kv = n_head_kv[l];
    layer->head_dim = head_dim[l];
    size_t n = (size_t)n_seq * (size_t)n_ctx * (size_t)n_head_kv[l] * (size_t)head_dim[l];
    layer->k = calloc(n ? n : 1, sizeof(float));
    layer->v = calloc(n ? n : 1, sizeof(float));
    kv->bytes += 2 * n * sizeof(float);
    if (!layer->k || !layer->v) {
      azc_kv_cache_destroy(kv);
      return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache: %zu bytes for layer %d", 2 * n * sizeof(float), l);
    }
  }
  *out = kv;
  return NULL;
}

void azc_kv_cache_destroy(azc_kv_cache_t *kv) {
  if (!kv) return;
  for (int32_t l = 0; l < kv->n_layer; l++) {
    free(kv->layers[l].k);
    free(kv->layers[l].v);
  }
  free(kv->layers);
  free(kv);
}
