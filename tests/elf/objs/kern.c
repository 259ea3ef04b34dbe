/* Test kernels for the ELF loader (tests/elf/test_elf_loader.c). Built with
 * clang-19 at several code models and section layouts, for x86_64 and for
 * aarch64, so that the loader sees what LLVM really emits: calls between
 * functions, a const table, mutable .data and .bss, calls into libc/libm, a
 * table of function pointers (absolute relocations in .data.rel.ro), GOT loads
 * of preemptible globals, a weak definition and a weak undefined reference.
 * No system headers: the aarch64 objects are built without an aarch64 libc. */
typedef __SIZE_TYPE__ size_t;
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
float expf(float x);
float tanhf(float x);

/* hidden: reached PC-relatively (ADRP + ADD/LDR), not through the GOT */
__attribute__((visibility("hidden"))) const float kern_table[8] = {1.5f, -2, 3, 0.25f, 5, 6, 7, 8};
__attribute__((visibility("hidden"))) double g_f64 = 0.5;
__attribute__((visibility("hidden"))) unsigned char g_u8 = 7;
__attribute__((visibility("hidden"))) unsigned short g_u16 = 300;
typedef float v4f __attribute__((vector_size(16)));
__attribute__((visibility("hidden"))) v4f g_v4 = {1, 2, 3, 4};

int counter = 5; /* default visibility: reached through the GOT */
int bss_counter; /* .bss */
static float accum[64];

float kern_lookup(int i) { return kern_table[i & 7]; }

int kern_bump(int by) {
  counter += by;
  bss_counter += 2 * by;
  accum[by & 63] += 1.0f;
  return counter * 1000 + bss_counter;
}

float kern_accum(int i) { return accum[i & 63]; }

void kern_zero(float *d, int n) { memset(d, 0, (size_t)n * sizeof(float)); }
void kern_copy(float *d, const float *s, int n) { memcpy(d, s, (size_t)n * sizeof(float)); }
float kern_act(float x) { return expf(x) + tanhf(x); }

double kern_scaled(double x) { return x * g_f64 + g_u8 + g_u16; }
void kern_set_scaled(double s, unsigned char a, unsigned short b) {
  g_f64 = s;
  g_u8 = a;
  g_u16 = b;
}
float kern_vsum(void) {
  v4f v = g_v4 * g_v4;
  return v[0] + v[1] + v[2] + v[3];
}

static __attribute__((noinline)) int helper(int x) { return x * x + 1; }
int kern_twice(int x) { return helper(x) + helper(x + 1); }

static float op_add(float x) { return x + 1; }
static float op_mul(float x) { return x * 2; }
static float op_neg(float x) { return -x; }
static float (*const ops[])(float) = {op_add, op_mul, op_neg};
float kern_apply(int i, float x) { return ops[i % 3](x); }

/* kern2.c has the strong definition */
__attribute__((weak)) int kern_weak_value(void) { return 1; }
int kern_call_weak(void) { return kern_weak_value() * 10; }

/* kern2.c defines it; alone, this object sees 0 */
extern int kern_optional(void) __attribute__((weak));
int kern_has_optional(void) { return kern_optional ? kern_optional() : -1; }
