/* The HTTP API's endpoints (Ollama's and OpenAI's), independent of the HTTP
 * library: serve.c hands over a method, a path and a whole request body, and
 * gets back either a complete reply or a stream (a job generating text,
 * formatted as NDJSON lines, SSE events or one JSON object at the end).
 * Every reply body is valid UTF-8 JSON (or text for /, /health, /metrics);
 * every bad request is a 4xx whose JSON names the problem. */
#ifndef AZC_SERVE_API_H
#define AZC_SERVE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/buf.h"
#include "serve/engine.h"
#include "serve/models.h"
#include "serve/serve.h"

typedef struct serve_ctx {
  serve_models_t *models;
  serve_metrics_t *metrics;
  const azc_serve_params_t *params;
  atomic_llong requests[8]; /* by status class: [2] 2xx, [4] 4xx, [5] 5xx */
  atomic_llong requests_by_endpoint[16];
} serve_ctx_t;

typedef struct serve_stream serve_stream_t;

typedef struct serve_reply {
  int status;
  const char *content_type;
  azc_buf_t body;         /* a complete reply, or */
  serve_stream_t *stream; /* a reply produced as a job runs */
} serve_reply_t;

/* Handles one request. body_too_big: the body passed params->max_body (and
 * was dropped). */
void serve_api_handle(serve_ctx_t *c, const char *method, const char *path, const char *body,
                      size_t len, bool body_too_big, serve_reply_t *r);

/* Appends the stream's next bytes to out, waiting up to timeout_ms for the
 * job. *ended: nothing more will come. */
void serve_stream_next(serve_stream_t *s, azc_buf_t *out, int timeout_ms, bool *ended);
/* The client went away: stop the job. */
void serve_stream_cancel(serve_stream_t *s);
void serve_stream_free(serve_ctx_t *c, serve_stream_t *s);

/* /metrics */
void serve_api_metrics(serve_ctx_t *c, azc_buf_t *out);

#endif
