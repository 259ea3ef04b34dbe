/* The x86-64 implementation of azk_dot.h (AVX2 + FMA + F16C; included from
 * there only).
 *
 * Integer products follow llama.cpp's scheme: weights as unsigned bytes times
 * signed activation bytes with vpmaddubsw (pairs into int16), then vpmaddwd
 * (into int32, by 1 or by the sub-block scales). Formats whose values are
 * signed are used unsigned with a separate offset term: Q4_0 as q in 0..15
 * minus 8 * sum(x) (the activation block carries d * sum(x)), Q5_0 likewise,
 * and the K-quants' offsets and mins come from the Q8_K sub-block sums
 * (bsums) with one vpmaddwd per super-block. Q8_0 uses the sign trick
 * (|w| times x with w's sign). With AVX512-VNNI+VL or AVX-VNNI the 32-value
 * formats use vpdpbusd instead of the two-step multiply-add (identical sums:
 * no pair ever saturates int16); the K-quants keep vpmaddwd because it applies
 * the sub-block scale in the same instruction. With AVX-512 the float weight
 * types use 512-bit vectors.
 *
 * Every kernel takes the number of activation rows R (1..4, a constant after
 * inlining), unpacks a weight block once and uses it for all R rows. Each
 * output is one accumulator chain over K, whatever R is, so that a row's
 * result does not depend on how many rows share its tile (batch invariance:
 * a sequence's logits are the same alone or batched). The float types hide
 * the FMA latency with several weight rows at once instead
 * (azk_x86_tile_plain), which keeps that order. */
#ifndef AZC_CODEGEN_CPU_KERNELS_AZK_DOT_X86_H
#define AZC_CODEGEN_CPU_KERNELS_AZK_DOT_X86_H

#include <immintrin.h>

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define AZK_X86_DPBUSD(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#elif defined(__AVXVNNI__)
#define AZK_X86_DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#endif

/* Accumulator chains per row: one for every R (batch invariance, above). */
#define AZK_X86_CHAINS(R) 1

AZK_INLINE float azk_x86_half(const uint8_t *p) { return _cvtsh_ss(azk_load_u16(p)); }

AZK_INLINE float azk_x86_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

AZK_INLINE int32_t azk_x86_hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

AZK_INLINE __m256i azk_x86_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* acc + the sums of u * s over each group of 4 bytes (u unsigned, s signed). */
AZK_INLINE __m256i azk_x86_dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if defined(AZK_X86_DPBUSD)
  return AZK_X86_DPBUSD(acc, u, s);
#else
  const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
  return _mm256_add_epi32(acc, p);
#endif
}

/* sum over 16-bit lane pairs of (u * s pair sums) * scale: the K-quant step. */
AZK_INLINE __m256i azk_x86_dot_scaled(__m256i u, __m256i s, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16);
}

/* ---- activations ---- */

/* Rounds the 32 floats at x times id to int8 (ties to even, as the scalar
 * path), stores them at q and returns their sum. */
AZK_INLINE int32_t azk_x86_round32(const float *x, __m256 id, int8_t *q) {
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
  const __m256i p16a = _mm256_packs_epi32(i0, i1), p16b = _mm256_packs_epi32(i2, i3);
  /* packs works within 128-bit lanes: put the 4-byte groups back in order */
  const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b),
                                                 _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256((__m256i *)(void *)q, p8);
  return azk_x86_hsum_i32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
}

AZK_INLINE float azk_x86_amax(const float *x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline void azk_x86_quantize_q8(const float *x, uint8_t *row, int64_t K) {
  float *ds = (float *)(void *)(row + K), *ss = ds + K / AZC_QK;
  for (int64_t b = 0; b < K / AZC_QK; b++) {
    const float amax = azk_x86_amax(x + b * AZC_QK, AZC_QK);
    const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const int32_t sum =
        azk_x86_round32(x + b * AZC_QK, _mm256_set1_ps(id), (int8_t *)row + b * AZC_QK);
    /* d at half precision, as llama.cpp stores it in block_q8_0; s exactly d * sum */
    ds[b] = azk_half_round(d);
    ss[b] = ds[b] * (float)sum;
  }
}

static inline void azk_x86_quantize_q8k(const float *x, azk_block_q8k_t *y, int64_t K) {
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const float *xb = x + b * AZC_QK_K;
    const float amax = azk_x86_amax(xb, AZC_QK_K);
    const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    for (int j = 0; j < AZC_QK_K; j += 32) (void)azk_x86_round32(xb + j, id, y[b].qs + j);
    y[b].d = amax / 127.0f;
    azk_q8k_bsums(&y[b]);
  }
}

/* ---- F32 / F16 / BF16 weights against float activations ---- */

#if defined(__AVX512F__)
typedef __m512 azk_x86_vf;
enum { AZK_X86_VF = 16 };
#define azk_x86_vf_zero _mm512_setzero_ps
#define azk_x86_vf_fma _mm512_fmadd_ps
#define azk_x86_vf_add _mm512_add_ps
#define azk_x86_vf_loadx _mm512_loadu_ps
#define azk_x86_vf_sum _mm512_reduce_add_ps
AZK_INLINE __m512 azk_x86_vf_loadw(int wtype, const uint8_t *w, int64_t i) {
  if (wtype == AZC_DTYPE_F32) return _mm512_loadu_ps((const void *)(w + 4 * i));
  const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(w + 2 * i));
  if (wtype == AZC_DTYPE_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#else
typedef __m256 azk_x86_vf;
enum { AZK_X86_VF = 8 };
#define azk_x86_vf_zero _mm256_setzero_ps
#define azk_x86_vf_fma _mm256_fmadd_ps
#define azk_x86_vf_add _mm256_add_ps
#define azk_x86_vf_loadx _mm256_loadu_ps
#define azk_x86_vf_sum azk_x86_hsum
AZK_INLINE __m256 azk_x86_vf_loadw(int wtype, const uint8_t *w, int64_t i) {
  if (wtype == AZC_DTYPE_F32) return _mm256_loadu_ps((const void *)(w + 4 * i));
  const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(w + 2 * i));
  if (wtype == AZC_DTYPE_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#endif

/* C chains per row: 1 for weight rows (azk_dot_rows), 4 for the attention
 * dot products (always one row, so invariant by themselves). */
AZK_INLINE void azk_x86_rows_plain_c(int wtype, int C, int64_t K, const uint8_t *w,
                                     const uint8_t *x, size_t xs, int R, float *out) {
  const float *xr[AZK_MAX_ROWS];
  azk_x86_vf acc[AZK_MAX_ROWS * 4];
  for (int r = 0; r < R; r++) xr[r] = (const float *)(const void *)(x + (size_t)r * xs);
  for (int a = 0; a < R * C; a++) acc[a] = azk_x86_vf_zero();
  int64_t i = 0;
  for (; i + AZK_X86_VF * C <= K; i += AZK_X86_VF * C)
    for (int c = 0; c < C; c++) {
      const azk_x86_vf wv = azk_x86_vf_loadw(wtype, w, i + AZK_X86_VF * c);
      for (int r = 0; r < R; r++)
        acc[c * R + r] =
            azk_x86_vf_fma(wv, azk_x86_vf_loadx(xr[r] + i + AZK_X86_VF * c), acc[c * R + r]);
    }
  for (; i + AZK_X86_VF <= K; i += AZK_X86_VF) {
    const azk_x86_vf wv = azk_x86_vf_loadw(wtype, w, i);
    for (int r = 0; r < R; r++) acc[r] = azk_x86_vf_fma(wv, azk_x86_vf_loadx(xr[r] + i), acc[r]);
  }
  for (int r = 0; r < R; r++) {
    azk_x86_vf a = acc[r];
    for (int c = 1; c < C; c++) a = azk_x86_vf_add(a, acc[c * R + r]);
    float sum = azk_x86_vf_sum(a);
    for (int64_t j = i; j < K; j++) sum += azk_scalar_weight(wtype, w, j) * xr[r][j];
    out[r] = sum;
  }
}

AZK_INLINE void azk_x86_rows_plain(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                   size_t xs, int R, float *out) {
  azk_x86_rows_plain_c(wtype, 1, K, w, x, xs, R, out);
}

/* NW weight rows w[0..NW) against R activation rows, NW * R <= 8 (both
 * constants after inlining): out[R * n + r]. Each activation load feeds NW
 * FMAs and the NW * R accumulators are independent chains (the prefill tile
 * for F32 / F16 / BF16 weights is 2 x 4; decode uses 4 x 1). Each output is
 * summed exactly as azk_x86_rows_plain sums it. */
AZK_INLINE void azk_x86_tile_plain(int wtype, int64_t K, int NW, const uint8_t *const *w,
                                   const uint8_t *x, size_t xs, int R, float *out) {
  const float *xr[AZK_MAX_ROWS];
  azk_x86_vf acc[8];
  for (int r = 0; r < R; r++) xr[r] = (const float *)(const void *)(x + (size_t)r * xs);
  for (int a = 0; a < NW * R; a++) acc[a] = azk_x86_vf_zero();
  int64_t i = 0;
  for (; i + AZK_X86_VF <= K; i += AZK_X86_VF) {
    azk_x86_vf wv[4];
    for (int n = 0; n < NW; n++) wv[n] = azk_x86_vf_loadw(wtype, w[n], i);
    for (int r = 0; r < R; r++) {
      const azk_x86_vf xv = azk_x86_vf_loadx(xr[r] + i);
      for (int n = 0; n < NW; n++) acc[R * n + r] = azk_x86_vf_fma(wv[n], xv, acc[R * n + r]);
    }
  }
  for (int n = 0; n < NW; n++)
    for (int r = 0; r < R; r++) {
      float sum = azk_x86_vf_sum(acc[R * n + r]);
      for (int64_t j = i; j < K; j++) sum += azk_scalar_weight(wtype, w[n], j) * xr[r][j];
      out[R * n + r] = sum;
    }
}

/* Two weight rows against four activation rows (the prefill tile). */
AZK_INLINE void azk_x86_pair_plain(int wtype, int64_t K, const uint8_t *w0, const uint8_t *w1,
                                   const uint8_t *x, size_t xs, float *out0, float *out1) {
  const uint8_t *w[2] = {w0, w1};
  float o[8];
  azk_x86_tile_plain(wtype, K, 2, w, x, xs, 4, o);
  for (int r = 0; r < 4; r++) out0[r] = o[r], out1[r] = o[4 + r];
}

/* ---- 32-value blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ---- */

/* 0x10 in byte j where bit j of the little-endian 32 bits at qh is set. */
AZK_INLINE __m256i azk_x86_q5_high(const uint8_t *qh) {
  const __m256i spread =
      _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
  const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)azk_load_u32(qh)), spread);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* n (1 or 4) fp16 values at p, p + stride, ... as floats; other lanes 0. */
AZK_INLINE __m128 azk_x86_half4(const uint8_t *p, size_t stride, int n) {
  if (n == 1) return _mm_cvtph_ps(_mm_cvtsi32_si128(azk_load_u16(p)));
  return _mm_cvtph_ps(_mm_setr_epi16((short)azk_load_u16(p), (short)azk_load_u16(p + stride),
                                     (short)azk_load_u16(p + 2 * stride),
                                     (short)azk_load_u16(p + 3 * stride), 0, 0, 0, 0));
}

AZK_INLINE __m128 azk_x86_load4(const float *p, int n) {
  return n == 1 ? _mm_load_ss(p) : _mm_loadu_ps(p);
}

/* The 32 values of a weight block as unsigned bytes (Q8_0: its signed bytes).
 * The 16 nibble bytes go to both 128-bit lanes with one load; the high lane
 * is shifted by 4 to bring up the values 16..31. */
AZK_INLINE __m256i azk_x86_b32_values(int wtype, const uint8_t *wb) {
  if (wtype == AZC_DTYPE_Q8_0) return azk_x86_load(wb + offsetof(azc_block_q8_0_t, qs));
  const size_t qs = wtype == AZC_DTYPE_Q4_0   ? offsetof(azc_block_q4_0_t, qs)
                    : wtype == AZC_DTYPE_Q4_1 ? offsetof(azc_block_q4_1_t, qs)
                    : wtype == AZC_DTYPE_Q5_0 ? offsetof(azc_block_q5_0_t, qs)
                                              : offsetof(azc_block_q5_1_t, qs);
  const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(wb + qs)));
  const __m256i shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  __m256i u = _mm256_and_si256(_mm256_srlv_epi32(raw, shift), _mm256_set1_epi8(15));
  if (wtype == AZC_DTYPE_Q5_0) u = _mm256_or_si256(u, azk_x86_q5_high(wb + 2));
  if (wtype == AZC_DTYPE_Q5_1) u = _mm256_or_si256(u, azk_x86_q5_high(wb + 4));
  return u;
}

/* n (4, or 1 at the end of a row) weight blocks from block b on, against R
 * rows. The block scales (d at offset 0 of every 32-value format) of the
 * group are converted together and multiplied with the activation scales of
 * each row at once; acc[C * r + i % C] += that scale * the integer dot of
 * block i; off[r] += the weights' min (Q4_1, Q5_1) or offset (-8 d for Q4_0,
 * -16 d for Q5_0: their values are used unsigned) times the activation sums. */
AZK_INLINE void azk_x86_group_b32(int wtype, int n, const uint8_t *wg, size_t wbytes,
                                  const uint8_t *x, size_t xs, int64_t K, int64_t b, int R, int C,
                                  __m256 *acc, __m128 *off) {
  const __m128 dw = azk_x86_half4(wg, wbytes, n);
  __m128 mw = _mm_setzero_ps();
  if (wtype == AZC_DTYPE_Q4_0) mw = _mm_mul_ps(dw, _mm_set1_ps(-8.0f));
  if (wtype == AZC_DTYPE_Q5_0) mw = _mm_mul_ps(dw, _mm_set1_ps(-16.0f));
  if (wtype == AZC_DTYPE_Q4_1 || wtype == AZC_DTYPE_Q5_1) mw = azk_x86_half4(wg + 2, wbytes, n);
  __m256 scale[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) {
    const uint8_t *xr = x + (size_t)r * xs;
    scale[r] = _mm256_castps128_ps256(_mm_mul_ps(dw, azk_x86_load4(azk_q8_d(xr, K) + b, n)));
    if (wtype != AZC_DTYPE_Q8_0)
      off[r] = _mm_fmadd_ps(mw, azk_x86_load4(azk_q8_s(xr, K) + b, n), off[r]);
  }
  for (int i = 0; i < n; i++) {
    const __m256i v = azk_x86_b32_values(wtype, wg + (size_t)i * wbytes);
    const __m256i u = wtype == AZC_DTYPE_Q8_0 ? _mm256_sign_epi8(v, v) : v;
    for (int r = 0; r < R; r++) {
      __m256i s = azk_x86_load(azk_q8_qs(x + (size_t)r * xs) + (b + i) * AZC_QK);
      if (wtype == AZC_DTYPE_Q8_0) s = _mm256_sign_epi8(s, v);
      const __m256i p = azk_x86_dot_u8s8(_mm256_setzero_si256(), u, s);
      const __m256 sc = _mm256_permutevar8x32_ps(scale[r], _mm256_set1_epi32(i));
      acc[C * r + i % C] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(p), acc[C * r + i % C]);
    }
  }
}

AZK_INLINE void azk_x86_rows_b32(int wtype, int64_t K, const uint8_t *w, const uint8_t *x,
                                 size_t xs, int R, float *out) {
  const int C = AZK_X86_CHAINS(R);
  const size_t wbytes = (size_t)azk_wtype_block_bytes(wtype);
  const int64_t nb = K / AZC_QK;
  __m256 acc[AZK_MAX_ROWS * 4];
  __m128 off[AZK_MAX_ROWS];
  for (int a = 0; a < R * C; a++) acc[a] = _mm256_setzero_ps();
  for (int r = 0; r < R; r++) off[r] = _mm_setzero_ps();
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4)
    azk_x86_group_b32(wtype, 4, w + (size_t)b * wbytes, wbytes, x, xs, K, b, R, C, acc, off);
  for (; b < nb; b++)
    azk_x86_group_b32(wtype, 1, w + (size_t)b * wbytes, wbytes, x, xs, K, b, R, C, acc, off);
  for (int r = 0; r < R; r++) {
    __m256 a = acc[C * r];
    for (int c = 1; c < C; c++) a = _mm256_add_ps(a, acc[C * r + c]);
    const __m256 o = _mm256_insertf128_ps(_mm256_setzero_ps(), off[r], 0);
    out[r] = azk_x86_hsum(_mm256_add_ps(a, o));
  }
}

/* ---- K-quants ---- */

AZK_INLINE const azk_block_q8k_t *azk_x86_xk(const uint8_t *x, size_t xs, int r, int64_t b) {
  return (const azk_block_q8k_t *)(const void *)(x + (size_t)r * xs) + b;
}

/* From 8 int16 scales repeated in both 128-bit lanes: scale e0 in every
 * int16 of the low lane, e1 in the high lane (the two 16-value sub-blocks
 * of a 32-byte vector, after vpmaddubsw). */
AZK_INLINE __m256i azk_x86_pick_scales(__m256i sc8x2, int e0, int e1) {
  const __m128i lo = _mm_set1_epi16((short)(((2 * e0 + 1) << 8) | (2 * e0)));
  const __m128i hi = _mm_set1_epi16((short)(((2 * e1 + 1) << 8) | (2 * e1)));
  __m256i ctl = _mm256_set_m128i(hi, lo);
  /* opaque to the compiler: with a constant control it would replace the
   * one vpshufb by two other shuffles (vpshuflw + vpshufd) */
  __asm__("" : "+x"(ctl));
  return _mm256_shuffle_epi8(sc8x2, ctl);
}

/* The 8 int16 scales of half h (0, 1) of 16 scales, in both 128-bit lanes. */
AZK_INLINE __m256i azk_x86_half_scales(__m256i sc16, int h) {
  return h ? _mm256_permute4x64_epi64(sc16, 0xee) : _mm256_permute4x64_epi64(sc16, 0x44);
}

/* Q2_K, Q3_K and Q6_K share one shape: two halves of 128 values, each four
 * 32-value planes = eight 16-value sub-blocks with their own scale. plane()
 * gives the unsigned bytes of plane k of half h; the offset of Q3_K and Q6_K
 * (values stored + 4 and + 32) is taken off with bsums at the end. */
#define AZK_X86_K16_PLANES(blk, R, x, xs, b, sc16, plane, sumi)                                    \
  for (int h = 0; h < 2; h++) {                                                                    \
    const __m256i sch = azk_x86_half_scales(sc16, h);                                              \
    for (int k = 0; k < 4; k++) {                                                                  \
      const __m256i q = plane(blk, h, k);                                                          \
      const __m256i sck = azk_x86_pick_scales(sch, 2 * k, 2 * k + 1);                              \
      for (int r = 0; r < R; r++) {                                                                \
        const __m256i xv = azk_x86_load(azk_x86_xk(x, xs, r, b)->qs + 128 * h + 32 * k);           \
        sumi[r] = _mm256_add_epi32(sumi[r], azk_x86_dot_scaled(q, xv, sck));                       \
      }                                                                                            \
    }                                                                                              \
  }

AZK_INLINE __m256i azk_x86_q2_plane(const azc_block_q2_k_t *blk, int h, int k) {
  const __m256i Q = azk_x86_load(blk->qs + 32 * h);
  return _mm256_and_si256(_mm256_srli_epi16(Q, 2 * k), _mm256_set1_epi8(3));
}

AZK_INLINE void azk_x86_rows_q2_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                  float *out) {
  __m256 acc[AZK_MAX_ROWS], accm[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = accm[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q2_k_t *blk = (const azc_block_q2_k_t *)(const void *)w + b;
    const float d = azk_x86_half(blk->d), dmin = azk_x86_half(blk->dmin);
    const __m128i sv = _mm_loadu_si128((const __m128i *)(const void *)blk->scales);
    const __m128i m4 = _mm_set1_epi8(15);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sv, m4));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sv, 4), m4));
    __m256i sumi[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) sumi[r] = _mm256_setzero_si256();
    AZK_X86_K16_PLANES(blk, R, x, xs, b, sc16, azk_x86_q2_plane, sumi)
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_x86_xk(x, xs, r, b);
      const __m256i mins = _mm256_madd_epi16(mn16, azk_x86_load(xb->bsums));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
      accm[r] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * xb->d), _mm256_cvtepi32_ps(mins), accm[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = azk_x86_hsum(acc[r]) - azk_x86_hsum(accm[r]);
}

/* Q3_K plane: the low 2 bits from qs, the 3rd from hmask, as 0..7 (= q + 4). */
AZK_INLINE __m256i azk_x86_q3_plane(const azc_block_q3_k_t *blk, int h, int k) {
  const __m256i one = _mm256_set1_epi8(1);
  const __m256i Q = azk_x86_load(blk->qs + 32 * h), H = azk_x86_load(blk->hmask);
  const __m256i low = _mm256_and_si256(_mm256_srli_epi16(Q, 2 * k), _mm256_set1_epi8(3));
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(H, 4 * h + k), one);
  return _mm256_or_si256(low, _mm256_slli_epi16(high, 2));
}

AZK_INLINE void azk_x86_rows_q3_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                  float *out) {
  __m256 acc[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q3_k_t *blk = (const azc_block_q3_k_t *)(const void *)w + b;
    const float d = azk_x86_half(blk->d);
    uint32_t s32[4];
    azk_k3_scales(blk->scales, s32);
    const __m128i s8 = _mm_sub_epi8(
        _mm_setr_epi32((int)s32[0], (int)s32[1], (int)s32[2], (int)s32[3]), _mm_set1_epi8(32));
    const __m256i sc16 = _mm256_cvtepi8_epi16(s8);
    __m256i sumi[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) sumi[r] = _mm256_setzero_si256();
    AZK_X86_K16_PLANES(blk, R, x, xs, b, sc16, azk_x86_q3_plane, sumi)
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_x86_xk(x, xs, r, b);
      const __m256i offset = _mm256_madd_epi16(sc16, azk_x86_load(xb->bsums)); /* x4 */
      const __m256i total = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(offset, 2));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(total), acc[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = azk_x86_hsum(acc[r]);
}

/* Q6_K plane: 4 bits from ql, 2 from qh, as 0..63 (= q + 32). */
AZK_INLINE __m256i azk_x86_q6_plane(const azc_block_q6_k_t *blk, int h, int k) {
  const __m256i L = azk_x86_load(blk->ql + 64 * h + 32 * (k & 1));
  const __m256i H = azk_x86_load(blk->qh + 32 * h);
  const __m256i low = _mm256_and_si256(k < 2 ? L : _mm256_srli_epi16(L, 4), _mm256_set1_epi8(15));
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(H, 2 * k), _mm256_set1_epi8(3));
  return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
}

AZK_INLINE void azk_x86_rows_q6_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                  float *out) {
  __m256 acc[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azc_block_q6_k_t *blk = (const azc_block_q6_k_t *)(const void *)w + b;
    const float d = azk_x86_half(blk->d);
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)blk->scales));
    __m256i sumi[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) sumi[r] = _mm256_setzero_si256();
    AZK_X86_K16_PLANES(blk, R, x, xs, b, sc16, azk_x86_q6_plane, sumi)
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_x86_xk(x, xs, r, b);
      const __m256i offset = _mm256_madd_epi16(sc16, azk_x86_load(xb->bsums)); /* x32 */
      const __m256i total = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(offset, 5));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(total), acc[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = azk_x86_hsum(acc[r]);
}

/* Q4_K and Q5_K: four chunks of 64 values, the low nibbles one 32-value
 * sub-block and the high nibbles the next; mins from the bsums. */
AZK_INLINE void azk_x86_rows_k45(int bits, int unpacked, int64_t K, const uint8_t *w,
                                 const uint8_t *x, size_t xs, int R, float *out) {
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[AZK_MAX_ROWS], accm[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = accm[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const uint8_t *d16, *dmin16, *scales, *qs, *qh = NULL;
    const uint8_t *sm_u = NULL; /* unpacked layout: the 16 scale/min bytes */
    if (unpacked && bits == 4) {
      const azk_block_q4_k_u_t *blk = (const azk_block_q4_k_u_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = NULL, sm_u = blk->sm, qs = blk->qs;
    } else if (unpacked) {
      const azk_block_q5_k_u_t *blk = (const azk_block_q5_k_u_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = NULL, sm_u = blk->sm, qs = blk->qs, qh = blk->qh;
    } else if (bits == 4) {
      const azc_block_q4_k_t *blk = (const azc_block_q4_k_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = blk->scales, qs = blk->qs;
    } else {
      const azc_block_q5_k_t *blk = (const azc_block_q5_k_t *)(const void *)w + b;
      d16 = blk->d, dmin16 = blk->dmin, scales = blk->scales, qs = blk->qs, qh = blk->qh;
    }
    const float d = azk_x86_half(d16), dmin = azk_x86_half(dmin16);
    uint32_t s32[4];
    if (sm_u)
      __builtin_memcpy(s32, sm_u, 16);
    else
      azk_k4_scales(scales, s32);
    const __m128i sm = _mm_setr_epi32((int)s32[0], (int)s32[1], (int)s32[2], (int)s32[3]);
    const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m0 m0 m1 m1 .. */
    __m256i hbits = bits == 5 ? azk_x86_load(qh) : _mm256_setzero_si256();
    __m256i sumi[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) sumi[r] = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
      const __m256i q = azk_x86_load(qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if (bits == 5) {
        const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(hbits, two), 3));
        hbits = _mm256_srli_epi16(hbits, 2);
      }
      const __m256i sc_lo = azk_x86_pick_scales(sc16, 2 * c, 2 * c);
      const __m256i sc_hi = azk_x86_pick_scales(sc16, 2 * c + 1, 2 * c + 1);
      for (int r = 0; r < R; r++) {
        const int8_t *xq = azk_x86_xk(x, xs, r, b)->qs + 64 * c;
        const __m256i p_lo = azk_x86_dot_scaled(lo, azk_x86_load(xq), sc_lo);
        const __m256i p_hi = azk_x86_dot_scaled(hi, azk_x86_load(xq + 32), sc_hi);
        sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(p_lo, p_hi));
      }
    }
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_x86_xk(x, xs, r, b);
      const __m256i mins = _mm256_madd_epi16(mn16, azk_x86_load(xb->bsums));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
      accm[r] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * xb->d), _mm256_cvtepi32_ps(mins), accm[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = azk_x86_hsum(acc[r]) - azk_x86_hsum(accm[r]);
}

AZK_INLINE void azk_x86_rows_q4_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                  float *out) {
  azk_x86_rows_k45(4, 0, K, w, x, xs, R, out);
}

AZK_INLINE void azk_x86_rows_q5_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                  float *out) {
  azk_x86_rows_k45(5, 0, K, w, x, xs, R, out);
}

/* ---- x8 groups (azk_dot.h): 8 interleaved Q4_0 / Q8_0 rows ---- */

/* out[8 r + l] for the 8 rows of the group at w. Each 32 bytes of a group
 * block (4 values of each of the 8 rows) are loaded and unpacked once for all
 * R activation rows, which each multiply them with one broadcast of 4 of
 * their bytes; a group block ends with one conversion and scale per
 * activation row for all 8 weight rows. Q4_0: the nibble products of a whole
 * block fit in int16 (8 * 2 * 15 * 127 < 2^15), so they widen once. */
/* Q4_K x8: per 32-value sub-block the nibble products of 8 chunks add up in
 * int16 (8 * 2 * 15 * 128 < 2^15) and widen with the 8 rows' scales (one
 * vpmaddwd); the mins take pairs of activation sub-block sums. */
AZK_INLINE void azk_x86_x8_q4_k(int64_t K, const uint8_t *w, const uint8_t *x, size_t xs, int R,
                                float *out) {
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < K / AZC_QK_K; b++) {
    const azk_block_q4_k_x8_t *g = (const azk_block_q4_k_x8_t *)(const void *)w + b;
    const int8_t *q[AZK_MAX_ROWS];
    __m256i isum[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) {
      q[r] = azk_x86_xk(x, xs, r, b)->qs;
      isum[r] = _mm256_setzero_si256();
    }
    for (int k = 0; k < 4; k++) {
      __m256i slo[AZK_MAX_ROWS], shi[AZK_MAX_ROWS];
      for (int r = 0; r < R; r++) slo[r] = shi[r] = _mm256_setzero_si256();
      for (int c = 0; c < 8; c++) {
        const __m256i raw = azk_x86_load(g->qs + 256 * k + 32 * c);
        const __m256i lo = _mm256_and_si256(raw, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        for (int r = 0; r < R; r++) {
          const int8_t *xk = q[r] + 64 * k + 4 * c;
          slo[r] = _mm256_add_epi16(
              slo[r], _mm256_maddubs_epi16(lo, _mm256_set1_epi32((int)azk_load_u32(xk))));
          shi[r] = _mm256_add_epi16(
              shi[r], _mm256_maddubs_epi16(hi, _mm256_set1_epi32((int)azk_load_u32(xk + 32))));
        }
      }
      /* the 8 rows' scales of sub-blocks 2k and 2k+1, each in both int16 of its row's lane */
      __m256i sl =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(g->sc + 16 * k)));
      __m256i sh = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64((const __m128i *)(const void *)(g->sc + 16 * k + 8)));
      sl = _mm256_or_si256(sl, _mm256_slli_epi32(sl, 16));
      sh = _mm256_or_si256(sh, _mm256_slli_epi32(sh, 16));
      for (int r = 0; r < R; r++)
        isum[r] = _mm256_add_epi32(isum[r], _mm256_add_epi32(_mm256_madd_epi16(slo[r], sl),
                                                             _mm256_madd_epi16(shi[r], sh)));
    }
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g->d));
    const __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g->dmin));
    for (int r = 0; r < R; r++) {
      const azk_block_q8k_t *xb = azk_x86_xk(x, xs, r, b);
      /* sums of the 8 activation sub-blocks, as int16 pairs (2i, 2i+1) at int32 {0,1,4,5}[i] */
      const __m256i xs32 = _mm256_madd_epi16(azk_x86_load(xb->bsums), _mm256_set1_epi16(1));
      const __m256i xs16 = _mm256_packs_epi32(xs32, xs32);
      __m256i msum = _mm256_setzero_si256();
      for (int i = 0; i < 4; i++) {
        const __m256i mn =
            _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(g->mn + 16 * i)));
        const __m256i pair =
            _mm256_permutevar8x32_epi32(xs16, _mm256_set1_epi32(i < 2 ? i : i + 2));
        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mn, pair));
      }
      const __m256 t = _mm256_fmsub_ps(d8, _mm256_cvtepi32_ps(isum[r]),
                                       _mm256_mul_ps(m8, _mm256_cvtepi32_ps(msum)));
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d), t, acc[r]);
    }
  }
  for (int r = 0; r < R; r++) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

AZK_INLINE void azk_x86_x8(int wtype, int64_t K, const uint8_t *w, const uint8_t *x, size_t xs,
                           int R, float *out) {
  if (wtype == AZK_WTYPE_Q4_K_X8) {
    azk_x86_x8_q4_k(K, w, x, xs, R, out);
    return;
  }
  const int64_t nb = K / AZC_QK;
  const int q5 = wtype == AZK_WTYPE_Q5_0_X8, q4 = wtype == AZK_WTYPE_Q4_0_X8 || q5;
  const size_t gb = q5   ? sizeof(azk_block_q5_0_x8_t)
                    : q4 ? sizeof(azk_block_q4_0_x8_t)
                         : sizeof(azk_block_q8_0_x8_t);
  const size_t qs_at = q5 ? offsetof(azk_block_q5_0_x8_t, qs) : 16;
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc[AZK_MAX_ROWS];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *g = w + (size_t)b * gb;
    const int8_t *q[AZK_MAX_ROWS];
    __m256i s[AZK_MAX_ROWS];
    for (int r = 0; r < R; r++) {
      q[r] = azk_q8_qs(x + (size_t)r * xs) + b * AZC_QK;
      s[r] = _mm256_setzero_si256();
    }
    if (q4) {
      for (int c = 0; c < 4; c++) {
        const __m256i raw = azk_x86_load(g + qs_at + 32 * c);
        __m256i lo = _mm256_and_si256(raw, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        if (q5) { /* the fifth bits (0x10) of the 8 rows' 4 + 4 values */
          const uint8_t *hm = g + offsetof(azk_block_q5_0_x8_t, qh) + 8 * c;
          lo = _mm256_or_si256(lo, azk_x86_q5_high(hm));
          hi = _mm256_or_si256(hi, azk_x86_q5_high(hm + 4));
        }
        for (int r = 0; r < R; r++) {
          const __m256i x0 = _mm256_set1_epi32((int)azk_load_u32(q[r] + 4 * c));
          const __m256i x1 = _mm256_set1_epi32((int)azk_load_u32(q[r] + 16 + 4 * c));
#if defined(AZK_X86_DPBUSD)
          s[r] = AZK_X86_DPBUSD(AZK_X86_DPBUSD(s[r], lo, x0), hi, x1);
#else
          s[r] = _mm256_add_epi16(
              s[r], _mm256_add_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_maddubs_epi16(hi, x1)));
#endif
        }
      }
#if !defined(AZK_X86_DPBUSD)
      for (int r = 0; r < R; r++) s[r] = _mm256_madd_epi16(s[r], _mm256_set1_epi16(1));
#endif
    } else {
      for (int c = 0; c < 8; c++) {
        const __m256i wv = azk_x86_load(g + 16 + 32 * c);
        const __m256i u = _mm256_sign_epi8(wv, wv);
        for (int r = 0; r < R; r++) {
          const __m256i xb = _mm256_set1_epi32((int)azk_load_u32(q[r] + 4 * c));
          s[r] = azk_x86_dot_u8s8(s[r], u, _mm256_sign_epi8(xb, wv));
        }
      }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)g));
    for (int r = 0; r < R; r++) {
      const uint8_t *xr = x + (size_t)r * xs;
      const float dx = azk_q8_d(xr, K)[b];
      /* Q4_0 / Q5_0 values were used unsigned: take 8 / 16 * (the activation sum) off */
      const __m256 off = _mm256_set1_ps(q4 ? (q5 ? -16.0f : -8.0f) * azk_q8_s(xr, K)[b] : 0.0f);
      const __m256 t = _mm256_fmadd_ps(_mm256_set1_ps(dx), _mm256_cvtepi32_ps(s[r]), off);
      acc[r] = _mm256_fmadd_ps(dw, t, acc[r]);
    }
  }
  for (int r = 0; r < R; r++) _mm256_storeu_ps(out + 8 * r, acc[r]);
}

/* ---- float helpers ---- */

static inline float azk_x86_dot_f32(const float *a, const float *b, int64_t n) {
  float out[1];
  azk_x86_rows_plain_c(AZC_DTYPE_F32, 4, n, (const uint8_t *)a, (const uint8_t *)b, 0, 1, out);
  return out[0];
}

static inline void azk_x86_axpy_f32(int64_t n, float alpha, const float *x, float *y) {
  const __m256 av = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += alpha * x[i];
}

#endif
