/* Compiled kernels against the eager interpreter (the reference), as a
 * matrix: op x back end x (fused, unfused). Every back end that
 * azc_codegen_backends() lists is a pair of columns: the model compiled with
 * the fusion passes (matmul_fused with norm prologues and rope/kv, SwiGLU,
 * GELU and residual epilogues, flash attention) and without them (azc
 * compile --no-fuse: one kernel per IR op, so the unfused kernels -- rms and
 * layer norms, elementwise ops, rope, kv writes, attention scores, the mask,
 * softmax and values -- run compiled). A row is an op of the op table
 * (ir/ops.def) that runs as a kernel; a cell counts the models whose
 * compiled graph has that op and how many of them matched the interpreter.
 * A second table shows each model in each column.
 *
 * One argument names the part (one CTest test each, run in parallel; all
 * share one kernel cache, so a kernel the parts have in common is compiled
 * once): "llama" and "llama_k" (synthetic llama in odd shapes, the float and
 * 32-value block types, then the K-quants: sizes that are not powers of two,
 * GQA), "gpt2" (LayerNorm, GELU,
 * biases, tied logits), "arch" (the tiny-<arch> shape of every decoder
 * architecture: per-head q/k norms, soft-caps, sliding windows, rope
 * factors; its unfused columns must cover every op that reaches a kernel)
 * "shared" (every model in ../shared) and "kv" (a few of those models with
 * each KV cache type, f32, f16 and q8_0: both executors store the same
 * converted rows, so the tolerances are the same, except that with q8_0 the
 * F32 models get the cosine check of the quantized ones; the other parts use
 * f32).
 *
 * Per cell, each model runs the same batches through both executors: a
 * 7-token prompt, 3 decode steps, and a step with two sequences at once,
 * then a greedy run (a 12-token prompt and 8 steps, each executor fed the
 * interpreter's greedy tokens; the arch part's sliding windows are 6
 * positions, so every batch reaches past them). Logits: F32 models max difference <= 1e-4
 * of the logits' range, F16 and quantized cosine >= 0.9999, in every row.
 * Greedy tokens must be equal at every step, except where the interpreter's
 * own margin between its token and the compiled one is within the largest
 * logit difference measured at that step (a tie the tolerance allows).
 *
 * The shared llama-small-tied-* files have random weights, and there both
 * executors quantize activations (as llama.cpp does): when two values agree
 * to 1e-7 but sit on either side of a rounding boundary, one quantized value
 * differs by a step, and random weights amplify that through the layers
 * (with their first one or two layers only, compiled and eager logits agree
 * to 1e-6; on some prompts a flip in layer 3 or 4 moves the cosine to
 * 0.9998, and the decode steps after it inherit the difference through the
 * KV cache). For those files the check is cosine >= 0.999 in every step;
 * trained and synthetic models get the strict check on every step.
 *
 * A back end whose plan no executor runs yet (a GPU generator before its
 * runtime exists) is compiled and its columns say "no executor" with the
 * reason, or "not on device" when the plan ran but none of its kernel steps
 * on that back end's device (a GPU plan that fell back to its CPU kernels):
 * visible, never silently skipped; such columns do not fail the test, and a
 * compile such a back end refuses is shown as "refused" with its message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/spec.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "runtime/base/util.h"
#include "runtime/kv_cache.h"
#include "tests/codegen/compiled.h"
#include "tests/test.h"

enum { STEPS = 6, PROMPT = 12, GREEDY = 8, GROWS = GREEDY + 1, MAX_MODELS = 16, MAX_COLS = 8 };

/* ---- running the batches ---- */
/* rows: prompt logits, 3 decode steps, then two sequences side by side */
static azc_status_t run(azc_executor_t *ex, int V, float *out) {
  int32_t toks[7] = {1, 40, 41, 300, 7, 8, 9}, pos[7] = {0, 1, 2, 3, 4, 5, 6}, seq[7] = {0};
  int32_t last = 6;
  azc_batch_t b = {7, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 0; s < 3; s++) {
    int32_t t = 50 + 17 * s, p = 7 + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)(1 + s) * V));
  }
  /* sequence 1 gets a 3-token prompt; then one step for both sequences */
  int32_t t1[3] = {1, 99, 5}, p1[3] = {0, 1, 2}, s1[3] = {1, 1, 1}, l1 = 2;
  float *scratch = malloc(sizeof(float) * (size_t)V);
  if (!scratch) return AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  azc_batch_t b1 = {3, t1, p1, s1, 1, &l1};
  azc_status_t st = azc_executor_forward(ex, &b1, scratch);
  free(scratch);
  AZC_RETURN_IF_ERROR(st);
  int32_t t2[2] = {11, 12}, p2[2] = {10, 3}, s2[2] = {0, 1}, o2[2] = {0, 1};
  azc_batch_t both = {2, t2, p2, s2, 2, o2};
  return azc_executor_forward(ex, &both, out + (size_t)4 * V);
}

static int argmax(const float *x, int V) {
  int best = 0;
  for (int i = 1; i < V; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

/* Greedy decoding on sequence 0 from position 0 (it rewrites every cache
 * row it reads): the prompt's logits, then GREEDY steps. Each step feeds
 * forced[s] when given (the interpreter's tokens), else this executor's own
 * greedy token; tokens[s] is this executor's greedy choice at row s. */
static azc_status_t greedy(azc_executor_t *ex, int V, const int32_t *forced, int32_t *tokens,
                           float *out) {
  int32_t toks[PROMPT] = {1, 300, 12, 77, 5, 201, 9, 33, 140, 2, 61, 18}, pos[PROMPT], seq[PROMPT];
  for (int i = 0; i < PROMPT; i++) pos[i] = i, seq[i] = 0;
  int32_t last = PROMPT - 1;
  azc_batch_t b = {PROMPT, toks, pos, seq, 1, &last};
  AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &b, out));
  for (int s = 0;; s++) {
    tokens[s] = argmax(out + (size_t)s * V, V);
    if (s == GREEDY) return NULL;
    int32_t t = forced ? forced[s] : tokens[s], p = PROMPT + s, z = 0;
    azc_batch_t one = {1, &t, &p, &z, 1, &z};
    AZC_RETURN_IF_ERROR(azc_executor_forward(ex, &one, out + (size_t)(s + 1) * V));
  }
}

/* ---- the cases and the columns ---- */
typedef struct model_case {
  char path[1024], what[128];
  bool random_weights;
} model_case_t;

typedef struct reference {
  int V;
  bool exact; /* F32 weights only: the max-difference check */
  float *rows, *greedy;
  int32_t tokens[GROWS];
} reference_t;

typedef struct column {
  const azc_codegen_backend_t *be;
  bool fuse;
  char name[32];
} column_t;

/* OFF_DEVICE: the plan ran, but none of its kernel steps on the column's device */
typedef enum { CELL_OK, CELL_FAIL, CELL_NO_EXECUTOR, CELL_REFUSED, CELL_OFF_DEVICE } cell_state_t;

typedef struct cell {
  cell_state_t state;
  char why[320];
  bool ops[AZC_OP_COUNT]; /* ops that ran as kernels */
  bool exact;             /* checked by max difference (F32 weights) */
  double cos_min, rel_max;
  int tokens_equal, ties;
  int kernels, compiled; /* distinct kernels, of them compiled (not from the cache) */
  int on_device;         /* kernel steps on the column's back end's device */
  double ms_compile, ms_run;
} cell_t;

static bool op_is_kernel(int op) {
  azc_ir_node_t n;
  memset(&n, 0, sizeof(n));
  n.op = (azc_op_t)op;
  return azc_kernel_node_needs_kernel(&n);
}

static void row_stats(const float *a, const float *b, int V, double *cosine, float *d,
                      float *range) {
  double dot = 0, na = 0, nb = 0;
  float lo = b[0], hi = b[0];
  *d = 0;
  for (int i = 0; i < V; i++) {
    dot += (double)a[i] * b[i], na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
    lo = fminf(lo, b[i]), hi = fmaxf(hi, b[i]), *d = fmaxf(*d, fabsf(a[i] - b[i]));
  }
  *cosine = dot / sqrt(na * nb);
  *range = hi - lo;
}

/* Compares n rows at the tolerances; the first failure goes to cell->why. */
static bool compare_rows(cell_t *cell, const char *phase, const float *got, const float *ref, int n,
                         int V, const reference_t *r, bool random_weights) {
  for (int row = 0; row < n; row++) {
    double cosine;
    float d, range;
    row_stats(got + (size_t)row * V, ref + (size_t)row * V, V, &cosine, &d, &range);
    cell->cos_min = fmin(cell->cos_min, cosine);
    cell->rel_max = fmax(cell->rel_max, range > 0 ? d / range : d);
    bool ok = r->exact ? d <= 1e-4f * range : cosine >= (random_weights ? 0.999 : 0.9999);
    if (!ok) {
      snprintf(cell->why, sizeof(cell->why), "%s row %d: cosine %.7f, max diff %g of range %g",
               phase, row, cosine, d, range);
      return false;
    }
  }
  return true;
}

/* Greedy tokens: equal, or a tie within the difference measured at that step. */
static bool compare_tokens(cell_t *cell, const int32_t *tokens, const float *got,
                           const reference_t *r) {
  for (int s = 0; s < GROWS; s++) {
    if (tokens[s] == r->tokens[s]) {
      cell->tokens_equal++;
      continue;
    }
    const float *e = r->greedy + (size_t)s * r->V, *c = got + (size_t)s * r->V;
    float d = 0;
    for (int i = 0; i < r->V; i++) d = fmaxf(d, fabsf(c[i] - e[i]));
    float margin = e[r->tokens[s]] - e[tokens[s]];
    if (margin <= d) {
      cell->ties++;
      continue;
    }
    snprintf(cell->why, sizeof(cell->why),
             "greedy step %d: token %d, the interpreter's %d (its margin %g, max diff %g)", s,
             tokens[s], r->tokens[s], margin, d);
    return false;
  }
  return true;
}

static void cell_fail(cell_t *cell, cell_state_t state, const char *what, azc_status_t st) {
  cell->state = state;
  snprintf(cell->why, sizeof(cell->why), "%s: %s", what, azc_status_message(st));
  azc_status_free(st);
}

/* the KV cache type both executors use: f32 in every part but "kv", so that the
 * strict check sees only the kernels' own differences (with f16 a value the two
 * executors compute 1e-7 apart can round to halves one step apart: tiny-gemma2
 * goes from 7e-7 to 7e-5 of the range, near the 1e-4 bound) */
static int kv_type = AZC_KV_F32;

static azc_executor_params_t exec_params(void) {
  azc_executor_params_t ep = azc_executor_params_default();
  ep.kv_type = kv_type;
  ep.n_ctx = 32;
  ep.n_seq = 2;
  ep.n_threads = 2;
  return ep;
}

static azc_status_t reference_make(azc_model_t *m, reference_t *r) {
  memset(r, 0, sizeof(*r));
  r->V = m->hp.n_vocab;
  r->exact = true;
  for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
    if (m->gguf->tensors[i].type != AZC_DTYPE_F32)
      r->exact = false; /* F16: activations round to half, ties can flip */
  /* a q8_0 KV cache quantizes K and V as activations are quantized: a value the
   * two executors compute 1e-7 apart on either side of a rounding boundary
   * moves by a step of amax / 127 (an f16 cache's step is 2^-11 of the value,
   * within the strict check) */
  if (kv_type == AZC_KV_Q8_0) r->exact = false;
  r->rows = malloc(sizeof(float) * STEPS * (size_t)r->V);
  r->greedy = malloc(sizeof(float) * GROWS * (size_t)r->V);
  if (!r->rows || !r->greedy) return AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  azc_ir_graph_t *g;
  AZC_RETURN_IF_ERROR(azc_model_lower(m, &g));
  azc_executor_params_t ep = exec_params();
  azc_executor_t *eager = NULL;
  azc_status_t st = azc_ir_interp_create(g, &ep, &eager);
  if (!st) st = run(eager, r->V, r->rows);
  if (!st) st = greedy(eager, r->V, NULL, r->tokens, r->greedy);
  if (eager) azc_executor_destroy(eager);
  azc_ir_graph_destroy(g);
  return st;
}

/* One cell: the model compiled for the column, run, compared. */
static void run_cell(azc_model_t *m, const model_case_t *mc, const reference_t *r,
                     const column_t *col, cell_t *cell) {
  memset(cell, 0, sizeof(*cell));
  cell->cos_min = 1, cell->rel_max = 0, cell->exact = r->exact;
  azc_compile_options_t o = azc_compile_options_default();
  o.backend = col->be->name;
  o.fuse = col->fuse;
  o.n_batch = 16;
  o.n_ctx = 32;
  compiled_model_t *c;
  double t0 = azc_time_ms();
  azc_status_t st = compiled_model_create(m, &o, &c);
  cell->ms_compile = azc_time_ms() - t0;
  if (st) {
    cell_fail(cell, CELL_REFUSED, "compile", st);
    return;
  }
  for (int op = 0; op < AZC_OP_COUNT; op++)
    cell->ops[op] = c->compiled->stats.ops_after[op] > 0 && op_is_kernel(op);
  cell->kernels = c->compiled->stats.kernels;
  cell->compiled = c->compiled->stats.cache_misses;
  const azc_plan_t *plan = c->compiled->plan;
  for (int32_t i = 0; i < plan->n_steps; i++)
    cell->on_device +=
        plan->steps[i].op == AZC_STEP_KERNEL && plan->steps[i].device == col->be->device;
  azc_executor_params_t ep = exec_params();
  azc_executor_t *ex;
  st = compiled_model_executor(c, &ep, &ex);
  if (st) {
    /* the CPU runs every plan: a refusal there is a failure */
    cell_fail(cell, col->be->device == AZC_DEVICE_CPU ? CELL_FAIL : CELL_NO_EXECUTOR, "executor",
              st);
    compiled_model_free(c);
    return;
  }
  int V = r->V;
  float *rows = malloc(sizeof(float) * STEPS * (size_t)V);
  float *g = malloc(sizeof(float) * GROWS * (size_t)V);
  int32_t tokens[GROWS];
  cell->state = CELL_FAIL;
  t0 = azc_time_ms();
  st = rows && g ? run(ex, V, rows) : AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  if (!st) st = greedy(ex, V, r->tokens, tokens, g);
  cell->ms_run = azc_time_ms() - t0;
  if (st) {
    cell_fail(cell, CELL_FAIL, "forward", st);
  } else if (compare_rows(cell, "batches", rows, r->rows, STEPS, V, r, mc->random_weights) &&
             compare_rows(cell, "greedy", g, r->greedy, GROWS, V, r, mc->random_weights) &&
             compare_tokens(cell, tokens, g, r)) {
    /* more tokens than the plan serves is refused, not overrun */
    int32_t many[17] = {0}, pos[17], seq[17] = {0}, last = 16;
    for (int i = 0; i < 17; i++) pos[i] = i;
    azc_batch_t big = {17, many, pos, seq, 1, &last};
    float *out = malloc(sizeof(float) * 17 * (size_t)V);
    st = azc_executor_forward(ex, &big, out);
    free(out);
    if (st && azc_status_code(st) == AZC_INVALID_ARGUMENT) {
      cell->state = CELL_OK;
      azc_status_free(st);
      if (!cell->on_device) { /* matched, but not with this back end's code */
        cell->state = CELL_OFF_DEVICE;
        snprintf(cell->why, sizeof(cell->why), "no kernel step of the plan ran on %s",
                 azc_device_name(col->be->device));
      }
    } else if (st) {
      cell_fail(cell, CELL_FAIL, "17 tokens in a 16-token plan", st);
    } else {
      snprintf(cell->why, sizeof(cell->why), "17 tokens in a 16-token plan were not refused");
    }
  }
  free(rows), free(g);
  azc_executor_destroy(ex);
  compiled_model_free(c);
}

/* ---- the matrix ---- */
typedef struct matrix {
  column_t cols[MAX_COLS];
  int n_cols;
  model_case_t models[MAX_MODELS];
  int n_models;
  cell_t cells[MAX_MODELS][MAX_COLS];
  double ms_reference[MAX_MODELS]; /* the interpreter's runs */
} matrix_t;

static void matrix_columns(matrix_t *mx) {
  int n;
  const azc_codegen_backend_t *const *be = azc_codegen_backends(&n);
  for (int b = 0; b < n && mx->n_cols + 2 <= MAX_COLS; b++)
    for (int f = 1; f >= 0; f--) {
      column_t *c = &mx->cols[mx->n_cols++];
      c->be = be[b];
      c->fuse = f;
      snprintf(c->name, sizeof(c->name), "%s %s", be[b]->name, f ? "fused" : "unfused");
    }
}

static void add_model(matrix_t *mx, const char *path, const char *what, bool random_weights) {
  if (mx->n_models == MAX_MODELS) return;
  model_case_t *mc = &mx->models[mx->n_models++];
  snprintf(mc->path, sizeof(mc->path), "%s", path);
  snprintf(mc->what, sizeof(mc->what), "%s", what);
  mc->random_weights = random_weights;
}

static void print_matrix(const matrix_t *mx, const char *part) {
  fprintf(stderr, "\ncompiled vs eager, part %s: op x back end x (fused, unfused)\n", part);
  fprintf(stderr, "(a cell: models that matched / models whose compiled graph has the op)\n");
  /* a back end found by name but left out of azc_codegen_backends() gets no columns: say so */
  const azc_codegen_backend_t *cuda = azc_codegen_backend_cuda();
  bool listed = false;
  for (int c = 0; c < mx->n_cols; c++) listed |= cuda && mx->cols[c].be == cuda;
  if (cuda && !listed)
    fprintf(stderr,
            "(back end %s is built in but not in azc_codegen_backends(), so it has no columns: "
            "see codegen/backend.c)\n",
            cuda->name);
  fprintf(stderr, "%-13s", "op");
  for (int c = 0; c < mx->n_cols; c++) fprintf(stderr, " %-15s", mx->cols[c].name);
  fprintf(stderr, "\n");
  for (int op = 0; op < AZC_OP_COUNT; op++) {
    if (!op_is_kernel(op)) continue;
    fprintf(stderr, "%-13s", azc_op_info((azc_op_t)op)->name);
    for (int c = 0; c < mx->n_cols; c++) {
      int has = 0, ok = 0, no_exec = 0, refused = 0, off = 0;
      for (int m = 0; m < mx->n_models; m++) {
        const cell_t *cell = &mx->cells[m][c];
        if (cell->state == CELL_REFUSED) refused++;
        if (!cell->ops[op]) continue;
        has++;
        ok += cell->state == CELL_OK;
        no_exec += cell->state == CELL_NO_EXECUTOR;
        off += cell->state == CELL_OFF_DEVICE;
      }
      char buf[32];
      if (no_exec == has && has)
        snprintf(buf, sizeof(buf), "no executor");
      else if (off == has && has)
        snprintf(buf, sizeof(buf), "not on device");
      else if (!has)
        snprintf(buf, sizeof(buf), refused ? "refused" : "-");
      else
        snprintf(buf, sizeof(buf), "%s%d/%d", ok == has ? "" : "FAIL ", ok, has);
      fprintf(stderr, " %-15s", buf);
    }
    fprintf(stderr, "\n");
  }
  fprintf(stderr, "\n%-30s", "model");
  for (int c = 0; c < mx->n_cols; c++) fprintf(stderr, " %-22s", mx->cols[c].name);
  fprintf(stderr, "\n");
  for (int m = 0; m < mx->n_models; m++) {
    fprintf(stderr, "%-30s", mx->models[m].what);
    for (int c = 0; c < mx->n_cols; c++) {
      const cell_t *cell = &mx->cells[m][c];
      char buf[48];
      switch (cell->state) {
      case CELL_OK:
        if (cell->exact)
          snprintf(buf, sizeof(buf), "ok diff %.1e %d/%d", cell->rel_max, cell->tokens_equal,
                   GROWS);
        else
          snprintf(buf, sizeof(buf), "ok cos %.7f %d/%d", cell->cos_min, cell->tokens_equal, GROWS);
        break;
      case CELL_FAIL: snprintf(buf, sizeof(buf), "FAIL"); break;
      case CELL_NO_EXECUTOR: snprintf(buf, sizeof(buf), "no executor"); break;
      case CELL_REFUSED: snprintf(buf, sizeof(buf), "refused"); break;
      case CELL_OFF_DEVICE: snprintf(buf, sizeof(buf), "not on device"); break;
      }
      fprintf(stderr, " %-22s", buf);
    }
    fprintf(stderr, "\n");
  }
  fprintf(stderr,
          "(ok: F32 the largest difference of any row over the logits' range, else the\n"
          " smallest cosine of any row; greedy tokens equal of %d)\n",
          GROWS);
  fprintf(stderr,
          "\ntime per cell: compile (kernels compiled of distinct), run; the interpreter\n");
  for (int m = 0; m < mx->n_models; m++) {
    fprintf(stderr, "%-30s", mx->models[m].what);
    for (int c = 0; c < mx->n_cols; c++) {
      const cell_t *cell = &mx->cells[m][c];
      char buf[48];
      snprintf(buf, sizeof(buf), "%.0f ms (%d of %d), %.0f ms", cell->ms_compile, cell->compiled,
               cell->kernels, cell->ms_run);
      fprintf(stderr, " %-26s", buf);
    }
    fprintf(stderr, " %.0f ms\n", mx->ms_reference[m]);
  }
  for (int m = 0; m < mx->n_models; m++)
    for (int c = 0; c < mx->n_cols; c++) {
      const cell_t *cell = &mx->cells[m][c];
      if (cell->state != CELL_OK)
        fprintf(stderr, "  %s, %s: %s\n", mx->models[m].what, mx->cols[c].name, cell->why);
      else if (cell->ties)
        fprintf(stderr, "  %s, %s: %d greedy step(s) a tie within the measured difference\n",
                mx->models[m].what, mx->cols[c].name, cell->ties);
    }
}

static void run_matrix(matrix_t *mx, const char *part, bool full_coverage) {
  matrix_columns(mx);
  for (int m = 0; m < mx->n_models; m++) {
    azc_model_t *model;
    ASSERT_OK(azc_model_open(mx->models[m].path, &model));
    reference_t r;
    double t0 = azc_time_ms();
    azc_status_t st = reference_make(model, &r);
    mx->ms_reference[m] = azc_time_ms() - t0;
    if (st) {
      free(r.rows), free(r.greedy);
      azc_model_close(model);
      ASSERT_OK(st);
    }
    for (int c = 0; c < mx->n_cols; c++)
      run_cell(model, &mx->models[m], &r, &mx->cols[c], &mx->cells[m][c]);
    free(r.rows), free(r.greedy);
    azc_model_close(model);
  }
  print_matrix(mx, part);
  for (int m = 0; m < mx->n_models; m++)
    for (int c = 0; c < mx->n_cols; c++) {
      const cell_t *cell = &mx->cells[m][c];
      /* a CPU column must run; another back end may lack an executor, or refuse a kernel it
       * has none for (the tables above say so) */
      bool must = mx->cols[c].be->device == AZC_DEVICE_CPU;
      ASSERT_MSG(cell->state == CELL_OK || (!must && cell->state != CELL_FAIL), "%s, %s: %s",
                 mx->models[m].what, mx->cols[c].name, cell->why);
    }
  if (!full_coverage) return;
  /* every op that runs as a kernel is in some model of every runnable column: the unfused
   * columns hold every op but the fused ones, the fused columns hold those */
  for (int c = 0; c < mx->n_cols; c++)
    for (int op = 0; op < AZC_OP_COUNT; op++) {
      bool fused_op = op == AZC_OP_MATMUL_FUSED || op == AZC_OP_FLASH_ATTN;
      if (!op_is_kernel(op) || (mx->cols[c].fuse ? !fused_op : fused_op)) continue;
      bool covered = false, runnable = false;
      for (int m = 0; m < mx->n_models; m++) {
        covered |= mx->cells[m][c].ops[op];
        runnable |= mx->cells[m][c].state == CELL_OK;
      }
      ASSERT_MSG(covered || !runnable, "%s: no model of part %s compiles op %s", mx->cols[c].name,
                 part, azc_op_info((azc_op_t)op)->name);
    }
}

/* ---- the parts ---- */
/* A synthetic model in an odd shape for weight type `type`. */
static void synth_case(matrix_t *mx, const char *arch, azc_dtype_t type) {
  azc_synth_params_t p;
  ASSERT_OK(azc_synth_preset(!strcmp(arch, "llama") ? "tiny-llama" : "tiny-gpt2", &p));
  bool k_quant = azc_dtype_info(type)->block_size == 256;
  /* K: 96 (3 blocks of 32) or 256; heads of 32 or 64 dims; GQA 3:1 or 2:1;
   * vocab 389 (odd N for the logits kernel) */
  p.n_embd = k_quant ? 256 : 96;
  p.n_head = k_quant ? 4 : 3;
  p.n_head_kv = !strcmp(arch, "llama") ? (k_quant ? 2 : 1) : p.n_head;
  p.n_ff = k_quant ? 512 : 160;
  p.n_vocab = 389;
  p.n_layer = 2;
  p.wtype = type;
  p.seed = 7 + (uint64_t)type;
  p.tied = !strcmp(arch, "gpt2");
  char path[512], what[128];
  snprintf(path, sizeof(path), "%s/%s-%s.gguf", test_tmp_dir(), arch, azc_dtype_name(type));
  snprintf(what, sizeof(what), "%s %s", arch, azc_dtype_name(type));
  ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
  add_model(mx, path, what, false);
}

static matrix_t mx;

/* the float and 32-value block types (K = 96) */
static void test_llama_types(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16,
                                      AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_1, AZC_DTYPE_Q5_0,
                                      AZC_DTYPE_Q5_1, AZC_DTYPE_Q8_0};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++)
    synth_case(&mx, "llama", types[i]);
  if (!test_current_failed) run_matrix(&mx, "llama", false);
}

/* the K-quants (K = 256) */
static void test_llama_k_types(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_Q2_K, AZC_DTYPE_Q3_K, AZC_DTYPE_Q4_K,
                                      AZC_DTYPE_Q5_K, AZC_DTYPE_Q6_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++)
    synth_case(&mx, "llama", types[i]);
  if (!test_current_failed) run_matrix(&mx, "llama_k", false);
}

static void test_gpt2_types(void) {
  static const azc_dtype_t types[] = {AZC_DTYPE_F32, AZC_DTYPE_Q8_0, AZC_DTYPE_Q4_K};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++)
    synth_case(&mx, "gpt2", types[i]);
  if (!test_current_failed) run_matrix(&mx, "gpt2", false);
}

/* The tiny-<arch> shape of every architecture (as azc mkmodel writes it), F32: the strict
 * check, and between them every op the frontend emits. */
static void test_every_arch(void) {
  static const char *shapes[] = {"tiny-llama3", "tiny-qwen2", "tiny-qwen3",      "tiny-gemma2",
                                 "tiny-gemma3", "tiny-phi3",  "tiny-starcoder2", "tiny-gpt2"};
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    azc_synth_params_t p;
    ASSERT_OK(azc_synth_preset(shapes[i], &p));
    if (p.n_swa) p.n_swa = 6; /* every batch reaches past the sliding window */
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.gguf", test_tmp_dir(), shapes[i]);
    ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
    add_model(&mx, path, shapes[i], false);
  }
  run_matrix(&mx, "arch", true);
}

static void test_shared_models(void) {
  static const char *models[] = {
      "stories260K.gguf",           "llama-small-tied-f16.gguf",    "llama-small-tied-Q8_0.gguf",
      "llama-small-tied-Q4_0.gguf", "llama-small-tied-Q4_K_M.gguf", "llama-small-tied-Q6_K.gguf",
      "gpt2-small-tied-Q8_0.gguf"};
  char path[1024], rel[256];
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
    snprintf(rel, sizeof(rel), "models/%s", models[i]);
    if (!test_shared_path(path, sizeof(path), rel)) TEST_SKIP("../shared/models is absent");
    add_model(&mx, path, models[i], strstr(models[i], "llama-small") != NULL);
  }
  run_matrix(&mx, "shared", false);
}

/* every KV cache type on models that between them have GQA, quantized
 * activations, soft-caps, sliding windows, LayerNorm and biases, fused and
 * unfused (the kernel cache makes the second and third type cost only runs) */
static void test_kv_types(void) {
  static const int types[] = {AZC_KV_F32, AZC_KV_F16, AZC_KV_Q8_0};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !test_current_failed; i++) {
    memset(&mx, 0, sizeof(mx));
    kv_type = types[i];
    synth_case(&mx, "llama", AZC_DTYPE_F32);
    synth_case(&mx, "llama", AZC_DTYPE_Q8_0);
    synth_case(&mx, "gpt2", AZC_DTYPE_F32);
    azc_synth_params_t p;
    ASSERT_OK(azc_synth_preset("tiny-gemma2", &p));
    p.n_swa = 6;
    char path[512], part[32];
    snprintf(path, sizeof(path), "%s/kv-tiny-gemma2.gguf", test_tmp_dir());
    ASSERT_OK(azc_synth_write(&p, path, NULL, NULL));
    add_model(&mx, path, "tiny-gemma2", false);
    snprintf(part, sizeof(part), "kv %s", azc_kv_type_name(types[i]));
    if (!test_current_failed) run_matrix(&mx, part, false);
  }
}

int main(int argc, char **argv) {
  const char *part = argc > 1 ? argv[1] : "";
  if (!strcmp(part, "llama"))
    RUN(test_llama_types);
  else if (!strcmp(part, "llama_k"))
    RUN(test_llama_k_types);
  else if (!strcmp(part, "gpt2"))
    RUN(test_gpt2_types);
  else if (!strcmp(part, "arch"))
    RUN(test_every_arch);
  else if (!strcmp(part, "shared"))
    RUN(test_shared_models);
  else if (!strcmp(part, "kv"))
    RUN(test_kv_types);
  else {
    fprintf(stderr, "usage: test_compiled_vs_eager llama|llama_k|gpt2|arch|shared|kv\n");
    return 2;
  }
  return test_summary();
}
