/* Vectorized loops for the ELF loader test: built with -O2 -mavx2 -mfma on
 * x86_64 (NEON on aarch64), so the objects carry vector code and constant
 * pools in .rodata.cst* sections. */
void kern_saxpy(float a, const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

int kern_dot_i32(const int *x, const int *y, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

void kern_relu_half(float *x, int n) {
  for (int i = 0; i < n; i++) x[i] = x[i] > 0.25f ? x[i] * 0.5f : 0.125f;
}
