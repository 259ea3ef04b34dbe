/* Status values (see status.h). Messages are heap strings; when even that
 * allocation fails a static out-of-memory status is returned, which
 * azc_status_free() recognises and leaves alone. */
#include "runtime/base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct azc_status {
  azc_code_t code;
  char *message;
  char where[96];
};

static struct azc_status oom_status = {AZC_OUT_OF_MEMORY, "out of memory", ""};

/* A message is one line: control bytes that came in with quoted input (a
 * token's text, a key, a file name) are written as \n, \t, \r or \xNN.
 * Takes s; returns it or its escaped copy (on allocation failure each such
 * byte becomes '?'). */
static char *one_line(char *s) {
  size_t extra = 0, n = 0;
  for (; s[n]; n++) extra += (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? 3 : 0;
  if (!extra) return s;
  char *e = malloc(n + extra + 1);
  if (!e) {
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) s[i] = '?';
    return s;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != 0x7f) {
      e[k++] = (char)c;
    } else if (c == '\n' || c == '\t' || c == '\r') {
      e[k++] = '\\';
      e[k++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
    } else {
      k += (size_t)snprintf(e + k, 5, "\\x%02X", c);
    }
  }
  e[k] = 0;
  free(s);
  return e;
}

azc_status_t azc_status_makev(azc_code_t code, const char *file, int line, const char *fmt,
                              va_list ap) {
  struct azc_status *st = malloc(sizeof(*st));
  if (!st) return &oom_status;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  st->message = malloc((size_t)n + 1);
  if (!st->message) {
    free(st);
    return &oom_status;
  }
  vsnprintf(st->message, (size_t)n + 1, fmt, ap);
  st->message = one_line(st->message);
  st->code = code == AZC_OK ? AZC_INTERNAL : code;
  const char *base = file ? strrchr(file, '/') : NULL;
  /* keep "dir/file.c": the folder says which library failed */
  if (base && base != file) {
    const char *p = base - 1;
    while (p > file && p[-1] != '/') p--;
    base = p;
  } else {
    base = file ? file : "";
  }
  snprintf(st->where, sizeof(st->where), "%s:%d", base, line);
  return st;
}

azc_status_t azc_status_make(azc_code_t code, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  azc_status_t st = azc_status_makev(code, file, line, fmt, ap);
  va_end(ap);
  return st;
}

bool azc_status_has_context(const char *message, const char *context) {
  size_t n = strlen(context);
  if (!n) return true; /* nothing to add */
  for (const char *p = message; (p = strstr(p, context)) != NULL; p++) {
    bool starts = p == message || (p - message >= 2 && p[-2] == ':' && p[-1] == ' ');
    bool ends = p[n] == 0 || (p[n] == ':' && p[n + 1] == ' ');
    if (starts && ends) return true;
  }
  return false;
}

azc_status_t azc_status_wrap(azc_status_t st, const char *fmt, ...) {
  if (!st || st == &oom_status) return st;
  va_list ap;
  va_start(ap, fmt);
  char prefix[512];
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  if (azc_status_has_context(st->message, prefix)) return st; /* each context once */
  size_t a = strlen(prefix);
  const char *rest = st->message;
  /* "writing model m.gguf" around "m.gguf: cannot create ...": the file once */
  const char *sep = strstr(rest, ": ");
  if (sep && sep > rest) {
    size_t k = (size_t)(sep - rest);
    if (k <= a && !memcmp(prefix + a - k, rest, k) && (k == a || prefix[a - k - 1] == ' '))
      rest = sep + 2;
  }
  size_t b = strlen(rest);
  char *m = malloc(a + 2 + b + 1);
  if (!m) return st;
  memcpy(m, prefix, a);
  memcpy(m + a, ": ", 2);
  memcpy(m + a + 2, rest, b + 1);
  free(st->message);
  st->message = one_line(m);
  return st;
}

azc_code_t azc_status_code(azc_status_t st) { return st ? st->code : AZC_OK; }
const char *azc_status_message(azc_status_t st) { return st ? st->message : "OK"; }
const char *azc_status_where(azc_status_t st) { return st ? st->where : ""; }

const char *azc_code_name(azc_code_t code) {
  switch (code) {
  case AZC_OK: return "ok";
  case AZC_INVALID_ARGUMENT: return "invalid argument";
  case AZC_NOT_FOUND: return "not found";
  case AZC_IO: return "i/o error";
  case AZC_CORRUPT: return "corrupt data";
  case AZC_UNSUPPORTED: return "unsupported";
  case AZC_OUT_OF_MEMORY: return "out of memory";
  case AZC_OUT_OF_RANGE: return "out of range";
  case AZC_INTERNAL: return "internal error";
  }
  return "unknown";
}

void azc_status_free(azc_status_t st) {
  if (!st || st == &oom_status) return;
  free(st->message);
  free(st);
}
