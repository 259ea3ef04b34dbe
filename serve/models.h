/* The models a server serves, by name: the bundles named on the command line
 * (served under their file name without the extension) and every model in
 * the store (looked up again at each request, so `azc create` adds models
 * to a running server). A model is loaded at its first request (bundle
 * opened, executor with one KV-cache sequence per slot, chat template,
 * stored options, engine) and unloaded as Ollama's keep_alive says: 5
 * minutes after its last request by default, at once for 0, never for a
 * negative value; a request's keep_alive becomes the model's. */
#ifndef AZC_SERVE_MODELS_H
#define AZC_SERVE_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/chat_template.h"
#include "runtime/model_bundle.h"
#include "runtime/model_options.h"
#include "runtime/model_store.h"
#include "serve/engine.h"

#define SERVE_KEEP_ALIVE_DEFAULT_NS (5LL * 60 * 1000000000)

typedef struct serve_model {
  char name[AZC_MODEL_NAME_MAX];
  char *path;
  bool from_store;
  uint64_t size;
  int64_t modified_unix;
  char digest[17];
  /* while loaded */
  azc_bundle_model_t *bundle;
  azc_executor_t *ex;
  serve_engine_t *engine;
  azc_chat_template_t *tmpl; /* NULL: template_error says why */
  char template_error[512];
  azc_options_t stored;
  int32_t n_ctx;       /* positions per slot of the loaded executor */
  int32_t default_ctx; /* a request without num_ctx: -c, else the stored num_ctx, else min(trained,
                          4096) */
  int32_t max_ctx;     /* a request's num_ctx is clamped to this: max(trained, default_ctx) */
  /* GPU offload: the layers asked of the loaded executor (AZC_GPU_LAYERS_AUTO,
   * or 0..n_layer; always 0 for a bundle without GPU code), the layers it
   * placed on the GPU, and its bytes on the GPU and in all (the bundle's
   * file size when it runs on the CPU) */
  int32_t gpu_want, gpu_layers;
  int64_t size_vram, size_loaded;
  bool gpu_code;  /* the bundle has a cuda.code section */
  int gpu_warned; /* "no GPU code" said (atomically set once) */
  int64_t loaded_unix;
  /* registry state (under the registry's lock) */
  bool loading, unloading;
  int active; /* requests holding the model */
  int64_t keep_alive_ns;
  int64_t expires_ns; /* monotonic; valid when loaded, idle and keep_alive >= 0 */
} serve_model_t;

typedef struct serve_models_params {
  const char *store_dir; /* NULL: from the environment */
  const char *const *paths;
  int n_paths;
  int32_t n_slots, queue_depth, n_ctx, n_threads; /* n_ctx, n_threads 0: the model's */
  serve_metrics_t *metrics;
  int32_t kv_type;         /* an azc_kv_type_t or AZC_KV_TYPE_AUTO */
  int64_t batch_window_ns; /* serve_engine_params_t.batch_window_ns */
  /* -ngl: gpu_layers_set 0: each model's stored default (azc compile -ngl,
   * a Modelfile's num_gpu); else n_gpu_layers (AZC_GPU_LAYERS_AUTO or N) */
  int32_t gpu_layers_set, n_gpu_layers;
} serve_models_params_t;

typedef struct serve_models serve_models_t;

azc_status_t serve_models_create(const serve_models_params_t *p, serve_models_t **out);
void serve_models_destroy(serve_models_t *m);

/* The model called `name`, loaded, held until serve_models_release; a
 * model loaded by this call is placed as serve_models_gpu_want says for the
 * request's num_gpu (num_gpu_set: the request gave it). *load_ns: time this
 * call spent loading (0 when it was loaded). Unknown names are NOT_FOUND
 * naming the model. */
azc_status_t serve_models_acquire(serve_models_t *m, const char *name, bool num_gpu_set,
                                  int64_t num_gpu, serve_model_t **out, int64_t *load_ns);
/* The GPU layers a request asks of model x (held): options.num_gpu when
 * num_gpu_set, else the server's -ngl, else the model's stored default;
 * normalized as x->gpu_want is (more than the layer count: all). A model
 * without GPU code gets 0, and the first request that asks it for the GPU
 * logs one warning. */
int32_t serve_models_gpu_want(serve_models_t *m, serve_model_t *x, bool num_gpu_set,
                              int64_t num_gpu);
/* A request (holding x) whose num_ctx is more than the loaded context, or
 * whose GPU placement (serve_models_gpu_want) differs from the loaded one:
 * waits until no other request holds the model (new ones wait), then
 * replaces its executor and engine with ones of max(n_ctx, loaded)
 * positions per slot and gpu_want layers on the GPU (the bundle stays
 * open; the slots' cached prompts are lost). On failure the old context
 * and placement are restored and the error names what was asked.
 * *load_ns: the time it took. */
azc_status_t serve_models_reload(serve_models_t *m, serve_model_t *x, int32_t n_ctx,
                                 int32_t gpu_want, int64_t *load_ns);
/* keep_alive_set: the request gave keep_alive_ns (< 0: forever). */
void serve_models_release(serve_models_t *m, serve_model_t *model, bool keep_alive_set,
                          int64_t keep_alive_ns);
/* Unloads a model now if no request holds it (keep_alive 0 with no prompt);
 * NOT_FOUND for an unknown name. */
azc_status_t serve_models_unload(serve_models_t *m, const char *name);

/* Calls fn for every model (loaded_only: only those loaded), sorted by
 * name, with the registry locked (fn must not call back into it). The
 * store is scanned again first. */
void serve_models_each(serve_models_t *m, bool loaded_only,
                       void (*fn)(void *user, const serve_model_t *model, int64_t expires_unix_ns),
                       void *user);
int serve_models_loaded_count(serve_models_t *m);

#endif
