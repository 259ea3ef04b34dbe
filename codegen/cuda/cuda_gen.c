/* CUDA C from kernel specs (see cuda_gen.h). Each kernel is a struct of
 * constants named after its symbol and wrappers that call the library's
 * templates with it; the launch geometry is decided here, next to the
 * choice of template, so the two cannot disagree. */
#include "codegen/cuda/cuda_gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/quant.h"

extern const char azc_cuda_library_text[];
extern const unsigned long azc_cuda_library_text_size;

const char *azc_cuda_library(size_t *len) {
  if (len) *len = (size_t)azc_cuda_library_text_size;
  return azc_cuda_library_text;
}

void azc_cuda_module_begin(azc_buf_t *src) {
  azc_buf_puts(src, azc_cuda_library_text);
  azc_buf_puts(src, "\n/* ---- kernels ---- */\n");
}

static void put(azc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(azc_buf_t *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  azc_buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* a float constant that C++ reads back bit for bit */
static void put_float(azc_buf_t *b, const char *name, float v) {
  put(b, "  static constexpr float %s = %af;\n", name, (double)v);
}

static void add_launch(azc_cuda_kernel_info_t *info, const char *suffix, int when, int block,
                       int64_t grid_x, int rows_per_block, int64_t smem) {
  azc_cuda_launch_t *l = &info->launch[info->n_launch++];
  memset(l, 0, sizeof(*l));
  snprintf(l->suffix, sizeof(l->suffix), "%s", suffix);
  l->when = when;
  l->block = block;
  l->grid_x = (int32_t)grid_x;
  l->rows_per_block = rows_per_block;
  l->smem = (int32_t)smem;
}

static bool int_type_ok(int t) {
  switch (t) {
  case AZC_DTYPE_Q4_0:
  case AZC_DTYPE_Q4_1:
  case AZC_DTYPE_Q5_0:
  case AZC_DTYPE_Q5_1:
  case AZC_DTYPE_Q8_0:
  case AZC_DTYPE_Q2_K:
  case AZC_DTYPE_Q3_K:
  case AZC_DTYPE_Q4_K:
  case AZC_DTYPE_Q5_K:
  case AZC_DTYPE_Q6_K: return true;
  default: return false;
  }
}
static bool float_type(int t) {
  return t == AZC_DTYPE_F32 || t == AZC_DTYPE_F16 || t == AZC_DTYPE_BF16;
}

/* shared memory a block may use without opting in to more */
enum { SMEM_LIMIT = 48 * 1024, SMEM_TILE_BUDGET = 40 * 1024, MM_THREADS = 128, MM_CT = 32 };
enum { FA_THREADS = 128, FA_SPLITS = 8, FA_MAX_HEAD_DIM = 256 };

static azc_status_t gen_matmul(const azk_mm_params_t *p, const char *sym, azc_buf_t *b,
                               azc_cuda_kernel_info_t *info) {
  const int K = p->K;
  int ftype = -1, any_int = 0, all_k = 1;
  int64_t Ntot = 0;
  if (p->n_seg < 1 || p->n_seg > 4)
    return AZC_ERR(AZC_UNSUPPORTED, "matmul with %d weight segments", p->n_seg);
  for (int s = 0; s < p->n_seg; s++) {
    const int t = p->wtype[s];
    if (p->wlayout[s] != AZC_LAYOUT_GGUF)
      return AZC_ERR(AZC_UNSUPPORTED,
                     "matmul segment %d: weight layout %d; CUDA kernels read GGUF's layout only", s,
                     p->wlayout[s]);
    if (float_type(t)) {
      if (ftype >= 0 && ftype != t)
        return AZC_ERR(AZC_UNSUPPORTED, "matmul mixing float weight types %s and %s",
                       azc_dtype_name((uint32_t)ftype), azc_dtype_name((uint32_t)t));
      ftype = t;
    } else if (int_type_ok(t)) {
      any_int = 1;
      all_k &= azc_dtype_info((uint32_t)t)->block_size == 256;
    } else {
      return AZC_ERR(AZC_UNSUPPORTED, "no CUDA matmul for weight type %s",
                     azc_dtype_name((uint32_t)t));
    }
    Ntot += p->N[s];
  }
  /* activations in blocks of 256 (Q8_K) for K-quant weights, else 32 */
  const int act_block = any_int && all_k ? 256 : 32;
  const bool glu = p->epilogue == AZC_EPI_SWIGLU || p->epilogue == AZC_EPI_GEGLU;
  if (any_int && K % act_block)
    return AZC_ERR(AZC_UNSUPPORTED, "matmul K=%d: quantized weights need a multiple of %d", K,
                   act_block);
  const int64_t xq_rb = any_int ? (int64_t)K / 32 * 36 : 0;
  const int64_t row_smem = xq_rb + (ftype >= 0 ? (int64_t)K * 4 : 0);
  int CT = MM_CT;
  int64_t tiles;
  if (p->epilogue == AZC_EPI_ROPE_KV) {
    CT = p->head_dim;
    if (CT <= 0 || Ntot % CT)
      return AZC_ERR(AZC_UNSUPPORTED, "rope/kv matmul: N=%lld is not whole heads of %d",
                     (long long)Ntot, CT);
    tiles = Ntot / CT;
    if (p->qk_norm && (p->in_q_norm < 0 || p->in_k_norm < 0))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "rope/kv matmul with q/k norms but no norm weights");
  } else if (glu) {
    /* gate and up: two segments of one size, or the halves of one (Phi-3) */
    if (!(p->n_seg == 2 && p->N[0] == p->N[1]) && !(p->n_seg == 1 && p->N[0] % 2 == 0))
      return AZC_ERR(AZC_UNSUPPORTED,
                     "%s matmul needs gate and up of one size: two segments "
                     "of one width or one of an even width",
                     azc_epilogue_name(p->epilogue));
    tiles = ((p->n_seg == 2 ? p->N[0] : p->N[0] / 2) + CT - 1) / CT;
  } else {
    tiles = (Ntot + CT - 1) / CT;
  }
  const int64_t tile_row = (int64_t)CT * 4 * (glu ? 2 : 1);
  int RT = (int)(SMEM_TILE_BUDGET / (row_smem + tile_row));
  if (RT > 8) RT = 8;
  const int64_t prep_smem = (32 + (int64_t)K) * 4;
  if (RT < 1 || prep_smem > SMEM_LIMIT || row_smem + tile_row > SMEM_LIMIT)
    return AZC_ERR(AZC_UNSUPPORTED, "matmul K=%d: one row does not fit in shared memory", K);

  put(b, "struct P_%s {\n", sym);
  put(b, "  static constexpr int K = %d, n_seg = %d, CT = %d;\n", K, p->n_seg, CT);
  put(b, "  static constexpr int prologue = %d, epilogue = %d, bias = %d;\n", p->prologue,
      p->epilogue, p->bias);
  int N[4] = {0}, W[4] = {0}, iw[4] = {0}, ib[4] = {0};
  for (int s = 0; s < p->n_seg; s++) {
    N[s] = p->N[s];
    W[s] = p->wtype[s];
    iw[s] = p->in_w[s];
    ib[s] = p->bias && p->in_bias[s] >= 0 ? p->in_bias[s] : 0;
  }
  put(b, "  static constexpr int N0 = %d, N1 = %d, N2 = %d, N3 = %d;\n", N[0], N[1], N[2], N[3]);
  put(b, "  static constexpr int W0 = %d, W1 = %d, W2 = %d, W3 = %d;\n", W[0], W[1], W[2], W[3]);
  put(b, "  static constexpr int in_w0 = %d, in_w1 = %d, in_w2 = %d, in_w3 = %d;\n", iw[0], iw[1],
      iw[2], iw[3]);
  put(b, "  static constexpr int in_b0 = %d, in_b1 = %d, in_b2 = %d, in_b3 = %d;\n", ib[0], ib[1],
      ib[2], ib[3]);
  put(b, "  static constexpr int in_x = %d, in_norm_w = %d, in_norm_b = %d, in_residual = %d;\n",
      p->in_x, p->in_norm_w >= 0 ? p->in_norm_w : 0, p->in_norm_b >= 0 ? p->in_norm_b : 0,
      p->in_residual >= 0 ? p->in_residual : 0);
  put(b, "  static constexpr int in_factors = %d;\n", p->in_factors);
  put(b, "  static constexpr int int_segments = %d, float_type = %d, act_block = %d;\n", any_int,
      ftype, act_block);
  put(b, "  static constexpr int n_head = %d, n_head_kv = %d, head_dim = %d;\n", p->n_head,
      p->n_head_kv, p->head_dim);
  put(b, "  static constexpr int n_rot = %d, rope_mode = %d;\n", p->n_rot, p->rope_mode);
  const bool qk = p->epilogue == AZC_EPI_ROPE_KV && p->qk_norm;
  put(b, "  static constexpr int qk_norm = %d, in_q_norm = %d, in_k_norm = %d;\n", qk ? 1 : 0,
      qk ? p->in_q_norm : 0, qk ? p->in_k_norm : 0);
  put_float(b, "eps", p->eps);
  put_float(b, "freq_base", p->freq_base);
  put_float(b, "freq_scale", p->freq_scale);
  /* 1 unless rope/kv rotates with LongRoPE's factor */
  put_float(b, "attn_factor",
            p->epilogue == AZC_EPI_ROPE_KV && p->n_rot && p->attn_factor > 0 ? p->attn_factor
                                                                             : 1.0f);
  put_float(b, "qk_eps", qk ? p->qk_eps : 0.0f);
  put(b, "};\n");
  put(b, "AZK_GLOBAL void %s_prep(azk_gpu_args a) { azk_mm_prep<P_%s>(a); }\n", sym, sym);
  put(b, "AZK_GLOBAL void %s_mv(azk_gpu_args a) { azk_mm_main<P_%s, 1>(a); }\n", sym, sym);
  put(b, "AZK_GLOBAL void %s_mm(azk_gpu_args a) { azk_mm_main<P_%s, %d>(a); }\n", sym, sym, RT);
  add_launch(info, "_prep", AZC_CUDA_WHEN_ALWAYS, 256, 1, 1, prep_smem);
  add_launch(info, "_mv", AZC_CUDA_WHEN_ONE_ROW, MM_THREADS, tiles, 1, row_smem + tile_row);
  add_launch(info, "_mm", AZC_CUDA_WHEN_MANY_ROWS, MM_THREADS, tiles, RT,
             RT * (row_smem + tile_row));
  info->scratch_per_row = xq_rb + (ftype >= 0 ? (int64_t)K * 4 : 0);
  return NULL;
}

static azc_status_t gen_flash_attn(const azk_fa_params_t *p, const char *sym, azc_buf_t *b,
                                   azc_cuda_kernel_info_t *info) {
  if (p->head_dim <= 0 || p->head_dim > FA_MAX_HEAD_DIM)
    return AZC_ERR(AZC_UNSUPPORTED, "flash attention with head size %d (CUDA kernels: 1..%d)",
                   p->head_dim, FA_MAX_HEAD_DIM);
  if (p->n_head_kv <= 0 || p->n_head % p->n_head_kv)
    return AZC_ERR(AZC_UNSUPPORTED, "flash attention: %d heads over %d kv heads", p->n_head,
                   p->n_head_kv);
  if (p->softcap < 0.0f || p->window < 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "flash attention with soft-cap %g and window %d",
                   (double)p->softcap, p->window);
  put(b, "struct P_%s {\n", sym);
  put(b, "  static constexpr int n_head = %d, n_head_kv = %d, head_dim = %d, in_q = %d;\n",
      p->n_head, p->n_head_kv, p->head_dim, p->in_q);
  put(b, "  static constexpr int window = %d; /* 0: every earlier key */\n", p->window);
  put_float(b, "scale", p->scale);
  put_float(b, "softcap", p->softcap); /* 0: none */
  put(b, "};\n");
  put(b, "AZK_GLOBAL void %s_fa(azk_gpu_args a) { azk_fa_split<P_%s, 1>(a); }\n", sym, sym);
  put(b, "AZK_GLOBAL void %s_fas(azk_gpu_args a) { azk_fa_split<P_%s, %d>(a); }\n", sym, sym,
      FA_SPLITS);
  put(b, "AZK_GLOBAL void %s_fam(azk_gpu_args a) { azk_fa_merge<P_%s, %d>(a); }\n", sym, sym,
      FA_SPLITS);
  const int64_t smem = (int64_t)(FA_THREADS / 32) * (p->head_dim + 2) * 4;
  add_launch(info, "_fa", AZC_CUDA_WHEN_MANY_ROWS, FA_THREADS, p->n_head, 1, smem);
  add_launch(info, "_fas", AZC_CUDA_WHEN_ONE_ROW, FA_THREADS, (int64_t)p->n_head * FA_SPLITS, 1,
             smem);
  add_launch(info, "_fam", AZC_CUDA_WHEN_ONE_ROW, FA_THREADS, p->n_head, 1, 0);
  info->scratch_per_row = (int64_t)p->n_head * FA_SPLITS * (p->head_dim + 2) * 4;
  return NULL;
}

/* one launch, a block per row, calling `call` */
static void one(azc_buf_t *b, azc_cuda_kernel_info_t *info, const char *sym, const char *call,
                int block, int64_t grid_x, int64_t smem) {
  put(b, "AZK_GLOBAL void %s(azk_gpu_args a) { %s; }\n", sym, call);
  add_launch(info, "", AZC_CUDA_WHEN_ALWAYS, block, grid_x, 1, smem);
}

azc_status_t azc_cuda_gen_kernel(const azc_kernel_spec_t *s, const char *sym, azc_buf_t *b,
                                 azc_cuda_kernel_info_t *info) {
  memset(info, 0, sizeof(*info));
  char call[256];
  switch (s->kind) {
  case AZK_KIND_MATMUL: return gen_matmul(&s->p.mm, sym, b, info);
  case AZK_KIND_FLASH_ATTN: return gen_flash_attn(&s->p.fa, sym, b, info);
  case AZK_KIND_GET_ROWS: {
    const azk_get_rows_params_t *p = &s->p.get_rows;
    const azc_dtype_info_t *ti = azc_dtype_info((uint32_t)p->table_type);
    if (!float_type(p->table_type) && !int_type_ok(p->table_type))
      return AZC_ERR(AZC_UNSUPPORTED, "no CUDA get_rows for table type %s",
                     azc_dtype_name((uint32_t)p->table_type));
    if (!ti || p->D % ti->block_size)
      return AZC_ERR(AZC_UNSUPPORTED, "get_rows D=%d: not whole blocks", p->D);
    snprintf(call, sizeof(call), "azk_get_rows<%d, %d>(a)", p->table_type, p->D);
    one(b, info, sym, call, 128, 1, 0);
    return NULL;
  }
  case AZK_KIND_ELEMENTWISE: {
    const azk_ew_params_t *p = &s->p.ew;
    if (p->op < AZK_EW_ADD || p->op > AZK_EW_SOFTCAP || (p->broadcast && p->b_len != p->D) ||
        (p->op == AZK_EW_SOFTCAP && !(p->scale > 0)))
      return AZC_ERR(AZC_UNSUPPORTED, "elementwise op %d (broadcast of %d over %d): no CUDA kernel",
                     p->op, p->b_len, p->D);
    /* D = 0: rows as long as the run-time key length (scale over unfused
     * attention scores, azc compile --no-fuse); the CUDA template has a
     * compile-time width only. */
    if (p->D <= 0 || p->rows_per_m != 1)
      return AZC_ERR(AZC_UNSUPPORTED,
                     "elementwise op %d over rows of the key length (unfused attention scores): "
                     "no CUDA kernel; compile with fusion on",
                     p->op);
    snprintf(call, sizeof(call), "azk_elementwise<%d, %d, %d>(a, %af)", p->op, p->D,
             p->broadcast ? 1 : 0, (double)p->scale);
    one(b, info, sym, call, 256, 1, 0);
    return NULL;
  }
  case AZK_KIND_NORM:
    if (s->p.norm.rows_per_m > 1)
      return AZC_ERR(AZC_UNSUPPORTED, "norm per head: no CUDA kernel yet");
    snprintf(call, sizeof(call), "azk_norm<%d, %d>(a, %af)", s->p.norm.D,
             s->p.norm.layer_norm ? 1 : 0, (double)s->p.norm.eps);
    one(b, info, sym, call, 256, 1, 32 * 4);
    return NULL;
  case AZK_KIND_SLICE:
    snprintf(call, sizeof(call), "azk_slice<%d, %d, %d>(a)", s->p.slice.in_width, s->p.slice.start,
             s->p.slice.len);
    one(b, info, sym, call, 128, 1, 0);
    return NULL;
  case AZK_KIND_ROPE: {
    const azk_rope_params_t *p = &s->p.rope;
    snprintf(call, sizeof(call), "azk_rope<%d, %d, %d, %d, %d>(a, %af, %af, %af)", p->n_head,
             p->head_dim, p->n_rot, p->mode, p->has_factors ? 1 : 0, (double)p->freq_base,
             (double)p->freq_scale, (double)p->attn_factor);
    one(b, info, sym, call, 128, 1, (int64_t)p->head_dim * 4);
    return NULL;
  }
  case AZK_KIND_KV_WRITE:
    snprintf(call, sizeof(call), "azk_kv_write<%d, %d>(a)", s->p.kv_write.width,
             s->p.kv_write.kind ? 1 : 0);
    one(b, info, sym, call, 128, 1, 0);
    return NULL;
  case AZK_KIND_ATTN_SCORES:
  case AZK_KIND_ATTN_VALUES: {
    const azk_attn_params_t *p = &s->p.attn;
    if (p->n_head_kv <= 0 || p->n_head % p->n_head_kv)
      return AZC_ERR(AZC_UNSUPPORTED, "attention: %d heads over %d kv heads", p->n_head,
                     p->n_head_kv);
    snprintf(call, sizeof(call), "azk_attn_%s<%d, %d, %d>(a)",
             s->kind == AZK_KIND_ATTN_SCORES ? "scores" : "values", p->n_head, p->n_head_kv,
             p->head_dim);
    one(b, info, sym, call, 128, p->n_head, 0);
    return NULL;
  }
  case AZK_KIND_CAUSAL_MASK:
    snprintf(call, sizeof(call), "azk_causal_mask<%d>(a)", s->p.attn.n_head);
    one(b, info, sym, call, 128, s->p.attn.n_head, 0);
    return NULL;
  case AZK_KIND_SOFTMAX:
    snprintf(call, sizeof(call), "azk_softmax<%d, %d>(a)", s->p.softmax.W, s->p.softmax.rows_per_m);
    one(b, info, sym, call, 128, s->p.softmax.rows_per_m, 32 * 4);
    return NULL;
  default: break;
  }
  return AZC_ERR(AZC_UNSUPPORTED, "no CUDA kernel for kernel kind %u", s->kind);
}
