/* The host CPU's features, for refusing code compiled for a CPU this one is
 * not: x86 through cpuid/xgetbv, aarch64 through the kernel's hwcaps. Names
 * follow LLVM (avx2, fma, avx512vnni, ...) on x86 and the kernel's hwcap
 * names (asimd, asimddp, asimdhp) on aarch64. */
#ifndef AZC_RUNTIME_CPU_FEATURES_H
#define AZC_RUNTIME_CPU_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

/* "x86_64" or "aarch64" (or "unknown") */
const char *azc_host_arch(void);
bool azc_host_has_feature(const char *name);
/* Whether name is a feature this file can test for on this arch (an unknown
 * name is never "present"; tools use this to tell a typo from a missing
 * feature). */
bool azc_host_feature_known(const char *name);
/* Checks a comma-separated list; writes the missing ones (comma-separated) to
 * missing and returns false when any is absent. */
bool azc_host_has_features(const char *required, char *missing, size_t cap);

#endif
