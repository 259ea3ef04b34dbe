/* Building bundles from GGUF files and Modelfiles (see build.h). The GGUF
 * path is the whole compile pipeline with its progress lines; a Modelfile
 * over a bundle or a store model copies the base's sections (the weights
 * file to file) and rewrites the defaults record and the chat section. */
#include "cli/build.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "codegen/backend.h"
#include "codegen/bundle_writer.h"
#include "frontend/model.h"
#include "frontend/modelfile.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/cuda_code.h"
#include "runtime/model_store.h"

typedef struct progress_state {
  int last_done;
  double t0;
} progress_state_t;

static void on_kernel(void *user, int done, int total, bool hit, double ms, const char *desc) {
  (void)user;
  fprintf(stderr, "azc: compile: kernel %3d/%d %s %7.1f ms  %s\n", done, total,
          hit ? "cache" : "built", ms, desc);
}

static void on_weights(void *user, uint64_t done, uint64_t total) {
  progress_state_t *p = user;
  int pct = total ? (int)(100 * done / total) : 100;
  if (pct / 10 != p->last_done / 10 || done == total) {
    fprintf(stderr, "\razc: compile: weights %3d%% (%.1f of %.1f MiB)", pct,
            (double)done / (1 << 20), (double)total / (1 << 20));
    cli_line_open = done != total;
    if (done == total) fprintf(stderr, "\n");
    p->last_done = pct;
  }
}

static void print_ops(const char *label, const int *counts, int nodes) {
  fprintf(stderr, "azc: compile: %s: %d nodes:", label, nodes);
  for (int i = 0; i < AZC_OP_COUNT; i++)
    if (counts[i] && i != AZC_OP_WEIGHT)
      fprintf(stderr, " %s %d", azc_op_info((azc_op_t)i)->name, counts[i]);
  fprintf(stderr, "\n");
}

azc_status_t cli_compile_gguf(const char *model_path, const char *out, azc_compile_options_t *opt,
                              const azc_bundle_defaults_t *defaults, azc_chat_info_t *chat) {
  azc_bundle_defaults_t def = *defaults;
  double t0 = azc_time_ms();
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  azc_tokenizer_t *tok = NULL;
  azc_chat_info_t *own_chat = NULL;
  progress_state_t ps = {-1, t0};
  azc_status_t st = azc_model_open(model_path, &m);
  if (!st) st = azc_model_lower(m, &g);
  /* the chat section: the GGUF's template and what detection made of it */
  if (!st && !chat && !(chat = own_chat = azc_chat_info_create()))
    st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  if (!st && m->tok.n_vocab) st = azc_tokenizer_create(&m->tok, &tok);
  if (!st && tok)
    st = azc_chat_info_set_gguf_template(chat, m->chat_template.data, m->chat_template.size, tok);
  if (!st && chat->template_name)
    fprintf(stderr, "azc: compile: chat template: builtin %s (the GGUF's, verified)\n",
            chat->template_name);
  else if (!st && chat->template_jinja)
    fprintf(stderr,
            "azc: compile: chat template: jinja (the GGUF's, evaluated by azc; not a "
            "builtin: %s)\n",
            chat->template_jinja);
  else if (!st && chat->template_refusal)
    fprintf(stderr, "azc: compile: chat template refused: %s\n", chat->template_refusal);
  double t_front = azc_time_ms();
  if (!st) {
    fprintf(stderr, "azc: compile: %s: %s, %d layers, %d-dim, vocab %d\n", model_path, m->hp.arch,
            m->hp.n_layer, m->hp.n_embd, m->hp.n_vocab);
    opt->progress = on_kernel;
    if (def.n_ctx > 0) opt->n_ctx = def.n_ctx;
    /* -ngl (or --gpu-layers) and a Modelfile's num_gpu set the same default.
     * Asked for on the command line, GPU code must be built (without NVRTC
     * the compile says so and fails); a Modelfile's num_gpu is a run-time
     * preference, as in Ollama: without NVRTC it is kept as the default and
     * the bundle runs on the CPU, with one warning. */
    if (opt->n_gpu_layers != 0) {
      def.n_gpu_layers = opt->n_gpu_layers;
    } else if (def.n_gpu_layers != 0 && !opt->gpu_arch && !azc_codegen_backend_find("cuda")) {
      fprintf(stderr,
              "azc: warning: num_gpu %d: GPU code generation is not built in (this azc was "
              "configured without NVRTC); the bundle runs on the CPU\n",
              def.n_gpu_layers);
    } else {
      opt->n_gpu_layers = def.n_gpu_layers;
    }
    st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, opt, &c);
  }
  double t_compile = azc_time_ms();
  if (!st) {
    const azc_compile_stats_t *s = &c->stats;
    print_ops("ops before fusion", s->ops_before, s->nodes_before);
    print_ops(opt->fuse ? "ops after fusion " : "ops, fusion off ", s->ops_after, s->nodes_after);
    char target[512];
    azc_compiled_describe_target(c, target, sizeof(target));
    fprintf(stderr,
            "azc: compile: target %s\n"
            "azc: compile: %d steps, %d distinct kernels: %d from the cache, %d compiled%s\n"
            "azc: compile: activation arena %.2f MiB for %lld tokens per call\n",
            target, s->steps, s->kernels, s->cache_hits, s->cache_misses,
            s->cache_rebuilt ? " (damaged cache entries rebuilt)" : "",
            (double)s->arena_bytes / (1 << 20), (long long)opt->n_batch);
    if (c->stats.link_summary[0]) {
      int64_t bytes[AZC_DEVICE_COUNT];
      azc_plan_device_weight_bytes(c->plan, bytes);
      fprintf(stderr,
              "azc: compile: %s\n"
              "azc: compile: placement: layers [0, %d) on cuda, [%d, %d) on cpu (default -ngl "
              "%d%s); weights %.2f MiB on cuda, %.2f MiB on cpu\n",
              s->link_summary, s->gpu_layers, s->gpu_layers, c->plan->n_layer, def.n_gpu_layers,
              def.n_gpu_layers < 0 ? ", auto: decided at run time" : "",
              (double)bytes[AZC_DEVICE_CUDA] / (1 << 20),
              (double)bytes[AZC_DEVICE_CPU] / (1 << 20));
    }
    st = azc_bundle_emit(out, m, c, &def, chat, on_weights, &ps);
  }
  double t_end = azc_time_ms();
  if (!st) {
    const azc_compile_stats_t *s = &c->stats;
    fprintf(stderr, "azc: compile: wrote %s\n\n", out);
    fprintf(stderr, "azc: frontend   = %9.2f ms (read GGUF, lower to IR)\n", t_front - t0);
    fprintf(stderr, "azc: passes     = %9.2f ms\n", s->ms_passes);
    fprintf(stderr, "azc: codegen    = %9.2f ms (%d kernels through LLVM, summed over jobs)\n",
            s->ms_codegen, s->cache_misses);
    fprintf(stderr, "azc: cache      = %9.2f ms (%d kernels read)\n", s->ms_cache, s->cache_hits);
    fprintf(stderr, "azc: kernels    = %9.2f ms wall\n", s->ms_kernels_wall);
    if (s->link_summary[0])
      fprintf(stderr, "azc: nvrtc      = %9.2f ms (one program for the model%s)\n", s->ms_link,
              s->link_cache_hit ? ", from the cache" : "");
    fprintf(stderr,
            "azc: repack     = %9.2f ms (%.1f MiB of weights into target layouts: %d from the "
            "cache, %d repacked)\n",
            s->ms_repack, (double)s->repacked_bytes / (1 << 20), s->repack_cache_hits,
            s->repack_cache_misses);
    fprintf(stderr, "azc: weights+write = %6.2f ms\n", t_end - t_compile);
    fprintf(stderr, "azc: total      = %9.2f ms\n", t_end - t0);
  }
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  azc_chat_info_destroy(own_chat);
  azc_tokenizer_destroy(tok);
  return st;
}

/* ---- Modelfiles ---- */

enum { KIND_OTHER, KIND_GGUF, KIND_BUNDLE };

static int file_kind(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[8] = {0};
  size_t n = f ? fread(magic, 1, 8, f) : 0;
  if (f) fclose(f);
  if (n >= 4 && !memcmp(magic, "GGUF", 4)) return KIND_GGUF;
  if (n == 8 && !memcmp(magic, AZC_BUNDLE_MAGIC, 8)) return KIND_BUNDLE;
  return KIND_OTHER;
}

bool cli_is_modelfile(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && file_kind(path) == KIND_OTHER;
}

static azc_status_t line_err(const azc_modelfile_t *mf, const azc_mf_command_t *c, azc_status_t st,
                             const char *word) {
  azc_status_t w = AZC_ERR(AZC_INVALID_ARGUMENT, "%s:%d: %s '%s': %s", mf->path, c->line,
                           c->kind == AZC_MF_FROM ? "FROM" : "DRAFT", word, azc_status_message(st));
  azc_status_free(st);
  return w;
}

/* A FROM or DRAFT value: a file (relative to the Modelfile's folder, or
 * absolute, or ~/...), else a model in the store. *path is malloc'd. */
static azc_status_t resolve_model(const azc_modelfile_t *mf, const azc_mf_command_t *c,
                                  const char *store, char **path, bool *in_store) {
  *path = NULL;
  *in_store = false;
  const char *arg = c->args, *home = getenv("HOME");
  size_t n = strlen(arg) + strlen(mf->path) + (home ? strlen(home) : 0) + 4;
  char *cand = malloc(n);
  if (!cand) return AZC_ERR(AZC_OUT_OF_MEMORY, "model path");
  if (arg[0] == '~' && arg[1] == '/' && home) {
    snprintf(cand, n, "%s%s", home, arg + 1);
  } else if (arg[0] == '/') {
    snprintf(cand, n, "%s", arg);
  } else {
    const char *slash = strrchr(mf->path, '/');
    if (slash)
      snprintf(cand, n, "%.*s/%s", (int)(slash - mf->path), mf->path, arg);
    else
      snprintf(cand, n, "%s", arg);
  }
  struct stat sb;
  if (stat(cand, &sb) == 0) {
    if (!S_ISREG(sb.st_mode)) {
      azc_status_t st = AZC_ERR(AZC_UNSUPPORTED,
                                "%s is not a file (azc reads GGUF files and azc bundles; "
                                "safetensors folders are not supported)",
                                cand);
      free(cand);
      return line_err(mf, c, st, arg);
    }
    if (file_kind(cand) == KIND_OTHER) {
      azc_status_t st =
          AZC_ERR(AZC_UNSUPPORTED, "%s is neither a GGUF file nor an azc bundle", cand);
      free(cand);
      return line_err(mf, c, st, arg);
    }
    *path = cand;
    return NULL;
  }
  azc_model_store_entry_t e;
  char norm[AZC_MODEL_NAME_MAX];
  azc_status_t st = azc_model_name_normalize(arg, norm);
  if (st) { /* not a name either: say only what was looked for */
    azc_status_free(st);
    st = AZC_ERR(AZC_NOT_FOUND, "no such file %s (paths are relative to the Modelfile's folder)",
                 cand);
    free(cand);
    return line_err(mf, c, st, arg);
  }
  st = azc_model_store_find(store, arg, &e);
  if (st) {
    azc_status_t w = AZC_ERR(AZC_NOT_FOUND, "no file %s, and %s", cand, azc_status_message(st));
    azc_status_free(st);
    free(cand);
    return line_err(mf, c, w, arg);
  }
  free(cand);
  *path = e.path;
  *in_store = true;
  return NULL;
}

static void on_warn(void *user, const char *message) {
  (void)user;
  fprintf(stderr, "azc: warning: %s\n", message);
}

/* The base bundle's defaults record and chat section. */
static azc_status_t read_base(azc_bundle_t *b, azc_bundle_defaults_t *d, azc_chat_info_t **ci) {
  const void *data;
  uint64_t size;
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, AZC_SECTION_DEFAULTS, &data, &size));
  if (size != sizeof(*d) || memcmp(data, "AZCDEF02", 8))
    return AZC_ERR(AZC_CORRUPT, "%s: section 'defaults' is not an AZCDEF02 record of %zu bytes",
                   azc_bundle_path(b), sizeof(*d));
  memcpy(d, data, sizeof(*d));
  if (!azc_bundle_has_section(b, AZC_SECTION_CHAT)) {
    *ci = azc_chat_info_create();
    return *ci ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  }
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, AZC_SECTION_CHAT, &data, &size));
  return azc_chat_info_parse(data, (size_t)size, ci);
}

/* Writes the base bundle's sections to `out` with new defaults and chat
 * sections; the weights are copied file to file. */
static azc_status_t relayer(azc_bundle_t *b, const azc_bundle_defaults_t *d,
                            const azc_chat_info_t *ci, const char *out) {
  uint8_t *chat = NULL;
  size_t chat_size = 0;
  AZC_RETURN_IF_ERROR(azc_chat_info_serialize(ci, &chat, &chat_size));
  azc_bundle_writer_t *w = NULL;
  azc_status_t st = azc_bundle_writer_create(&w);
  int fd = open(azc_bundle_path(b), O_RDONLY | O_CLOEXEC);
  if (!st && fd < 0) st = AZC_ERR(AZC_IO, "%s: cannot open for copying", azc_bundle_path(b));
  azc_bundle_piece_t piece;
  for (size_t i = 0; !st && i < azc_bundle_section_count(b); i++) {
    azc_bundle_section_info_t info;
    st = azc_bundle_section_info(b, i, &info);
    if (st || !strcmp(info.name, AZC_SECTION_CHAT)) continue;
    if (!strcmp(info.name, AZC_SECTION_DEFAULTS)) {
      st = azc_bundle_writer_add(w, info.name, d, sizeof(*d), info.align);
      if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_CHAT, chat, chat_size, 0);
      continue;
    }
    const void *data;
    uint64_t size;
    st = azc_bundle_section(b, info.name, &data, &size);
    if (!st && !strcmp(info.name, AZC_SECTION_WEIGHTS)) {
      piece = (azc_bundle_piece_t){fd, info.offset, data, 0, size};
      st = azc_bundle_writer_add_pieces(w, info.name, size, info.align, &piece, 1);
    } else if (!st) {
      st = azc_bundle_writer_add(w, info.name, data, (size_t)size, info.align);
    }
  }
  if (!st) st = azc_bundle_writer_write(w, out);
  if (fd >= 0) close(fd);
  azc_bundle_writer_destroy(w);
  free(chat);
  return st;
}

azc_status_t cli_build_modelfile(const char *mf_path, const char *out, azc_compile_options_t *opt) {
  double t0 = azc_time_ms();
  azc_modelfile_t *mf = NULL;
  AZC_RETURN_IF_ERROR(azc_modelfile_read(mf_path, &mf));
  char *store = NULL, *base = NULL, *draft = NULL;
  bool in_store = false, draft_in_store = false;
  azc_chat_info_t *ci = NULL;
  azc_bundle_t *b = NULL;
  azc_status_t st = azc_model_store_dir(NULL, &store);
  const azc_mf_command_t *from = azc_modelfile_from(mf);
  if (!st && !from)
    st = AZC_ERR(AZC_INVALID_ARGUMENT, "%s: no FROM line (a Modelfile names its model with FROM)",
                 mf->path);
  if (!st && !*from->args)
    st =
        AZC_ERR(AZC_INVALID_ARGUMENT, "%s:%d: FROM needs a model (a GGUF path, a bundle or a name)",
                mf->path, from->line);
  if (!st) st = resolve_model(mf, from, store, &base, &in_store);
  int kind = base ? file_kind(base) : KIND_OTHER;
  azc_options_t opts;
  memset(&opts, 0, sizeof(opts));
  azc_bundle_defaults_t def = azc_bundle_defaults_default();
  if (!st && kind == KIND_BUNDLE) {
    st = azc_bundle_open(base, 0, &b);
    if (!st) st = read_base(b, &def, &ci);
    if (!st)
      st = azc_options_from_stored(&def, (const char *const *)ci->param_name,
                                   (const char *const *)ci->param_value, ci->n_params, &opts);
    if (!st) opts.set = 0; /* only what this Modelfile sets is new */
  } else if (!st && !(ci = azc_chat_info_create())) {
    st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  }
  if (!st) st = azc_modelfile_apply(mf, &opts, ci, on_warn, NULL);
  /* DRAFT is stored resolved: a file's full path, or a store name */
  for (size_t i = 0; !st && i < mf->n_cmds; i++) {
    const azc_mf_command_t *c = &mf->cmds[i];
    if (c->kind != AZC_MF_DRAFT) continue;
    free(draft);
    draft = NULL;
    st = resolve_model(mf, c, store, &draft, &draft_in_store);
    if (!st && draft_in_store)
      st = azc_chat_info_set(ci, AZC_CHAT_DRAFT, c->args, strlen(c->args));
    else if (!st) {
      char *full = realpath(draft, NULL);
      st = azc_chat_info_set(ci, AZC_CHAT_DRAFT, full ? full : draft, strlen(full ? full : draft));
      free(full);
    }
  }
  if (!st) {
    azc_options_to_defaults(&opts, &def);
    fprintf(stderr, "azc: create: %s: FROM %s (%s)\n", mf->path, base,
            kind == KIND_GGUF ? "GGUF, compiled"
            : in_store        ? "a model in the store"
                              : "a bundle");
  }
  if (!st && kind == KIND_GGUF) {
    if (azc_options_has(&opts, AZC_OPT_NUM_BATCH)) opt->n_batch = opts.v[AZC_OPT_NUM_BATCH].i;
    st = cli_compile_gguf(base, out, opt, &def, ci);
  } else if (!st) {
    if (def.n_gpu_layers != 0 && !azc_bundle_has_section(b, AZC_SECTION_CUDA_CODE))
      fprintf(stderr,
              "azc: warning: %s: num_gpu %d, but its base %s has no GPU code, so it runs on the "
              "CPU (build it from the GGUF, or compile the base with --gpu-arch)\n",
              mf->path, def.n_gpu_layers, base);
    st = relayer(b, &def, ci, out);
    if (!st)
      fprintf(stderr, "azc: create: wrote %s\n\nazc: total      = %9.2f ms\n", out,
              azc_time_ms() - t0);
  }
  azc_bundle_close(b);
  azc_chat_info_destroy(ci);
  azc_modelfile_free(mf);
  free(draft);
  free(base);
  free(store);
  return st;
}
