/* The HTTP side of azc serve (see serve.h): libmicrohttpd with one thread
 * per connection, the request body gathered up to the limit, then handed to
 * serve/api.c. A streamed reply is a content-reader callback that waits on
 * the job; while it waits it looks at the socket, so a client that hangs up
 * stops its generation within a step even when nothing is being written
 * (stream: false). */
#include "serve/serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "runtime/base/util.h"
#include "runtime/executor.h"
#include "runtime/kv_cache.h"
#include "serve/api.h"

azc_serve_params_t azc_serve_params_default(void) {
  azc_serve_params_t p;
  memset(&p, 0, sizeof(p));
  p.host = "127.0.0.1";
  p.port = 11434;
  p.parallel = 4;
  p.queue = 64;
  p.kv_type = AZC_KV_TYPE_AUTO;
  p.max_body = 8u << 20;
  p.batch_window_ms = 5;
  return p;
}

void azc_serve_usage(FILE *out, const char *prog) {
  fprintf(out,
          "usage: %s [--host 127.0.0.1] [--port 11434] [--parallel N] [MODEL...]\n"
          "  serves the model store and the MODEL files named (under their file name\n"
          "  without the extension) with Ollama's and OpenAI's HTTP APIs\n"
          "  --host H          address to listen on (default 127.0.0.1)\n"
          "  --port P          (default 11434; 0: any free port)\n"
          "  --parallel N      slots per model, each with its own KV cache (default 4)\n"
          "  --queue N         requests that wait for a slot before 503 (default 64)\n"
          "  -c, --ctx-size N  context per slot of a request without options.num_ctx\n"
          "                    (default: the model's, at most 4096; a larger num_ctx\n"
          "                    reloads the slots, up to the trained context)\n"
          "  -t, --threads N   threads per model (default: all cores)\n"
          "  -ngl N|auto       layers on the GPU for every model loaded (--gpu-layers;\n"
          "                    default: each bundle's, from azc compile -ngl or a\n"
          "                    Modelfile's num_gpu; 99: all; auto: as many as fit); a\n"
          "                    request's options.num_gpu reloads the model with its own\n"
          "                    placement; a bundle without GPU code runs on the CPU\n"
          "  --kv-type T       KV cache element type: f32, f16 or q8_0 (default f16)\n"
          "  --max-body BYTES  largest request body (default 8388608)\n"
          "  --batch-window MS requests reaching an idle model within MS of the first\n"
          "                    prefill in one step (default 5; 0: each at once)\n"
          "  --store DIR       the model store (default $AZC_HOME/models, ...)\n"
          "  --quiet           no request log\n",
          prog);
}

static azc_status_t int_arg(int argc, char **argv, int *i, long long min, long long max,
                            long long *out) {
  if (*i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: %s needs a value", argv[*i]);
  char *end;
  long long v = strtoll(argv[*i + 1], &end, 10);
  if (end == argv[*i + 1] || *end || v < min || v > max)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: %s '%s' is not a number in %lld..%lld", argv[*i],
                   argv[*i + 1], min, max);
  *out = v;
  (*i)++;
  return NULL;
}

azc_status_t azc_serve_parse_args(int argc, char **argv, azc_serve_params_t *p,
                                  const char **models_buf) {
  p->models = models_buf;
  p->n_models = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long long v;
    if (!strcmp(a, "--host")) {
      if (i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: --host needs a value");
      p->host = argv[++i];
    } else if (!strcmp(a, "--store")) {
      if (i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: --store needs a value");
      p->store_dir = argv[++i];
    } else if (!strcmp(a, "--port")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 0, 65535, &v));
      p->port = (int)v;
    } else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 1, 256, &v));
      p->parallel = (int32_t)v;
    } else if (!strcmp(a, "--queue")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 0, 1 << 20, &v));
      p->queue = (int32_t)v;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 1, 1 << 24, &v));
      p->n_ctx = (int32_t)v;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 1, 1024, &v));
      p->n_threads = (int32_t)v;
    } else if (!strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers") || !strcmp(a, "--n-gpu-layers")) {
      if (i + 1 < argc && !strcmp(argv[i + 1], "auto")) {
        p->n_gpu_layers = AZC_GPU_LAYERS_AUTO;
        i++;
      } else {
        AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 0, 1 << 20, &v));
        p->n_gpu_layers = (int32_t)v;
      }
      p->gpu_layers_set = 1;
    } else if (!strcmp(a, "--kv-type")) {
      if (i + 1 >= argc) return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: --kv-type needs a value");
      int t = azc_kv_type_from_name(argv[++i]);
      if (t < 0)
        return AZC_ERR(AZC_INVALID_ARGUMENT,
                       "serve: --kv-type '%s' is not a KV cache type (f32, f16, q8_0)", argv[i]);
      p->kv_type = t;
    } else if (!strcmp(a, "--max-body")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 1, 1LL << 32, &v));
      p->max_body = (size_t)v;
    } else if (!strcmp(a, "--batch-window")) {
      AZC_RETURN_IF_ERROR(int_arg(argc, argv, &i, 0, 10000, &v));
      p->batch_window_ms = (int32_t)v;
    } else if (!strcmp(a, "--quiet")) {
      p->quiet = true;
    } else if (a[0] == '-' && a[1]) {
      return AZC_ERR(AZC_INVALID_ARGUMENT, "serve: unknown option %s", a);
    } else {
      models_buf[p->n_models++] = a;
    }
  }
  return NULL;
}

/* ---- one connection's request ---- */

typedef struct conn {
  serve_ctx_t *ctx;
  struct MHD_Connection *mhd;
  azc_buf_t body;
  bool too_big, head;
  serve_stream_t *stream;
  azc_buf_t out;
  size_t out_off;
  bool ended;
  int status;
  char method[8], path[128];
  int64_t t0;
} conn_t;

/* The peer closed its end (or the socket failed). */
static bool peer_gone(conn_t *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci) return false;
  struct pollfd pf = {ci->connect_fd, POLLRDHUP, 0};
  return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  conn_t *c = cls;
  (void)pos;
  while (c->out_off == c->out.len) {
    if (c->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    c->out.len = 0;
    c->out_off = 0;
    if (peer_gone(c)) {
      serve_stream_cancel(c->stream);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    serve_stream_next(c->stream, &c->out, 50, &c->ended);
    if (c->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t n = AZC_MIN(max, c->out.len - c->out_off);
  memcpy(buf, c->out.data + c->out_off, n);
  c->out_off += n;
  return (ssize_t)n;
}

static void reader_free(void *cls) { (void)cls; /* the connection's context frees everything */ }

static void completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)connection;
  conn_t *c = *con_cls;
  if (!c) return;
  if (c->stream && (!c->ended || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK))
    serve_stream_cancel(c->stream);
  if (!c->ctx->params->quiet)
    azc_log_info("serve: %s %s %d %.1f ms%s", c->method, c->path, c->status,
                 (double)(azc_serve_now_ns() - c->t0) / 1e6,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
  serve_stream_free(c->ctx, c->stream);
  azc_buf_free(&c->body);
  azc_buf_free(&c->out);
  free(c);
  *con_cls = NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *connection, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls) {
  (void)version;
  serve_ctx_t *ctx = cls;
  conn_t *c = *con_cls;
  if (!c) {
    c = calloc(1, sizeof(*c));
    if (!c) return MHD_NO;
    c->ctx = ctx;
    c->mhd = connection;
    c->t0 = azc_serve_now_ns();
    snprintf(c->method, sizeof(c->method), "%s", method);
    snprintf(c->path, sizeof(c->path), "%s", url);
    c->head = !strcmp(method, "HEAD");
    *con_cls = c;
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (c->body.len + *upload_data_size > ctx->params->max_body) c->too_big = true;
    if (!c->too_big) azc_buf_put(&c->body, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  serve_reply_t r;
  if (c->body.oom) {
    memset(&r, 0, sizeof(r));
    r.status = 500;
    r.content_type = "application/json";
    azc_buf_puts(&r.body, "{\"error\":\"out of memory reading the request body\"}\n");
  } else {
    serve_api_handle(ctx, method, url, c->body.data ? c->body.data : "", c->body.len, c->too_big,
                     &r);
  }
  c->status = r.status;
  int cls_i = r.status / 100;
  if (cls_i >= 2 && cls_i <= 5) atomic_fetch_add(&ctx->requests[cls_i], 1);
  struct MHD_Response *resp;
  if (r.stream) {
    c->stream = r.stream;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, c, reader_free);
  } else {
    size_t n = c->head ? 0 : r.body.len;
    resp = MHD_create_response_from_buffer(n, n ? r.body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
  }
  azc_buf_free(&r.body);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type",
                          r.content_type ? r.content_type : "application/json");
  if (r.stream && !strcmp(r.content_type, "text/event-stream"))
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(connection, (unsigned)r.status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n') msg[--n] = 0;
  azc_log_debug("serve: libmicrohttpd: %s", msg);
}

azc_status_t azc_serve_run(const azc_serve_params_t *p, volatile sig_atomic_t *stop) {
  serve_metrics_t *metrics = calloc(1, sizeof(*metrics));
  serve_ctx_t *ctx = calloc(1, sizeof(*ctx));
  if (!metrics || !ctx) {
    free(metrics);
    free(ctx);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "serve");
  }
  ctx->metrics = metrics;
  ctx->params = p;
  serve_models_params_t mp = {p->store_dir,      p->models,
                              p->n_models,       p->parallel,
                              p->queue,          p->n_ctx,
                              p->n_threads,      metrics,
                              p->kv_type,        (int64_t)p->batch_window_ms * 1000000,
                              p->gpu_layers_set, p->n_gpu_layers};
  azc_status_t st = serve_models_create(&mp, &ctx->models);
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  char port[16];
  snprintf(port, sizeof(port), "%d", p->port);
  if (!st) {
    int gai = getaddrinfo(p->host, port, &hints, &ai);
    if (gai)
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "serve: --host '%s': %s", p->host, gai_strerror(gai));
  }
  struct MHD_Daemon *d = NULL;
  if (!st) {
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned limit = (unsigned)(p->parallel + p->queue + 64);
    d = MHD_start_daemon(flags, (uint16_t)p->port, NULL, NULL, handler, ctx, MHD_OPTION_SOCK_ADDR,
                         ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT, 0u,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!d)
      st = AZC_ERR(
          AZC_IO, "serve: cannot listen on %s port %d (in use, or not an address of this machine?)",
          p->host, p->port);
  }
  if (ai) freeaddrinfo(ai);
  if (!st) {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = di ? di->port : p->port;
    fprintf(stderr, "azc: serve: %d models named, store %s; %d slots per model, queue %d\n",
            p->n_models, p->store_dir ? p->store_dir : "(default)", p->parallel, p->queue);
    fprintf(stderr, "azc: serve: listening on http://%s:%d\n", p->host, bound);
    fflush(stderr);
    while (!*stop) usleep(50 * 1000);
    fprintf(stderr, "azc: serve: stopping\n");
    MHD_stop_daemon(d);
  }
  serve_models_destroy(ctx->models);
  free(ctx);
  free(metrics);
  return st;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int azc_serve_main(int argc, char **argv, const char *prog) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      azc_serve_usage(stdout, prog);
      return 0;
    }
  azc_serve_params_t p = azc_serve_params_default();
  const char **models = calloc((size_t)argc + 1, sizeof(char *));
  if (!models) return 1;
  azc_status_t st = azc_serve_parse_args(argc, argv, &p, models);
  if (st) azc_serve_usage(stderr, prog);
  if (!st) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (azc_log_get_level() < AZC_LOG_INFO && !p.quiet) azc_log_set_level(AZC_LOG_INFO);
    st = azc_serve_run(&p, &g_stop);
  }
  free(models);
  if (st) {
    fprintf(stderr, "azc: error: %s\n", azc_status_message(st));
    azc_status_free(st);
    return 1;
  }
  return 0;
}
