/* A model as azc sees it after reading a GGUF file: hyperparameters,
 * tokenizer description and the tensor table (in the file, borrowed), plus
 * the lowering of its architecture to the IR.
 *
 * Architectures are one file each (arch_llama.c, arch_qwen2.c, ..., arch_gpt2.c)
 * and register in the table in model.c with the name GGUF's
 * general.architecture uses; the decoder-only ones are a row of
 * frontend/decoder.h's variant table and share its lowering. */
#ifndef AZC_FRONTEND_MODEL_H
#define AZC_FRONTEND_MODEL_H

#include "frontend/decoder.h"
#include "frontend/gguf.h"
#include "ir/ir.h"
#include "runtime/tokenizer.h"

typedef struct azc_hparams {
  char arch[32];
  char name[128];
  int32_t n_vocab;
  int32_t n_ctx_train;
  int32_t n_embd;
  int32_t n_layer;
  int32_t n_head;
  int32_t n_head_kv;
  int32_t head_dim;
  int32_t n_ff;
  int32_t n_rot; /* rotary dims per head (0: no rope) */
  float norm_eps;
  float rope_freq_base;
  float rope_freq_scale; /* 1 / linear scaling factor */
  float rope_attn_factor; /* multiplies the rotated pairs (LongRoPE), 1 otherwise */
  int32_t n_ctx_orig;     /* rope.scaling.original_context_length (n_ctx_train if absent) */
  int32_t n_swa;          /* sliding window of local layers (0: none) */
  float rope_freq_base_swa, rope_freq_scale_swa; /* RoPE of local layers */
  float attn_softcap, final_softcap;             /* 0: none */
  float attn_scale;      /* multiplies q.k (1/sqrt(head_dim) unless the arch says otherwise) */
  int32_t file_type;     /* general.file_type, -1 if absent */
} azc_hparams_t;

typedef struct azc_model {
  azc_gguf_t *gguf;
  azc_hparams_t hp;
  azc_tokenizer_desc_t tok; /* arrays point into gguf or into the model's own buffers */
  azc_strview_t chat_template;
  /* owned buffers behind tok */
  float *tok_scores;
  int32_t *tok_types;
} azc_model_t;

/* Opens a GGUF file and reads hyperparameters and tokenizer metadata. Fails
 * with a message naming the file and key for anything missing or malformed,
 * and for an architecture azc cannot lower (listing those it can). */
azc_status_t azc_model_open(const char *path, azc_model_t **out);
void azc_model_close(azc_model_t *m);

/* Lowers the model to an IR graph (weights point into the mapped file, so the
 * model must outlive the graph). Missing tensors are all listed in one error. */
azc_status_t azc_model_lower(const azc_model_t *m, azc_ir_graph_t **out);

/* "llama, qwen2, ..., gpt2": built from the architecture table */
const char *azc_model_supported_archs(void);

/* ---- used by the arch files ---- */
typedef struct azc_arch {
  const char *name;
  /* the decoder row (frontend/decoder.h), or NULL when the arch lowers itself */
  const azc_decoder_variant_t *decoder;
  /* arch-specific hyperparameters beyond the common (and decoder) ones; may be NULL */
  azc_status_t (*read_hparams)(const azc_gguf_t *g, azc_hparams_t *hp);
  /* own lowering, when decoder is NULL */
  azc_status_t (*lower)(const azc_model_t *m, azc_ir_graph_t *g);
} azc_arch_t;

extern const azc_arch_t azc_arch_llama, azc_arch_qwen2, azc_arch_qwen3, azc_arch_gemma2,
    azc_arch_gemma3, azc_arch_phi3, azc_arch_starcoder2, azc_arch_gpt2;

/* The architecture table (for listings and mkmodel): count and entries. */
int azc_model_arch_count(void);
const azc_arch_t *azc_model_arch_at(int i);
const azc_arch_t *azc_model_find_arch(const char *name);

/* Tensor lookup for lowering: finds `name`, checks its shape (outermost
 * first, as the IR writes it) and adds a weight node. A missing tensor is
 * recorded in *missing (a list the caller reports) and NULL returned; a wrong
 * shape sets a graph error. optional: absent is not an error. */
typedef struct azc_tensor_list {
  char buf[4096];
  int count;
} azc_tensor_list_t;

azc_ir_node_t *azc_model_weight(const azc_model_t *m, azc_ir_graph_t *g, azc_tensor_list_t *missing,
                                bool optional, int rank, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
