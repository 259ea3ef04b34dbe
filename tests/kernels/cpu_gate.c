/* azc_cpu_gate FEATURES PROGRAM [ARGS...]: runs PROGRAM when the host CPU has
 * every feature in the comma-separated FEATURES list (cpuid/xgetbv through
 * runtime/cpu_features.c, names as LLVM spells them), else prints which are
 * missing and exits 77, which CTest reports as a skip.
 *
 * Why a separate program: a test compiled with -mavx512f (say) may execute
 * AVX-512 instructions before its main() can look at the CPU (startup code,
 * constructors, sanitizer-instrumented prologues), so the decision must be
 * made by a binary compiled for the baseline. An unknown feature name is an
 * error (exit 2), not a skip: a typo must not turn a test off everywhere. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cpu_features.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: azc_cpu_gate FEATURES PROGRAM [ARGS...]\n");
    return 2;
  }
  const char *features = argv[1];
  char name[64];
  for (const char *p = features; *p;) {
    size_t n = strcspn(p, ",");
    if (!n || n >= sizeof(name)) {
      fprintf(stderr, "azc_cpu_gate: bad feature list '%s'\n", features);
      return 2;
    }
    memcpy(name, p, n);
    name[n] = 0;
    if (!azc_host_feature_known(name)) {
      fprintf(stderr, "azc_cpu_gate: unknown CPU feature '%s' (arch %s)\n", name, azc_host_arch());
      return 2;
    }
    p += n + (p[n] == ',');
  }
  char missing[512];
  if (!azc_host_has_features(features, missing, sizeof(missing))) {
    printf("SKIPPED %s: this CPU lacks %s (cpuid), which the test is compiled for\n", argv[2],
           missing);
    return 77;
  }
  fflush(stdout);
  execv(argv[2], argv + 2);
  fprintf(stderr, "azc_cpu_gate: cannot run %s: %s\n", argv[2], strerror(errno));
  return 2;
}
