/* The eager interpreter against an independent, naive forward pass written
 * here from the architecture's definition (llama2.c style: plain loops over
 * the weights read straight from the GGUF file), on synthetic F32 models made
 * with azc's own writer. Also: prefill and token-by-token decode agree, two
 * sequences in one batch agree with each run alone, and the graph verifies,
 * prints and serializes deterministically. An op, prologue or epilogue the
 * interpreter does not know is an error naming it, never an OK with an
 * uninitialised buffer (tests/interp/test_interp_oom.c: allocation failures). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "tests/test.h"

/* ---- naive reference ---- */
typedef struct ref {
  const azc_model_t *m;
  float *kc, *vc; /* (layer, pos, kv_dim) */
  int n_ctx;
} ref_t;

static const float *W(const ref_t *r, const char *fmt, int l) {
  char name[128];
  snprintf(name, sizeof(name), fmt, l);
  const azc_gguf_tensor_t *t = azc_gguf_find_tensor(r->m->gguf, name);
  return t ? (const float *)t->data : NULL;
}

static void matvec(float *out, const float *x, const float *w, int n, int k) {
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)w[(size_t)i * k + j] * x[j];
    out[i] = (float)s;
  }
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
  float s = (float)(1.0 / sqrt(ss / n + eps));
  for (int i = 0; i < n; i++) o[i] = x[i] * s * w[i];
}

static void layernorm(float *o, const float *x, const float *w, const float *b, int n, float eps) {
  double mean = 0, var = 0;
  for (int i = 0; i < n; i++) mean += x[i];
  mean /= n;
  for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  float s = (float)(1.0 / sqrt(var / n + eps));
  for (int i = 0; i < n; i++) o[i] = (float)(x[i] - mean) * s * w[i] + b[i];
}

/* One token at position pos; writes logits (n_vocab). */
static void ref_forward(ref_t *r, int token, int pos, float *logits) {
  const azc_hparams_t *hp = &r->m->hp;
  int D = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim, F = hp->n_ff;
  int kvd = Hkv * hd;
  bool llama = !strcmp(hp->arch, "llama");
  float *x = calloc((size_t)D, 4), *n = calloc((size_t)D, 4), *q = calloc((size_t)H * hd, 4);
  float *k = calloc((size_t)kvd, 4), *v = calloc((size_t)kvd, 4), *att = calloc((size_t)pos + 1, 4);
  float *o = calloc((size_t)H * hd, 4), *t = calloc((size_t)D, 4), *g = calloc((size_t)F, 4);
  float *u = calloc((size_t)F, 4), *qkv = calloc((size_t)3 * D, 4);
  memcpy(x, W(r, "token_embd.weight", 0) + (size_t)token * D, (size_t)D * 4);
  if (!llama)
    for (int i = 0; i < D; i++) x[i] += W(r, "position_embd.weight", 0)[(size_t)pos * D + i];
  for (int l = 0; l < hp->n_layer; l++) {
    if (llama) {
      rmsnorm(n, x, W(r, "blk.%d.attn_norm.weight", l), D, hp->norm_eps);
      matvec(q, n, W(r, "blk.%d.attn_q.weight", l), H * hd, D);
      matvec(k, n, W(r, "blk.%d.attn_k.weight", l), kvd, D);
      matvec(v, n, W(r, "blk.%d.attn_v.weight", l), kvd, D);
      /* rope, adjacent pairs */
      for (int hh = 0; hh < H + Hkv; hh++) {
        float *vec = hh < H ? q + hh * hd : k + (hh - H) * hd;
        for (int i = 0; i < hp->n_rot / 2; i++) {
          double th = pos * pow(hp->rope_freq_base, -2.0 * i / hp->n_rot);
          float c = (float)cos(th), s = (float)sin(th), a = vec[2 * i], b = vec[2 * i + 1];
          vec[2 * i] = a * c - b * s;
          vec[2 * i + 1] = a * s + b * c;
        }
      }
    } else {
      layernorm(n, x, W(r, "blk.%d.attn_norm.weight", l), W(r, "blk.%d.attn_norm.bias", l), D,
                hp->norm_eps);
      matvec(qkv, n, W(r, "blk.%d.attn_qkv.weight", l), 3 * D, D);
      for (int i = 0; i < 3 * D; i++) qkv[i] += W(r, "blk.%d.attn_qkv.bias", l)[i];
      memcpy(q, qkv, (size_t)D * 4);
      memcpy(k, qkv + D, (size_t)D * 4);
      memcpy(v, qkv + 2 * D, (size_t)D * 4);
    }
    memcpy(r->kc + ((size_t)l * r->n_ctx + pos) * kvd, k, (size_t)kvd * 4);
    memcpy(r->vc + ((size_t)l * r->n_ctx + pos) * kvd, v, (size_t)kvd * 4);
    for (int h = 0; h < H; h++) {
      int kh = h / (H / Hkv);
      float mx = -1e30f;
      for (int j = 0; j <= pos; j++) {
        const float *kj = r->kc + ((size_t)l * r->n_ctx + j) * kvd + kh * hd;
        double s = 0;
        for (int d = 0; d < hd; d++) s += (double)q[h * hd + d] * kj[d];
        att[j] = (float)(s / sqrt(hd));
        if (att[j] > mx) mx = att[j];
      }
      double sum = 0;
      for (int j = 0; j <= pos; j++) sum += att[j] = expf(att[j] - mx);
      for (int d = 0; d < hd; d++) {
        double acc = 0;
        for (int j = 0; j <= pos; j++)
          acc += att[j] / sum * r->vc[((size_t)l * r->n_ctx + j) * kvd + kh * hd + d];
        o[h * hd + d] = (float)acc;
      }
    }
    matvec(t, o, W(r, "blk.%d.attn_output.weight", l), D, H * hd);
    if (!llama)
      for (int i = 0; i < D; i++) t[i] += W(r, "blk.%d.attn_output.bias", l)[i];
    for (int i = 0; i < D; i++) x[i] += t[i];
    if (llama) {
      rmsnorm(n, x, W(r, "blk.%d.ffn_norm.weight", l), D, hp->norm_eps);
      matvec(g, n, W(r, "blk.%d.ffn_gate.weight", l), F, D);
      matvec(u, n, W(r, "blk.%d.ffn_up.weight", l), F, D);
      for (int i = 0; i < F; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    } else {
      layernorm(n, x, W(r, "blk.%d.ffn_norm.weight", l), W(r, "blk.%d.ffn_norm.bias", l), D,
                hp->norm_eps);
      matvec(g, n, W(r, "blk.%d.ffn_up.weight", l), F, D);
      for (int i = 0; i < F; i++) {
        float a = g[i] + W(r, "blk.%d.ffn_up.bias", l)[i];
        g[i] = 0.5f * a * (1.0f + tanhf(0.7978845608f * (a + 0.044715f * a * a * a)));
      }
    }
    matvec(t, g, W(r, "blk.%d.ffn_down.weight", l), D, F);
    if (!llama)
      for (int i = 0; i < D; i++) t[i] += W(r, "blk.%d.ffn_down.bias", l)[i];
    for (int i = 0; i < D; i++) x[i] += t[i];
  }
  if (llama)
    rmsnorm(n, x, W(r, "output_norm.weight", 0), D, hp->norm_eps);
  else
    layernorm(n, x, W(r, "output_norm.weight", 0), W(r, "output_norm.bias", 0), D, hp->norm_eps);
  const float *out = W(r, "output.weight", 0);
  matvec(logits, n, out ? out : W(r, "token_embd.weight", 0), hp->n_vocab, D);
  free(x), free(n), free(q), free(k), free(v), free(att), free(o), free(t), free(g), free(u),
      free(qkv);
}

static float max_abs_diff(const float *a, const float *b, int n, float *range) {
  float d = 0, lo = b[0], hi = b[0];
  for (int i = 0; i < n; i++) {
    d = fmaxf(d, fabsf(a[i] - b[i]));
    lo = fminf(lo, b[i]);
    hi = fmaxf(hi, b[i]);
  }
  *range = hi - lo;
  return d;
}

static const char *fixture(const char *shape, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.gguf", test_tmp_dir(), shape);
  azc_synth_params_t p;
  if (azc_synth_preset(shape, &p)) return NULL;
  azc_status_t st = azc_synth_write(&p, buf, NULL, NULL);
  if (st) {
    fprintf(stderr, "%s\n", azc_status_message(st));
    azc_status_free(st);
    return NULL;
  }
  return buf;
}

static void check_against_reference(const char *shape) {
  char path[512];
  ASSERT(fixture(shape, path, sizeof(path)));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 64;
  ep.n_threads = 2;
  ep.n_seq = 2;
  azc_executor_t *ex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  const int V = m->hp.n_vocab, N = 9;
  int32_t toks[9] = {1, 17, 300, 45, 2, 99, 7, 250, 33}, pos[9], seq[9] = {0}, last = N - 1;
  for (int i = 0; i < N; i++) pos[i] = i;
  ref_t r = {m, calloc((size_t)m->hp.n_layer * 64 * m->hp.n_head_kv * m->hp.head_dim, 4),
             calloc((size_t)m->hp.n_layer * 64 * m->hp.n_head_kv * m->hp.head_dim, 4), 64};
  float *ref = malloc((size_t)V * 4), *got = malloc((size_t)V * 4), *dec = malloc((size_t)V * 4);
  for (int i = 0; i < N; i++) ref_forward(&r, toks[i], i, ref);
  /* whole prompt in one forward */
  azc_batch_t b = {N, toks, pos, seq, 1, &last};
  ASSERT_OK(azc_executor_forward(ex, &b, got));
  float range, d = max_abs_diff(got, ref, V, &range);
  ASSERT_MSG(d <= 1e-4f * range, "%s prefill: max diff %g, range %g", shape, d, range);
  /* token by token, in sequence 1 */
  for (int i = 0; i < N; i++) {
    int32_t s1 = 1, zero = 0;
    azc_batch_t one = {1, &toks[i], &pos[i], &s1, 1, &zero};
    ASSERT_OK(azc_executor_forward(ex, &one, dec));
  }
  d = max_abs_diff(dec, ref, V, &range);
  ASSERT_MSG(d <= 1e-4f * range, "%s decode: max diff %g, range %g", shape, d, range);
  /* both sequences advance together by one token: same logits as each alone */
  int32_t t2[2] = {5, 5}, p2[2] = {N, N}, s2[2] = {0, 1}, o2[2] = {0, 1};
  azc_batch_t both = {2, t2, p2, s2, 2, o2};
  float *two = malloc((size_t)V * 2 * 4);
  ASSERT_OK(azc_executor_forward(ex, &both, two));
  ref_forward(&r, 5, N, ref);
  d = max_abs_diff(two, ref, V, &range);
  ASSERT_MSG(d <= 1e-4f * range, "%s batch row 0: max diff %g", shape, d);
  d = max_abs_diff(two + V, ref, V, &range);
  ASSERT_MSG(d <= 1e-4f * range, "%s batch row 1: max diff %g", shape, d);
  /* bad batches are refused, not crashed on */
  int32_t bad_tok = V, bad_pos = 64;
  azc_batch_t bt = {1, &bad_tok, &pos[0], seq, 1, &last};
  ASSERT_ERR(azc_executor_forward(ex, &bt, got), AZC_INVALID_ARGUMENT, "out of range");
  azc_batch_t bp = {1, toks, &bad_pos, seq, 0, NULL};
  ASSERT_ERR(azc_executor_forward(ex, &bp, got), AZC_OUT_OF_RANGE, "context");
  free(two), free(ref), free(got), free(dec), free(r.kc), free(r.vc);
  azc_executor_destroy(ex);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
}

static void test_llama_matches_reference(void) { check_against_reference("tiny-llama"); }
static void test_gpt2_matches_reference(void) { check_against_reference("tiny-gpt2"); }

static void test_graph_print_serialize(void) {
  char path[512];
  ASSERT(fixture("tiny-llama", path, sizeof(path)));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  azc_ir_graph_t *g1, *g2;
  ASSERT_OK(azc_model_lower(m, &g1));
  ASSERT_OK(azc_model_lower(m, &g2));
  uint8_t *b1, *b2;
  size_t n1, n2;
  ASSERT_OK(azc_ir_serialize(g1, &b1, &n1));
  ASSERT_OK(azc_ir_serialize(g2, &b2, &n2));
  ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0);
  /* a changed attribute changes the bytes */
  for (int i = 0; i < g2->n_nodes; i++)
    if (g2->nodes[i]->op == AZC_OP_RMS_NORM) {
      g2->nodes[i]->fattr[0] = 1e-6f;
      break;
    }
  free(b2);
  ASSERT_OK(azc_ir_serialize(g2, &b2, &n2));
  ASSERT(n1 == n2 && memcmp(b1, b2, n1) != 0);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  azc_ir_print(g1, f);
  fclose(f);
  ASSERT(strstr(text, "= matmul(") != NULL);
  ASSERT(strstr(text, "f32[P+T, 2, 16]") != NULL); /* kv_write: the cache seen by attention */
  ASSERT(strstr(text, "weight \"blk.1.ffn_down.weight\" : f32[64, 192]") != NULL);
  ASSERT(strstr(text, "rope(") && strstr(text, "n_rot=16, mode=0, freq_base=10000, freq_scale=1"));
  free(text);
  int counts[AZC_OP_COUNT];
  azc_ir_op_counts(g1, counts);
  ASSERT_EQ_INT(counts[AZC_OP_MATMUL], 2 * 7 + 1);
  ASSERT_EQ_INT(counts[AZC_OP_KV_WRITE], 4);
  ASSERT_OK(azc_ir_verify(g1));
  /* the verifier catches a wrong shape */
  for (int i = 0; i < g1->n_nodes; i++)
    if (g1->nodes[i]->op == AZC_OP_MATMUL) {
      g1->nodes[i]->shape[1] = azc_dim_const(3);
      break;
    }
  ASSERT_ERR(azc_ir_verify(g1), AZC_INTERNAL, "shape");
  free(b1), free(b2);
  azc_ir_graph_destroy(g1);
  azc_ir_graph_destroy(g2);
  azc_model_close(m);
}

static void test_missing_tensors_listed(void) {
  /* a llama file without two layer tensors: the error names both */
  char src[512], dst[512];
  ASSERT(fixture("tiny-llama", src, sizeof(src)));
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(src, &g));
  azc_gguf_writer_t *w;
  ASSERT_OK(azc_gguf_writer_create(&w));
  for (uint64_t i = 0; i < g->n_kv; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)g->kv[i].key.size, g->kv[i].key.data);
    ASSERT_OK(azc_gguf_writer_set_value(w, key, &g->kv[i].value));
  }
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    if (!strcmp(t->name, "blk.1.ffn_up.weight") || !strcmp(t->name, "output_norm.weight")) continue;
    ASSERT_OK(azc_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size));
  }
  snprintf(dst, sizeof(dst), "%s/missing.gguf", test_tmp_dir());
  ASSERT_OK(azc_gguf_writer_write(w, dst));
  azc_gguf_writer_destroy(w);
  azc_gguf_close(g);
  azc_model_t *m;
  ASSERT_OK(azc_model_open(dst, &m));
  azc_ir_graph_t *graph;
  azc_status_t st = azc_model_lower(m, &graph);
  ASSERT(st != NULL);
  ASSERT_MSG(strstr(azc_status_message(st), "blk.1.ffn_up.weight") &&
                 strstr(azc_status_message(st), "output_norm.weight") &&
                 strstr(azc_status_message(st), "missing.gguf"),
             "%s", azc_status_message(st));
  azc_status_free(st);
  azc_model_close(m);
}

/* A hand-built graph: rms-norm prologue + matmul_fused + silu. Its result is
 * checked against plain loops; then an unknown epilogue, prologue and op
 * (as a damaged or future graph would hold them) must each be refused with a
 * status that names them. */
static void test_unknown_ops_refused(void) {
  enum { V = 4, D = 8, N = 6, T = 2 };
  static float table[V * D], w[N * D], nw[D];
  test_rng_t r = {11};
  for (int i = 0; i < V * D; i++) table[i] = test_rng_normal(&r);
  for (int i = 0; i < N * D; i++) w[i] = test_rng_normal(&r) * 0.3f;
  for (int i = 0; i < D; i++) nw[i] = 1.0f + 0.1f * test_rng_normal(&r);
  azc_ir_graph_t *g;
  ASSERT_OK(azc_ir_graph_create(&g));
  azc_ir_node_t *tok = azc_ir_input(g, AZC_INPUT_TOKENS);
  azc_ir_node_t *emb =
      azc_ir_weight(g, "emb", AZC_DTYPE_F32, 2, (const int64_t[]){V, D}, table, sizeof(table));
  azc_ir_node_t *x = azc_ir_get_rows(g, emb, tok);
  azc_ir_node_t *nwn =
      azc_ir_weight(g, "norm", AZC_DTYPE_F32, 1, (const int64_t[]){D}, nw, sizeof(nw));
  azc_ir_node_t *wn =
      azc_ir_weight(g, "w", AZC_DTYPE_F32, 2, (const int64_t[]){N, D}, w, sizeof(w));
  int64_t ia[AZC_IR_MAX_ATTRS] = {0};
  float fa[AZC_IR_MAX_ATTRS] = {0};
  ia[AZC_MF_PROLOGUE] = AZC_PRO_RMS;
  ia[AZC_MF_NSEG] = 1;
  ia[AZC_MF_EPILOGUE] = AZC_EPI_NONE;
  fa[AZC_MF_EPS] = 1e-5f;
  azc_ir_node_t *in[] = {x, nwn, wn};
  azc_ir_node_t *mf = azc_ir_add(g, AZC_OP_MATMUL_FUSED, 3, in, ia, fa);
  azc_ir_node_t *act = azc_ir_unary(g, AZC_OP_SILU, mf);
  azc_ir_output(g, act);
  ASSERT_OK(azc_ir_graph_status(g));
  ASSERT_OK(azc_ir_verify(g));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 8;
  ep.n_threads = 1;
  azc_executor_t *ex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  int32_t toks[T] = {3, 1}, pos[T] = {0, 1}, seq[T] = {0, 0}, rows[T] = {0, 1};
  azc_batch_t b = {T, toks, pos, seq, T, rows};
  float got[T * N];
  ASSERT_OK(azc_executor_forward(ex, &b, got));
  for (int t = 0; t < T; t++) {
    const float *e = table + toks[t] * D;
    double ss = 0;
    for (int k = 0; k < D; k++) ss += (double)e[k] * e[k];
    double inv = 1.0 / sqrt(ss / D + 1e-5);
    for (int n = 0; n < N; n++) {
      double y = 0;
      for (int k = 0; k < D; k++) y += e[k] * inv * nw[k] * w[n * D + k];
      ASSERT_NEAR(got[t * N + n], y / (1.0 + exp(-y)), 1e-4);
    }
  }
  mf->iattr[AZC_MF_EPILOGUE] = 9;
  ASSERT_ERR(azc_executor_forward(ex, &b, got), AZC_UNSUPPORTED,
             "matmul_fused: unknown epilogue 9");
  mf->iattr[AZC_MF_EPILOGUE] = AZC_EPI_NONE;
  mf->iattr[AZC_MF_PROLOGUE] = 7;
  ASSERT_ERR(azc_executor_forward(ex, &b, got), AZC_UNSUPPORTED,
             "matmul_fused: unknown prologue 7");
  mf->iattr[AZC_MF_PROLOGUE] = AZC_PRO_NONE; /* the inputs no longer fit the attributes */
  ASSERT_ERR(azc_executor_forward(ex, &b, got), AZC_UNSUPPORTED, "has 3 inputs");
  mf->iattr[AZC_MF_PROLOGUE] = AZC_PRO_RMS;
  act->op = (azc_op_t)(AZC_OP_COUNT + 5);
  char needle[64];
  snprintf(needle, sizeof(needle), "unknown op %d", AZC_OP_COUNT + 5);
  ASSERT_ERR(azc_executor_forward(ex, &b, got), AZC_UNSUPPORTED, needle);
  act->op = AZC_OP_SILU;
  ASSERT_OK(azc_executor_forward(ex, &b, got)); /* and nothing leaked or stuck */
  azc_executor_destroy(ex);
  azc_ir_graph_destroy(g);
}

int main(void) {
  RUN(test_llama_matches_reference);
  RUN(test_gpt2_matches_reference);
  RUN(test_graph_print_serialize);
  RUN(test_missing_tensors_listed);
  RUN(test_unknown_ops_refused);
  return test_summary();
}
