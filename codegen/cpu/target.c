/* Target resolution (see target.h). The tables say, for each CPU name azc
 * accepts, which kernel variant fits and which features the runtime must
 * check: the features that LLVM may use for that CPU and that matter to the
 * code (vector extensions and the bit-manipulation instructions it emits). */
#include "codegen/cpu/target.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <string.h>

#include "ir/fused.h"
#include "runtime/base/util.h"

typedef struct cpu_entry {
  const char *name, *variant, *required;
} cpu_entry_t;

#define X86_V2 "sse4.1,sse4.2,ssse3,popcnt"
#define X86_V3 X86_V2 ",avx,avx2,fma,f16c,bmi,bmi2,lzcnt,movbe"
#define X86_V4 X86_V3 ",avx512f,avx512bw,avx512vl,avx512dq,avx512cd"

static const cpu_entry_t x86[] = {
    {"x86-64", "x86_64-generic", ""},
    {"x86-64-v2", "x86_64-generic", X86_V2},
    {"x86-64-v3", "x86_64-avx2", X86_V3},
    {"x86-64-v4", "x86_64-avx2", X86_V4},
    {"haswell", "x86_64-avx2", X86_V3},
    {"broadwell", "x86_64-avx2", X86_V3},
    {"skylake", "x86_64-avx2", X86_V3},
    {"alderlake", "x86_64-avx2", X86_V3 ",avxvnni"},
    {"znver1", "x86_64-avx2", X86_V3},
    {"znver2", "x86_64-avx2", X86_V3},
    {"znver3", "x86_64-avx2", X86_V3},
    {"skylake-avx512", "x86_64-avx2", X86_V4},
    {"cascadelake", "x86_64-avx512", X86_V4 ",avx512vnni"},
    {"icelake-server", "x86_64-avx512", X86_V4 ",avx512vnni"},
    {"icelake-client", "x86_64-avx512", X86_V4 ",avx512vnni"},
    {"tigerlake", "x86_64-avx512", X86_V4 ",avx512vnni"},
    {"sapphirerapids", "x86_64-avx512", X86_V4 ",avx512vnni,avx512bf16"},
    {"znver4", "x86_64-avx512", X86_V4 ",avx512vnni,avx512bf16"},
};

static const cpu_entry_t arm[] = {
    {"generic", "aarch64-neon", "asimd"},
    {"cortex-a72", "aarch64-neon", "asimd"},
    {"cortex-a76", "aarch64-dotprod", "asimd,asimddp,fphp,asimdhp"},
    {"neoverse-n1", "aarch64-dotprod", "asimd,asimddp,fphp,asimdhp"},
    {"neoverse-v1", "aarch64-dotprod", "asimd,asimddp,fphp,asimdhp"},
    {"neoverse-n2", "aarch64-dotprod", "asimd,asimddp,fphp,asimdhp"},
    {"apple-m1", "aarch64-dotprod", "asimd,asimddp,fphp,asimdhp"},
};

const char *azc_cpu_target_known(const char *arch) {
  static char buf[1024];
  const cpu_entry_t *t = !strcmp(arch, "aarch64") ? arm : x86;
  size_t n = !strcmp(arch, "aarch64") ? AZC_ARRAY_SIZE(arm) : AZC_ARRAY_SIZE(x86), k = 0;
  buf[0] = 0;
  for (size_t i = 0; i < n && k < sizeof(buf); i++)
    k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", i ? ", " : "", t[i].name);
  return buf;
}

static bool has(const char *features, const char *f) {
  char want[64];
  snprintf(want, sizeof(want), "+%s", f);
  size_t n = strlen(want);
  for (const char *p = features; (p = strstr(p, want)); p += n)
    if (p[n] == ',' || p[n] == 0) return true;
  return false;
}

/* From LLVM's host feature string: the variant and the features to check. */
static void from_host_features(azc_cpu_target_t *t) {
  static const char *checked_x86[] = {
      "sse4.1",   "sse4.2",   "ssse3",    "popcnt",     "avx",        "avx2",    "fma",
      "f16c",     "bmi",      "bmi2",     "lzcnt",      "movbe",      "avx512f", "avx512bw",
      "avx512vl", "avx512dq", "avx512cd", "avx512vnni", "avx512bf16", "avxvnni"};
  static const char *checked_arm[] = {"neon", "dotprod", "fullfp16"};
  bool arm64 = !strcmp(t->arch, "aarch64");
  const char *f = t->features;
  if (!arm64) {
    if (has(f, "avx512f") && has(f, "avx512bw") && has(f, "avx512vl") && has(f, "avx512vnni"))
      strcpy(t->variant, "x86_64-avx512");
    else if (has(f, "avx2") && has(f, "fma") && has(f, "f16c"))
      strcpy(t->variant, "x86_64-avx2");
    else
      strcpy(t->variant, "x86_64-generic");
  } else {
    strcpy(t->variant, has(f, "dotprod") ? "aarch64-dotprod" : "aarch64-neon");
  }
  size_t k = 0;
  t->required[0] = 0;
  const char **list = arm64 ? checked_arm : checked_x86;
  size_t n = arm64 ? AZC_ARRAY_SIZE(checked_arm) : AZC_ARRAY_SIZE(checked_x86);
  for (size_t i = 0; i < n; i++) {
    if (!has(f, list[i])) continue;
    /* runtime names: aarch64 hwcaps */
    const char *name = list[i];
    if (arm64)
      name = !strcmp(name, "neon") ? "asimd" : !strcmp(name, "dotprod") ? "asimddp" : "asimdhp";
    k += (size_t)snprintf(t->required + k, sizeof(t->required) - k, "%s%s", k ? "," : "", name);
  }
}

/* The x86 AVX2 and AVX-512 kernels read Q4_K/Q5_K with unpacked scales and
 * Q4_0/Q8_0/Q4_K interleaved by eights fastest; the others read GGUF's own. */
static void set_layouts(azc_cpu_target_t *t) {
  t->layouts = 0;
  if (!strcmp(t->variant, "x86_64-avx2") || !strcmp(t->variant, "x86_64-avx512"))
    t->layouts = AZC_LAYOUT_BIT(UNPACKED) | AZC_LAYOUT_BIT(X8);
}

azc_status_t azc_cpu_target_resolve(const char *triple, const char *cpu, azc_cpu_target_t *t) {
  memset(t, 0, sizeof(*t));
  char *host_triple = LLVMGetDefaultTargetTriple();
  snprintf(t->triple, sizeof(t->triple), "%s", triple ? triple : host_triple);
  bool is_host_triple = !triple || !strcmp(triple, host_triple);
  LLVMDisposeMessage(host_triple);
  if (!strncmp(t->triple, "x86_64", 6))
    strcpy(t->arch, "x86_64");
  else if (!strncmp(t->triple, "aarch64", 7) || !strncmp(t->triple, "arm64", 5))
    strcpy(t->arch, "aarch64");
  else
    return AZC_ERR(AZC_UNSUPPORTED, "target triple '%s': azc generates code for x86_64 and aarch64",
                   t->triple);
  if (!cpu && is_host_triple) {
    char *name = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
    snprintf(t->cpu, sizeof(t->cpu), "%s", name);
    snprintf(t->features, sizeof(t->features), "%s", features);
    LLVMDisposeMessage(name);
    LLVMDisposeMessage(features);
    from_host_features(t);
    set_layouts(t);
    return NULL;
  }
  bool arm64 = !strcmp(t->arch, "aarch64");
  const cpu_entry_t *table = arm64 ? arm : x86;
  size_t n = arm64 ? AZC_ARRAY_SIZE(arm) : AZC_ARRAY_SIZE(x86);
  const char *want = cpu ? cpu : arm64 ? "generic" : "x86-64-v3";
  for (size_t i = 0; i < n; i++) {
    if (strcmp(table[i].name, want)) continue;
    snprintf(t->cpu, sizeof(t->cpu), "%s", table[i].name);
    snprintf(t->variant, sizeof(t->variant), "%s", table[i].variant);
    snprintf(t->required, sizeof(t->required), "%s", table[i].required);
    set_layouts(t);
    return NULL;
  }
  return AZC_ERR(AZC_INVALID_ARGUMENT, "unknown --target-cpu '%s' for %s (known: %s)", want,
                 t->arch, azc_cpu_target_known(t->arch));
}
