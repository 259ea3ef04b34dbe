/* Synthetic model writer (see synth.h). Tensors are produced one at a time
 * through the writer's fill callback, so memory stays at one tensor even for
 * a 1.1B-parameter model. Each tensor's values come from a generator seeded
 * by the model seed and the tensor name, so they do not depend on order. */
#include "frontend/synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf.h"
#include "frontend/model.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/tokenizer.h"

typedef struct preset {
  const char *name, *arch;
  int32_t n_vocab, n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff;
  bool tied;
  int32_t head_dim, n_rot;
  float rope_freq_base, rope_scale;
  bool rope_freqs, longrope;
  int32_t n_swa;
  float attn_softcap, final_softcap;
  float qk_std;
} preset_t;

/* The tiny-<arch> shapes are the test models (tests/arch): a few layers,
 * each arch's distinguishing features switched on (key_length != dim/heads,
 * partial rotary, sliding windows shorter than the test prompts, soft-caps
 * small enough to bite on random weights). The others are real models'
 * shapes with their vocabulary sizes, for benchmarks. */
static const preset_t presets[] = {
    /* name, arch, vocab, ctx, embd, layers, heads, kv, ff, tied, head_dim, n_rot, base, scale,
     * rope_freqs, longrope, swa, attn cap, final cap */
    {"tiny-llama", "llama", 384, 256, 64, 2, 4, 2, 192, false},
    {"tiny-llama3", "llama", 384,  256,   256, 2, 4, 2,   512, false, 80, 0,
     500000.0f,     0,       true, false, 0,   0, 0, 0.1f},
    {"tiny-qwen2", "qwen2", 384,   256,   256, 2, 4, 2,   512, true, 0, 0,
     1000000.0f,   0,       false, false, 0,   0, 0, 0.1f},
    {"tiny-qwen3", "qwen3", 384,        256, 256,   2,     4, 2, 512, true,
     128,          0,       1000000.0f, 0,   false, false, 0, 0, 0,   0.1f},
    {"tiny-gemma2", "gemma2", 384,   256,   256, 4,    4,    2,   512, true, 64, 0,
     10000.0f,      0,        false, false, 16,  5.0f, 2.0f, 0.1f},
    {"tiny-gemma3", "gemma3", 384,        256,  256,   7,     4,  1, 512, true,
     128,           0,        1000000.0f, 8.0f, false, false, 16, 0, 0,   0.1f},
    {"tiny-phi3", "phi3", 384,      512, 256,   2,    4, 4, 512, false,
     64,          48,     10000.0f, 0,   false, true, 0, 0, 0,   0.1f},
    {"tiny-starcoder2",
     "starcoder2",
     384,
     256,
     256,
     2,
     4,
     2,
     1024,
     true,
     0,
     0,
     100000.0f,
     0,
     false,
     false,
     0,
     0,
     0,
     0.1f},
    {"tiny-gpt2", "gpt2", 384, 128, 64, 2, 4, 4, 256, true},
    {"smollm2-135m", "llama", 49152, 8192, 576, 30, 9, 3, 1536, true, 0, 0, 100000.0f},
    {"qwen2.5-0.5b", "qwen2", 151936, 32768, 896, 24, 14, 2, 4864, true, 0, 0, 1000000.0f},
    {"qwen3-0.6b", "qwen3", 151936, 40960, 1024, 28, 16, 8, 3072, true, 128, 0, 1000000.0f},
    {"gemma-3-270m", "gemma3", 262144, 32768, 640, 18, 4, 1, 2048, true, 256, 0, 1000000.0f, 0,
     false, false, 512},
    {"phi-3-mini-4l", "phi3", 32064, 131072, 3072, 4, 32, 32, 8192, false, 0, 0, 10000.0f, 0, false,
     true},
    /* Llama 3.2 1B, Gemma 2 2B and StarCoder2 3B cut to 4 layers */
    {"llama-3.2-1b-4l", "llama", 128256, 131072, 2048, 4, 32, 8, 8192, true, 64, 0, 500000.0f, 0,
     true},
    {"gemma-2-2b-4l", "gemma2", 256000, 8192, 2304, 4, 8, 4, 9216, true, 256, 0, 10000.0f, 0, false,
     false, 4096, 50.0f, 30.0f},
    {"starcoder2-3b-4l", "starcoder2", 49152, 16384, 3072, 4, 24, 2, 12288, true, 128, 0,
     999999.4f},
    {"llama-160m", "llama", 32000, 2048, 768, 12, 12, 12, 3072, false},
    {"tinyllama-1.1b", "llama", 32000, 2048, 2048, 22, 32, 4, 5632, false},
    {"gpt2-124m", "gpt2", 50257, 1024, 768, 12, 12, 12, 3072, true},
};

const char *azc_synth_preset_names(void) {
  static char list[512];
  if (!list[0]) {
    size_t n = 0;
    for (size_t i = 0; i < AZC_ARRAY_SIZE(presets) && n < sizeof(list); i++)
      n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", presets[i].name);
  }
  return list;
}

azc_status_t azc_synth_preset(const char *shape, azc_synth_params_t *out) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(presets); i++) {
    const preset_t *p = &presets[i];
    if (strcmp(p->name, shape)) continue;
    memset(out, 0, sizeof(*out));
    out->arch = p->arch;
    out->name = p->name;
    out->n_vocab = p->n_vocab;
    out->n_ctx = p->n_ctx;
    out->n_embd = p->n_embd;
    out->n_layer = p->n_layer;
    out->n_head = p->n_head;
    out->n_head_kv = p->n_head_kv;
    out->n_ff = p->n_ff;
    out->tied = p->tied;
    out->head_dim = p->head_dim;
    out->n_rot = p->n_rot;
    out->rope_freq_base = p->rope_freq_base > 0 ? p->rope_freq_base : 10000.0f;
    out->rope_scale = p->rope_scale;
    out->rope_freqs = p->rope_freqs;
    out->longrope = p->longrope;
    out->n_swa = p->n_swa;
    out->attn_softcap = p->attn_softcap;
    out->final_softcap = p->final_softcap;
    out->qk_std = p->qk_std;
    out->wtype = AZC_DTYPE_F32;
    out->seed = 42;
    return NULL;
  }
  return AZC_ERR(AZC_INVALID_ARGUMENT, "unknown model shape '%s' (known: %s)", shape,
                 azc_synth_preset_names());
}

/* ---- random numbers: splitmix64 ---- */
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static float uniform01(uint64_t *s) { return (float)((next_u64(s) >> 40) + 0.5) / 16777216.0f; }

static float normal(uint64_t *s) {
  float u = uniform01(s), v = uniform01(s);
  return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

typedef enum { FILL_RANDOM, FILL_ONES, FILL_SMALL, FILL_FACTORS, FILL_QK } fill_kind_t;

typedef struct synth synth_t;
typedef struct tensor_spec {
  synth_t *owner;
  uint64_t seed;
  fill_kind_t kind;
  float std;
  azc_dtype_t type;
  int64_t cols, rows;
} tensor_spec_t;

struct synth {
  azc_gguf_writer_t *w;
  void (*progress)(void *user, int done, int total);
  void *user;
  int done;
  tensor_spec_t *specs;
  int n_specs, cap_specs;
  const azc_synth_params_t *p;
};

static azc_status_t fill(void *user, const char *name, void *buf, uint64_t size) {
  tensor_spec_t *t = user;
  uint64_t s = t->seed ^ azc_hash64(name, strlen(name));
  float *row = malloc((size_t)t->cols * sizeof(float));
  if (!row) return AZC_ERR(AZC_OUT_OF_MEMORY, "row of %lld", (long long)t->cols);
  size_t rb = azc_dtype_row_size(t->type, t->cols);
  for (int64_t r = 0; r < t->rows; r++) {
    for (int64_t c = 0; c < t->cols; c++) {
      if (t->kind == FILL_ONES) row[c] = 1.0f + 0.1f * normal(&s);
      else if (t->kind == FILL_SMALL) row[c] = 0.01f * normal(&s);
      else if (t->kind == FILL_FACTORS)
        row[c] = 1.0f + 3.0f * uniform01(&s);
      else row[c] = t->std * normal(&s);
    }
    if (azc_quantize_row(t->type, row, (uint8_t *)buf + (size_t)r * rb, t->cols) != rb) {
      free(row);
      return AZC_ERR(AZC_UNSUPPORTED, "cannot write type %s", azc_dtype_name(t->type));
    }
  }
  free(row);
  (void)size;
  synth_t *o = t->owner;
  if (o->progress) o->progress(o->user, ++o->done, o->n_specs);
  return NULL;
}


static azc_status_t add(synth_t *s, fill_kind_t kind, azc_dtype_t type, int64_t rows, int64_t cols,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static azc_status_t add(synth_t *s, fill_kind_t kind, azc_dtype_t type, int64_t rows, int64_t cols,
                        const char *fmt, ...) {
  char name[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof(name), fmt, ap);
  va_end(ap);
  if (rows > 1 && azc_dtype_row_size(type, cols) == 0) type = AZC_DTYPE_F16; /* rows not blockable */
  if (rows == 1) type = AZC_DTYPE_F32;
  tensor_spec_t *t = &s->specs[s->n_specs++];
  t->owner = s;
  t->seed = s->p->seed;
  t->kind = kind;
  t->std = kind == FILL_QK && s->p->qk_std > 0 ? s->p->qk_std : 0.02f;
  t->type = type;
  t->cols = cols;
  t->rows = rows;
  int64_t ne[2] = {cols, rows};
  uint64_t size = (uint64_t)azc_dtype_row_size(type, cols) * (uint64_t)rows;
  return azc_gguf_writer_add_tensor_fill(s->w, name, type, rows > 1 ? 2 : 1, ne, size, fill, t);
}

/* ---- built-in tokenizers ---- */
/* last_piece: replaces the last token with a control token (Phi-3's
 * <|endoftext|>, which llama.cpp expects in a Phi-3 vocabulary), or NULL */
static azc_status_t builtin_spm(azc_gguf_writer_t *w, int32_t n_vocab, const char *last_piece) {
  if (n_vocab < 3 + 256 + 1) return AZC_ERR(AZC_INVALID_ARGUMENT, "llama vocab needs >= 260 tokens");
  azc_strview_t *tok = calloc((size_t)n_vocab, sizeof(*tok));
  char *text = calloc((size_t)n_vocab, 24);
  float *scores = calloc((size_t)n_vocab, sizeof(float));
  int32_t *types = calloc((size_t)n_vocab, sizeof(int32_t));
  azc_status_t st = NULL;
  if (!tok || !text || !scores || !types) st = AZC_ERR(AZC_OUT_OF_MEMORY, "vocab");
  static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
  int32_t n = 0;
  for (int32_t i = 0; !st && i < n_vocab; i++) {
    char *t = text + (size_t)i * 24;
    if (i == 0) strcpy(t, "<unk>"), types[i] = AZC_TOKEN_UNKNOWN;
    else if (i == 1) strcpy(t, "<s>"), types[i] = AZC_TOKEN_CONTROL;
    else if (i == 2) strcpy(t, "</s>"), types[i] = AZC_TOKEN_CONTROL;
    else if (i < 3 + 256) snprintf(t, 24, "<0x%02X>", i - 3), types[i] = AZC_TOKEN_BYTE;
    else {
      /* "▁", then ▁x, x, ▁xy, xy, ... over letters by frequency */
      int32_t k = n++;
      types[i] = AZC_TOKEN_NORMAL;
      scores[i] = -(float)k;
      if (k == 0) {
        strcpy(t, "\xe2\x96\x81");
      } else {
        k -= 1;
        int space = !(k & 1);
        k >>= 1;
        size_t len = 0;
        if (space) memcpy(t, "\xe2\x96\x81", 3), len = 3;
        /* base-26 numeral with 1..3 letters */
        int digits = k < 26 ? 1 : k < 26 + 676 ? 2 : 3;
        int v = digits == 1 ? k : digits == 2 ? k - 26 : k - 26 - 676;
        char tmp[4];
        for (int d = digits - 1; d >= 0; d--) tmp[d] = letters[v % 26], v /= 26;
        memcpy(t + len, tmp, (size_t)digits);
        t[len + (size_t)digits] = 0;
        if (k >= 26 + 676 + 17576) snprintf(t, 24, "<extra_%d>", i), types[i] = AZC_TOKEN_USER_DEFINED;
      }
    }
    if (last_piece && i == n_vocab - 1 && strlen(last_piece) < 24)
      strcpy(t, last_piece), types[i] = AZC_TOKEN_CONTROL, scores[i] = 0;
    tok[i].data = t;
    tok[i].size = strlen(t);
  }
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
  if (!st) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)n_vocab);
  if (!st) st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.scores", AZC_GGUF_FLOAT32, scores, (uint64_t)n_vocab);
  if (!st) st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AZC_GGUF_INT32, types, (uint64_t)n_vocab);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
  if (!st) st = azc_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
  free(tok);
  free(text);
  free(scores);
  free(types);
  return st;
}

/* GPT-2's byte alphabet: printable bytes map to themselves, the rest to U+0100.. */
static size_t byte_symbol(int b, char *out) {
  int cp;
  if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
    cp = b;
  } else {
    int k = 0;
    for (int x = 0; x < b; x++)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) k++;
    cp = 256 + k;
  }
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  out[0] = (char)(0xC0 | (cp >> 6));
  out[1] = (char)(0x80 | (cp & 0x3F));
  return 2;
}

static azc_status_t builtin_bpe(azc_gguf_writer_t *w, int32_t n_vocab) {
  if (n_vocab < 258) return AZC_ERR(AZC_INVALID_ARGUMENT, "gpt2 vocab needs >= 258 tokens");
  int32_t n_merges = n_vocab - 257;
  azc_strview_t *tok = calloc((size_t)n_vocab, sizeof(*tok));
  azc_strview_t *merges = calloc((size_t)(n_merges ? n_merges : 1), sizeof(*merges));
  char *text = calloc((size_t)n_vocab, 16), *mtext = calloc((size_t)(n_merges ? n_merges : 1), 16);
  azc_status_t st = NULL;
  if (!tok || !merges || !text || !mtext) st = AZC_ERR(AZC_OUT_OF_MEMORY, "vocab");
  static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
  for (int32_t i = 0; !st && i < 256; i++) {
    char *t = text + (size_t)i * 16;
    tok[i].data = t;
    tok[i].size = byte_symbol(i, t);
  }
  /* merges: "Ġ x" for each letter, then "x y" letter pairs, then "Ġx y" */
  for (int32_t m = 0; !st && m < n_merges; m++) {
    char a[8], b[8];
    size_t la, lb;
    int k = m;
    if (k < 26) {
      la = byte_symbol(' ', a);
      lb = 1, b[0] = letters[k];
    } else if ((k -= 26) < 676) {
      la = 1, a[0] = letters[k / 26];
      lb = 1, b[0] = letters[k % 26];
    } else if ((k -= 676) < 676) {
      la = byte_symbol(' ', a);
      a[la] = letters[k / 26];
      la++;
      lb = 1, b[0] = letters[k % 26];
    } else {
      /* beyond the generated pairs: filler tokens that no merge produces */
      char *t = text + (size_t)(256 + m) * 16;
      snprintf(t, 16, "<x%d>", m);
      tok[256 + m].data = t;
      tok[256 + m].size = strlen(t);
      n_merges = m < n_merges ? m : n_merges;
      continue;
    }
    char *mt = mtext + (size_t)m * 16, *t = text + (size_t)(256 + m) * 16;
    memcpy(mt, a, la);
    mt[la] = ' ';
    memcpy(mt + la + 1, b, lb);
    merges[m].data = mt;
    merges[m].size = la + 1 + lb;
    memcpy(t, a, la);
    memcpy(t + la, b, lb);
    tok[256 + m].data = t;
    tok[256 + m].size = la + lb;
  }
  char *eot = text + (size_t)(n_vocab - 1) * 16;
  strcpy(eot, "<|endoftext|>");
  tok[n_vocab - 1].data = eot;
  tok[n_vocab - 1].size = strlen(eot);
  int32_t *types = calloc((size_t)n_vocab, sizeof(int32_t));
  if (!st && !types) st = AZC_ERR(AZC_OUT_OF_MEMORY, "vocab");
  for (int32_t i = 0; !st && i < n_vocab; i++) types[i] = i == n_vocab - 1 ? AZC_TOKEN_CONTROL : AZC_TOKEN_NORMAL;
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
  if (!st) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)n_vocab);
  if (!st) st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AZC_GGUF_INT32, types, (uint64_t)n_vocab);
  if (!st) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, (uint64_t)n_merges);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)n_vocab - 1);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)n_vocab - 1);
  free(tok);
  free(merges);
  free(text);
  free(mtext);
  free(types);
  return st;
}

/* Copies every tokenizer.* key of another GGUF; returns its vocabulary size. */
static azc_status_t copy_vocab(azc_gguf_writer_t *w, const char *path, int32_t *n_vocab) {
  azc_gguf_t *g;
  AZC_RETURN_IF_ERROR(azc_gguf_open(path, &g));
  azc_status_t st = NULL;
  const azc_gguf_value_t *toks;
  st = azc_gguf_get_arr(g, "tokenizer.ggml.tokens", AZC_GGUF_STRING, &toks);
  if (!st) *n_vocab = (int32_t)toks->v.arr.count;
  for (uint64_t i = 0; !st && i < g->n_kv; i++) {
    const azc_gguf_kv_t *kv = &g->kv[i];
    if (kv->key.size < 10 || memcmp(kv->key.data, "tokenizer.", 10)) continue;
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)AZC_MIN(kv->key.size, 255), kv->key.data);
    st = azc_gguf_writer_set_value(w, key, &kv->value);
  }
  azc_gguf_close(g);
  return st;
}

#define KEY(suffix) (snprintf(k, sizeof(k), "%s.%s", p->arch, suffix), k)

static azc_status_t common_keys(azc_gguf_writer_t *w, const azc_synth_params_t *p) {
  char k[96];
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_str(w, "general.architecture", p->arch));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_str(w, "general.name", p->name ? p->name : "synthetic"));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)p->n_ctx));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)p->n_embd));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)p->n_layer));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)p->n_ff));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)p->n_head));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_head_kv));
  return NULL;
}

/* the decoder rows (frontend/decoder.h): keys and tensors from the variant */
static azc_status_t decoder_model(synth_t *s, const azc_decoder_variant_t *v, int32_t n_vocab) {
  const azc_synth_params_t *p = s->p;
  azc_gguf_writer_t *w = s->w;
  char k[96];
  const int64_t D = p->n_embd, F = p->n_ff, hd = p->head_dim ? p->head_dim : p->n_embd / p->n_head;
  const int64_t n_rot = p->n_rot ? p->n_rot : hd;
  const int64_t Dq = p->n_head * hd, Dkv = p->n_head_kv * hd;
  const azc_dtype_t wt = p->wtype;
  AZC_RETURN_IF_ERROR(common_keys(w, p));
  if (p->head_dim) {
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)hd));
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)hd));
  }
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(
      w, KEY(v->layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
      1e-5f));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)n_rot));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(
      w, KEY("rope.freq_base"), p->rope_freq_base > 0 ? p->rope_freq_base : 10000.0f));
  if (p->rope_scale > 0) {
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_str(w, KEY("rope.scaling.type"), "linear"));
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(w, KEY("rope.scaling.factor"), p->rope_scale));
  }
  if (p->longrope) {
    /* Phi-3's conversion: sqrt(1 + ln(ctx / orig) / ln(orig)) */
    uint32_t orig = (uint32_t)(p->n_ctx / 2 > 0 ? p->n_ctx / 2 : 1);
    float scale = (float)p->n_ctx / (float)orig;
    AZC_RETURN_IF_ERROR(
        azc_gguf_writer_set_u32(w, KEY("rope.scaling.original_context_length"), orig));
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(w, KEY("rope.scaling.attn_factor"),
                                                sqrtf(1.0f + logf(scale) / logf((float)orig))));
  }
  if (v->swa_pattern && p->n_swa > 0)
    AZC_RETURN_IF_ERROR(
        azc_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)p->n_swa));
  if (v->softcaps && p->attn_softcap > 0)
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(w, KEY("attn_logit_softcapping"), p->attn_softcap));
  if (v->softcaps && p->final_softcap > 0)
    AZC_RETURN_IF_ERROR(
        azc_gguf_writer_set_f32(w, KEY("final_logit_softcapping"), p->final_softcap));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, "general.file_type",
                                              p->wtype == AZC_DTYPE_F32   ? 0
                                              : p->wtype == AZC_DTYPE_F16 ? 1
                                                                          : 7));

  const bool qkv_b = v->biases != AZC_BIAS_OPTIONAL, all_b = v->biases == AZC_BIAS_ALL;
  AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, n_vocab, D, "token_embd.weight"));
  if (p->rope_freqs)
    AZC_RETURN_IF_ERROR(add(s, FILL_FACTORS, wt, 1, n_rot / 2, "rope_freqs.weight"));
  if (p->longrope) {
    AZC_RETURN_IF_ERROR(add(s, FILL_FACTORS, wt, 1, n_rot / 2, "rope_factors_long.weight"));
    AZC_RETURN_IF_ERROR(add(s, FILL_FACTORS, wt, 1, n_rot / 2, "rope_factors_short.weight"));
  }
  for (int l = 0; l < p->n_layer; l++) {
    AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.attn_norm.weight", l));
    if (v->layer_norm)
      AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.attn_norm.bias", l));
    if (v->fused_qkv) {
      AZC_RETURN_IF_ERROR(add(s, FILL_QK, wt, Dq + 2 * Dkv, D, "blk.%d.attn_qkv.weight", l));
      if (qkv_b)
        AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, Dq + 2 * Dkv, "blk.%d.attn_qkv.bias", l));
    } else {
      AZC_RETURN_IF_ERROR(add(s, FILL_QK, wt, Dq, D, "blk.%d.attn_q.weight", l));
      AZC_RETURN_IF_ERROR(add(s, FILL_QK, wt, Dkv, D, "blk.%d.attn_k.weight", l));
      AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, Dkv, D, "blk.%d.attn_v.weight", l));
      if (qkv_b) {
        AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, Dq, "blk.%d.attn_q.bias", l));
        AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, Dkv, "blk.%d.attn_k.bias", l));
        AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, Dkv, "blk.%d.attn_v.bias", l));
      }
    }
    if (v->qk_norm) {
      AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, hd, "blk.%d.attn_q_norm.weight", l));
      AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, hd, "blk.%d.attn_k_norm.weight", l));
    }
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, D, Dq, "blk.%d.attn_output.weight", l));
    if (all_b) AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.attn_output.bias", l));
    if (v->sandwich_norms)
      AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.post_attention_norm.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.ffn_norm.weight", l));
    if (v->layer_norm) AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.ffn_norm.bias", l));
    if (v->ffn != AZC_FFN_GELU && !v->fused_gate_up)
      AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, F, D, "blk.%d.ffn_gate.weight", l));
    AZC_RETURN_IF_ERROR(
        add(s, FILL_RANDOM, wt, v->fused_gate_up ? 2 * F : F, D, "blk.%d.ffn_up.weight", l));
    if (all_b) AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, F, "blk.%d.ffn_up.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, D, F, "blk.%d.ffn_down.weight", l));
    if (all_b) AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.ffn_down.bias", l));
    if (v->sandwich_norms)
      AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.post_ffw_norm.weight", l));
  }
  AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "output_norm.weight"));
  if (v->layer_norm) AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "output_norm.bias"));
  if (!p->tied) AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, n_vocab, D, "output.weight"));
  return NULL;
}

static azc_status_t gpt2_model(synth_t *s, int32_t n_vocab) {
  const azc_synth_params_t *p = s->p;
  azc_gguf_writer_t *w = s->w;
  char k[96];
  AZC_RETURN_IF_ERROR(common_keys(w, p));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-5f));
  AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, "general.file_type",
                                              p->wtype == AZC_DTYPE_F32   ? 0
                                              : p->wtype == AZC_DTYPE_F16 ? 1
                                                                          : 7));
  const int64_t D = p->n_embd, F = p->n_ff;
  const azc_dtype_t wt = p->wtype;
  AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, n_vocab, D, "token_embd.weight"));
  AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, AZC_DTYPE_F32, p->n_ctx, D, "position_embd.weight"));
  for (int l = 0; l < p->n_layer; l++) {
    AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.attn_norm.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.attn_norm.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, 3 * D, D, "blk.%d.attn_qkv.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, 3 * D, "blk.%d.attn_qkv.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, D, D, "blk.%d.attn_output.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.attn_output.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "blk.%d.ffn_norm.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.ffn_norm.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, F, D, "blk.%d.ffn_up.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, F, "blk.%d.ffn_up.bias", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, D, F, "blk.%d.ffn_down.weight", l));
    AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "blk.%d.ffn_down.bias", l));
  }
  AZC_RETURN_IF_ERROR(add(s, FILL_ONES, wt, 1, D, "output_norm.weight"));
  AZC_RETURN_IF_ERROR(add(s, FILL_SMALL, wt, 1, D, "output_norm.bias"));
  if (!p->tied) AZC_RETURN_IF_ERROR(add(s, FILL_RANDOM, wt, n_vocab, D, "output.weight"));
  return NULL;
}
#undef KEY

static azc_status_t build(synth_t *s, const char *path,
                          void (*progress)(void *user, int done, int total), void *user) {
  const azc_synth_params_t *p = s->p;
  azc_gguf_writer_t *w = s->w;
  const azc_arch_t *a = azc_model_find_arch(p->arch);
  if (!a)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "synth: unknown arch '%s' (%s)", p->arch,
                   azc_model_supported_archs());
  bool gpt2 = !a->decoder;
  int32_t hd = p->head_dim ? p->head_dim : (p->n_head > 0 ? p->n_embd / p->n_head : 0);
  if (p->n_embd <= 0 || p->n_head <= 0 || hd <= 0 || (!p->head_dim && p->n_embd % p->n_head) ||
      p->n_layer <= 0 || p->n_ff <= 0 || p->n_head_kv <= 0 || p->n_head % p->n_head_kv ||
      p->n_ctx <= 0 || p->n_rot < 0 || p->n_rot > hd || p->n_rot % 2)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "synth: inconsistent shape");
  int32_t n_vocab = p->n_vocab;
  /* SentencePiece for the families whose models use it, byte-level BPE otherwise */
  bool spm = !strcmp(p->arch, "llama") || !strncmp(p->arch, "gemma", 5) || !strcmp(p->arch, "phi3");
  if (p->vocab_from)
    AZC_RETURN_IF_ERROR(copy_vocab(w, p->vocab_from, &n_vocab));
  else if (spm)
    AZC_RETURN_IF_ERROR(builtin_spm(w, n_vocab, !strcmp(p->arch, "phi3") ? "<|endoftext|>" : NULL));
  else
    AZC_RETURN_IF_ERROR(builtin_bpe(w, n_vocab));
  if (p->chat_template)
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_str(w, "tokenizer.chat_template", p->chat_template));
  if (gpt2)
    AZC_RETURN_IF_ERROR(gpt2_model(s, n_vocab));
  else
    AZC_RETURN_IF_ERROR(decoder_model(s, a->decoder, n_vocab));
  s->progress = progress;
  s->user = user;
  return azc_gguf_writer_write(w, path);
}

azc_status_t azc_synth_write(const azc_synth_params_t *p, const char *path,
                             void (*progress)(void *user, int done, int total), void *user) {
  synth_t s = {0};
  s.p = p;
  s.specs = calloc((size_t)(24 * p->n_layer + 16), sizeof(tensor_spec_t));
  if (!s.specs) return AZC_ERR(AZC_OUT_OF_MEMORY, "synth");
  azc_status_t st = azc_gguf_writer_create(&s.w);
  if (!st) st = build(&s, path, progress, user);
  azc_gguf_writer_destroy(s.w);
  free(s.specs);
  return st ? azc_status_wrap(st, "writing synthetic model %s", path) : NULL;
}
