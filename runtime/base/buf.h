/* A growable byte string for building text (prompts, templates, JSON): the
 * bytes stay NUL-terminated, and a failed allocation is remembered (oom)
 * instead of reported at every append, so a builder appends freely and
 * checks once at the end (azc_buf_take). */
#ifndef AZC_BASE_BUF_H
#define AZC_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/base/status.h"

typedef struct azc_buf {
  char *data;
  size_t len, cap;
  bool oom; /* an append failed; the buffer keeps what fit */
} azc_buf_t;

void azc_buf_put(azc_buf_t *b, const char *s, size_t n);
void azc_buf_puts(azc_buf_t *b, const char *s);
void azc_buf_free(azc_buf_t *b);
/* Hands the NUL-terminated bytes to *out (the buffer is emptied), or fails
 * with OUT_OF_MEMORY naming `what`. */
azc_status_t azc_buf_take(azc_buf_t *b, const char *what, char **out, size_t *out_len);

#endif
