/* The server's model registry (see models.h). One lock guards the list and
 * every model's registry fields; loading and unloading run outside it, with
 * the model marked loading/unloading so other requests for it wait on the
 * condition variable. A janitor thread unloads models whose keep_alive ran
 * out. */
#include "serve/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/base/log.h"
#include "runtime/base/util.h"
#include "runtime/chat_info.h"
#include "runtime/cuda_exec.h"

struct serve_models {
  serve_models_params_t p;
  char *store_dir;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  serve_model_t **list;
  int n, cap;
  pthread_t janitor;
  bool janitor_started, stop;
};

static int64_t unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static serve_model_t *add_model(serve_models_t *m, const char *name, const char *path, bool store) {
  if (m->n == m->cap) {
    int cap = m->cap ? m->cap * 2 : 8;
    serve_model_t **l = realloc(m->list, (size_t)cap * sizeof(*l));
    if (!l) return NULL;
    m->list = l;
    m->cap = cap;
  }
  serve_model_t *x = calloc(1, sizeof(*x));
  if (!x || !(x->path = strdup(path))) {
    free(x);
    return NULL;
  }
  snprintf(x->name, sizeof(x->name), "%s", name);
  x->from_store = store;
  x->keep_alive_ns = SERVE_KEEP_ALIVE_DEFAULT_NS;
  struct stat sb;
  if (!stat(path, &sb)) x->size = (uint64_t)sb.st_size, x->modified_unix = (int64_t)sb.st_mtime;
  m->list[m->n++] = x;
  return x;
}

/* The entry a request name means (m->mu held): exact, or with/without ":latest". */
static serve_model_t *find_model(serve_models_t *m, const char *name) {
  size_t nl = strlen(name);
  for (int i = 0; i < m->n; i++) {
    const char *e = m->list[i]->name;
    size_t el = strlen(e);
    if (!strcasecmp(e, name)) return m->list[i];
    if (el == nl + 7 && !strncasecmp(e, name, nl) && !strcasecmp(e + nl, ":latest"))
      return m->list[i];
    if (nl == el + 7 && !strncasecmp(e, name, el) && !strcasecmp(name + el, ":latest"))
      return m->list[i];
  }
  return NULL;
}

/* Adds store models not yet listed (m->mu held). */
static void scan_store(serve_models_t *m) {
  if (!m->store_dir) return;
  azc_model_store_entry_t *e = NULL;
  size_t n = 0;
  azc_status_t st = azc_model_store_list(m->store_dir, &e, &n);
  if (st) {
    azc_status_free(st);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    serve_model_t *x = find_model(m, e[i].name);
    if (!x) x = add_model(m, e[i].name, e[i].path, true);
    if (x && x->from_store) memcpy(x->digest, e[i].digest, sizeof(x->digest));
  }
  azc_model_store_list_free(e, n);
}

/* The executor and engine only (the bundle stays open). */
static void unload_engine(serve_model_t *x) {
  azc_serve_engine_destroy(x->engine);
  azc_executor_destroy(x->ex);
  x->engine = NULL, x->ex = NULL;
}

static void unload(serve_model_t *x) {
  unload_engine(x);
  azc_chat_template_destroy(x->tmpl);
  azc_bundle_model_close(x->bundle);
  x->tmpl = NULL, x->bundle = NULL;
}

/* An executor with n_ctx positions per slot and gpu_want layers on the GPU
 * (x->gpu_want's meaning), and its engine. */
static azc_status_t load_engine(serve_models_t *m, serve_model_t *x, int32_t n_ctx,
                                int32_t gpu_want) {
  azc_bundle_model_t *b = x->bundle;
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = n_ctx;
  ep.n_seq = m->p.n_slots;
  ep.kv_type = m->p.kv_type;
  ep.n_batch = AZC_MIN(ep.n_batch, n_ctx);
  ep.n_threads = m->p.n_threads > 0 ? m->p.n_threads : b->defaults.n_threads;
  ep.gpu_layers_set = x->gpu_code;
  ep.n_gpu_layers = gpu_want;
  x->gpu_want = gpu_want;
  AZC_RETURN_IF_ERROR_CTX(azc_bundle_model_executor(b, &ep, &x->ex), "%s", x->path);
  x->n_ctx = x->ex->n_ctx;
  char line[256];
  x->gpu_layers = azc_cuda_executor_placement(x->ex, line, sizeof(line));
  int64_t host = 0;
  x->size_vram = 0;
  x->size_loaded = (int64_t)x->size;
  if (azc_cuda_executor_bytes(x->ex, &x->size_vram, &host)) x->size_loaded = x->size_vram + host;
  if (x->gpu_code)
    azc_log_info("serve: %s: placement (num_gpu %d%s): %d/%d layers on the GPU, %.1f MiB on the "
                 "GPU, %.1f MiB in all",
                 x->name, gpu_want, gpu_want == AZC_GPU_LAYERS_AUTO ? ", auto" : "", x->gpu_layers,
                 b->meta.n_layer, (double)x->size_vram / (1 << 20),
                 (double)x->size_loaded / (1 << 20));
  else
    azc_log_info("serve: %s: placement: %d layers on the CPU (no GPU code)", x->name,
                 b->meta.n_layer);
  serve_engine_params_t ep2 = {m->p.n_slots, m->p.queue_depth, m->p.metrics, m->p.batch_window_ns};
  return azc_serve_engine_create(x->ex, b->tokenizer, &ep2, &x->engine);
}

/* num_gpu as x->gpu_want holds it: AZC_GPU_LAYERS_AUTO, or 0..n_layer */
static int32_t norm_gpu(const serve_model_t *x, int64_t v) {
  if (v < 0) return AZC_GPU_LAYERS_AUTO;
  int64_t nl = x->bundle ? x->bundle->meta.n_layer : 0;
  if (nl > 0 && v > nl) return (int32_t)nl;
  return (int32_t)AZC_MIN(v, INT32_MAX);
}

int32_t serve_models_gpu_want(serve_models_t *m, serve_model_t *x, bool num_gpu_set,
                              int64_t num_gpu) {
  const char *by = num_gpu_set ? "a request's num_gpu" : m->p.gpu_layers_set ? "-ngl" : "num_gpu";
  int64_t v = num_gpu_set           ? num_gpu
              : m->p.gpu_layers_set ? m->p.n_gpu_layers
                                    : x->stored.v[AZC_OPT_NUM_GPU].i; /* the stored default */
  int32_t want = norm_gpu(x, v);
  if (want == 0 || x->gpu_code) return want;
  if (!__atomic_exchange_n(&x->gpu_warned, 1, __ATOMIC_SEQ_CST)) {
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)v);
    azc_log_warn("serve: %s: %s %s asks for the GPU, but %s has no GPU code, so it runs on the "
                 "CPU; compile it with GPU code (azc compile MODEL -ngl N) to offload",
                 x->name, by, v < 0 ? "auto" : n, x->path);
  }
  return 0;
}

static azc_status_t load(serve_models_t *m, serve_model_t *x, bool num_gpu_set, int64_t num_gpu) {
  azc_status_t st = azc_bundle_model_open(x->path, 0, &x->bundle);
  if (st) return st;
  azc_bundle_model_t *b = x->bundle;
  const azc_chat_info_t *ci = b->chat;
  st = azc_options_from_stored(&b->defaults, ci ? (const char *const *)ci->param_name : NULL,
                               ci ? (const char *const *)ci->param_value : NULL,
                               ci ? ci->n_params : 0, &x->stored);
  if (st) return st;
  int32_t n_ctx = m->p.n_ctx > 0 ? m->p.n_ctx : b->defaults.n_ctx;
  if (n_ctx <= 0) n_ctx = AZC_MIN(b->meta.n_ctx_train, 4096);
  x->default_ctx = n_ctx;
  x->max_ctx = AZC_MAX(n_ctx, b->meta.n_ctx_train);
  st = azc_chat_info_template(ci, b->tokenizer, &x->tmpl);
  x->template_error[0] = 0;
  if (st) {
    snprintf(x->template_error, sizeof(x->template_error), "%s", azc_status_message(st));
    azc_status_free(st);
    x->tmpl = NULL;
  }
  x->gpu_code = b->device_code[AZC_DEVICE_CUDA] != NULL;
  AZC_RETURN_IF_ERROR(load_engine(m, x, n_ctx, serve_models_gpu_want(m, x, num_gpu_set, num_gpu)));
  /* a damaged weights section is refused before the first request runs */
  AZC_RETURN_IF_ERROR(azc_bundle_model_wait_verified(b));
  x->loaded_unix = unix_ns() / 1000000000;
  azc_log_info("serve: loaded %s (%s): context %d, %d slots", x->name, x->path, x->n_ctx,
               m->p.n_slots);
  if (ci && ci->draft) /* azc run and azc chat use it; the batching engine verifies no drafts */
    azc_log_info("serve: %s: its draft model %s is not used by the server (no speculative "
                 "decoding in continuous batching yet)",
                 x->name, ci->draft);
  return NULL;
}

azc_status_t serve_models_reload(serve_models_t *m, serve_model_t *x, int32_t n_ctx,
                                 int32_t gpu_want, int64_t *load_ns) {
  *load_ns = 0;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    if (x->n_ctx >= n_ctx && x->gpu_want == gpu_want && x->engine) {
      pthread_mutex_unlock(&m->mu);
      return NULL;
    }
    if (!x->loading) break;
    /* another request is resizing: let go so that it sees the model idle */
    x->active--;
    pthread_cond_broadcast(&m->cv);
    while (x->loading || x->unloading) pthread_cond_wait(&m->cv, &m->mu);
    x->active++;
  }
  if (!x->engine) { /* another request's reload failed twice and unloaded it */
    pthread_mutex_unlock(&m->mu);
    return AZC_ERR(AZC_INTERNAL, "model '%s' was unloaded: reloading it failed", x->name);
  }
  /* new requests wait (loading); those running finish first */
  x->loading = true;
  while (x->active > 1) pthread_cond_wait(&m->cv, &m->mu);
  pthread_mutex_unlock(&m->mu);
  int64_t t0 = azc_serve_now_ns();
  int32_t old = x->n_ctx, old_gpu = x->gpu_want;
  if (n_ctx > old)
    azc_log_info("serve: %s: a request's num_ctx %d needs a larger context than %d: reloading",
                 x->name, n_ctx, old);
  else
    n_ctx = old;
  if (gpu_want != old_gpu)
    azc_log_info("serve: %s: a request's num_gpu %d differs from the loaded model's %d: reloading",
                 x->name, gpu_want, old_gpu);
  unload_engine(x);
  azc_status_t st = load_engine(m, x, n_ctx, gpu_want);
  if (st) { /* back to the context and placement it had */
    unload_engine(x);
    azc_status_t st2 = load_engine(m, x, old, old_gpu);
    if (st2) { /* unloaded: the next request loads it afresh */
      azc_status_free(st2);
      unload(x);
    }
  }
  *load_ns = azc_serve_now_ns() - t0;
  pthread_mutex_lock(&m->mu);
  x->loading = false;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  if (st)
    return azc_status_wrap(st, "model '%s': a context of %d positions, num_gpu %d", x->name, n_ctx,
                           gpu_want);
  if (!x->engine) return AZC_ERR(AZC_INTERNAL, "model '%s': reloading failed", x->name);
  return NULL;
}

azc_status_t serve_models_acquire(serve_models_t *m, const char *name, bool num_gpu_set,
                                  int64_t num_gpu, serve_model_t **out, int64_t *load_ns) {
  *out = NULL;
  *load_ns = 0;
  pthread_mutex_lock(&m->mu);
  serve_model_t *x = find_model(m, name);
  if (!x) {
    scan_store(m);
    x = find_model(m, name);
  }
  if (!x) {
    pthread_mutex_unlock(&m->mu);
    return AZC_ERR(AZC_NOT_FOUND, "model '%s' not found", name);
  }
  while (x->loading || x->unloading) pthread_cond_wait(&m->cv, &m->mu);
  x->active++;
  if (x->engine) {
    pthread_mutex_unlock(&m->mu);
    *out = x;
    return NULL;
  }
  x->loading = true;
  pthread_mutex_unlock(&m->mu);
  int64_t t0 = azc_serve_now_ns();
  azc_status_t st = load(m, x, num_gpu_set, num_gpu);
  if (st) unload(x);
  *load_ns = azc_serve_now_ns() - t0;
  pthread_mutex_lock(&m->mu);
  x->loading = false;
  if (st) x->active--;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  if (st) return azc_status_wrap(st, "loading model '%s'", x->name);
  *out = x;
  return NULL;
}

void serve_models_release(serve_models_t *m, serve_model_t *x, bool keep_alive_set,
                          int64_t keep_alive_ns) {
  pthread_mutex_lock(&m->mu);
  if (keep_alive_set) x->keep_alive_ns = keep_alive_ns;
  x->active--;
  pthread_cond_broadcast(&m->cv); /* a request growing the context waits for the others */
  x->expires_ns = azc_serve_now_ns() + (x->keep_alive_ns > 0 ? x->keep_alive_ns : 0);
  bool now = x->active == 0 && x->keep_alive_ns == 0 && x->engine && !x->loading && !x->unloading;
  if (now) x->unloading = true;
  pthread_mutex_unlock(&m->mu);
  if (!now) return;
  unload(x);
  pthread_mutex_lock(&m->mu);
  x->unloading = false;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

azc_status_t serve_models_unload(serve_models_t *m, const char *name) {
  pthread_mutex_lock(&m->mu);
  serve_model_t *x = find_model(m, name);
  if (!x) {
    scan_store(m);
    x = find_model(m, name);
  }
  if (!x) {
    pthread_mutex_unlock(&m->mu);
    return AZC_ERR(AZC_NOT_FOUND, "model '%s' not found", name);
  }
  x->keep_alive_ns = 0;
  bool now = x->active == 0 && x->engine && !x->loading && !x->unloading;
  if (now) x->unloading = true;
  pthread_mutex_unlock(&m->mu);
  if (!now) return NULL;
  unload(x);
  pthread_mutex_lock(&m->mu);
  x->unloading = false;
  pthread_cond_broadcast(&m->cv);
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(serve_model_t *const *)a)->name, (*(serve_model_t *const *)b)->name);
}

void serve_models_each(serve_models_t *m, bool loaded_only,
                       void (*fn)(void *user, const serve_model_t *model, int64_t expires_unix_ns),
                       void *user) {
  pthread_mutex_lock(&m->mu);
  scan_store(m);
  if (m->n > 1) qsort(m->list, (size_t)m->n, sizeof(*m->list), by_name);
  int64_t now = azc_serve_now_ns(), unow = unix_ns();
  for (int i = 0; i < m->n; i++) {
    serve_model_t *x = m->list[i];
    if (loaded_only && !x->engine) continue;
    int64_t exp = 0; /* 0: never (or busy) */
    if (x->active == 0 && x->keep_alive_ns >= 0)
      exp = unow + (x->expires_ns - now);
    else if (x->keep_alive_ns >= 0)
      exp = unow + x->keep_alive_ns;
    fn(user, x, exp);
  }
  pthread_mutex_unlock(&m->mu);
}

int serve_models_loaded_count(serve_models_t *m) {
  pthread_mutex_lock(&m->mu);
  int n = 0;
  for (int i = 0; i < m->n; i++) n += m->list[i]->engine != NULL;
  pthread_mutex_unlock(&m->mu);
  return n;
}

static void *janitor_main(void *arg) {
  serve_models_t *m = arg;
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    int64_t now = azc_serve_now_ns();
    for (int i = 0; i < m->n && !m->stop; i++) {
      serve_model_t *x = m->list[i];
      if (!x->engine || x->active || x->loading || x->unloading || x->keep_alive_ns < 0) continue;
      if (now < x->expires_ns) continue;
      x->unloading = true;
      pthread_mutex_unlock(&m->mu);
      azc_log_info("serve: unloading %s (keep_alive ran out)", x->name);
      unload(x);
      pthread_mutex_lock(&m->mu);
      x->unloading = false;
      pthread_cond_broadcast(&m->cv);
    }
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

azc_status_t serve_models_create(const serve_models_params_t *p, serve_models_t **out) {
  *out = NULL;
  serve_models_t *m = calloc(1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "serve models");
  m->p = *p;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  azc_status_t st = azc_model_store_dir(p->store_dir, &m->store_dir);
  if (st) { /* no store folder can be named: serve the files only */
    azc_status_free(st);
    m->store_dir = NULL;
  }
  for (int i = 0; i < p->n_paths; i++) {
    char name[AZC_MODEL_NAME_MAX];
    azc_model_name_from_path(p->paths[i], name, sizeof(name));
    if (find_model(m, name)) {
      serve_models_destroy(m);
      return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: two models are named '%s' (%s)", name,
                     p->paths[i]);
    }
    if (!add_model(m, name, p->paths[i], false)) {
      serve_models_destroy(m);
      return AZC_ERR(AZC_OUT_OF_MEMORY, "serve models");
    }
  }
  if (pthread_create(&m->janitor, NULL, janitor_main, m)) {
    serve_models_destroy(m);
    return AZC_ERR(AZC_INTERNAL, "serve: cannot start the keep_alive thread");
  }
  m->janitor_started = true;
  *out = m;
  return NULL;
}

void serve_models_destroy(serve_models_t *m) {
  if (!m) return;
  if (m->janitor_started) {
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->janitor, NULL);
  }
  for (int i = 0; i < m->n; i++) {
    unload(m->list[i]);
    free(m->list[i]->path);
    free(m->list[i]);
  }
  free(m->list);
  free(m->store_dir);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
}
