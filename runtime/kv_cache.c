/* KV cache allocation (see kv_cache.h). */
#include "runtime/kv_cache.h"

#include <stdlib.h>
#include <strings.h>

int azc_kv_type_from_name(const char *name) {
  if (!name) return -1;
  if (!strcasecmp(name, "f32") || !strcasecmp(name, "fp32")) return AZC_KV_F32;
  if (!strcasecmp(name, "f16") || !strcasecmp(name, "fp16")) return AZC_KV_F16;
  if (!strcasecmp(name, "q8_0")) return AZC_KV_Q8_0;
  return -1;
}

const char *azc_kv_type_name(int type) {
  switch (type) {
  case AZC_KV_F32: return "f32";
  case AZC_KV_F16: return "f16";
  case AZC_KV_Q8_0: return "q8_0";
  default: return "unknown";
  }
}

azc_status_t azc_kv_cache_create(int32_t n_layer, const int32_t *n_head_kv,
                                 const int32_t *head_dim, int32_t n_seq, int32_t n_ctx,
                                 int32_t type, azc_kv_cache_t **out) {
  *out = NULL;
  if (n_layer < 0 || n_seq <= 0 || n_ctx <= 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kv cache: %d layers, %d sequences, context %d", n_layer,
                   n_seq, n_ctx);
  if (type < 0 || type >= AZC_KV_TYPE_COUNT)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kv cache: type %d (f32, f16 or q8_0 expected)", type);
  for (int32_t l = 0; type != AZC_KV_F32 && l < n_layer; l++)
    if (head_dim[l] > AZC_KV_MAX_HEAD_DIM)
      return AZC_ERR(AZC_UNSUPPORTED, "kv cache: %s needs head_dim <= %d, layer %d has %d (use f32)",
                     azc_kv_type_name(type), AZC_KV_MAX_HEAD_DIM, l, head_dim[l]);
  for (int32_t l = 0; type == AZC_KV_Q8_0 && l < n_layer; l++)
    if (head_dim[l] % AZC_KV_QBLOCK)
      return AZC_ERR(AZC_UNSUPPORTED,
                     "kv cache: q8_0 needs head_dim a multiple of %d, layer %d has %d (use f16 "
                     "or f32)",
                     AZC_KV_QBLOCK, l, head_dim[l]);
  azc_kv_cache_t *kv = calloc(1, sizeof(*kv));
  if (!kv) return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache");
  kv->n_layer = n_layer;
  kv->n_seq = n_seq;
  kv->n_ctx = n_ctx;
  kv->type = type;
  kv->layers = calloc((size_t)(n_layer ? n_layer : 1), sizeof(*kv->layers));
  if (!kv->layers) {
    free(kv);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache");
  }
  for (int32_t l = 0; l < n_layer; l++) {
    azc_kv_layer_t *layer = &kv->layers[l];
    layer->n_head_kv = n_head_kv[l];
    layer->head_dim = head_dim[l];
    layer->row_bytes = azc_kv_bytes(type, (int64_t)n_head_kv[l] * head_dim[l]);
    size_t n = (size_t)n_seq * (size_t)n_ctx * layer->row_bytes;
    layer->k = calloc(n ? n : 1, 1);
    layer->v = calloc(n ? n : 1, 1);
    kv->bytes += 2 * n;
    if (!layer->k || !layer->v) {
      azc_kv_cache_destroy(kv);
      return AZC_ERR(AZC_OUT_OF_MEMORY, "kv cache: %zu bytes for layer %d", 2 * n, l);
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
