/* Every function of codegen/cpu/kernels/azk_dot.h instantiated once, for
 * tests/CMakeLists.txt to compile to LLVM bitcode for each kernel target
 * variant (x86-64 generic/AVX2/AVX-512, AArch64 with and without dotprod)
 * and to check that the result calls no library function. */
#include "codegen/cpu/kernels/azk_dot.h"

#define AZK_INSTANCE(name, wtype)                                                                  \
  float inst_dot_##name(int64_t K, const void *w, const void *x);                                  \
  float inst_dot_##name(int64_t K, const void *w, const void *x) {                                 \
    return azk_dot(wtype, K, w, x);                                                                \
  }                                                                                                \
  void inst_rows_##name(int64_t K, const void *w, const void *x, size_t s, int R, float *o);       \
  void inst_rows_##name(int64_t K, const void *w, const void *x, size_t s, int R, float *o) {      \
    azk_dot_rows(wtype, K, w, x, s, R, o);                                                         \
  }                                                                                                \
  void inst_rows4_##name(const void *w, const void *x, float *o);                                  \
  void inst_rows4_##name(const void *w, const void *x, float *o) {                                 \
    azk_dot_rows(wtype, 4096, w, x, azk_xq_row_size(wtype, 4096), 4, o);                           \
  }                                                                                                \
  float inst_typed_##name(int64_t K, const void *w, const void *x);                                \
  float inst_typed_##name(int64_t K, const void *w, const void *x) {                               \
    return azk_dot_##name(K, w, x);                                                                \
  }

AZK_INSTANCE(f32, AZC_DTYPE_F32)
AZK_INSTANCE(f16, AZC_DTYPE_F16)
AZK_INSTANCE(bf16, AZC_DTYPE_BF16)
AZK_INSTANCE(q4_0, AZC_DTYPE_Q4_0)
AZK_INSTANCE(q4_1, AZC_DTYPE_Q4_1)
AZK_INSTANCE(q5_0, AZC_DTYPE_Q5_0)
AZK_INSTANCE(q5_1, AZC_DTYPE_Q5_1)
AZK_INSTANCE(q8_0, AZC_DTYPE_Q8_0)
AZK_INSTANCE(q2_k, AZC_DTYPE_Q2_K)
AZK_INSTANCE(q3_k, AZC_DTYPE_Q3_K)
AZK_INSTANCE(q4_k, AZC_DTYPE_Q4_K)
AZK_INSTANCE(q5_k, AZC_DTYPE_Q5_K)
AZK_INSTANCE(q6_k, AZC_DTYPE_Q6_K)

void inst_quantize(int wtype, const float *x, void *xq, int64_t K);
void inst_quantize(int wtype, const float *x, void *xq, int64_t K) {
  azk_quantize_x(wtype, x, xq, K);
}
void inst_quantize_q8(const float *x, void *xq, int64_t K);
void inst_quantize_q8(const float *x, void *xq, int64_t K) { azk_quantize_x_q8(x, xq, K); }
void inst_quantize_q8k(const float *x, void *xq, int64_t K);
void inst_quantize_q8k(const float *x, void *xq, int64_t K) { azk_quantize_x_q8k(x, xq, K); }
size_t inst_xq_size(int wtype, int64_t K);
size_t inst_xq_size(int wtype, int64_t K) { return azk_xq_row_size(wtype, K); }
float inst_dot_any(int wtype, int64_t K, const void *w, const void *x);
float inst_dot_any(int wtype, int64_t K, const void *w, const void *x) {
  return azk_dot(wtype, K, w, x) + azk_dot_scalar(wtype, K, w, x);
}
void inst_quantize_scalar(int wtype, const float *x, void *xq, int64_t K);
void inst_quantize_scalar(int wtype, const float *x, void *xq, int64_t K) {
  azk_quantize_x_scalar(wtype, x, xq, K);
}
float inst_vec_dot(const float *a, const float *b, int64_t n);
float inst_vec_dot(const float *a, const float *b, int64_t n) { return azk_vec_dot_f32(a, b, n); }
void inst_axpy(int64_t n, float alpha, const float *x, float *y);
void inst_axpy(int64_t n, float alpha, const float *x, float *y) {
  azk_vec_axpy_f32(n, alpha, x, y);
}
