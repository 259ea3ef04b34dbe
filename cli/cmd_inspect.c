/* azc inspect MODEL [--ir]: what azc read from a GGUF file — file facts,
 * hyperparameters, tokenizer, every metadata key, the tensor table — and,
 * with --ir, the IR the architecture lowers to. */
#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/model.h"

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

int azc_cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool ir = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ir")) ir = true;
    else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc inspect MODEL.gguf [--ir]\n");
      return 0;
    } else if (argv[i][0] == '-') return cli_usage_error("inspect: unknown option %s", argv[i]);
    else if (!path) path = argv[i];
    else return cli_usage_error("inspect: more than one model given");
  }
  if (!path) return cli_usage_error("inspect: no model given (usage: azc inspect MODEL [--ir])");
  azc_model_t *m;
  azc_status_t st = azc_model_open(path, &m);
  if (st) return cli_fail(st);
  const azc_gguf_t *g = m->gguf;
  const azc_hparams_t *hp = &m->hp;
  if (ir) {
    azc_ir_graph_t *graph;
    st = azc_model_lower(m, &graph);
    if (st) {
      azc_model_close(m);
      return cli_fail(st);
    }
    int counts[AZC_OP_COUNT];
    azc_ir_op_counts(graph, counts);
    printf("// %s: %d nodes\n// ops:", path, graph->n_nodes);
    for (int i = 0; i < AZC_OP_COUNT; i++)
      if (counts[i]) printf(" %s %d", azc_op_info((azc_op_t)i)->name, counts[i]);
    printf("\n");
    azc_ir_print(graph, stdout);
    azc_ir_graph_destroy(graph);
    azc_model_close(m);
    return 0;
  }
  printf("file: %s (%.2f MiB, GGUF v%u, alignment %" PRIu64 ", data at byte %" PRIu64 ")\n", path,
         (double)g->size / (1 << 20), g->version, g->alignment, g->data_offset);
  printf("architecture: %s%s%s%s\n", hp->arch, hp->name[0] ? " (" : "", hp->name,
         hp->name[0] ? ")" : "");
  printf("  n_vocab %d, n_ctx_train %d, n_embd %d, n_layer %d, n_head %d, n_head_kv %d\n",
         hp->n_vocab, hp->n_ctx_train, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv);
  printf("  head_dim %d, n_ff %d, n_rot %d, norm_eps %g", hp->head_dim, hp->n_ff, hp->n_rot,
         (double)hp->norm_eps);
  if (hp->n_rot) printf(", rope_freq_base %g, rope_freq_scale %g", (double)hp->rope_freq_base,
                        (double)hp->rope_freq_scale);
  printf("\n");
  const azc_tokenizer_desc_t *t = &m->tok;
  if (t->n_vocab) {
    printf("tokenizer: %s, %d tokens, %d merges,", t->kind == AZC_TOKENIZER_SPM ? "llama (SentencePiece)" : "gpt2 (byte-level BPE)",
           t->n_vocab, t->n_merges);
    print_token(t, "bos", t->bos_id);
    print_token(t, "eos", t->eos_id);
    print_token(t, "unk", t->unk_id);
    print_token(t, "eot", t->eot_id);
    printf(", add_bos %s\n", t->add_bos < 0 ? "default" : t->add_bos ? "yes" : "no");
  } else {
    printf("tokenizer: none in this file\n");
  }
  if (m->chat_template.size) printf("chat template: %zu bytes\n", m->chat_template.size);
  print_metadata(g);
  print_tensors(g);
  azc_model_close(m);
  return 0;
}
