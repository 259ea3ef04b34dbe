/* Host CPU features (see cpu_features.h). */
#include "runtime/cpu_features.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

typedef struct bit {
  const char *name;
  int leaf, sub, reg, bit; /* reg: 0 eax 1 ebx 2 ecx 3 edx */
} bit_t;

static const bit_t x86_bits[] = {
    {"sse4.1", 1, 0, 2, 19},   {"sse4.2", 1, 0, 2, 20},        {"ssse3", 1, 0, 2, 9},
    {"popcnt", 1, 0, 2, 23},   {"avx", 1, 0, 2, 28},           {"fma", 1, 0, 2, 12},
    {"f16c", 1, 0, 2, 29},     {"movbe", 1, 0, 2, 22},         {"avx2", 7, 0, 1, 5},
    {"bmi", 7, 0, 1, 3},       {"bmi2", 7, 0, 1, 8},           {"avx512f", 7, 0, 1, 16},
    {"avx512dq", 7, 0, 1, 17}, {"avx512cd", 7, 0, 1, 28},      {"avx512bw", 7, 0, 1, 30},
    {"avx512vl", 7, 0, 1, 31}, {"avx512vnni", 7, 0, 2, 11},    {"avx512bf16", 7, 1, 0, 5},
    {"avxvnni", 7, 1, 0, 4},   {"lzcnt", 0x80000001, 0, 2, 5},
};

static bool os_saves(uint64_t mask) {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (!(c & (1u << 27))) return false; /* OSXSAVE */
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((((uint64_t)hi << 32) | lo) & mask) == mask;
}

static bool query(const bit_t *b) {
  unsigned r[4] = {0};
  if (!__get_cpuid_count((unsigned)b->leaf, (unsigned)b->sub, &r[0], &r[1], &r[2], &r[3]))
    return false;
  if (!(r[b->reg] & (1u << b->bit))) return false;
  /* vector state must be enabled by the OS too */
  if (!strncmp(b->name, "avx512", 6)) return os_saves(0xe6);
  if (!strncmp(b->name, "avx", 3) || !strcmp(b->name, "fma") || !strcmp(b->name, "f16c"))
    return os_saves(0x6);
  return true;
}

/* Each answer is computed once per process: cpuid traps to the hypervisor on
 * a virtual machine, and opening a bundle asks for every feature its code
 * needs (fuzz_bundle spent a third of each bundle open there). 0: not asked
 * yet, 1: no, 2: yes; threads that race compute the same value. */
static signed char answers[sizeof(x86_bits) / sizeof(x86_bits[0])];

bool azc_host_has_feature(const char *name) {
  for (size_t i = 0; i < sizeof(x86_bits) / sizeof(x86_bits[0]); i++) {
    if (strcmp(x86_bits[i].name, name)) continue;
    signed char a = __atomic_load_n(&answers[i], __ATOMIC_RELAXED);
    if (!a) {
      a = query(&x86_bits[i]) ? 2 : 1;
      __atomic_store_n(&answers[i], a, __ATOMIC_RELAXED);
    }
    return a == 2;
  }
  return false;
}

bool azc_host_feature_known(const char *name) {
  for (size_t i = 0; i < sizeof(x86_bits) / sizeof(x86_bits[0]); i++)
    if (!strcmp(x86_bits[i].name, name)) return true;
  return false;
}

const char *azc_host_arch(void) { return "x86_64"; }

#elif defined(__aarch64__)
#include <sys/auxv.h>

bool azc_host_has_feature(const char *name) {
  unsigned long hw = getauxval(AT_HWCAP);
  if (!strcmp(name, "asimd")) return hw & (1ul << 1);
  if (!strcmp(name, "fphp")) return hw & (1ul << 9);
  if (!strcmp(name, "asimdhp")) return hw & (1ul << 10);
  if (!strcmp(name, "asimddp")) return hw & (1ul << 20);
  return false;
}

bool azc_host_feature_known(const char *name) {
  return !strcmp(name, "asimd") || !strcmp(name, "fphp") || !strcmp(name, "asimdhp") ||
         !strcmp(name, "asimddp");
}

const char *azc_host_arch(void) { return "aarch64"; }

#else
bool azc_host_has_feature(const char *name) {
  (void)name;
  return false;
}
bool azc_host_feature_known(const char *name) {
  (void)name;
  return false;
}
const char *azc_host_arch(void) { return "unknown"; }
#endif

bool azc_host_has_features(const char *required, char *missing, size_t cap) {
  bool ok = true;
  size_t k = 0;
  if (cap) missing[0] = 0;
  for (const char *p = required; p && *p;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char name[64];
    if (n && n < sizeof(name)) {
      memcpy(name, p, n);
      name[n] = 0;
      if (!azc_host_has_feature(name)) {
        ok = false;
        if (k < cap) k += (size_t)snprintf(missing + k, cap - k, "%s%s", k ? "," : "", name);
      }
    }
    p += n + (e ? 1 : 0);
  }
  return ok;
}
