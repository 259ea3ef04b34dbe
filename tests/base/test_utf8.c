/* runtime/base/utf8: strict decoding, repair and the streaming writer, checked
 * against an independent reference decoder (code point arithmetic, not the
 * byte-range table utf8.c uses) over every 1-, 2- and 3-byte string and a
 * sample of 4-byte ones, against the Unicode Standard's own examples of
 * U+FFFD substitution, and streaming against one-shot repair for random
 * chunkings. */
#include "runtime/base/utf8.h"

#include "runtime/base/buf.h"
#include "tests/test.h"

/* Reference: a sequence is valid when its lead byte gives a length, every
 * other byte is 10xxxxxx, and the decoded value is in the shortest form for
 * that length, not a surrogate and at most U+10FFFF. Returns the length of
 * the valid sequence at s, or 0. */
static size_t ref_valid_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (!len || len > n) return 0;
  uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] >> 6) != 2) return 0;
    v = v << 6 | (s[i] & 0x3Fu);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[len] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return 0;
  return len;
}

static bool ref_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < n;) {
    size_t l = ref_valid_len(s + i, n - i);
    if (!l) return false;
    i += l;
  }
  return true;
}

static void test_exhaustive_short(void) {
  unsigned char b[3];
  for (uint32_t x = 0; x < (1u << 24); x++) {
    b[0] = (unsigned char)(x >> 16), b[1] = (unsigned char)(x >> 8), b[2] = (unsigned char)x;
    for (size_t n = 1; n <= 3; n++) {
      if (n < 3 && (x & ((1u << (8 * (3 - n))) - 1))) continue; /* each shorter string once */
      bool want = ref_valid((const char *)b, n);
      ASSERT_MSG(azc_utf8_valid((const char *)b, n) == want, "%zu bytes %02x %02x %02x: %s", n,
                 b[0], b[1], b[2], want ? "valid" : "invalid");
    }
  }
}

static void test_four_bytes(void) {
  /* every lead byte F0..FF with every second byte, sampled third and fourth */
  unsigned char b[4];
  test_rng_t rng = {42};
  for (unsigned lead = 0xE0; lead <= 0xFF; lead++)
    for (unsigned b1 = 0; b1 < 256; b1++)
      for (int k = 0; k < 64; k++) {
        b[0] = (unsigned char)lead, b[1] = (unsigned char)b1;
        b[2] = (unsigned char)(k < 32 ? 0x80 + k * 2 : test_rng_int(&rng, 256));
        b[3] = (unsigned char)(k & 1 ? 0xBF : test_rng_int(&rng, 256));
        bool want = ref_valid((const char *)b, 4);
        ASSERT_MSG(azc_utf8_valid((const char *)b, 4) == want, "%02x %02x %02x %02x", b[0], b[1],
                   b[2], b[3]);
      }
  /* the valid code points decode to themselves */
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    unsigned char e[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1)
      e[0] = (unsigned char)cp;
    else {
      for (size_t i = n - 1; i > 0; i--)
        e[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
      e[0] = (unsigned char)((0xF00u >> n) | (cp >> (6 * (n - 1))));
    }
    size_t len;
    uint32_t got = 0;
    ASSERT_MSG(azc_utf8_next(e, n, &len, &got) == AZC_UTF8_OK && len == n && got == cp, "U+%04X",
               cp);
  }
}

static char *repair(const char *s, size_t n, size_t *out_len) {
  azc_buf_t b = {0};
  azc_utf8_repair(&b, s, n);
  char *out = NULL;
  azc_status_t st = azc_buf_take(&b, "repair", &out, out_len);
  azc_status_free(st);
  return out;
}

#define R "\xEF\xBF\xBD"
typedef struct {
  const char *what, *in, *want;
} repair_case_t;

static void test_repair_classes(void) {
  static const repair_case_t cases[] = {
      {"ascii", "abc", "abc"},
      {"2-, 3- and 4-byte sequences", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
       "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"},
      {"lone continuation bytes",
       "a\x80\xBF"
       "b",
       "a" R R "b"},
      {"C0 and C1 leads (always overlong)", "\xC0\xAF\xC1\xBF", R R R R},
      {"F5..FF", "\xF5\xF8\xFA\x9A\x9A\xFD\xFE\xFF", R R R R R R R R},
      {"the bytes llama-small-tied-f16 generated", "park\xFA\x9A\x9A.", "park" R R R "."},
      {"overlong 3-byte", "\xE0\x80\xAF", R R R},
      {"overlong 4-byte", "\xF0\x8F\xBF\xBF", R R R R},
      {"surrogate", "\xED\xA0\x80", R R R},
      {"last before surrogates", "\xED\x9F\xBF", "\xED\x9F\xBF"},
      {"above U+10FFFF", "\xF4\x90\x80\x80", R R R R},
      {"U+10FFFF", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
      {"2-byte cut at the end", "x\xC3", "x" R},
      {"3-byte cut at the end (1 of 3)", "x\xE2", "x" R},
      {"3-byte cut at the end (2 of 3)", "x\xE2\x82", "x" R},
      {"4-byte cut at the end (1 of 4)", "x\xF0", "x" R},
      {"4-byte cut at the end (2 of 4)", "x\xF0\x9F", "x" R},
      {"4-byte cut at the end (3 of 4)", "x\xF0\x9F\x98", "x" R},
      {"cut sequence followed by ascii", "\xE2\x82z\xF0\x9F\x98z", R "z" R "z"},
      {"cut sequence followed by a lead", "\xE2\xE2\x82\xAC", R "\xE2\x82\xAC"},
      /* Unicode 15 section 3.9, Table 3-8: eight U+FFFD */
      {"Table 3-8", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
       "\x61" R R R "\x62" R "\x63" R R "\x64"},
      /* Unicode 15 section 3.9, U+FFFD substitution of maximal subparts */
      {"maximal subparts", "\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41", R R R R R R R R "\x41"},
      {"maximal subparts 2", "\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41", R R R R R R R R "\x41"},
      {"maximal subparts 3", "\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42", R R R R R "\x41" R R "\x42"},
      {"maximal subparts 4", "\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", R R R R "\x41"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = strlen(cases[i].in), out_n = 0;
    char *out = repair(cases[i].in, n, &out_n);
    ASSERT(out);
    ASSERT_MSG(out_n == strlen(cases[i].want) && !memcmp(out, cases[i].want, out_n),
               "%s: got %zu bytes, want %zu", cases[i].what, out_n, strlen(cases[i].want));
    ASSERT_MSG(ref_valid(out, out_n), "%s: output is not valid UTF-8", cases[i].what);
    ASSERT_MSG(azc_utf8_valid(cases[i].in, n) == !strcmp(cases[i].in, cases[i].want), "%s",
               cases[i].what);
    free(out);
  }
}

typedef struct {
  azc_buf_t out;
  int calls;
  bool bad_piece; /* a piece the sink saw was not valid on its own */
} sink_t;

static void sink(void *user, const char *s, size_t n) {
  sink_t *k = user;
  k->calls++;
  if (!n || !ref_valid(s, n)) k->bad_piece = true;
  azc_buf_put(&k->out, s, n);
}

/* Streams s in random chunks; every piece is valid, and the whole equals
 * the one-shot repair. */
static void test_stream_random(void) {
  test_rng_t rng = {7};
  static const unsigned char alphabet[] = {'a',  0x80, 0x9A, 0xBF, 0xC3, 0xA9, 0xC0, 0xE0,
                                           0xE2, 0x82, 0xAC, 0xED, 0xA0, 0xF0, 0x9F, 0x98,
                                           0xF4, 0x8F, 0x90, 0xFA, 0xFF, 0x00, '\n'};
  for (int iter = 0; iter < 20000; iter++) {
    char in[40];
    size_t n = (size_t)test_rng_int(&rng, (int)sizeof(in)) + 1;
    for (size_t i = 0; i < n; i++)
      in[i] = (char)(test_rng_int(&rng, 3) ? alphabet[test_rng_int(&rng, (int)sizeof(alphabet))]
                                           : test_rng_int(&rng, 256));
    size_t want_n;
    char *want = repair(in, n, &want_n);
    ASSERT(want && ref_valid(want, want_n));
    sink_t k = {0};
    azc_utf8_stream_t w;
    azc_utf8_stream_init(&w, sink, &k);
    for (size_t i = 0; i < n;) {
      size_t c = (size_t)test_rng_int(&rng, 5);
      if (c > n - i) c = n - i;
      azc_utf8_stream_write(&w, in + i, c);
      i += c;
    }
    azc_utf8_stream_flush(&w);
    ASSERT_MSG(!k.bad_piece, "iteration %d: an invalid piece reached the sink", iter);
    ASSERT_MSG(k.out.len == want_n && !memcmp(k.out.data, want, want_n),
               "iteration %d: streamed %zu bytes, repair gave %zu", iter, k.out.len, want_n);
    free(want);
    azc_buf_free(&k.out);
  }
}

static void test_stream_holds_back(void) {
  sink_t k = {0};
  azc_utf8_stream_t w;
  azc_utf8_stream_init(&w, sink, &k);
  azc_utf8_stream_write(&w, "ab\xF0\x9F", 4); /* U+1F600 cut after 2 of 4 bytes */
  ASSERT_EQ_INT(k.out.len, 2);
  azc_utf8_stream_write(&w, "\x98", 1);
  ASSERT_EQ_INT(k.out.len, 2);
  azc_utf8_stream_write(&w,
                        "\x80"
                        "c",
                        2);
  ASSERT_EQ_INT(k.out.len, 7);
  ASSERT(!memcmp(k.out.data,
                 "ab\xF0\x9F\x98\x80"
                 "c",
                 7));
  azc_utf8_stream_write(&w, "\xE2\x82", 2); /* proves invalid when a lead follows */
  ASSERT_EQ_INT(k.out.len, 7);
  azc_utf8_stream_write(&w, "\xC3", 1);
  ASSERT_EQ_INT(k.out.len, 10);
  azc_utf8_stream_flush(&w); /* the held C3 becomes U+FFFD */
  ASSERT_EQ_INT(k.out.len, 13);
  ASSERT(!memcmp(k.out.data + 7, R R, 6));
  ASSERT(!k.bad_piece);
  azc_buf_free(&k.out);
}

int main(void) {
  RUN(test_exhaustive_short);
  RUN(test_four_bytes);
  RUN(test_repair_classes);
  RUN(test_stream_random);
  RUN(test_stream_holds_back);
  return test_summary();
}
