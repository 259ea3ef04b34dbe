/* The Jinja evaluator's string helpers (Python's str semantics for the
 * methods and filters chat templates use): UTF-8 length, strip with
 * Python's whitespace, case changes, split, replace, index normalization.
 * Non-ASCII case changes and splits are refused, not approximated. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chat_jinja_eval.h"

size_t azc_jinja_utf8_len(const str_t *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++) n += ((unsigned char)s->s[i] & 0xC0) != 0x80;
  return n;
}

bool azc_jinja_ascii_only(const str_t *s) {
  for (size_t i = 0; i < s->n; i++)
    if ((unsigned char)s->s[i] >= 0x80) return false;
  return true;
}

static bool py_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1c ||
         c == 0x1d || c == 0x1e || c == 0x1f;
}

/* Bytes of a Unicode whitespace character (Python's str.isspace) at s, 0 if none. */
static size_t uspace_len(const unsigned char *s, size_t n) {
  if (n >= 1 && py_space(s[0])) return 1;
  if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
  if (n < 3) return 0;
  if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
  if (s[0] == 0xE2 && s[1] == 0x80 &&
      (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 ||
       s[2] == 0xAF)) /* U+2000-200A, 2028/9, 202F */
    return 3;
  if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
  if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
  return 0;
}

/* str.strip/lstrip/rstrip; chars NULL: Unicode whitespace, as Python. */
value_t azc_jinja_strip(ctx_t *C, value_t v, const str_t *chars, bool left, bool right) {
  const unsigned char *s = (const unsigned char *)v.s->s;
  size_t a = 0, b = v.s->n;
  if (chars && !azc_jinja_ascii_only(chars)) UNSUP("strip() with non-ASCII characters");
  for (;;) {
    size_t k = 0;
    if (a < b)
      k = chars ? (memchr(chars->s, s[a], chars->n) && s[a] < 0x80) : uspace_len(s + a, b - a);
    if (!left || !k) break;
    a += k;
  }
  while (right && b > a) {
    size_t k = 0;
    if (chars)
      k = s[b - 1] < 0x80 && memchr(chars->s, s[b - 1], chars->n) ? 1 : 0;
    else
      for (size_t w = 1; w <= 3 && w <= b - a && !k; w++)
        if (uspace_len(s + b - w, w) == w) k = w;
    if (!k) break;
    b -= k;
  }
  return mk_str(C, (const char *)s + a, b - a);
}

value_t azc_jinja_change_case(ctx_t *C, value_t v,
                              int mode /* 0 upper 1 lower 2 title 3 capitalize */) {
  if (!azc_jinja_ascii_only(v.s)) UNSUP("changing the case of non-ASCII text");
  value_t r = mk_str(C, v.s->s, v.s->n);
  bool start = true;
  for (size_t i = 0; i < r.s->n; i++) {
    char c = r.s->s[i];
    if (mode == 0)
      c = (char)toupper((unsigned char)c);
    else if (mode == 1)
      c = (char)tolower((unsigned char)c);
    else if (mode == 2) {
      c = start ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
      start = !isalpha((unsigned char)c);
    } else {
      c = i == 0 ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
    }
    r.s->s[i] = c;
  }
  return r;
}

bool azc_jinja_str_starts(const str_t *s, const str_t *p) {
  return s->n >= p->n && !memcmp(s->s, p->s, p->n);
}
bool azc_jinja_str_ends(const str_t *s, const str_t *p) {
  return s->n >= p->n && !memcmp(s->s + s->n - p->n, p->s, p->n);
}

const char *azc_jinja_memmem(const char *h, size_t hn, const char *n, size_t nn) {
  if (nn == 0) return h;
  for (size_t i = 0; i + nn <= hn; i++)
    if (!memcmp(h + i, n, nn)) return h + i;
  return NULL;
}

value_t azc_jinja_split(ctx_t *C, value_t v, value_t sep, int64_t maxsplit) {
  list_t *l = new_list(C, 4);
  const str_t *s = v.s;
  if (sep.k == V_NONE || sep.k == V_UNDEF) { /* runs of whitespace, ends dropped */
    if (!azc_jinja_ascii_only(s)) UNSUP("split() of non-ASCII text on whitespace");
    size_t i = 0;
    while (i < s->n) {
      while (i < s->n && py_space((unsigned char)s->s[i])) i++;
      if (i >= s->n) break;
      size_t j = i;
      if (maxsplit >= 0 && (int64_t)l->n == maxsplit)
        j = s->n;
      else
        while (j < s->n && !py_space((unsigned char)s->s[j])) j++;
      if (j == s->n && maxsplit >= 0 && (int64_t)l->n == maxsplit) {
        size_t e = s->n;
        while (e > i && py_space((unsigned char)s->s[e - 1])) e--;
        list_push(C, l, mk_str(C, s->s + i, e - i));
        break;
      }
      list_push(C, l, mk_str(C, s->s + i, j - i));
      i = j;
    }
  } else {
    if (sep.k != V_STR) ERROR("split() separator must be a string");
    if (sep.s->n == 0) ERROR("empty separator");
    size_t i = 0;
    for (;;) {
      const char *hit = (maxsplit < 0 || (int64_t)l->n < maxsplit)
                            ? azc_jinja_memmem(s->s + i, s->n - i, sep.s->s, sep.s->n)
                            : NULL;
      if (!hit) {
        list_push(C, l, mk_str(C, s->s + i, s->n - i));
        break;
      }
      list_push(C, l, mk_str(C, s->s + i, (size_t)(hit - (s->s + i))));
      i = (size_t)(hit - s->s) + sep.s->n;
    }
  }
  return (value_t){.k = V_LIST, .l = l};
}

value_t azc_jinja_replace(ctx_t *C, value_t v, value_t old, value_t new_, int64_t count) {
  if (old.k != V_STR || new_.k != V_STR) ERROR("replace() takes strings");
  if (old.s->n == 0) UNSUP("replace() of an empty string");
  azc_buf_t b = {0};
  const str_t *s = v.s;
  size_t i = 0;
  int64_t done = 0;
  while (i <= s->n) {
    const char *hit = (count < 0 || done < count)
                          ? azc_jinja_memmem(s->s + i, s->n - i, old.s->s, old.s->n)
                          : NULL;
    if (!hit) {
      azc_buf_put(&b, s->s + i, s->n - i);
      break;
    }
    azc_buf_put(&b, s->s + i, (size_t)(hit - (s->s + i)));
    azc_buf_put(&b, new_.s->s, new_.s->n);
    i = (size_t)(hit - s->s) + old.s->n;
    done++;
  }
  if (b.oom) {
    azc_buf_free(&b);
    azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
  }
  value_t r = mk_str(C, b.data ? b.data : "", b.len);
  azc_buf_free(&b);
  return r;
}

bool azc_jinja_norm_index(int64_t i, size_t n, size_t *out) {
  if (i < 0) i += (int64_t)n;
  if (i < 0 || (uint64_t)i >= n) return false;
  *out = (size_t)i;
  return true;
}

/* Bytes of a line boundary of Python's str.splitlines at s (\r\n is one), 0 if none. */
static size_t line_break_len(const unsigned char *s, size_t n) {
  if (n >= 2 && s[0] == '\r' && s[1] == '\n') return 2;
  if (n >= 1 && (s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f' || s[0] == 0x1c ||
                 s[0] == 0x1d || s[0] == 0x1e))
    return 1;
  if (n >= 2 && s[0] == 0xC2 && s[1] == 0x85) return 2;                         /* U+0085 */
  if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9)) /* U+2028/9 */
    return 3;
  return 0;
}

value_t azc_jinja_indent(ctx_t *C, value_t v, const str_t *indention, bool first, bool blank) {
  /* jinja2's do_indent: s + "\n" split as str.splitlines() does (the
   * boundaries dropped), lines joined by "\n", every line after the first
   * indented (blank ones too when `blank`), the first too when `first` */
  const unsigned char *s = (const unsigned char *)v.s->s;
  size_t n = v.s->n;
  azc_buf_t b = {0};
  if (first) azc_buf_put(&b, indention->s, indention->n);
  size_t at = 0;
  for (bool first_line = true;; first_line = false) {
    size_t end = at, k = 0;
    while (end < n && !(k = line_break_len(s + end, n - end))) end++;
    /* the line [at, end); the "\n" jinja2 appends ends the last one */
    if (!first_line) {
      azc_buf_put(&b, "\n", 1);
      if (blank || end > at) azc_buf_put(&b, indention->s, indention->n);
    }
    azc_buf_put(&b, (const char *)s + at, end - at);
    if (end >= n) break; /* the appended "\n" ends this line: nothing follows */
    if (end + 1 == n && s[end] == '\r') break; /* "\r" + the appended "\n": one boundary */
    at = end + k;
  }
  if (b.oom) {
    azc_buf_free(&b);
    azc_jinja_fail(C, AZC_JINJA_NOMEM, "out of memory");
  }
  value_t r = mk_str(C, b.data ? b.data : "", b.len);
  azc_buf_free(&b);
  return r;
}
