/* Run options as Ollama names them: the one table that a Modelfile's
 * PARAMETER lines, `azc chat`'s `/set parameter`, and the server's request
 * "options" (and OpenAI's temperature/top_p/max_tokens/seed/stop) all go
 * through, so a name, its type and its range are checked in one place.
 *
 * Every option of Ollama's API is here, with Ollama's type (int, float, bool,
 * a repeatable string for `stop`). Values are parsed as Go's strconv does
 * (Ollama's parser): ints in base 10 with an optional sign, floats as decimal
 * or exponent notation, bools as 1/t/T/TRUE/true/True and their false forms.
 * The options Ollama deprecated are known and ignored with a warning.
 *
 * Defaults are azc's (the course azc's users follow): temperature 0.8,
 * top-k 50, top-p 0.9, min-p 0 (llama.cpp's are top-k 40, top-p 0.95,
 * min-p 0.05; Ollama's top-k 40, top-p 0.9, repeat penalty 1.1).
 *
 * Resolution, for a run or a request: an option the request sets wins; else
 * the model's stored default (the bundle's defaults record and the chat
 * section's parameters, written from its Modelfile or `azc compile` flags);
 * else azc's default. azc_options_resolve does exactly that. */
#ifndef AZC_RUNTIME_MODEL_OPTIONS_H
#define AZC_RUNTIME_MODEL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/bundle_sections.h"
#include "runtime/sampler.h"

typedef enum azc_option_id {
  /* load-time ("runner") options */
  AZC_OPT_NUM_CTX,
  AZC_OPT_NUM_BATCH,
  AZC_OPT_NUM_GPU,
  AZC_OPT_MAIN_GPU,
  AZC_OPT_USE_MMAP,
  AZC_OPT_NUM_THREAD,
  /* generation options */
  AZC_OPT_NUM_KEEP,
  AZC_OPT_SEED,
  AZC_OPT_NUM_PREDICT,
  AZC_OPT_TOP_K,
  AZC_OPT_TOP_P,
  AZC_OPT_MIN_P,
  AZC_OPT_TYPICAL_P,
  AZC_OPT_REPEAT_LAST_N,
  AZC_OPT_TEMPERATURE,
  AZC_OPT_REPEAT_PENALTY,
  AZC_OPT_PRESENCE_PENALTY,
  AZC_OPT_FREQUENCY_PENALTY,
  AZC_OPT_STOP,
  AZC_OPT_COUNT
} azc_option_id_t;

typedef enum azc_option_type {
  AZC_OPT_INT,
  AZC_OPT_FLOAT,
  AZC_OPT_BOOL,
  AZC_OPT_STRING_LIST, /* stop: each PARAMETER line adds one */
} azc_option_type_t;

typedef struct azc_option_info {
  const char *name;
  azc_option_type_t type;
  int id;          /* azc_option_id_t, or -1 for a deprecated option */
  double min, max; /* accepted range (ints and floats) */
  const char *azc_default, *ollama_default;
  const char *meaning; /* what azc does with it (docs, `azc show`) */
} azc_option_info_t;

/* The option named `name` (exact, lower case as Ollama spells them), a
 * deprecated one (id -1), or NULL when Ollama has no such option. */
const azc_option_info_t *azc_option_find(const char *name);
/* All options, the deprecated ones last (for documentation and tests). */
const azc_option_info_t *azc_option_table(size_t *n);

typedef union azc_option_value {
  int64_t i;
  double f;
  bool b;
} azc_option_value_t;

#define AZC_OPT_MAX_STOP 16
#define AZC_OPT_MAX_STOP_LEN 256

/* A set of option values; `set` has bit (1 << id) for each value given. */
typedef struct azc_options {
  uint32_t set;
  azc_option_value_t v[AZC_OPT_COUNT];
  int n_stop;
  char stop[AZC_OPT_MAX_STOP][AZC_OPT_MAX_STOP_LEN];
} azc_options_t;

/* azc's defaults, all marked set. */
azc_options_t azc_options_default(void);
static inline bool azc_options_has(const azc_options_t *o, azc_option_id_t id) {
  return (o->set >> id) & 1u;
}

/* Parses `text` for `name` with Go's rules and stores it (stop: appended).
 * Errors: "unknown parameter 'x'", "invalid int value 'abc' for num_ctx",
 * "top_p 1.5 is out of range (0 to 1)", too many or too long stop strings.
 * A deprecated option is not an error: *deprecated is set (it may be NULL)
 * and nothing is stored. */
azc_status_t azc_options_set_text(azc_options_t *o, const char *name, const char *text,
                                  bool *deprecated);
/* The same from JSON values (the server): a number for int and float options
 * (an int option takes a whole number), a bool, or one stop string. */
azc_status_t azc_options_set_number(azc_options_t *o, const char *name, double value,
                                    bool *deprecated);
azc_status_t azc_options_set_bool(azc_options_t *o, const char *name, bool value, bool *deprecated);
azc_status_t azc_options_add_stop(azc_options_t *o, const char *text, size_t len);
/* Forgets the stop strings (a request's "stop" replaces the model's). */
void azc_options_clear_stop(azc_options_t *o);

/* Formats a value as Ollama's `show --parameters` writes it ("0.8", "50",
 * "true"); for stop, the i-th string. */
void azc_options_format(const azc_options_t *o, azc_option_id_t id, int stop_index, char *buf,
                        size_t cap);

/* The model's stored options: the defaults record (sampling, context, threads,
 * GPU layers, tokens to generate) plus the options kept in the chat section
 * (num_batch, main_gpu, use_mmap, num_keep; stop strings), all marked set.
 * `params` is the chat section's parameter list ("name\0value" pairs, as
 * azc_chat_info_t holds them); NULL for none. */
azc_status_t azc_options_from_stored(const azc_bundle_defaults_t *defaults,
                                     const char *const *param_names,
                                     const char *const *param_values, size_t n_params,
                                     azc_options_t *out);
/* Writes the options that the defaults record holds into it. */
void azc_options_to_defaults(const azc_options_t *o, azc_bundle_defaults_t *d);

/* out = request's set options, else stored's (may be NULL), else azc's. */
void azc_options_resolve(const azc_options_t *request, const azc_options_t *stored,
                         azc_options_t *out);

/* Sampler parameters from resolved options. n_ctx is the context actually
 * used (repeat_last_n -1 means "the whole context", as in Ollama). A
 * negative seed means a random one. */
azc_sampler_params_t azc_options_sampler_params(const azc_options_t *o, int32_t n_ctx);

#endif
