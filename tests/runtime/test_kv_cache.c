/* runtime/kv_cache and kv_row.h: the KV cache's element types.
 *
 * - names, row sizes and the cache's byte count per type (f16 half of f32,
 *   q8_0 34 bytes per 32 values)
 * - q8_0 rows are llama.cpp's block_q8_0: the runtime's GGUF dequantizer reads
 *   them back to the values the stored scale and levels give; levels and
 *   scale of a hand-made block
 * - f16 rows hold the nearest half of each value (exact for halves)
 * - reading one head's slice at its value offset, for every type
 * - refusals by name: q8_0 with a head_dim that is not a multiple of 32, a
 *   non-f32 type with a head_dim past AZC_KV_MAX_HEAD_DIM, an unknown type */
#include <math.h>
#include <string.h>

#include "runtime/kv_cache.h"
#include "runtime/quant.h"
#include "tests/test.h"

static void test_names(void) {
  ASSERT_EQ_INT(azc_kv_type_from_name("f32"), AZC_KV_F32);
  ASSERT_EQ_INT(azc_kv_type_from_name("F16"), AZC_KV_F16);
  ASSERT_EQ_INT(azc_kv_type_from_name("q8_0"), AZC_KV_Q8_0);
  ASSERT_EQ_INT(azc_kv_type_from_name("q4_0"), -1);
  ASSERT_EQ_INT(azc_kv_type_from_name(NULL), -1);
  for (int t = 0; t < AZC_KV_TYPE_COUNT; t++)
    ASSERT_EQ_INT(azc_kv_type_from_name(azc_kv_type_name(t)), t);
  ASSERT_STREQ(azc_kv_type_name(7), "unknown");
}

static void test_sizes(void) {
  int32_t hkv[2] = {2, 2}, hd[2] = {64, 64};
  size_t bytes[AZC_KV_TYPE_COUNT];
  for (int t = 0; t < AZC_KV_TYPE_COUNT; t++) {
    azc_kv_cache_t *kv;
    ASSERT_OK(azc_kv_cache_create(2, hkv, hd, 3, 16, t, &kv));
    ASSERT_EQ_INT(kv->type, t);
    ASSERT_EQ_INT(kv->layers[1].row_bytes, azc_kv_bytes(t, 128));
    bytes[t] = kv->bytes;
    /* consecutive rows are row_bytes apart, sequences n_ctx rows apart */
    ASSERT_EQ_INT((size_t)(azc_kv_cache_row(kv, 1, 0, 0, 1) - azc_kv_cache_row(kv, 1, 0, 0, 0)),
                  kv->layers[1].row_bytes);
    ASSERT_EQ_INT((size_t)(azc_kv_cache_row(kv, 1, 1, 2, 0) - azc_kv_cache_row(kv, 1, 1, 1, 0)),
                  16 * kv->layers[1].row_bytes);
    azc_kv_cache_destroy(kv);
  }
  ASSERT_EQ_INT(bytes[AZC_KV_F32], (size_t)2 * 2 * 3 * 16 * 128 * 4);
  ASSERT_EQ_INT(bytes[AZC_KV_F16] * 2, bytes[AZC_KV_F32]);
  ASSERT_EQ_INT(bytes[AZC_KV_Q8_0], (size_t)2 * 2 * 3 * 16 * 4 * 34);
}

static void test_q8_0_block(void) {
  float x[32], y[32], z[32];
  for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) * 0.25f; /* amax 4 at j = 0 */
  uint8_t blk[34];
  azc_kv_store_ref(AZC_KV_Q8_0, blk, x, 32);
  uint16_t d = (uint16_t)(blk[0] | blk[1] << 8);
  ASSERT_EQ_INT(d, azc_f32_to_fp16(4.0f / 127.0f));
  ASSERT_EQ_INT((int8_t)blk[2], -127);                                      /* -4 */
  ASSERT_EQ_INT((int8_t)blk[2 + 16], 0);                                    /* 0 */
  ASSERT_EQ_INT((int8_t)blk[2 + 31], (int8_t)rintf(3.75f * 127.0f / 4.0f)); /* 119 */
  azc_kv_load_ref(AZC_KV_Q8_0, blk, y, 32);
  azc_dequantize_row(AZC_DTYPE_Q8_0, blk, z, 32); /* GGUF's block_q8_0 reading */
  float df = azc_fp16_to_f32(d);
  for (int j = 0; j < 32; j++) {
    ASSERT_MSG(y[j] == z[j], "value %d: %g vs %g", j, y[j], z[j]);
    ASSERT_MSG(y[j] == df * (float)(int8_t)blk[2 + j], "value %d", j);
    ASSERT_MSG(fabsf(y[j] - x[j]) <= df * 0.5f + 1e-6f, "value %d: %g for %g", j, y[j], x[j]);
  }
  /* a zero block stores d = 0 and reads back zeros */
  memset(x, 0, sizeof(x));
  azc_kv_store_ref(AZC_KV_Q8_0, blk, x, 32);
  azc_kv_load_ref(AZC_KV_Q8_0, blk, y, 32);
  for (int j = 0; j < 32; j++) ASSERT_MSG(y[j] == 0.0f, "value %d", j);
}

static void test_f16_rows(void) {
  float x[40], y[40];
  for (int j = 0; j < 40; j++) x[j] = (float)j * 0.1f - 2.0f;
  uint8_t h[80];
  azc_kv_store_ref(AZC_KV_F16, h, x, 40);
  azc_kv_load_ref(AZC_KV_F16, h, y, 40);
  for (int j = 0; j < 40; j++) {
    ASSERT_MSG(y[j] == azc_fp16_to_f32(azc_f32_to_fp16(x[j])), "value %d", j);
    ASSERT_MSG(fabsf(y[j] - x[j]) <= fabsf(x[j]) * (1.0f / 2048) + 1e-7f, "value %d", j);
  }
}

/* write whole rows, read each head's slice back */
static void test_heads(void) {
  int32_t hkv[1] = {3}, hd[1] = {32};
  for (int t = 0; t < AZC_KV_TYPE_COUNT; t++) {
    azc_kv_cache_t *kv;
    ASSERT_OK(azc_kv_cache_create(1, hkv, hd, 2, 8, t, &kv));
    float row[96], full[96], head[32];
    for (int pos = 0; pos < 8; pos++) {
      for (int j = 0; j < 96; j++) row[j] = (float)((j * 37 + pos * 11) % 23) - 11.0f;
      azc_kv_cache_write(kv, 0, 1 /* V */, 1, pos, row);
    }
    for (int pos = 0; pos < 8; pos++) {
      azc_kv_cache_read(kv, 0, 1 /* V */, 1, pos, 0, full, 96);
      for (int g = 0; g < 3; g++) {
        azc_kv_cache_read(kv, 0, 1 /* V */, 1, pos, g * 32, head, 32);
        for (int j = 0; j < 32; j++)
          ASSERT_MSG(head[j] == full[g * 32 + j], "head %d value %d", g, j);
      }
      for (int j = 0; j < 96; j++) {
        float want = (float)((j * 37 + pos * 11) % 23) - 11.0f;
        /* integers to 11 are exact in f32 and f16; q8_0 keeps them within half a step */
        ASSERT_MSG(fabsf(full[j] - want) <= (t == AZC_KV_Q8_0 ? 11.0f / 127 * 0.51f : 0.0f),
                   "%s pos %d value %d: %g for %g", azc_kv_type_name(t), pos, j, full[j], want);
      }
    }
    /* the K cache and the other sequence stay untouched (zero) */
    azc_kv_cache_read(kv, 0, 0 /* K */, 1, 3, 0, full, 96);
    for (int j = 0; j < 96; j++) ASSERT_MSG(full[j] == 0.0f, "value %d", j);
    azc_kv_cache_read(kv, 0, 1 /* V */, 0, 3, 0, full, 96);
    for (int j = 0; j < 96; j++) ASSERT_MSG(full[j] == 0.0f, "value %d", j);
    azc_kv_cache_destroy(kv);
  }
}

static void test_refusals(void) {
  int32_t hkv[2] = {4, 4}, hd[2] = {32, 8}, big[1] = {AZC_KV_MAX_HEAD_DIM + 32};
  azc_kv_cache_t *kv = (azc_kv_cache_t *)1;
  ASSERT_ERR(azc_kv_cache_create(2, hkv, hd, 1, 8, AZC_KV_Q8_0, &kv), AZC_UNSUPPORTED,
             "q8_0 needs head_dim a multiple of 32, layer 1 has 8");
  ASSERT(kv == NULL);
  /* f16 and f32 take any head_dim */
  ASSERT_OK(azc_kv_cache_create(2, hkv, hd, 1, 8, AZC_KV_F16, &kv));
  azc_kv_cache_destroy(kv);
  ASSERT_ERR(azc_kv_cache_create(1, hkv, big, 1, 8, AZC_KV_F16, &kv), AZC_UNSUPPORTED,
             "f16 needs head_dim <= 1024, layer 0 has 1056");
  ASSERT_OK(azc_kv_cache_create(1, hkv, big, 1, 8, AZC_KV_F32, &kv));
  azc_kv_cache_destroy(kv);
  ASSERT_ERR(azc_kv_cache_create(2, hkv, hd, 1, 8, 3, &kv), AZC_INVALID_ARGUMENT, "type 3");
}

int main(void) {
  RUN(test_names);
  RUN(test_sizes);
  RUN(test_q8_0_block);
  RUN(test_f16_rows);
  RUN(test_heads);
  RUN(test_refusals);
  return test_summary();
}
