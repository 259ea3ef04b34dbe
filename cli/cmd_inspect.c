/* azc inspect MODEL.gguf [--ir [--after PASS]] [--passes] | MODEL.bundle:
 * what azc read from a GGUF file (file facts, hyperparameters, tokenizer,
 * every metadata key, the tensor table), the IR it lowers to and the IR after
 * any pass; or, for a bundle, its sections with checksums, the model, the
 * code target and required CPU features, the run defaults, the plan and every
 * kernel with its cache key. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/model.h"
#include "passes/passes.h"
#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/chat_info.h"
#include "runtime/cuda_code.h"
#include "runtime/plan.h"
#include "runtime/tokenizer.h"

static void print_metadata(const azc_gguf_t *g) {
  printf("metadata (%" PRIu64 " keys):\n", g->n_kv);
  char buf[512];
  for (uint64_t i = 0; i < g->n_kv; i++) {
    const azc_gguf_kv_t *kv = &g->kv[i];
    azc_gguf_value_format(&kv->value, buf, sizeof(buf), 6);
    const char *t = azc_gguf_type_name(kv->value.type);
    printf("  %-44.*s %-8s %s\n", (int)AZC_MIN(kv->key.size, 200), kv->key.data, t, buf);
  }
}

static void print_tensors(const azc_gguf_t *g) {
  printf("tensors (%" PRIu64 "):\n", g->n_tensors);
  printf("  %-36s %-6s %-22s %12s\n", "name", "type", "shape", "bytes");
  uint64_t total = 0, per_type[AZC_DTYPE_COUNT] = {0}, count[AZC_DTYPE_COUNT] = {0};
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    char shape[96];
    size_t k = 0;
    for (int d = (int)t->n_dims - 1; d >= 0; d--)
      k += (size_t)snprintf(shape + k, sizeof(shape) - k, "%s%" PRId64, k ? ", " : "[", t->ne[d]);
    snprintf(shape + k, sizeof(shape) - k, "%s]", k ? "" : "[");
    printf("  %-36s %-6s %-22s %12" PRIu64 "\n", t->name, azc_dtype_name(t->type), shape, t->size);
    total += t->size;
    per_type[t->type] += t->size;
    count[t->type]++;
  }
  printf("  total %" PRIu64 " bytes (%.2f MiB):", total, (double)total / (1 << 20));
  for (int i = 0; i < AZC_DTYPE_COUNT; i++)
    if (count[i]) printf(" %s x%" PRIu64, azc_dtype_name((uint32_t)i), count[i]);
  printf("\n");
}

static void print_token(const azc_tokenizer_desc_t *t, const char *label, int32_t id) {
  if (id < 0) return;
  printf(" %s %d '%.*s'", label, id, (int)AZC_MIN(t->tokens[id].size, 32), t->tokens[id].data);
}

/* The chat template a chat would use, and where it comes from. */
static void print_chat(const azc_chat_info_t *ci) {
  if (ci->template_src)
    printf("chat template: Modelfile TEMPLATE (Go template, %zu bytes)%s\n",
           strlen(ci->template_src), ci->template_name ? "; the GGUF's was verified too" : "");
  else if (ci->template_name)
    printf("chat template: builtin %s (the GGUF's tokenizer.chat_template, %zu bytes, verified to "
           "render as llama.cpp's builtin)%s\n",
           ci->template_name, ci->gguf_template ? strlen(ci->gguf_template) : 0,
           ci->no_system ? "; the template rejects system messages" : "");
  else if (ci->template_jinja && ci->gguf_template)
    printf("chat template: jinja (evaluated by azc: the GGUF's tokenizer.chat_template, %zu "
           "bytes)%s\n  not a builtin: %s\n",
           strlen(ci->gguf_template), ci->no_system ? "; the template rejects system messages" : "",
           ci->template_jinja);
  else if (ci->gguf_template)
    printf("chat template: refused (the GGUF's, %zu bytes): %s\n", strlen(ci->gguf_template),
           ci->template_refusal ? ci->template_refusal : "not recognised");
  else
    printf("chat template: none (Ollama's default {{ .Prompt }})\n");
  azc_chat_template_t *t = NULL;
  azc_status_t st = azc_chat_info_template(ci, NULL, &t);
  if (!st) {
    const char *const *stops;
    size_t n = azc_chat_template_stops(t, &stops);
    printf("  stop strings:");
    for (size_t i = 0; i < n; i++) printf(" '%s'", stops[i]);
    printf("%s\n", n ? "" : " (none; the model's end-of-generation tokens end a turn)");
  }
  azc_status_free(st);
  azc_chat_template_destroy(t);
  if (ci->system) printf("  system: %zu bytes\n", strlen(ci->system));
  if (ci->n_messages) printf("  messages: %zu\n", ci->n_messages);
  for (size_t i = 0; i < ci->n_params; i++)
    printf("  parameter %s %s\n", ci->param_name[i], ci->param_value[i]);
  if (ci->from) printf("  from: %s\n", ci->from);
  if (ci->draft) printf("  draft: %s\n", ci->draft);
}

/* ---- bundles ---- */
static azc_status_t record(azc_bundle_t *b, const char *name, void *dst, size_t size) {
  const void *data;
  uint64_t n;
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, name, &data, &n));
  if (n != size)
    return AZC_ERR(AZC_CORRUPT, "section '%s' has %llu bytes", name, (unsigned long long)n);
  memcpy(dst, data, size);
  return NULL;
}

/* The cuda.code section: images, source, key, and the default placement. */
static void print_cuda(const azc_cuda_code_t *cc, const azc_plan_t *p,
                       const azc_bundle_defaults_t *d) {
  char key[33];
  for (int i = 0; i < 16; i++) snprintf(key + 2 * i, 3, "%02x", cc->header.module_key[15 - i]);
  printf("cuda code: %d kernels, CUDA C source %zu bytes, NVRTC %s, ABI %u, module key %s\n",
         cc->n_kernels, cc->source_size, cc->header.nvrtc_version, cc->header.abi_version, key);
  for (int i = 0; i < cc->n_images; i++)
    printf("  sm_%d %-5s %10zu bytes\n", cc->images[i].sm, cc->images[i].is_ptx ? "PTX" : "cubin",
           cc->images[i].size);
  int32_t n_gpu = azc_cuda_code_gpu_layers(p, cc);
  int64_t bytes[AZC_DEVICE_COUNT];
  azc_plan_device_weight_bytes(p, bytes);
  printf("placement (default -ngl %d%s): layers [0, %d) on cuda, [%d, %d) on cpu; weights %.2f "
         "MiB on cuda, %.2f MiB on cpu\n",
         d->n_gpu_layers, d->n_gpu_layers < 0 ? ", auto: as many as fit at run time" : "", n_gpu,
         n_gpu, cc->n_layer, (double)bytes[AZC_DEVICE_CUDA] / (1 << 20),
         (double)bytes[AZC_DEVICE_CPU] / (1 << 20));
  /* each layer's device, as the steps say */
  int32_t j = 0;
  uint32_t *dev = calloc((size_t)cc->n_layer, sizeof(uint32_t));
  for (int32_t i = 0; dev && i < p->n_steps; i++)
    if (p->steps[i].op == AZC_STEP_KERNEL && j < cc->n_groups)
      dev[cc->groups[j++]] |= 1u << p->steps[i].device;
  for (int32_t l = 0; dev && l < cc->n_layer;) {
    int32_t e = l;
    while (e + 1 < cc->n_layer && dev[e + 1] == dev[l]) e++;
    printf("  layers %d-%d: %s%s\n", l, e, dev[l] & (1u << AZC_DEVICE_CUDA) ? "cuda" : "",
           dev[l] == ((1u << AZC_DEVICE_CUDA) | (1u << AZC_DEVICE_CPU)) ? "+cpu"
           : dev[l] & (1u << AZC_DEVICE_CUDA)                           ? ""
                                                                        : "cpu");
    l = e + 1;
  }
  free(dev);
}

static azc_status_t inspect_bundle(const char *path) {
  azc_bundle_t *b;
  AZC_RETURN_IF_ERROR(azc_bundle_open(path, 0, &b));
  azc_status_t st = NULL;
  printf("bundle: %s (%.2f MiB, format version %u, written by azc %s)\n", path,
         (double)azc_bundle_file_size(b) / (1 << 20), AZC_BUNDLE_FORMAT_VERSION,
         azc_bundle_azc_version(b));
  printf("sections (%zu):\n  %-12s %12s %12s %6s  %s\n", azc_bundle_section_count(b), "name",
         "offset", "size", "align", "xxh3-64");
  for (size_t i = 0; !st && i < azc_bundle_section_count(b); i++) {
    azc_bundle_section_info_t info;
    st = azc_bundle_section_info(b, i, &info);
    if (!st)
      printf("  %-12s %12llu %12llu %6u  %016llx\n", info.name, (unsigned long long)info.offset,
             (unsigned long long)info.size, info.align, (unsigned long long)info.checksum);
  }
  azc_bundle_meta_t meta;
  azc_bundle_cpu_target_t t;
  memset(&t, 0, sizeof(t));
  azc_bundle_defaults_t d;
  if (!st) st = record(b, AZC_SECTION_META, &meta, sizeof(meta));
  bool cpu_code = azc_bundle_has_section(b, AZC_SECTION_CPU_TARGET); /* a plan with CPU kernels */
  if (!st && cpu_code) st = record(b, AZC_SECTION_CPU_TARGET, &t, sizeof(t));
  if (!st) st = record(b, AZC_SECTION_DEFAULTS, &d, sizeof(d));
  if (!st) {
    meta.arch[sizeof(meta.arch) - 1] = meta.name[sizeof(meta.name) - 1] = 0;
    meta.source[sizeof(meta.source) - 1] = 0;
    if (cpu_code) t.triple[63] = t.cpu[63] = t.variant[31] = t.required[511] = 0;
    printf("model: %s \"%s\" from %s: %d layers, %d-dim, %d heads (%d kv), ffn %d, vocab %d, "
           "trained context %d, %.2f MiB of weights\n",
           meta.arch, meta.name, meta.source, meta.n_layer, meta.n_embd, meta.n_head,
           meta.n_head_kv, meta.n_ff, meta.n_vocab, meta.n_ctx_train,
           (double)meta.weight_bytes / (1 << 20));
    if (cpu_code)
      printf("code: %s, cpu %s, kernel variant %s\n  requires: %s\n", t.triple, t.cpu, t.variant,
             t.required[0] ? t.required : "(baseline)");
    printf("defaults: temp %g, top-k %d, top-p %g, min-p %g, typical-p %g, repeat-penalty %g "
           "(last %d), presence %g, frequency %g, n %d, ctx %d, threads %d, gpu layers %d, "
           "seed %s\n",
           (double)d.temperature, d.top_k, (double)d.top_p, (double)d.min_p, (double)d.typical_p,
           (double)d.repeat_penalty, d.repeat_last_n, (double)d.presence_penalty,
           (double)d.frequency_penalty, d.n_predict, d.n_ctx, d.n_threads, d.n_gpu_layers,
           d.seed == UINT64_MAX ? "random" : "fixed");
  }
  const void *data;
  uint64_t size;
  if (!st && azc_bundle_has_section(b, AZC_SECTION_CHAT)) {
    azc_chat_info_t *ci = NULL;
    st = azc_bundle_section(b, AZC_SECTION_CHAT, &data, &size);
    if (!st) st = azc_chat_info_parse(data, (size_t)size, &ci);
    if (!st) print_chat(ci);
    azc_chat_info_destroy(ci);
  } else if (!st) {
    printf("chat template: no chat section (a bundle from an older azc)\n");
  }
  azc_plan_t *p = NULL;
  if (!st) st = azc_bundle_section(b, AZC_SECTION_PLAN, &data, &size);
  if (!st) st = azc_plan_deserialize(data, (size_t)size, &p);
  /* every device's code section ("cpu.code", ...): header, then {offset, size} per kernel */
  const uint8_t *code[AZC_DEVICE_COUNT] = {0};
  uint64_t code_size[AZC_DEVICE_COUNT] = {0};
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    int32_t dev = p->kernels[k].device;
    char name[32];
    snprintf(name, sizeof(name), "%s.code", azc_device_name(dev));
    if (!code[dev]) st = azc_bundle_section(b, name, (const void **)&code[dev], &code_size[dev]);
  }
  azc_cuda_code_t *cc = NULL;
  if (!st && code[AZC_DEVICE_CUDA]) {
    st = azc_cuda_code_read(code[AZC_DEVICE_CUDA], (size_t)code_size[AZC_DEVICE_CUDA], &cc);
    if (!st) st = azc_cuda_code_check_plan(cc, p);
  }
  if (!st) {
    int copies = 0;
    for (int32_t i = 0; i < p->n_steps; i++) copies += p->steps[i].op == AZC_STEP_COPY;
    printf("plan: %d steps (%d copies between devices), %d kernels, %d weights, arena %.2f MiB for "
           "up to %lld tokens per call\n",
           p->n_steps, copies, p->n_kernels, p->n_weights, (double)p->arena_bytes / (1 << 20),
           (long long)p->plan_T);
    for (int32_t i = 0; i < p->n_steps; i++)
      if (p->steps[i].op == AZC_STEP_COPY)
        printf("  step %d: copy %lld bytes/row at arena offset %lld, %s -> %s\n", i,
               (long long)p->steps[i].out_row_bytes, (long long)p->steps[i].out.offset,
               azc_device_name(p->steps[i].from_device), azc_device_name(p->steps[i].device));
    printf("kernels:\n");
    int index[AZC_DEVICE_COUNT] = {0}; /* a kernel's place in its device's section */
    for (int32_t k = 0; k < p->n_kernels; k++) {
      int uses = 0;
      for (int32_t i = 0; i < p->n_steps; i++)
        uses += p->steps[i].op == AZC_STEP_KERNEL && p->steps[i].kernel == k;
      int32_t dev = p->kernels[k].device;
      int at = index[dev]++;
      if (dev == AZC_DEVICE_CUDA) { /* its launches, from cuda.code */
        char launches[160] = "";
        size_t n = 0;
        const azc_cuda_kernel_info_t *info =
            cc && at < cc->n_kernels ? &cc->kernels[at].info : NULL;
        for (int32_t l = 0; info && l < info->n_launch && n < sizeof(launches); l++)
          n += (size_t)snprintf(launches + n, sizeof(launches) - n, "%s%s%s %dx%d", l ? ", " : "",
                                info->launch[l].suffix[0] ? info->launch[l].suffix : "main",
                                info->launch[l].when == AZC_CUDA_WHEN_ONE_ROW     ? "(M=1)"
                                : info->launch[l].when == AZC_CUDA_WHEN_MANY_ROWS ? "(M>1)"
                                                                                  : "",
                                info->launch[l].grid_x, info->launch[l].block);
        printf("  %s  cuda x%-3d %s  [%s]\n", p->kernels[k].symbol, uses, p->kernels[k].desc,
               launches);
        continue;
      }
      uint64_t obj = 0;
      if (16 + 16ull * (uint64_t)(at + 1) <= code_size[dev])
        memcpy(&obj, code[dev] + 16 + 16 * at + 8, 8);
      printf("  %s  %-4s %6llu bytes  x%-3d %s\n", p->kernels[k].symbol, azc_device_name(dev),
             (unsigned long long)obj, uses, p->kernels[k].desc);
    }
    if (cc) print_cuda(cc, p, &d);
  }
  azc_cuda_code_free(cc);
  azc_plan_free(p);
  azc_bundle_close(b);
  return st;
}

static bool is_bundle(const char *path) {
  FILE *f = fopen(path, "rb");
  char magic[8] = {0};
  bool yes = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, AZC_BUNDLE_MAGIC, 8);
  if (f) fclose(f);
  return yes;
}

static int print_ir(azc_model_t *m, const char *path, const char *after) {
  azc_ir_graph_t *graph;
  azc_status_t st = azc_model_lower(m, &graph);
  if (st) return cli_fail(st);
  if (after) {
    azc_pass_options_t o = azc_pass_options_default();
    o.stop_after = after;
    st = azc_passes_run(graph, &o, NULL, NULL);
    if (st) {
      azc_ir_graph_destroy(graph);
      return cli_fail(st);
    }
  }
  int counts[AZC_OP_COUNT];
  azc_ir_op_counts(graph, counts);
  printf("// %s%s%s: %d nodes\n// ops:", path, after ? " after pass " : "", after ? after : "",
         graph->n_nodes);
  for (int i = 0; i < AZC_OP_COUNT; i++)
    if (counts[i]) printf(" %s %d", azc_op_info((azc_op_t)i)->name, counts[i]);
  printf("\n");
  if (graph->arena_bytes)
    printf("// memory plan: %.2f MiB arena for %lld tokens\n",
           (double)graph->arena_bytes / (1 << 20), (long long)graph->plan_T);
  azc_ir_print(graph, stdout);
  azc_ir_graph_destroy(graph);
  return 0;
}

int azc_cmd_inspect(int argc, char **argv) {
  const char *path = NULL, *after = NULL;
  bool ir = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ir"))
      ir = true;
    else if (!strcmp(argv[i], "--after")) {
      azc_status_t st = cli_str_arg(argc, argv, &i, &after);
      if (st) return cli_fail(st);
      ir = true;
    } else if (!strncmp(argv[i], "--after=", 8)) {
      after = argv[i] + 8;
      ir = true;
    } else if (!strcmp(argv[i], "--passes")) {
      int n;
      const azc_pass_t *list = azc_pass_list(&n);
      for (int k = 0; k < n; k++) printf("%-16s %s\n", list[k].name, list[k].doc);
      return 0;
    } else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc inspect MODEL.gguf [--ir [--after PASS]] | MODEL.bundle | --passes\n");
      return 0;
    } else if (argv[i][0] == '-')
      return cli_usage_error("inspect: unknown option %s", argv[i]);
    else if (!path)
      path = argv[i];
    else
      return cli_usage_error("inspect: more than one model given");
  }
  if (!path) return cli_usage_error("inspect: no model given (usage: azc inspect MODEL [--ir])");
  if (is_bundle(path)) {
    if (ir)
      return cli_usage_error("inspect: --ir needs a GGUF model; a bundle holds compiled code");
    azc_status_t st = inspect_bundle(path);
    return st ? cli_fail(st) : 0;
  }
  azc_model_t *m;
  azc_status_t st = azc_model_open(path, &m);
  if (st) return cli_fail(st);
  const azc_gguf_t *g = m->gguf;
  const azc_hparams_t *hp = &m->hp;
  if (ir) {
    int rc = print_ir(m, path, after);
    azc_model_close(m);
    return rc;
  }
  printf("file: %s (%.2f MiB, GGUF v%u, alignment %" PRIu64 ", data at byte %" PRIu64 ")\n", path,
         (double)g->size / (1 << 20), g->version, g->alignment, g->data_offset);
  printf("architecture: %s%s%s%s\n", hp->arch, hp->name[0] ? " (" : "", hp->name,
         hp->name[0] ? ")" : "");
  printf("  n_vocab %d, n_ctx_train %d, n_embd %d, n_layer %d, n_head %d, n_head_kv %d\n",
         hp->n_vocab, hp->n_ctx_train, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv);
  printf("  head_dim %d, n_ff %d, n_rot %d, norm_eps %g", hp->head_dim, hp->n_ff, hp->n_rot,
         (double)hp->norm_eps);
  if (hp->n_rot)
    printf(", rope_freq_base %g, rope_freq_scale %g", (double)hp->rope_freq_base,
           (double)hp->rope_freq_scale);
  printf("\n");
  const azc_arch_t *arch = azc_model_find_arch(hp->arch);
  if (arch && arch->decoder) {
    char desc[256];
    azc_decoder_describe(arch->decoder, desc, sizeof(desc));
    printf("  decoder: %s\n", desc);
    if (hp->n_swa)
      printf("  sliding window %d on local layers (RoPE base %g there)\n", hp->n_swa,
             (double)hp->rope_freq_base_swa);
    if (hp->attn_softcap > 0 || hp->final_softcap > 0)
      printf("  soft-caps: attention %g, final %g\n", (double)hp->attn_softcap,
             (double)hp->final_softcap);
    if (hp->rope_attn_factor != 1.0f)
      printf("  rope attn_factor %g, original context %d\n", (double)hp->rope_attn_factor,
             hp->n_ctx_orig);
  }
  const azc_tokenizer_desc_t *t = &m->tok;
  if (t->n_vocab) {
    printf("tokenizer: %s, %d tokens, %d merges,",
           t->kind == AZC_TOKENIZER_SPM ? "llama (SentencePiece)" : "gpt2 (byte-level BPE)",
           t->n_vocab, t->n_merges);
    print_token(t, "bos", t->bos_id);
    print_token(t, "eos", t->eos_id);
    print_token(t, "unk", t->unk_id);
    print_token(t, "eot", t->eot_id);
    printf(", add_bos %s\n", t->add_bos < 0 ? "default" : t->add_bos ? "yes" : "no");
  } else {
    printf("tokenizer: none in this file\n");
  }
  if (t->n_vocab) {
    azc_tokenizer_t *tok = NULL;
    azc_chat_info_t *ci = azc_chat_info_create();
    st = ci ? azc_tokenizer_create(t, &tok) : AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
    if (!st)
      st = azc_chat_info_set_gguf_template(ci, m->chat_template.data, m->chat_template.size, tok);
    if (!st) print_chat(ci);
    azc_tokenizer_destroy(tok);
    azc_chat_info_destroy(ci);
    if (st) {
      azc_model_close(m);
      return cli_fail(st);
    }
  }
  print_metadata(g);
  print_tensors(g);
  azc_model_close(m);
  return 0;
}
