/* Strict UTF-8 (Unicode 15, Table 3-7; RFC 3629): decoding one sequence,
 * checking, repairing and a streaming writer.
 *
 * Every text azc writes out (JSON from run, bench and the server, streamed
 * generated text) is valid UTF-8: a model can generate byte tokens that do
 * not form valid sequences, so output goes through azc_utf8_repair or an
 * azc_utf8_stream_t. Invalid input becomes U+FFFD, one per "maximal subpart
 * of an ill-formed subsequence" (Unicode 3.9, the W3C/WHATWG practice): lone
 * continuation bytes, C0, C1 and F5..FF, overlong forms (E0 80..9F, F0 80..8F),
 * surrogates (ED A0..BF), code points above U+10FFFF (F4 90..BF) and
 * sequences cut short each give one U+FFFD for the bytes that could still
 * have started a valid sequence. The streaming writer gives exactly the bytes
 * azc_utf8_repair gives for the concatenated input, however it is cut. */
#ifndef AZC_BASE_UTF8_H
#define AZC_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/buf.h"

#define AZC_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

typedef enum azc_utf8_step {
  AZC_UTF8_OK = 0,     /* *len bytes form the code point *cp */
  AZC_UTF8_INVALID,    /* the first *len bytes are ill-formed: one U+FFFD */
  AZC_UTF8_INCOMPLETE, /* all n bytes are a valid start of a longer sequence */
} azc_utf8_step_t;

/* Examines the sequence that starts at s[0] (n >= 1 bytes available).
 * *len is always >= 1 and <= n; *cp is set only for AZC_UTF8_OK. */
azc_utf8_step_t azc_utf8_next(const unsigned char *s, size_t n, size_t *len, uint32_t *cp);

/* True when s[0..n) is entirely valid UTF-8. */
bool azc_utf8_valid(const char *s, size_t n);

/* Appends s[0..n) to out with every ill-formed part (an incomplete sequence
 * at the end included) replaced by U+FFFD. */
void azc_utf8_repair(azc_buf_t *out, const char *s, size_t n);

/* A writer that passes valid UTF-8 to `sink` in pieces as bytes arrive in
 * chunks. An incomplete sequence at the end of a chunk is held back until
 * the next chunk completes it or proves it ill-formed; flush ends the
 * stream (a held incomplete sequence becomes U+FFFD). */
typedef void (*azc_utf8_sink_fn)(void *user, const char *s, size_t n);
typedef struct azc_utf8_stream {
  azc_utf8_sink_fn sink;
  void *user;
  unsigned char held[4];
  size_t n_held;
} azc_utf8_stream_t;

void azc_utf8_stream_init(azc_utf8_stream_t *w, azc_utf8_sink_fn sink, void *user);
void azc_utf8_stream_write(azc_utf8_stream_t *w, const char *s, size_t n);
void azc_utf8_stream_flush(azc_utf8_stream_t *w);

#endif
