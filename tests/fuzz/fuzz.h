/* Shared helpers of the libFuzzer targets (tests/fuzz/CMakeLists.txt says
 * how they are built and how to add one).
 *
 * A target defines LLVMFuzzerTestOneInput and checks what the code under test
 * promises for ANY input: a failure is a status of an allowed code whose
 * message is one line, and a success gives results that hold the documented
 * invariants. A broken promise traps through FUZZ_CHECK, which libFuzzer
 * reports as a crash and saves the input of; the sanitizers catch the rest.
 * Header-only: each target is one .c file. */
#ifndef AZC_TESTS_FUZZ_H
#define AZC_TESTS_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/base/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);                \
      __builtin_trap();                                                                            \
    }                                                                                              \
  } while (0)

/* A failure status must have one of the codes in `allowed` (a bit per
 * azc_code_t) and a one-line, non-empty message; it is freed. Returns
 * whether st was a failure. */
#define FUZZ_CODE(c) (1u << (c))
static inline bool fuzz_failed(azc_status_t st, unsigned allowed) {
  if (!st) return false;
  azc_code_t code = azc_status_code(st);
  const char *msg = azc_status_message(st);
  if (!(allowed & FUZZ_CODE(code)) || !msg[0] || strchr(msg, '\n')) {
    fprintf(stderr, "unexpected status %s: %s [%s]\n", azc_code_name(code), msg,
            azc_status_where(st));
    __builtin_trap();
  }
  azc_status_free(st);
  return true;
}

/* Reads every byte of [p, p+n) so that the sanitizers check the range. */
static volatile uint64_t fuzz_sink;
static inline void fuzz_touch(const void *p, size_t n) {
  const volatile uint8_t *b = p;
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++) s += b[i];
  fuzz_sink += s;
}

/* A path to a file that holds data[0..size): for readers that take a path.
 * One memfd, rewritten in place per input; the path is /proc/self/fd/N. */
static inline const char *fuzz_as_file(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("azc-fuzz", 0);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  }
  /* resized, not emptied: the pages of the previous input are reused */
  FUZZ_CHECK(ftruncate(fd, (off_t)size) == 0);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    FUZZ_CHECK(n > 0);
    done += (size_t)n;
  }
  return path;
}

/* Reads a whole file made by the seed maker (NULL if absent). */
static inline uint8_t *fuzz_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? 2 * cap : 65536;
      uint8_t *nb = realloc(buf, cap);
      FUZZ_CHECK(nb);
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (!got) break;
  }
  fclose(f);
  *size = n;
  return buf;
}

#endif
