/* The CUDA kernel library: templates that codegen/cuda/cuda_gen.c
 * instantiates once per kernel spec. The generator prepends this file to
 * every module it writes and adds, per kernel, a struct of constants (the
 * spec's shapes, quant types, prologue and epilogue) and extern "C"
 * __global__ wrappers that call the templates with it, so each shape, type
 * and epilogue is a compile-time constant and dead branches fold away.
 *
 * No headers: NVRTC compiles this without -I. Every inline PTX instruction
 * and every device intrinsic sits behind a named azk_ helper in the block
 * marked "device helpers"; tests/gpu/cuda_emu.h defines the same helpers on
 * the CPU (threads as fibers) and compiles this very text as C++, so every
 * kernel here also runs, and is checked against the eager interpreter, on a
 * machine without a GPU.
 *
 * Conventions. A kernel's only parameter is azk_gpu_args_t (a copy of
 * runtime/cuda_abi.h): per-step sizes (tokens, logits rows, key length) are
 * read from device memory through args.dyn, so a captured CUDA graph replays
 * unchanged from one decode step to the next. Shared memory is dynamic only
 * (azk_smem), sized by the launch record the generator writes beside each
 * kernel. Semantics are the eager interpreter's (ir/interp.c). */

typedef signed char i8;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

#ifndef AZK_EMU /* the CPU harness takes these from runtime/cuda_abi.h itself */
struct azk_gpu_dyn {
  int T, O, L, reserved;
};

struct azk_gpu_args {
  void *out;
  const void *in[16];
  const azk_gpu_dyn *dyn;
  const int *pos, *seq;
  float *k_cache, *v_cache;
  i64 kv_seq_stride;
  u8 *scratch;
  int m_sym, reserved;
};
#endif
static_assert(sizeof(azk_gpu_args) == 200, "azk_gpu_args must match runtime/cuda_abi.h");

/* ---- device helpers (tests/gpu/cuda_emu.h defines these on the CPU) ---- */
#ifndef AZK_EMU
#define AZK_DEV static __device__ __forceinline__
#define AZK_DEV_SPEC __device__ __forceinline__ /* explicit specializations */
#define AZK_GLOBAL extern "C" __global__
AZK_DEV int azk_tid() { return (int)threadIdx.x; }
AZK_DEV int azk_nthreads() { return (int)blockDim.x; }
AZK_DEV int azk_bid_x() { return (int)blockIdx.x; }
AZK_DEV int azk_bid_y() { return (int)blockIdx.y; }
AZK_DEV void azk_sync() { __syncthreads(); }
AZK_DEV float azk_shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
AZK_DEV int azk_dp4a(int a, int b, int c) { return __dp4a(a, b, c); }
AZK_DEV u8 *azk_smem() {
  extern __shared__ __align__(16) u8 azk_dyn_smem[];
  return azk_dyn_smem;
}
AZK_DEV float azk_h2f(u16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
AZK_DEV u16 azk_f2h(float f) {
  u16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
AZK_DEV float azk_rint(float x) { return rintf(x); }
AZK_DEV int azk_f2i_rn(float x) { return __float2int_rn(x); }
AZK_DEV float azk_sqrt_rn(double x) { return (float)sqrt(x); }
AZK_DEV double azk_pow(double a, double b) { return pow(a, b); }
AZK_DEV double azk_cos(double x) { return cos(x); }
AZK_DEV double azk_sin(double x) { return sin(x); }
AZK_DEV float azk_bits_f(u32 b) { return __uint_as_float(b); }
AZK_DEV u32 azk_f_bits(float f) { return __float_as_uint(f); }
#endif

/* ---- scalar math: the CPU kernels' own formulas (runtime/base/fastmath.h) ---- */
AZK_DEV float azk_expf(float x) {
  if (x < -87.5f) return 0.0f;
  if (x > 88.5f) x = 88.5f;
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  float n = azk_rint(x * log2e);
  float r = x - n * ln2_hi;
  r = r - n * ln2_lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * azk_bits_f((u32)(azk_f2i_rn(n) + 127) << 23);
}
AZK_DEV float azk_silu(float x) { return x / (1.0f + azk_expf(-x)); }
AZK_DEV float azk_tanhf(float x) {
  float ax = x < 0 ? -x : x;
  if (ax < 0.0625f) {
    float x2 = x * x;
    return x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  }
  float t = 1.0f - 2.0f / (azk_expf(2.0f * ax) + 1.0f);
  return x < 0 ? -t : t;
}
AZK_DEV float azk_gelu(float x) {
  const float c = 0.7978845608028654f;
  return 0.5f * x * (1.0f + azk_tanhf(c * (x + 0.044715f * x * x * x)));
}
AZK_DEV float azk_bf2f(u16 h) { return azk_bits_f((u32)h << 16); }
AZK_DEV u16 azk_f2bf(float f) {
  u32 x = azk_f_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (u16)((x >> 16) | 64);
  return (u16)((x + (0x7fffu + ((x >> 16) & 1))) >> 16);
}
AZK_DEV float azk_fmaxf(float a, float b) { return a > b ? a : b; }
AZK_DEV float azk_neg_inf() { return azk_bits_f(0xff800000u); }

/* ---- reductions: warp shuffles, then shared memory across warps ---- */
AZK_DEV float azk_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += azk_shfl_xor(v, o); /* @plant:lane */
  return v;
}
AZK_DEV float azk_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = azk_fmaxf(v, azk_shfl_xor(v, o));
  return v;
}
/* Sum over the block; every thread gets it. red: 32 floats of shared memory. */
AZK_DEV float azk_block_sum(float v, float *red) {
  const int lane = azk_tid() & 31, warp = azk_tid() >> 5, nw = azk_nthreads() >> 5;
  v = azk_warp_sum(v);
  if (lane == 0) red[warp] = v;
  azk_sync(); /* @plant:sync */
  float t = lane < nw ? red[lane] : 0.0f;
  t = azk_warp_sum(t);
  azk_sync(); /* red is reused by the next reduction */
  return t;
}

/* ---- loads: blocks are only 2-byte aligned for most quant types ---- */
AZK_DEV u32 azk_ld32_a2(const u8 *p) {
  const u16 *h = (const u16 *)p;
  return (u32)h[0] | (u32)h[1] << 16;
}
AZK_DEV u32 azk_ld32(const u8 *p) { return *(const u32 *)p; }
AZK_DEV float azk_ldh(const u8 *p) { return azk_h2f(*(const u16 *)p); }

/* ---- weight types (ir dtype ids) ---- */
enum {
  AZK_F32 = 0, AZK_F16 = 1, AZK_Q4_0 = 2, AZK_Q4_1 = 3, AZK_Q5_0 = 6, AZK_Q5_1 = 7,
  AZK_Q8_0 = 8, AZK_Q2_K = 10, AZK_Q3_K = 11, AZK_Q4_K = 12, AZK_Q5_K = 13, AZK_Q6_K = 14,
  AZK_BF16 = 30
};
template <int WT> struct azk_wt;
#define AZK_WT(T, values, bytes)                                                                   \
  template <> struct azk_wt<T> {                                                                   \
    static constexpr int block_values = values, block_bytes = bytes;                               \
    static constexpr bool is_float = T == AZK_F32 || T == AZK_F16 || T == AZK_BF16;               \
  };
AZK_WT(AZK_F32, 1, 4)
AZK_WT(AZK_F16, 1, 2)
AZK_WT(AZK_BF16, 1, 2)
AZK_WT(AZK_Q4_0, 32, 18)
AZK_WT(AZK_Q4_1, 32, 20)
AZK_WT(AZK_Q5_0, 32, 22)
AZK_WT(AZK_Q5_1, 32, 24)
AZK_WT(AZK_Q8_0, 32, 34)
AZK_WT(AZK_Q2_K, 256, 84)
AZK_WT(AZK_Q3_K, 256, 110)
AZK_WT(AZK_Q4_K, 256, 144)
AZK_WT(AZK_Q5_K, 256, 176)
AZK_WT(AZK_Q6_K, 256, 210)

/* 4 bits (bit0..3 of h) to bit 4 of each of 4 bytes */
AZK_DEV u32 azk_spread4(u32 h) {
  return ((h & 1) << 4) | ((h & 2) << 11) | ((h & 4) << 18) | ((h & 8) << 25);
}
AZK_DEV void azk_k4_scale_min(int j, const u8 *s, int &sc, int &m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

/* Group g (16 consecutive values) of a quantized row: q[0..3] hold 16 int8
 * values (packed little-endian, in row order) and value i = d * q_i + m. */
template <int WT> AZK_DEV_SPEC void azk_dec16(const u8 *row, int g, u32 q[4], float &d, float &m) {
  for (int w = 0; w < 4; w++) q[w] = 0; /* float types: never called */
  d = m = 0.0f;
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q4_0>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 1) * 18;
  const int sh = 4 * (g & 1);
  d = azk_ldh(b);
  m = -8.0f * d;
  for (int w = 0; w < 4; w++) q[w] = (azk_ld32_a2(b + 2 + 4 * w) >> sh) & 0x0f0f0f0fu;
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q4_1>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 1) * 20;
  const int sh = 4 * (g & 1);
  d = azk_ldh(b);
  m = azk_ldh(b + 2);
  for (int w = 0; w < 4; w++) q[w] = (azk_ld32(b + 4 + 4 * w) >> sh) & 0x0f0f0f0fu;
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q5_0>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 1) * 22;
  const int sh = 4 * (g & 1);
  const u32 qh = azk_ld32_a2(b + 2) >> (16 * (g & 1));
  d = azk_ldh(b);
  m = -16.0f * d;
  for (int w = 0; w < 4; w++)
    q[w] = ((azk_ld32_a2(b + 6 + 4 * w) >> sh) & 0x0f0f0f0fu) | azk_spread4((qh >> (4 * w)) & 15);
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q5_1>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 1) * 24;
  const int sh = 4 * (g & 1);
  const u32 qh = azk_ld32(b + 4) >> (16 * (g & 1));
  d = azk_ldh(b);
  m = azk_ldh(b + 2);
  for (int w = 0; w < 4; w++)
    q[w] = ((azk_ld32(b + 8 + 4 * w) >> sh) & 0x0f0f0f0fu) | azk_spread4((qh >> (4 * w)) & 15);
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q8_0>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 1) * 34;
  d = azk_ldh(b);
  m = 0.0f;
  for (int w = 0; w < 4; w++) q[w] = azk_ld32_a2(b + 2 + 16 * (g & 1) + 4 * w);
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q2_K>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 4) * 84;
  const int G = g & 15, half = G >> 3, plane = (G >> 1) & 3, gg = G & 1;
  const u8 sc = b[G];
  d = azk_ldh(b + 80) * (float)(sc & 15);
  m = -(azk_ldh(b + 82) * (float)(sc >> 4));
  for (int w = 0; w < 4; w++)
    q[w] = (azk_ld32(b + 16 + 32 * half + 16 * gg + 4 * w) >> (2 * plane)) & 0x03030303u;
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q3_K>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 4) * 110;
  const int G = g & 15, half = G >> 3, plane = (G >> 1) & 3, gg = G & 1, bit = 4 * half + plane;
  const u8 *s = b + 96;
  const int low = G < 8 ? s[G] & 15 : s[G - 8] >> 4;
  const int high = (s[8 + G % 4] >> (2 * (G / 4))) & 3;
  d = azk_ldh(b + 108) * (float)((low | high << 4) - 32);
  m = -4.0f * d;
  for (int w = 0; w < 4; w++) {
    const u32 q2 = (azk_ld32_a2(b + 32 + 32 * half + 16 * gg + 4 * w) >> (2 * plane)) & 0x03030303u;
    const u32 h = (azk_ld32_a2(b + 16 * gg + 4 * w) >> bit) & 0x01010101u;
    q[w] = q2 | h << 2;
  }
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q4_K>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 4) * 144;
  const int G = g & 15, j = G >> 1, c = j >> 1, l0 = 16 * (G & 1);
  int sc, mn;
  azk_k4_scale_min(j, b + 4, sc, mn);
  d = azk_ldh(b) * (float)sc;
  m = -(azk_ldh(b + 2) * (float)mn);
  for (int w = 0; w < 4; w++)
    q[w] = (azk_ld32(b + 16 + 32 * c + l0 + 4 * w) >> (4 * (j & 1))) & 0x0f0f0f0fu;
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q5_K>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 4) * 176;
  const int G = g & 15, j = G >> 1, c = j >> 1, l0 = 16 * (G & 1);
  int sc, mn;
  azk_k4_scale_min(j, b + 4, sc, mn);
  d = azk_ldh(b) * (float)sc;
  m = -(azk_ldh(b + 2) * (float)mn);
  for (int w = 0; w < 4; w++) {
    const u32 lo = (azk_ld32(b + 48 + 32 * c + l0 + 4 * w) >> (4 * (j & 1))) & 0x0f0f0f0fu;
    const u32 h = (azk_ld32(b + 16 + l0 + 4 * w) >> j) & 0x01010101u;
    q[w] = lo | h << 4;
  }
}
template <> AZK_DEV_SPEC void azk_dec16<AZK_Q6_K>(const u8 *row, int g, u32 q[4], float &d, float &m) {
  const u8 *b = row + (g >> 4) * 210;
  const int G = g & 15, half = G >> 3, qq = (G >> 1) & 3, gl = G & 1;
  d = azk_ldh(b + 208) * (float)(i8)b[192 + 8 * half + gl + 2 * qq];
  m = -32.0f * d;
  for (int w = 0; w < 4; w++) {
    const int l = 16 * gl + 4 * w;
    const u32 lo = (azk_ld32_a2(b + 64 * half + l + 32 * (qq & 1)) >> (4 * (qq >> 1))) & 0x0f0f0f0fu;
    const u32 hi = (azk_ld32_a2(b + 128 + 32 * half + l) >> (2 * qq)) & 0x03030303u;
    q[w] = lo | hi << 4;
  }
}

/* Value k of a float row. */
template <int WT> AZK_DEV float azk_wf(const u8 *row, int k) {
  if (WT == AZK_F32) return ((const float *)row)[k];
  if (WT == AZK_F16) return azk_h2f(((const u16 *)row)[k]);
  return azk_bf2f(((const u16 *)row)[k]);
}
/* An activation as float weights of type WT see it (llama.cpp multiplies
 * F16 and BF16 weights with half-precision activations). */
template <int WT> AZK_DEV float azk_round_act(float x) {
  if (WT == AZK_F16) return azk_h2f(azk_f2h(x));
  if (WT == AZK_BF16) return azk_bf2f(azk_f2bf(x));
  return x;
}

/* Quantized activations: per 32 values a float scale and 32 int8 (36 bytes). */
enum { AZK_XQ_BLOCK = 36 };
AZK_DEV int azk_xq_row_bytes(int K) { return K / 32 * AZK_XQ_BLOCK; }

/* Dot product of group g of weight row w with activation row xq (quantized):
 * d_w d_x sum(q_w q_x) + m_w d_x sum(q_x). */
template <int WT> AZK_DEV float azk_dot16(const u8 *w, int g, const u8 *xq) {
  u32 q[4];
  float d, m;
  azk_dec16<WT>(w, g, q, d, m);
  const u8 *xb = xq + (g >> 1) * AZK_XQ_BLOCK;
  const float dx = *(const float *)xb;
  const u8 *xv = xb + 4 + 16 * (g & 1);
  int dot = 0, sum = 0;
  for (int k = 0; k < 4; k++) {
    const int x = (int)azk_ld32(xv + 4 * k);
    dot = azk_dp4a((int)q[k], x, dot);
    sum = azk_dp4a(0x01010101, x, sum);
  }
  return dx * (d * (float)dot + m * (float)sum);
}

/* ---- rope ---- */
AZK_DEV void azk_rope_cs(int i, int n_rot, int pos, float base, float scale, const float *factors,
                         float &c, float &s) {
  double theta = (double)pos * (double)scale * azk_pow((double)base, -2.0 * i / (double)n_rot);
  if (factors) theta /= (double)factors[i];
  c = (float)azk_cos(theta);
  s = (float)azk_sin(theta);
}
/* rotates pairs of one head held in v (shared memory), thread tid of nt;
 * attn: LongRoPE's factor on cos and sin (1: none), as the eager rope applies it */
AZK_DEV void azk_rope_smem(float *v, int n_rot, int mode, int pos, float base, float scale,
                           const float *factors, float attn, int tid, int nt) {
  for (int i = tid; i < n_rot / 2; i += nt) {
    const int a = mode == 2 ? i : 2 * i, b = mode == 2 ? i + n_rot / 2 : 2 * i + 1;
    float c, s;
    azk_rope_cs(i, n_rot, pos, base, scale, factors, c, s);
    c *= attn; /* @plant:attn */
    s *= attn;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

AZK_DEV int azk_rows(const azk_gpu_args &a) { return a.m_sym == 2 ? a.dyn->O : a.dyn->T; }

/* ---- matmul_fused, phase 1: prologue and activation quantization ----
 * One block per row: normalize (rmsnorm / layernorm through block sums),
 * then write the row quantized to int8 (one warp per 32 values, the scale
 * from a warp max) for integer weights, and as floats (rounded as the float
 * weights see them) for float weights. Scratch: M rows of XQ, then M rows of
 * K floats. */
template <class P> AZK_DEV void azk_mm_prep(const azk_gpu_args &a) {
  const int m = azk_bid_y(), tid = azk_tid(), nt = azk_nthreads();
  if (m >= azk_rows(a)) return;
  constexpr int K = P::K;
  float *red = (float *)azk_smem();
  float *xn = red + 32; /* K floats */
  const float *x = (const float *)a.in[P::in_x] + (i64)m * K;
  for (int k = tid; k < K; k += nt) xn[k] = x[k];
  azk_sync();
  if (P::prologue) {
    float mean = 0.0f;
    if (P::prologue == 2) {
      float s = 0.0f;
      for (int k = tid; k < K; k += nt) s += xn[k];
      mean = azk_block_sum(s, red) / (float)K;
    }
    float ss = 0.0f;
    for (int k = tid; k < K; k += nt) ss += (xn[k] - mean) * (xn[k] - mean);
    ss = azk_block_sum(ss, red);
    const float scale = 1.0f / azk_sqrt_rn((double)ss / (double)K + (double)P::eps);
    const float *gw = (const float *)a.in[P::in_norm_w];
    const float *gb = P::prologue == 2 ? (const float *)a.in[P::in_norm_b] : nullptr;
    for (int k = tid; k < K; k += nt) {
      float v = (xn[k] - mean) * scale * gw[k];
      if (gb) v += gb[k];
      xn[k] = v;
    }
    azk_sync();
  }
  if (P::int_segments) {
    /* as the eager interpreter rounds them (runtime/quant.c): per block of
     * 32 (Q8_0/Q8_1, scale at half precision) or 256 (Q8_K, K-quant
     * weights) q = rint(x * 127 / max|x|), d = max|x| / 127 */
    u8 *xq = a.scratch + (i64)m * azk_xq_row_bytes(K);
    const int lane = tid & 31;
    constexpr int AB = P::act_block, PER = AB / 32;
    for (int blk = tid >> 5; blk < K / AB; blk += nt >> 5) {
      float v[PER], amax = 0.0f;
      for (int i = 0; i < PER; i++) {
        v[i] = xn[AB * blk + 32 * i + lane];
        amax = azk_fmaxf(amax, v[i] < 0 ? -v[i] : v[i]);
      }
      amax = azk_warp_max(amax);
      const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
      float d = amax / 127.0f;
      if (AB == 32) d = azk_h2f(azk_f2h(d));
      for (int i = 0; i < PER; i++) {
        u8 *b = xq + (AB / 32 * blk + i) * AZK_XQ_BLOCK;
        if (lane == 0) *(float *)b = d;
        b[4 + lane] = (u8)(i8)azk_f2i_rn(v[i] * id);
      }
    }
  }
  if (P::float_type >= 0) {
    float *xf = (float *)(a.scratch + (i64)azk_rows(a) * (P::int_segments ? azk_xq_row_bytes(K) : 0)) +
                (i64)m * K;
    for (int k = tid; k < K; k += nt) xf[k] = azk_round_act<P::float_type < 0 ? 0 : P::float_type>(xn[k]);
  }
}

/* dot(weight row n of segment type WT, activation row), lanes of a warp
 * splitting K; every lane gets the sum. */
template <int WT, int K> AZK_DEV float azk_dot_row(const u8 *w, const u8 *xq, const float *xf) {
  const int lane = azk_tid() & 31;
  float acc = 0.0f;
  if (azk_wt<WT>::is_float) {
    for (int k = lane; k < K; k += 32) acc += azk_wf<WT>(w, k) * xf[k];
  } else {
    for (int g = lane; g < K / 16; g += 32) acc += azk_dot16<WT>(w, g, xq);
  }
  return azk_warp_sum(acc);
}

template <int WT, int K> AZK_DEV constexpr i64 azk_row_bytes() {
  return (i64)(K / azk_wt<WT>::block_values) * azk_wt<WT>::block_bytes;
}

/* ---- matmul_fused, phase 2 ----
 * Block (x: a tile of CT output columns, y: RT rows). The RT activation rows
 * are staged in shared memory (XQ bytes, or floats); each warp takes columns
 * of the tile in turn, decodes a weight group once and multiplies it with all
 * RT rows (__dp4a on int8, warp-shuffle sums), and writes the results to a
 * shared tile; the epilogue then runs on the tile (the q/k norms and rope
 * need a whole head, SwiGLU and GeGLU the gate and up columns side by side).
 * RT = 1 is the decode mat-vec. */
template <class P, int S> AZK_DEV int azk_seg_n() {
  return S == 0 ? P::N0 : S == 1 ? P::N1 : S == 2 ? P::N2 : P::N3;
}

template <class P, int S, int RT>
AZK_DEV void azk_mm_seg_cols(const azk_gpu_args &a, int c0, int c1, int ocol, int m0, int nrows,
                             const u8 *xs, const float *xfs, float *tile, int tile_base) {
  constexpr int WT = S == 0 ? P::W0 : S == 1 ? P::W1 : S == 2 ? P::W2 : P::W3;
  constexpr int K = P::K;
  constexpr i64 rb = azk_row_bytes<WT, K>();
  constexpr int xq_rb = azk_wt<WT>::is_float ? 0 : K / 32 * AZK_XQ_BLOCK;
  const int lane = azk_tid() & 31, warp = azk_tid() >> 5, nw = azk_nthreads() >> 5;
  const u8 *W = (const u8 *)a.in[S == 0 ? P::in_w0 : S == 1 ? P::in_w1 : S == 2 ? P::in_w2 : P::in_w3];
  const float *bias = P::bias ? (const float *)a.in[S == 0 ? P::in_b0 : S == 1 ? P::in_b1 : S == 2 ? P::in_b2 : P::in_b3] : nullptr;
  for (int n = c0 + warp; n < c1; n += nw) {
    const u8 *w = W + (i64)n * rb;
    float acc[RT];
    for (int r = 0; r < RT; r++) acc[r] = 0.0f;
    if (azk_wt<WT>::is_float) {
      for (int k = lane; k < K; k += 32) {
        const float wv = azk_wf<WT>(w, k);
        for (int r = 0; r < RT; r++) acc[r] += wv * xfs[r * K + k];
      }
    } else {
      for (int g = lane; g < K / 16; g += 32) {
        u32 q[4];
        float d, m;
        azk_dec16<WT>(w, g, q, d, m);
        for (int r = 0; r < RT; r++) {
          const u8 *xb = xs + r * xq_rb + (g >> 1) * AZK_XQ_BLOCK;
          const float dx = *(const float *)xb;
          const u8 *xv = xb + 4 + 16 * (g & 1);
          int dot = 0, sum = 0;
          for (int k = 0; k < 4; k++) {
            const int x = (int)azk_ld32(xv + 4 * k);
            dot = azk_dp4a((int)q[k], x, dot);
            sum = azk_dp4a(0x01010101, x, sum);
          }
          acc[r] += dx * (d * (float)dot + m * (float)sum);
        }
      }
    }
    for (int r = 0; r < RT; r++) {
      const float v = azk_warp_sum(acc[r]);
      if (lane == 0 && r < nrows) tile[r * P::CT + tile_base + n - c0] = v + (bias ? bias[n] : 0.0f);
    }
  }
  (void)ocol, (void)m0;
}

/* columns [n0, n1) of the concatenation of segments into tile[.][n - n0] */
template <class P, int RT>
AZK_DEV void azk_mm_cols(const azk_gpu_args &a, int n0, int n1, int m0, int nrows, const u8 *xs,
                         const float *xfs, float *tile) {
  constexpr int o1 = P::N0, o2 = o1 + P::N1, o3 = o2 + P::N2;
#define AZK_SEG(S, lo, hi)                                                                         \
  if (S < P::n_seg && n0 < (hi) && n1 > (lo)) {                                                    \
    const int c0 = n0 > (lo) ? n0 - (lo) : 0, c1 = (n1 < (hi) ? n1 : (hi)) - (lo);                 \
    azk_mm_seg_cols<P, S, RT>(a, c0, c1, lo, m0, nrows, S == 0 ? xs : xs, xfs, tile,               \
                              (lo) + c0 - n0);                                                     \
  }
  AZK_SEG(0, 0, o1)
  AZK_SEG(1, o1, o2)
  AZK_SEG(2, o2, o3)
  AZK_SEG(3, o3, o3 + P::N3)
#undef AZK_SEG
}

template <class P, int RT> AZK_DEV void azk_mm_main(const azk_gpu_args &a) {
  constexpr int K = P::K, CT = P::CT;
  constexpr int Ntot = P::N0 + P::N1 + P::N2 + P::N3;
  const int M = azk_rows(a), m0 = azk_bid_y() * RT, tid = azk_tid(), nt = azk_nthreads();
  if (m0 >= M) return;
  const int nrows = M - m0 < RT ? M - m0 : RT;
  const int n0 = azk_bid_x() * CT;
  constexpr int xq_rb = P::int_segments ? K / 32 * AZK_XQ_BLOCK : 0;
  /* shared: the activation rows (XQ, then floats), then the output tile(s) */
  u8 *sm = azk_smem();
  u8 *xs = sm;
  float *xfs = (float *)(sm + RT * xq_rb);
  float *tile = xfs + (P::float_type >= 0 ? RT * K : 0);
  const u8 *gq = a.scratch + (i64)m0 * xq_rb;
  for (int i = tid; i < nrows * xq_rb / 4; i += nt) ((u32 *)xs)[i] = ((const u32 *)gq)[i];
  if (P::float_type >= 0) {
    const float *gf = (const float *)(a.scratch + (i64)M * xq_rb) + (i64)m0 * K;
    for (int i = tid; i < nrows * K; i += nt) xfs[i] = gf[i];
  }
  azk_sync(); /* @plant:sync-stage */
  if constexpr (P::epilogue == 2 || P::epilogue == 5) {
    /* swiglu / geglu: gate columns [n0, n1) and up columns F + [n0, n1) of the
     * concatenation: segments 0 and 1 (F = N0), or the halves of segment 0
     * (F = N0 / 2, Phi-3's gate|up tensor) */
    constexpr int F = P::n_seg == 2 ? P::N0 : P::N0 / 2;
    const int n1 = n0 + CT < F ? n0 + CT : F;
    azk_mm_cols<P, RT>(a, n0, n1, m0, nrows, xs, xfs, tile);
    azk_mm_cols<P, RT>(a, F + n0, F + n1, m0, nrows, xs, xfs, tile + RT * CT); /* @plant:up */
    azk_sync();
    float *out = (float *)a.out;
    for (int i = tid; i < nrows * CT; i += nt) {
      const int r = i / CT, j = i % CT;
      if (n0 + j >= n1) continue;
      const float g = tile[i];
      out[(i64)(m0 + r) * F + n0 + j] =
          (P::epilogue == 5 ? azk_gelu(g) : azk_silu(g)) * tile[RT * CT + i]; /* @plant:glu */
    }
  } else {
  const int n1 = n0 + CT < Ntot ? n0 + CT : Ntot;
  azk_mm_cols<P, RT>(a, n0, n1, m0, nrows, xs, xfs, tile);
  azk_sync();
  float *out = (float *)a.out;
  if constexpr (P::epilogue == 4) { /* rope + kv: the tile is one head of [q | k | v] */
    constexpr int hd = P::head_dim, Hq = P::n_head * hd, Hk = P::n_head_kv * hd;
    if (P::qk_norm && n0 < Hq + Hk) {
      /* Qwen3's and Gemma 3's per-head RMSNorm of q and k, times q_norm or
       * k_norm: a warp per row of the tile, its sum of squares from a warp sum */
      const int lane = tid & 31, warp = tid >> 5, nw = nt >> 5;
      const float *w = (const float *)a.in[n0 < Hq ? P::in_q_norm : P::in_k_norm];
      for (int r = warp; r < nrows; r += nw) {
        float *v = tile + r * CT, ss = 0.0f;
        for (int j = lane; j < hd; j += 32) ss += v[j] * v[j];
        ss = azk_warp_sum(ss);
        const double eps = P::qk_eps; /* @plant:qk-eps */
        const float scale = 1.0f / azk_sqrt_rn((double)ss / (double)hd + eps);
        for (int j = lane; j < hd; j += 32) v[j] = v[j] * scale * w[j];
      }
      azk_sync();
    }
    if (P::n_rot && n0 < Hq + Hk)
      for (int r = 0; r < nrows; r++)
        azk_rope_smem(tile + r * CT, P::n_rot, P::rope_mode, a.pos[m0 + r], P::freq_base,
                      P::freq_scale, P::in_factors >= 0 ? (const float *)a.in[P::in_factors] : nullptr,
                      P::attn_factor, tid, nt);
    azk_sync();
    for (int i = tid; i < nrows * CT; i += nt) {
      const int r = i / CT, j = i % CT, t = m0 + r, col = n0 + j;
      float *dst;
      if (col < Hq)
        dst = out + (i64)t * Hq + col;
      else if (col < Hq + Hk)
        dst = a.k_cache + a.seq[t] * a.kv_seq_stride + (i64)a.pos[t] * Hk + (col - Hq);
      else
        dst = a.v_cache + a.seq[t] * a.kv_seq_stride + (i64)a.pos[t] * Hk + (col - Hq - Hk);
      *dst = tile[i];
    }
  } else {
  for (int i = tid; i < nrows * CT; i += nt) {
    const int r = i / CT, j = i % CT;
    if (n0 + j >= n1) continue;
    const i64 o = (i64)(m0 + r) * Ntot + n0 + j;
    float v = tile[i];
    if (P::epilogue == 1) v += ((const float *)a.in[P::in_residual])[o];
    if (P::epilogue == 3) v = azk_gelu(v);
    out[o] = v;
  }
  }
  }
}

/* ---- flash attention ----
 * Block (x: query head h and split s of S, y: token t). The split's keys
 * [f + s n/S, f + (s+1) n/S) of the causal range [f, L), L = pos + 1 (f = 0,
 * or L - window with a sliding window; n = L - f) are dealt to the
 * block's warps; each warp keeps an online softmax (running max, sum, and
 * the weighted V sum, D/32 values per lane) with q.k from warp-shuffle sums;
 * the warps are merged through shared memory. With S = 1 (prefill) the block
 * writes the output; with S > 1 (decode, the KV split across blocks) it
 * writes (max, sum, acc[D]) to scratch and azk_fa_merge combines the splits. */
template <class P, int S> AZK_DEV void azk_fa_split(const azk_gpu_args &a) {
  constexpr int H = P::n_head, Hkv = P::n_head_kv, D = P::head_dim, G = H / Hkv;
  constexpr int DL = (D + 31) / 32;
  const int t = azk_bid_y(), h = azk_bid_x() / S, s = azk_bid_x() % S;
  if (t >= a.dyn->T) return;
  const int tid = azk_tid(), lane = tid & 31, warp = tid >> 5, nw = azk_nthreads() >> 5;
  /* keys [first, L): every earlier one, or the last `window` (sliding window) */
  const int L = a.pos[t] + 1;
  const int first = P::window > 0 && L > P::window ? L - P::window : 0; /* @plant:window */
  const int chunk = (L - first + S - 1) / S;
  const int l0 = first + s * chunk, l1 = l0 + chunk < L ? l0 + chunk : L;
  const int g = h / G;
  const float *q = (const float *)a.in[P::in_q] + ((i64)t * H + h) * D;
  const float *kb = a.k_cache + a.seq[t] * a.kv_seq_stride + (i64)g * D;
  const float *vb = a.v_cache + a.seq[t] * a.kv_seq_stride + (i64)g * D;
  float *sm = (float *)azk_smem(); /* per warp: max, sum, acc[D] */
  float qr[DL], o[DL];
  for (int i = 0; i < DL; i++) {
    const int d = lane + 32 * i;
    qr[i] = d < D ? q[d] : 0.0f;
    o[i] = 0.0f;
  }
  float mx = azk_neg_inf(), sum = 0.0f;
  for (int l = l0 + warp; l < l1; l += nw) {
    const float *k = kb + (i64)l * Hkv * D, *v = vb + (i64)l * Hkv * D;
    float part = 0.0f;
    for (int i = 0; i < DL; i++) {
      const int d = lane + 32 * i;
      if (d < D) part += qr[i] * k[d];
    }
    float sc = azk_warp_sum(part) * P::scale;
    if constexpr (P::softcap > 0.0f) /* Gemma 2 */
      sc = P::softcap * azk_tanhf(sc / P::softcap); /* @plant:softcap */
    const float nm = azk_fmaxf(mx, sc);
    const float corr = azk_expf(mx - nm), p = azk_expf(sc - nm);
    sum = sum * corr + p;
    for (int i = 0; i < DL; i++) {
      const int d = lane + 32 * i;
      o[i] = o[i] * corr + (d < D ? p * v[d] : 0.0f);
    }
    mx = nm;
  }
  float *mine = sm + warp * (D + 2);
  if (lane == 0) {
    mine[0] = mx;
    mine[1] = sum;
  }
  for (int i = 0; i < DL; i++) {
    const int d = lane + 32 * i;
    if (d < D) mine[2 + d] = o[i];
  }
  azk_sync(); /* @plant:sync-fa */
  float M = azk_neg_inf();
  for (int w = 0; w < nw; w++) M = azk_fmaxf(M, sm[w * (D + 2)]);
  float tot = 0.0f;
  for (int w = 0; w < nw; w++)
    if (sm[w * (D + 2)] != azk_neg_inf()) tot += sm[w * (D + 2) + 1] * azk_expf(sm[w * (D + 2)] - M);
  for (int d = tid; d < D; d += azk_nthreads()) {
    float acc = 0.0f;
    for (int w = 0; w < nw; w++)
      if (sm[w * (D + 2)] != azk_neg_inf()) acc += sm[w * (D + 2) + 2 + d] * azk_expf(sm[w * (D + 2)] - M);
    if (S == 1) {
      ((float *)a.out)[((i64)t * H + h) * D + d] = acc / tot;
    } else {
      float *part = (float *)a.scratch + (((i64)t * H + h) * S + s) * (D + 2);
      part[2 + d] = acc;
      if (d == 0) {
        part[0] = M;
        part[1] = tot;
      }
    }
  }
}

template <class P, int S> AZK_DEV void azk_fa_merge(const azk_gpu_args &a) {
  constexpr int H = P::n_head, D = P::head_dim;
  const int t = azk_bid_y(), h = azk_bid_x();
  if (t >= a.dyn->T) return;
  const float *part = (const float *)a.scratch + ((i64)t * H + h) * S * (D + 2);
  float M = azk_neg_inf();
  for (int s = 0; s < S; s++) M = azk_fmaxf(M, part[s * (D + 2)]);
  float tot = 0.0f;
  for (int s = 0; s < S; s++)
    if (part[s * (D + 2)] != azk_neg_inf()) tot += part[s * (D + 2) + 1] * azk_expf(part[s * (D + 2)] - M);
  for (int d = azk_tid(); d < D; d += azk_nthreads()) {
    float acc = 0.0f;
    for (int s = 0; s < S; s++)
      if (part[s * (D + 2)] != azk_neg_inf())
        acc += part[s * (D + 2) + 2 + d] * azk_expf(part[s * (D + 2)] - M);
    ((float *)a.out)[((i64)t * H + h) * D + d] = acc / tot;
  }
}

/* ---- the other ops (unfused graphs and the token embedding) ---- */
/* get_rows: row r of the output is table row in[1][r], dequantized */
template <int WT, int D> AZK_DEV void azk_get_rows(const azk_gpu_args &a) {
  const int r = azk_bid_y();
  if (r >= azk_rows(a)) return;
  const int idx = ((const int *)a.in[1])[r];
  const u8 *row = (const u8 *)a.in[0] + (i64)idx * azk_row_bytes<WT, D>();
  float *o = (float *)a.out + (i64)r * D;
  if (azk_wt<WT>::is_float) {
    for (int k = azk_tid(); k < D; k += azk_nthreads()) o[k] = azk_wf<WT>(row, k);
  } else {
    for (int g = azk_tid(); g < D / 16; g += azk_nthreads()) {
      u32 q[4];
      float d, m;
      azk_dec16<WT>(row, g, q, d, m);
      for (int i = 0; i < 16; i++) {
        const int v = (int)(i8)(u8)(q[i / 4] >> (8 * (i % 4)));
        o[16 * g + i] = m == 0.0f ? (float)v * d : d * (float)v + m;
      }
    }
  }
}

template <int OP, int D, int BCAST> AZK_DEV void azk_elementwise(const azk_gpu_args &a, float scale) {
  const int r = azk_bid_y();
  if (r >= azk_rows(a)) return;
  const float *x = (const float *)a.in[0] + (i64)r * D, *b = (const float *)a.in[1];
  float *o = (float *)a.out + (i64)r * D;
  for (int j = azk_tid(); j < D; j += azk_nthreads()) {
    const float v = x[j];
    if (OP == 1) o[j] = v + b[BCAST ? j : (i64)r * D + j];
    if (OP == 2) o[j] = v * b[BCAST ? j : (i64)r * D + j];
    if (OP == 3) o[j] = v * scale;
    if (OP == 4) o[j] = azk_silu(v);
    if (OP == 5) o[j] = azk_gelu(v);
    if (OP == 6) o[j] = scale * azk_tanhf(v / scale); /* soft-cap (Gemma 2's final logits) */
  }
}

template <int D, int LAYER> AZK_DEV void azk_norm(const azk_gpu_args &a, float eps) {
  const int r = azk_bid_y(), tid = azk_tid(), nt = azk_nthreads();
  if (r >= azk_rows(a)) return;
  float *red = (float *)azk_smem();
  const float *x = (const float *)a.in[0] + (i64)r * D;
  float mean = 0.0f;
  if (LAYER) {
    float s = 0.0f;
    for (int k = tid; k < D; k += nt) s += x[k];
    mean = azk_block_sum(s, red) / (float)D;
  }
  float ss = 0.0f;
  for (int k = tid; k < D; k += nt) ss += (x[k] - mean) * (x[k] - mean);
  ss = azk_block_sum(ss, red);
  const float scale = 1.0f / azk_sqrt_rn((double)ss / (double)D + (double)eps);
  float *o = (float *)a.out + (i64)r * D;
  for (int k = tid; k < D; k += nt) o[k] = (x[k] - mean) * scale;
}

template <int IW, int START, int LEN> AZK_DEV void azk_slice(const azk_gpu_args &a) {
  const int r = azk_bid_y();
  if (r >= azk_rows(a)) return;
  for (int j = azk_tid(); j < LEN; j += azk_nthreads())
    ((float *)a.out)[(i64)r * LEN + j] = ((const float *)a.in[0])[(i64)r * IW + START + j];
}

/* rope on (T, H, D): block per token, one head of shared memory at a time */
template <int H, int D, int NROT, int MODE, int FACTORS>
AZK_DEV void azk_rope(const azk_gpu_args &a, float base, float scale, float attn) {
  const int t = azk_bid_y(), tid = azk_tid(), nt = azk_nthreads();
  if (t >= azk_rows(a)) return;
  float *v = (float *)azk_smem();
  for (int h = 0; h < H; h++) {
    const float *x = (const float *)a.in[0] + ((i64)t * H + h) * D;
    for (int d = tid; d < D; d += nt) v[d] = x[d];
    azk_sync();
    azk_rope_smem(v, NROT, MODE, a.pos[t], base, scale, FACTORS ? (const float *)a.in[2] : nullptr,
                  attn, tid, nt);
    azk_sync();
    for (int d = tid; d < D; d += nt) ((float *)a.out)[((i64)t * H + h) * D + d] = v[d];
    azk_sync();
  }
}

template <int W, int KIND> AZK_DEV void azk_kv_write(const azk_gpu_args &a) {
  const int t = azk_bid_y();
  if (t >= a.dyn->T) return;
  float *dst = (KIND ? a.v_cache : a.k_cache) + a.seq[t] * a.kv_seq_stride + (i64)a.pos[t] * W;
  for (int j = azk_tid(); j < W; j += azk_nthreads()) dst[j] = ((const float *)a.in[1])[(i64)t * W + j];
}

/* attn_scores: (T, H, L) = q . k for every visible slot l < L */
template <int H, int Hkv, int D> AZK_DEV void azk_attn_scores(const azk_gpu_args &a) {
  const int t = azk_bid_y(), h = azk_bid_x(), L = a.dyn->L, g = h / (H / Hkv);
  if (t >= a.dyn->T) return;
  const float *q = (const float *)a.in[0] + ((i64)t * H + h) * D;
  float *o = (float *)a.out + ((i64)t * H + h) * L;
  for (int l = azk_tid(); l < L; l += azk_nthreads()) {
    const float *k = a.k_cache + a.seq[t] * a.kv_seq_stride + ((i64)l * Hkv + g) * D;
    float s = 0.0f;
    for (int d = 0; d < D; d++) s += q[d] * k[d];
    o[l] = s;
  }
}

template <int H, int Hkv, int D> AZK_DEV void azk_attn_values(const azk_gpu_args &a) {
  const int t = azk_bid_y(), h = azk_bid_x(), L = a.dyn->L, g = h / (H / Hkv);
  if (t >= a.dyn->T) return;
  const float *p = (const float *)a.in[0] + ((i64)t * H + h) * L;
  for (int d = azk_tid(); d < D; d += azk_nthreads()) {
    float acc = 0.0f;
    for (int l = 0; l < L; l++)
      if (p[l] != 0.0f) acc += p[l] * a.v_cache[a.seq[t] * a.kv_seq_stride + ((i64)l * Hkv + g) * D + d];
    ((float *)a.out)[((i64)t * H + h) * D + d] = acc;
  }
}

template <int H> AZK_DEV void azk_causal_mask(const azk_gpu_args &a) {
  const int t = azk_bid_y(), h = azk_bid_x(), L = a.dyn->L;
  if (t >= a.dyn->T) return;
  const float *x = (const float *)a.in[0] + ((i64)t * H + h) * L;
  float *o = (float *)a.out + ((i64)t * H + h) * L;
  for (int l = azk_tid(); l < L; l += azk_nthreads()) o[l] = l > a.pos[t] ? azk_neg_inf() : x[l];
}

/* softmax over rows of W (0: the key length L); block per row */
template <int W0, int RPM> AZK_DEV void azk_softmax(const azk_gpu_args &a) {
  const int r = azk_bid_y() * RPM + azk_bid_x(), tid = azk_tid(), nt = azk_nthreads();
  if (azk_bid_y() >= azk_rows(a)) return;
  const int W = W0 ? W0 : a.dyn->L;
  float *red = (float *)azk_smem();
  const float *x = (const float *)a.in[0] + (i64)r * W;
  float *y = (float *)a.out + (i64)r * W;
  float mx = azk_neg_inf();
  for (int i = tid; i < W; i += nt) mx = azk_fmaxf(mx, x[i]);
  mx = azk_warp_max(mx);
  if ((tid & 31) == 0) red[tid >> 5] = mx;
  azk_sync();
  mx = azk_neg_inf();
  for (int w = 0; w < nt >> 5; w++) mx = azk_fmaxf(mx, red[w]);
  azk_sync();
  float s = 0.0f;
  for (int i = tid; i < W; i += nt) {
    const float e = azk_expf(x[i] - mx);
    y[i] = e;
    s += e;
  }
  s = azk_block_sum(s, red);
  const float inv = s > 0 ? 1.0f / s : 0.0f;
  for (int i = tid; i < W; i += nt) y[i] *= inv;
}
