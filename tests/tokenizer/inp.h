/* Reading llama.cpp's test-vector files: texts separated by
 * "\n__ggml_vocab_test__\n" (.inp) and one line of ids per text (.out). */
#ifndef AZC_TESTS_TOKENIZER_INP_H
#define AZC_TESTS_TOKENIZER_INP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INP_SEP "\n__ggml_vocab_test__\n"

/* The idx-th text of buf[0..size), or false when there is none. */
static inline bool inp_text(const char *buf, size_t size, int idx, const char **s, size_t *n) {
  const char *p = buf, *end = buf + size;
  for (int i = 0;; i++) {
    const char *next = memmem(p, (size_t)(end - p), INP_SEP, sizeof(INP_SEP) - 1);
    if (i == idx) {
      *s = p;
      *n = next ? (size_t)(next - p) : (size_t)(end - p);
      return true;
    }
    if (!next) return false;
    p = next + sizeof(INP_SEP) - 1;
  }
}

/* The start of line idx of buf[0..size), or NULL. */
static inline const char *inp_line(const char *buf, size_t size, int idx) {
  const char *p = buf, *end = buf + size;
  for (int i = 0; i < idx; i++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return NULL;
    p = nl + 1;
  }
  return p < end ? p : NULL;
}

/* The ids on line idx into out (cap of them); -1 when there is no such line
 * or more ids than cap. */
static inline int inp_ids(const char *buf, size_t size, int idx, int32_t *out, int cap) {
  const char *p = inp_line(buf, size, idx), *end = buf + size;
  if (!p) return -1;
  int n = 0;
  while (p < end && *p != '\n') {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p) break;
    if (n == cap) return -1;
    out[n++] = (int32_t)v;
    p = e;
  }
  return n;
}

#endif
