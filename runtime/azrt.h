/* azrt: the azc runtime's public C API.
 *
 * Runs a model compiled by `azc compile` (one bundle file). The runtime needs
 * no compiler: it maps the bundle, checks it (format version, checksums, CPU
 * features), loads the compiled kernels with its own loader and runs them.
 * Link with -lazrt (static or shared); this header is all a program needs.
 *
 *   azrt_model_t *m;      azrt_model_open("model.bundle", &m);
 *   azrt_session_t *s;    azrt_session_create(m, NULL, &s);
 *   int32_t ids[512];     int n = azrt_tokenize(m, "Salam", -1, 1, ids, 512);
 *   azrt_eval(s, ids, n); int32_t t = azrt_sample(s);   ... azrt_eval(s, &t, 1) ...
 *   azrt_session_free(s); azrt_model_close(m);
 *
 * Errors: functions return 0 on success and a negative AZRT_E* code on
 * failure; azrt_last_error() gives the message (per thread). */
#ifndef AZRT_H
#define AZRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  AZRT_OK = 0,
  AZRT_EINVAL = -1,       /* bad argument */
  AZRT_ENOTFOUND = -2,    /* file or section missing */
  AZRT_EIO = -3,          /* read/map failed */
  AZRT_ECORRUPT = -4,     /* damaged bundle */
  AZRT_EUNSUPPORTED = -5, /* other format version, other CPU */
  AZRT_ENOMEM = -6,
  AZRT_ERANGE = -7, /* context full */
  AZRT_EINTERNAL = -8,
};

typedef struct azrt_model azrt_model_t;
typedef struct azrt_session azrt_session_t;

typedef struct azrt_session_params {
  int32_t n_threads; /* 0: the bundle's default, else all cores */
  int32_t n_ctx;     /* 0: the bundle's default */
  float temperature; /* sampling; NAN: the bundle's default */
  int32_t top_k;     /* -1: the bundle's default */
  float top_p, min_p, repeat_penalty; /* NAN: the bundle's default */
  uint64_t seed;     /* UINT64_MAX: the bundle's default */
} azrt_session_params_t;

/* Parameters that all take the bundle's defaults. */
azrt_session_params_t azrt_session_params_default(void);

const char *azrt_last_error(void);
const char *azrt_version(void);

int azrt_model_open(const char *path, azrt_model_t **out);
void azrt_model_close(azrt_model_t *m);
int32_t azrt_model_n_vocab(const azrt_model_t *m);
int32_t azrt_model_n_ctx_train(const azrt_model_t *m);
int32_t azrt_model_bos(const azrt_model_t *m); /* -1 when none */
int32_t azrt_model_eos(const azrt_model_t *m);
int azrt_model_is_eog(const azrt_model_t *m, int32_t token);
const char *azrt_model_arch(const azrt_model_t *m);

/* Token ids of text (len < 0: NUL-terminated); add_special adds BOS/EOS as
 * the model says. Returns the number of tokens (may exceed cap: then only
 * cap were written), or a negative error. */
int azrt_tokenize(const azrt_model_t *m, const char *text, int len, int add_special,
                  int32_t *tokens, int cap);
/* The text of one token (bytes, not NUL-terminated): the length, or negative. */
int azrt_token_to_piece(const azrt_model_t *m, int32_t token, char *buf, int cap);
/* Decodes tokens into a NUL-terminated string; returns its length (may exceed cap - 1). */
int azrt_detokenize(const azrt_model_t *m, const int32_t *tokens, int n, char *buf, int cap);

int azrt_session_create(azrt_model_t *m, const azrt_session_params_t *params,
                        azrt_session_t **out);
void azrt_session_free(azrt_session_t *s);
/* Appends n tokens to the session's sequence and computes the logits of the
 * last one. */
int azrt_eval(azrt_session_t *s, const int32_t *tokens, int n);
/* The logits after the last azrt_eval (n_vocab floats; borrowed). */
const float *azrt_logits(const azrt_session_t *s);
/* Samples the next token from the last logits with the session's sampler,
 * and records it for the repeat penalty. */
int32_t azrt_sample(azrt_session_t *s);
/* Tokens evaluated so far. */
int32_t azrt_session_n_past(const azrt_session_t *s);
/* Forgets the sequence (positions restart at 0). */
void azrt_session_reset(azrt_session_t *s);

#ifdef __cplusplus
}
#endif

#endif
