/* Strict UTF-8 (see utf8.h). */
#include "runtime/base/utf8.h"

#include <string.h>

azc_utf8_step_t azc_utf8_next(const unsigned char *s, size_t n, size_t *len, uint32_t *cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *len = 1;
    *cp = c;
    return AZC_UTF8_OK;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0; /* below: overlong */
    if (c == 0xED) hi = 0x9F; /* above: surrogates D800..DFFF */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90; /* below: overlong */
    if (c == 0xF4) hi = 0x8F; /* above: beyond U+10FFFF */
  } else {
    *len = 1; /* continuation byte, C0, C1 (always overlong), F5..FF */
    return AZC_UTF8_INVALID;
  }
  for (size_t i = 1; i < need; i++) {
    if (i >= n) {
      *len = n;
      return AZC_UTF8_INCOMPLETE;
    }
    unsigned char b = s[i];
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
      *len = i;
      return AZC_UTF8_INVALID;
    }
    v = v << 6 | (b & 0x3F);
  }
  *len = need;
  *cp = v;
  return AZC_UTF8_OK;
}

bool azc_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0, len; i < n; i += len) {
    uint32_t cp;
    if (azc_utf8_next(s + i, n - i, &len, &cp) != AZC_UTF8_OK) return false;
  }
  return true;
}

/* Calls emit(user, ...) with the valid runs of s[0..n) and U+FFFD for each
 * ill-formed part; returns the length of an incomplete sequence left at the
 * end (0 if none), which is not emitted. */
typedef void (*emit_fn)(void *user, const char *s, size_t n);
static size_t repair_runs(const unsigned char *s, size_t n, emit_fn emit, void *user) {
  size_t run = 0, i = 0, len;
  while (i < n) {
    uint32_t cp;
    azc_utf8_step_t r = azc_utf8_next(s + i, n - i, &len, &cp);
    if (r == AZC_UTF8_OK) {
      i += len;
      continue;
    }
    if (i > run) emit(user, (const char *)s + run, i - run);
    if (r == AZC_UTF8_INCOMPLETE) return n - i;
    emit(user, AZC_UTF8_REPLACEMENT, 3);
    i += len;
    run = i;
  }
  if (i > run) emit(user, (const char *)s + run, i - run);
  return 0;
}

static void buf_emit(void *user, const char *s, size_t n) { azc_buf_put(user, s, n); }

void azc_utf8_repair(azc_buf_t *out, const char *s, size_t n) {
  if (repair_runs((const unsigned char *)s, n, buf_emit, out))
    azc_buf_put(out, AZC_UTF8_REPLACEMENT, 3);
}

void azc_utf8_stream_init(azc_utf8_stream_t *w, azc_utf8_sink_fn sink, void *user) {
  memset(w, 0, sizeof(*w));
  w->sink = sink;
  w->user = user;
}

void azc_utf8_stream_write(azc_utf8_stream_t *w, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  /* first finish the held sequence, a byte at a time */
  while (w->n_held && i < n) {
    w->held[w->n_held++] = s[i++];
    size_t len;
    uint32_t cp;
    azc_utf8_step_t r = azc_utf8_next(w->held, w->n_held, &len, &cp);
    if (r == AZC_UTF8_INCOMPLETE) continue;
    if (r == AZC_UTF8_OK) {
      w->sink(w->user, (const char *)w->held, len);
    } else {
      /* the held bytes were a valid start, so the new byte broke it: it
         begins the next sequence and is read again below */
      w->sink(w->user, AZC_UTF8_REPLACEMENT, 3);
      i--;
    }
    w->n_held = 0;
  }
  if (i == n) return;
  size_t tail = repair_runs(s + i, n - i, w->sink, w->user);
  memcpy(w->held, s + n - tail, tail);
  w->n_held = tail;
}

void azc_utf8_stream_flush(azc_utf8_stream_t *w) {
  if (w->n_held) w->sink(w->user, AZC_UTF8_REPLACEMENT, 3);
  w->n_held = 0;
}
