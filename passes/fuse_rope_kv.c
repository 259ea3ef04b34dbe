/* RoPE + KV-cache write -> epilogue of the QKV matmul. After the QKV merge
 * (llama) or in the fused QKV projection (gpt2, phi3), the output columns are
 * [q | k | v]; when they are sliced, reshaped into heads, normalized per head
 * (q, k: Qwen3's and Gemma 3's q/k norms, optional), rotated (q, k; with
 * LongRoPE's attn_factor) and k, v written to the caches, the matmul does all
 * of that in its epilogue: a work unit is one head, so it normalizes and
 * rotates q and k in registers, stores k and v straight into the caches and
 * returns q. The caches' readers (flash_attn) then read the caches
 * directly; they run after this node because they consume its q. */
#include <string.h>

#include "passes/match.h"
#include "passes/passes.h"

typedef struct side {
  azc_ir_node_t *slice, *reshape, *norm, *norm_w, *rope, *end; /* end: last node of the chain */
} side_t;

/* slice -> reshape -> [rms_norm -> mul by a (head_dim) weight] -> [rope] */
static bool follow(const azc_ir_graph_t *g, azc_ir_node_t *slice, side_t *s) {
  memset(s, 0, sizeof(*s));
  s->slice = slice;
  s->reshape = match_single_user(g, slice);
  if (!s->reshape || s->reshape->op != AZC_OP_RESHAPE || s->reshape->rank != 3) return false;
  s->end = s->reshape;
  azc_ir_node_t *u = match_single_user(g, s->end);
  if (u && u->op == AZC_OP_RMS_NORM) {
    azc_ir_node_t *w = match_single_user(g, u);
    if (!w || w->op != AZC_OP_MUL || w->inputs[0] != u || !match_is_vector_weight(w->inputs[1]) ||
        w->inputs[1]->shape[0].c != s->reshape->shape[2].c)
      return false;
    s->norm = u;
    s->norm_w = w->inputs[1];
    s->end = w;
    u = match_single_user(g, s->end);
  }
  if (u && u->op == AZC_OP_ROPE && u->inputs[0] == s->end) {
    s->rope = u;
    s->end = u;
  }
  return true;
}

static bool same_rope(const azc_ir_node_t *a, const azc_ir_node_t *b) {
  if (!a || !b) return !a && !b;
  if (a->n_inputs != b->n_inputs || a->inputs[1] != b->inputs[1]) return false;
  if (a->n_inputs == 3 && a->inputs[2] != b->inputs[2]) return false;
  return !memcmp(a->iattr, b->iattr, sizeof(a->iattr)) && !memcmp(a->fattr, b->fattr, sizeof(a->fattr));
}

azc_status_t azc_pass_fuse_rope_kv(azc_ir_graph_t *g, const azc_pass_options_t *o,
                                   azc_pass_stats_t *st) {
  (void)o;
  int32_t n = g->n_nodes;
  for (int32_t i = 0; i < n; i++) {
    azc_ir_node_t *m = g->nodes[i];
    if (m->dead || m->op != AZC_OP_MATMUL_FUSED || m->iattr[AZC_MF_EPILOGUE] != AZC_EPI_NONE)
      continue;
    azc_ir_node_t *users[4];
    if (azc_ir_users(g, m, users, 4) != 3) continue;
    /* order the slices by start column */
    azc_ir_node_t *sl[3];
    bool ok = true;
    for (int k = 0; k < 3; k++) ok = ok && users[k]->op == AZC_OP_SLICE;
    if (!ok) continue;
    for (int k = 0; k < 3; k++) sl[k] = users[k];
    for (int a = 0; a < 3; a++)
      for (int b = a + 1; b < 3; b++)
        if (sl[b]->iattr[0] < sl[a]->iattr[0]) {
          azc_ir_node_t *t = sl[a];
          sl[a] = sl[b];
          sl[b] = t;
        }
    if (sl[0]->iattr[0] != 0 || sl[1]->iattr[0] != sl[0]->iattr[1] ||
        sl[2]->iattr[0] != sl[1]->iattr[0] + sl[1]->iattr[1] ||
        sl[2]->iattr[0] + sl[2]->iattr[1] != m->shape[1].c)
      continue;
    side_t q, k, v;
    if (!follow(g, sl[0], &q) || !follow(g, sl[1], &k) || !follow(g, sl[2], &v)) continue;
    if (v.rope || v.norm || !same_rope(q.rope, k.rope)) continue;
    /* q/k norms: on both or neither, with one eps */
    if (!q.norm != !k.norm || (q.norm && q.norm->fattr[0] != k.norm->fattr[0])) continue;
    azc_ir_node_t *kw = match_single_user(g, k.end), *vw = match_single_user(g, v.end);
    if (!kw || !vw || kw->op != AZC_OP_KV_WRITE || vw->op != AZC_OP_KV_WRITE ||
        kw->inputs[1] != k.end || vw->inputs[1] != v.end || kw->inputs[2] != vw->inputs[2] ||
        kw->inputs[3] != vw->inputs[3])
      continue;
    if (q.rope && q.rope->inputs[1] != kw->inputs[2]) continue; /* rope and cache positions */
    /* the caches must be read only by flash_attn, which can take the cache itself */
    azc_ir_node_t *readers[8];
    int nr = azc_ir_users(g, kw, readers, 8);
    int nv = azc_ir_users(g, vw, readers + (nr < 8 ? nr : 8), 8 - (nr < 8 ? nr : 8));
    if (nr + nv > 8) continue;
    for (int r = 0; r < nr + nv; r++) ok = ok && readers[r]->op == AZC_OP_FLASH_ATTN;
    if (!ok) continue;
    int64_t hd = q.reshape->shape[2].c;
    mf_parts_t p;
    mf_parts_from(m, &p);
    p.iattr[AZC_MF_EPILOGUE] = AZC_EPI_ROPE_KV;
    p.iattr[AZC_MF_NHEAD] = q.reshape->shape[1].c;
    p.iattr[AZC_MF_NHEAD_KV] = k.reshape->shape[1].c;
    p.iattr[AZC_MF_NROT] = q.rope ? q.rope->iattr[0] : 0;
    p.iattr[AZC_MF_ROPE_MODE] = q.rope ? q.rope->iattr[1] : 0;
    p.fattr[AZC_MF_FREQ_BASE] = q.rope ? q.rope->fattr[0] : 0.0f;
    p.fattr[AZC_MF_FREQ_SCALE] = q.rope ? q.rope->fattr[1] : 0.0f;
    p.fattr[AZC_MF_ATTN_FACTOR] = q.rope ? q.rope->fattr[2] : 0.0f;
    p.iattr[AZC_MF_QK_NORM] = q.norm != NULL;
    p.fattr[AZC_MF_QK_EPS] = q.norm ? q.norm->fattr[0] : 0.0f;
    p.q_norm = q.norm_w;
    p.k_norm = k.norm_w;
    p.pos = kw->inputs[2];
    p.seq = kw->inputs[3];
    p.k_cache = kw->inputs[0];
    p.v_cache = vw->inputs[0];
    p.factors = q.rope && q.rope->n_inputs == 3 ? q.rope->inputs[2] : NULL;
    azc_ir_node_t *f = mf_build(g, &p, m);
    if (!f) return azc_ir_graph_status(g);
    azc_dim_t heads[3] = {q.reshape->shape[0], q.reshape->shape[1], azc_dim_const(hd)};
    int32_t saved = g->cur_layer;
    g->cur_layer = m->layer;
    azc_ir_node_t *qr = azc_ir_reshape(g, f, 3, heads);
    g->cur_layer = saved;
    if (!qr) return azc_ir_graph_status(g);
    match_replace(g, q.end, qr);
    match_replace(g, kw, p.k_cache);
    match_replace(g, vw, p.v_cache);
    m->dead = true;
    st->rewrites++;
  }
  return NULL;
}
