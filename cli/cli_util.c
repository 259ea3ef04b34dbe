/* Helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_fail(azc_status_t st) {
  fprintf(stderr, "azc: error: %s\n", azc_status_message(st));
  if (getenv("AZC_DEBUG")) fprintf(stderr, "  (at %s)\n", azc_status_where(st));
  azc_status_free(st);
  return 1;
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "azc: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return 1;
}

azc_status_t cli_str_arg(int argc, char **argv, int *i, const char **out) {
  if (*i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "option %s needs a value", argv[*i]);
  *out = argv[++*i];
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

/* Length of a valid UTF-8 sequence at s (0 if invalid). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  if (s[0] < 0x80) return 1;
  size_t len = s[0] >= 0xF0 && s[0] < 0xF5   ? 4
               : s[0] >= 0xE0                ? 3
               : s[0] >= 0xC2 && s[0] < 0xE0 ? 2
                                             : 0;
  if (!len || len > n) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

void cli_json_string(FILE *out, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', out);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      fprintf(out, "\\%c", c);
      i++;
    } else if (c == '\n') {
      fputs("\\n", out);
      i++;
    } else if (c == '\r') {
      fputs("\\r", out);
      i++;
    } else if (c == '\t') {
      fputs("\\t", out);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      fprintf(out, "\\u%04x", c);
      i++;
    } else {
      size_t len = utf8_len(s + i, n - i);
      if (!len) {
        fputs("\\ufffd", out);
        i++;
      } else {
        fwrite(s + i, 1, len, out);
        i += len;
      }
    }
  }
  fputc('"', out);
}
