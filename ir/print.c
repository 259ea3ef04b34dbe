/* The IR printer: one line per node, readable and stable, so dumps after each
 * pass can be diffed:
 *   %12 = matmul(%10, %3) : f32[T, 256]  # blk.0.attn_q
 *   %3 = weight "blk.0.attn_q.weight" : q4_k[256, 256]
 * Attributes print by the names the op table gives them. */
#include <ctype.h>
#include <string.h>

#include "ir/ir.h"

static void print_type(const azc_ir_node_t *n, FILE *out) {
  char name[16];
  const char *s = azc_dtype_name(n->dtype);
  size_t i = 0;
  for (; s[i] && i + 1 < sizeof(name); i++) name[i] = (char)tolower((unsigned char)s[i]);
  name[i] = 0;
  fprintf(out, "%s[", name);
  for (int d = 0; d < n->rank; d++) {
    char buf[48];
    azc_dim_format(n->shape[d], buf, sizeof(buf));
    fprintf(out, "%s%s", d ? ", " : "", buf);
  }
  fprintf(out, "]");
}

/* Prints "name=value" for each comma-separated name. */
static int print_attrs(const char *names, const int64_t *iv, const float *fv, FILE *out, int first) {
  int idx = 0;
  const char *p = names;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    fprintf(out, "%s%.*s=", first ? "" : ", ", (int)len, p);
    if (iv) fprintf(out, "%lld", (long long)iv[idx]);
    else fprintf(out, "%g", (double)fv[idx]);
    first = 0;
    idx++;
    p += len + (e ? 1 : 0);
  }
  return first;
}

void azc_ir_print_node(const azc_ir_node_t *n, FILE *out) {
  const azc_op_info_t *info = azc_op_info(n->op);
  fprintf(out, "%%%d = %s", n->id, info->name);
  if (n->op == AZC_OP_WEIGHT) {
    fprintf(out, " \"%s\" : ", n->name);
    print_type(n, out);
    fprintf(out, "\n");
    return;
  }
  fprintf(out, "(");
  for (int i = 0; i < n->n_inputs; i++) fprintf(out, "%s%%%d", i ? ", " : "", n->inputs[i]->id);
  int first = n->n_inputs == 0;
  if (info->int_attrs[0] || info->float_attrs[0]) {
    if (!first) fprintf(out, "; ");
    first = 1;
    first = print_attrs(info->int_attrs, n->iattr, NULL, out, first);
    print_attrs(info->float_attrs, NULL, n->fattr, out, first);
  }
  fprintf(out, ") : ");
  print_type(n, out);
  if (n->name) fprintf(out, "  # %s", n->name);
  fprintf(out, "\n");
}

void azc_ir_print(const azc_ir_graph_t *g, FILE *out) {
  int32_t last_layer = -2;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *n = g->nodes[i];
    if (n->dead) continue;
    if (n->layer != last_layer && n->op != AZC_OP_WEIGHT) {
      if (n->layer >= 0) fprintf(out, "// block %d\n", n->layer);
      last_layer = n->layer;
    }
    azc_ir_print_node(n, out);
  }
}

void azc_ir_op_counts(const azc_ir_graph_t *g, int *counts) {
  memset(counts, 0, sizeof(int) * AZC_OP_COUNT);
  for (int32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i]->dead) counts[g->nodes[i]->op]++;
}
