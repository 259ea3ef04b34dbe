/* The CPU code generator behind the back-end interface (codegen/backend.h):
 * targets from codegen/cpu/target.c, kernels through LLVM
 * (codegen/cpu/llvm_cpu.c) as ELF relocatable objects, scratch sized as the
 * kernel templates (codegen/cpu/kernels) lay it out, and a cache-key salt
 * that names everything the object depends on besides the spec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/backend.h"
#include "codegen/cpu/kernels/azk_dot.h"
#include "codegen/cpu/llvm_cpu.h"
#include "codegen/cpu/target.h"
#include "runtime/bundle_sections.h"

struct azc_codegen_target {
  azc_cpu_target_t cpu;
};

static azc_status_t cpu_target_resolve(const azc_target_request_t *r, azc_codegen_target_t **out) {
  *out = NULL;
  azc_codegen_target_t *t = calloc(1, sizeof(*t));
  if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "cpu target");
  azc_status_t st = azc_cpu_target_resolve(r->triple, r->cpu, &t->cpu);
  if (st) {
    free(t);
    return st;
  }
  *out = t;
  return NULL;
}

static void cpu_target_free(azc_codegen_target_t *t) { free(t); }

static void cpu_target_describe(const azc_codegen_target_t *t, char *buf, size_t cap) {
  snprintf(buf, cap, "%s, cpu %s, kernel variant %s", t->cpu.triple, t->cpu.cpu, t->cpu.variant);
}

static size_t cpu_target_record(const azc_codegen_target_t *t, void *buf, size_t cap) {
  azc_bundle_cpu_target_t r;
  if (!buf || cap < sizeof(r)) return sizeof(r);
  memset(&r, 0, sizeof(r));
  memcpy(r.magic, "AZCCPU01", 8);
  snprintf(r.triple, sizeof(r.triple), "%s", t->cpu.triple);
  snprintf(r.arch, sizeof(r.arch), "%s", t->cpu.arch);
  snprintf(r.cpu, sizeof(r.cpu), "%s", t->cpu.cpu);
  snprintf(r.variant, sizeof(r.variant), "%s", t->cpu.variant);
  snprintf(r.required, sizeof(r.required), "%s", t->cpu.required);
  snprintf(r.features, sizeof(r.features), "%s", t->cpu.features);
  memcpy(buf, &r, sizeof(r));
  return sizeof(r);
}

static uint32_t cpu_layouts(const azc_codegen_target_t *t) { return t->cpu.layouts; }

static int64_t align64(int64_t x) { return (x + 63) & ~(int64_t)63; }

/* mirrors mm_prepare in codegen/cpu/kernels/azk_kernels.c */
static void cpu_scratch(const azc_codegen_target_t *t, const azc_kernel_spec_t *s, int64_t M,
                        int64_t *shared, int64_t *per_thread) {
  *shared = 0;
  *per_thread = 0;
  if (s->kind != AZK_KIND_MATMUL) return;
  const azk_mm_params_t *p = &s->p.mm;
  int64_t off = 0;
  if (p->prologue != AZC_PRO_NONE) off += M * p->K * (int64_t)sizeof(float);
  for (int i = 0; i < p->n_seg; i++) {
    int f = (int)azc_vec_dot_type((azc_dtype_t)p->wtype[i]), first = 1;
    for (int k = 0; k < i; k++)
      if ((int)azc_vec_dot_type((azc_dtype_t)p->wtype[k]) == f) first = 0;
    if (!first || f == AZC_DTYPE_F32) continue;
    off += M * (int64_t)azk_xq_row_size(p->wtype[i], p->K);
    off = align64(off);
  }
  if (p->epilogue == AZC_EPI_ROPE_KV && p->n_rot) off += M * p->n_rot * (int64_t)sizeof(float);
  *shared = align64(off);
}

static azc_status_t cpu_compile_kernel(const azc_codegen_target_t *t, const azc_kernel_spec_t *s,
                                       const char *symbol, uint8_t **code, size_t *size) {
  return azc_cpu_compile_kernel(&t->cpu, s, symbol, code, size);
}

static size_t cpu_key_salt(const azc_codegen_target_t *t, char *buf, size_t cap) {
  const azc_cpu_target_t *c = &t->cpu;
  int k = snprintf(buf, cap, "|%s|%s|%s|%s|%s|pic|abi%d|azc %s|%s|%016llx", c->triple, c->cpu,
                   c->features, c->variant, AZC_CPU_CODEGEN_PIPELINE, AZK_ABI_VERSION,
                   AZC_VERSION_STRING, azc_cpu_llvm_version(),
                   (unsigned long long)azc_cpu_library_hash(c->variant));
  return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

const azc_codegen_backend_t azc_codegen_cpu_backend = {
    .name = "cpu",
    .device = AZC_DEVICE_CPU,
    .target_resolve = cpu_target_resolve,
    .target_free = cpu_target_free,
    .target_describe = cpu_target_describe,
    .target_record = cpu_target_record,
    .layouts = cpu_layouts,
    .scratch = cpu_scratch,
    .compile_kernel = cpu_compile_kernel,
    .key_salt = cpu_key_salt,
};

const azc_codegen_backend_t *azc_codegen_backend_cpu(void) { return &azc_codegen_cpu_backend; }
