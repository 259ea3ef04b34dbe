/* Growable byte strings (see buf.h). */
#include "runtime/base/buf.h"

#include <stdlib.h>
#include <string.h>

void azc_buf_put(azc_buf_t *b, const char *s, size_t n) {
  if (b->oom || n == 0) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->oom = true;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void azc_buf_puts(azc_buf_t *b, const char *s) { azc_buf_put(b, s, strlen(s)); }

void azc_buf_free(azc_buf_t *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

azc_status_t azc_buf_take(azc_buf_t *b, const char *what, char **out, size_t *out_len) {
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!b->oom && !b->data) azc_buf_put(b, "", 0), b->data = calloc(1, 1), b->cap = 1;
  if (b->oom || !b->data) {
    azc_buf_free(b);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", what);
  }
  *out = b->data;
  if (out_len) *out_len = b->len;
  memset(b, 0, sizeof(*b));
  return NULL;
}
