/* fuzz_serve_request: the server's request handling (serve/api.c) on any
 * bytes: every endpoint's routing, the body checks (size limit, UTF-8, JSON,
 * object), and the field-by-field parsing of Ollama's and OpenAI's
 * generation requests (types, options through runtime/model_options,
 * keep_alive durations, messages and content parts, stop lists, stream
 * options), then the model lookup, against a registry with no model (an
 * empty store), so that no input reaches a forward pass and a run does
 * millions of requests.
 *
 * Input: byte 0 picks the method and path, byte 1 bit 0 says the body was
 * over the limit, the rest is the body. Promises checked: a status in
 * 200..599; no reply streams (nothing can be generated); the body is valid
 * UTF-8; a JSON reply parses, and a 4xx/5xx one carries "error". */
#include <cjson/cJSON.h>

#include "runtime/base/utf8.h"
#include "runtime/executor.h"
#include "serve/api.h"
#include "tests/fuzz/fuzz.h"

static serve_ctx_t ctx;
static serve_metrics_t metrics;
static azc_serve_params_t params;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static char dir[] = "/tmp/azc-fuzz-serve-XXXXXX";
  FUZZ_CHECK(mkdtemp(dir));
  params = azc_serve_params_default();
  params.store_dir = dir;
  params.quiet = true;
  serve_models_params_t mp = {dir, NULL, 0,        params.parallel, params.queue,
                              0,   0,    &metrics, AZC_KV_TYPE_AUTO};
  azc_status_t st = serve_models_create(&mp, &ctx.models);
  FUZZ_CHECK(!st);
  ctx.metrics = &metrics;
  ctx.params = &params;
  return 0;
}

static const struct {
  const char *method, *path;
} routes[] = {
    {"POST", "/api/generate"},
    {"POST", "/api/chat"},
    {"POST", "/v1/chat/completions"},
    {"POST", "/v1/completions"},
    {"POST", "/api/show"},
    {"GET", "/api/tags"},
    {"GET", "/api/ps"},
    {"GET", "/v1/models"},
    {"GET", "/v1/models/x"},
    {"GET", "/"},
    {"HEAD", "/"},
    {"GET", "/health"},
    {"GET", "/metrics"},
    {"GET", "/api/version"},
    {"GET", "/api/generate"},
    {"POST", "/api/nothing"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t route = data[0] % (sizeof(routes) / sizeof(routes[0]));
  bool too_big = data[1] & 1;
  const char *body = (const char *)data + 2;
  size_t len = size - 2;
  serve_reply_t r;
  serve_api_handle(&ctx, routes[route].method, routes[route].path, body, len, too_big, &r);
  FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  FUZZ_CHECK(!r.stream);
  FUZZ_CHECK(!r.body.oom);
  FUZZ_CHECK(azc_utf8_valid(r.body.data ? r.body.data : "", r.body.len));
  if (r.content_type && !strcmp(r.content_type, "application/json")) {
    cJSON *j = cJSON_ParseWithLength(r.body.data, r.body.len);
    FUZZ_CHECK(j && cJSON_IsObject(j));
    if (r.status >= 400) FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(j, "error") != NULL);
    cJSON_Delete(j);
  }
  azc_buf_free(&r.body);
  return 0;
}
