/* azc serve: an HTTP server that speaks Ollama's API (/api/generate,
 * /api/chat, /api/tags, /api/show, /api/ps, /api/version, GET/HEAD /) and
 * OpenAI's (/v1/chat/completions, /v1/completions, /v1/models), plus
 * /health and /metrics (Prometheus text), over compiled bundles: the model
 * store and the bundles named on the command line. Built on libmicrohttpd
 * (one thread per connection) and cJSON; generation runs in serve/engine
 * (slots and continuous batching). The server links the runtime only: a GGUF
 * named to `azc serve` is compiled to a bundle by the azc driver first.
 *
 *   azc serve [--host 127.0.0.1] [--port 11434] [--parallel 4] [MODEL...] */
#ifndef AZC_SERVE_SERVE_H
#define AZC_SERVE_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/base/status.h"

typedef struct azc_serve_params {
  const char *host;       /* "127.0.0.1" */
  int port;               /* 11434; 0: any free port (printed) */
  int32_t parallel;       /* slots per model (4) */
  int32_t queue;          /* requests waiting per model beyond the slots (64) */
  int32_t n_ctx;          /* 0: each model's stored context, else min(trained, 4096) */
  int32_t n_threads;      /* 0: each model's stored count, else all cores */
  int32_t kv_type;        /* --kv-type: an azc_kv_type_t, or AZC_KV_TYPE_AUTO (the default) */
  int32_t gpu_layers_set; /* -ngl given: n_gpu_layers (AZC_GPU_LAYERS_AUTO or N) for every model */
  int32_t n_gpu_layers;
  size_t max_body;         /* largest request body in bytes (8 MiB) */
  int32_t batch_window_ms; /* gather a burst at an idle model this long (5; 0: off) */
  const char *store_dir;   /* NULL: $AZC_HOME/models, ... (runtime/model_store.h) */
  const char **models;     /* bundle paths served by file name */
  int n_models;
  bool quiet; /* no request log */
} azc_serve_params_t;

azc_serve_params_t azc_serve_params_default(void);

/* Parses `serve` arguments (argv[0] is the command name). models points
 * into argv (the caller owns a models array of argc entries: *models_buf). */
azc_status_t azc_serve_parse_args(int argc, char **argv, azc_serve_params_t *p,
                                  const char **models_buf);
void azc_serve_usage(FILE *out, const char *prog);

/* Serves until *stop becomes non-zero (a signal handler sets it). Prints
 * "azc: serve: listening on http://HOST:PORT" on stderr once ready. */
azc_status_t azc_serve_run(const azc_serve_params_t *p, volatile sig_atomic_t *stop);

/* The whole command for a binary: parse, install SIGINT/SIGTERM, serve. */
int azc_serve_main(int argc, char **argv, const char *prog);

#endif
