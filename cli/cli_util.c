/* Helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/base/utf8.h"
#include "runtime/kv_cache.h"

bool cli_line_open;

/* The one line an error is: control characters (newlines from a back end,
 * tabs) become spaces, ill-formed UTF-8 becomes U+FFFD, and a ": "-separated
 * part that repeats the part before it is said once. */
static void error_line(azc_buf_t *out, const char *msg) {
  azc_buf_t one = {0};
  size_t n = strlen(msg);
  for (size_t i = 0; i < n; i++) {
    char c = msg[i];
    if ((unsigned char)c < 0x20 || c == 0x7f) c = ' ';
    if (c == ' ' && one.len && one.data[one.len - 1] == ' ') continue;
    azc_buf_put(&one, &c, 1);
  }
  while (one.len && one.data[one.len - 1] == ' ') one.data[--one.len] = 0;
  const char *p = one.data ? one.data : "";
  if (!strncmp(p, "azc: error: ", 12)) p += 12;
  const char *prev = NULL;
  size_t prev_n = 0;
  while (*p) {
    const char *sep = strstr(p, ": ");
    size_t part = sep ? (size_t)(sep - p) : strlen(p);
    if (!(prev && part == prev_n && !memcmp(p, prev, part))) {
      if (prev) azc_buf_put(out, ": ", 2);
      azc_utf8_repair(out, p, part);
      prev = p;
      prev_n = part;
    }
    p += part + (sep ? 2 : 0);
  }
  if (!out->len) azc_buf_puts(out, "unknown error");
  azc_buf_free(&one);
}

int cli_fail(azc_status_t st) {
  cli_report(st);
  return 1;
}

void cli_report(azc_status_t st) {
  azc_buf_t line = {0};
  error_line(&line, azc_status_message(st));
  if (cli_line_open) fputc('\n', stderr); /* end a progress line first */
  cli_line_open = false;
  fprintf(stderr, "azc: error: %s\n", line.oom ? azc_status_message(st) : line.data);
  if (getenv("AZC_DEBUG")) fprintf(stderr, "  (at %s)\n", azc_status_where(st));
  azc_buf_free(&line);
  azc_status_free(st);
}

int cli_fail_usage(azc_status_t st, const char *prog) {
  azc_status_t with =
      AZC_ERR(azc_status_code(st), "%s (see %s --help)", azc_status_message(st), prog);
  azc_status_free(st);
  return cli_fail(with);
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  azc_status_t st = azc_status_makev(AZC_INVALID_ARGUMENT, __FILE__, __LINE__, fmt, ap);
  va_end(ap);
  return cli_fail(st);
}

azc_status_t cli_str_arg(int argc, char **argv, int *i, const char **out) {
  if (*i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "option %s needs a value", argv[*i]);
  *out = argv[++*i];
  return NULL;
}

azc_status_t cli_kv_type_arg(int argc, char **argv, int *i, int32_t *out) {
  const char *opt = argv[*i], *s = NULL;
  AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, i, &s));
  int t = azc_kv_type_from_name(s);
  if (t < 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "option %s: '%s' is not a KV cache type (f32, f16, q8_0)",
                   opt, s);
  *out = t;
  return NULL;
}

azc_status_t cli_int_arg(int argc, char **argv, int *i, long long min, long long max,
                         long long *out) {
  const char *opt = argv[*i], *s = NULL;
  AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, i, &s));
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "option %s: '%s' is not an integer in [%lld, %lld]", opt,
                   s, min, max);
  *out = v;
  return NULL;
}

azc_status_t cli_float_arg(int argc, char **argv, int *i, double min, double max, double *out) {
  const char *opt = argv[*i], *s = NULL;
  AZC_RETURN_IF_ERROR(cli_str_arg(argc, argv, i, &s));
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "option %s: '%s' is not a number in [%g, %g]", opt, s, min,
                   max);
  *out = v;
  return NULL;
}

bool cli_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

void cli_json_string(FILE *out, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', out);
  for (size_t i = 0, len; i < n; i += len) {
    unsigned char c = s[i];
    uint32_t cp;
    len = 1;
    if (c == '"' || c == '\\') {
      fprintf(out, "\\%c", c);
    } else if (c == '\n') {
      fputs("\\n", out);
    } else if (c == '\r') {
      fputs("\\r", out);
    } else if (c == '\t') {
      fputs("\\t", out);
    } else if (c < 0x20 || c == 0x7f) {
      fprintf(out, "\\u%04x", c);
    } else if (azc_utf8_next(s + i, n - i, &len, &cp) == AZC_UTF8_OK) {
      fwrite(s + i, 1, len, out);
    } else {
      fputs("\\ufffd", out); /* one per ill-formed part, as azc_utf8_repair */
    }
  }
  fputc('"', out);
}

void cli_write_text(FILE *out, const char *s, size_t n) {
  azc_buf_t b = {0};
  azc_utf8_repair(&b, s, n);
  if (b.oom) { /* fall back to writing piece by piece */
    for (size_t i = 0, len; i < n; i += len) {
      uint32_t cp;
      if (azc_utf8_next((const unsigned char *)s + i, n - i, &len, &cp) == AZC_UTF8_OK)
        fwrite(s + i, 1, len, out);
      else
        fputs(AZC_UTF8_REPLACEMENT, out);
    }
  } else if (b.len) {
    fwrite(b.data, 1, b.len, out);
  }
  azc_buf_free(&b);
}
