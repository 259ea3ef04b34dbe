/* The contents of a model bundle's sections (the container is bundle.h; both
 * are described in docs/bundle-format.md). Fixed-size little-endian records:
 *
 *   meta        azc_bundle_meta_t: the model (architecture, sizes, source file)
 *   plan        the execution plan (runtime/plan.h serialization)
 *   tokenizer   the tokenizer blob (runtime/tokenizer.h serialization)
 *   cpu.target  azc_bundle_cpu_target_t: triple, CPU, features checked at load
 *   cpu.code    azc_bundle_code_header_t, then n entries of {u64 offset, u64
 *               size}, then the kernels' ELF objects (offsets from the
 *               section start, 16-byte aligned)
 *   defaults    azc_bundle_defaults_t: run parameters stored by azc compile
 *   chat        optional: template, system, messages, stop strings, license,
 *               draft model and Modelfile text (runtime/chat_info.h)
 *   weights     every weight the plan names, at plan->weights[i].offset,
 *               64-byte aligned; the section is page aligned for zero-copy mmap */
#ifndef AZC_RUNTIME_BUNDLE_SECTIONS_H
#define AZC_RUNTIME_BUNDLE_SECTIONS_H

#include <stdint.h>

#define AZC_SECTION_META "meta"
#define AZC_SECTION_PLAN "plan"
#define AZC_SECTION_TOKENIZER "tokenizer"
#define AZC_SECTION_CPU_TARGET "cpu.target"
#define AZC_SECTION_CPU_CODE "cpu.code"
#define AZC_SECTION_DEFAULTS "defaults"
#define AZC_SECTION_WEIGHTS "weights"
#define AZC_SECTION_CHAT "chat"

typedef struct azc_bundle_meta {
  char magic[8]; /* "AZCMETA1" */
  char arch[32];
  char name[128];
  char source[256]; /* the GGUF file it was compiled from (base name) */
  int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff, file_type;
  int64_t weight_bytes;
  int64_t compiled_unix_time; /* SOURCE_DATE_EPOCH at compile time, else 0 (never the clock) */
} azc_bundle_meta_t;

typedef struct azc_bundle_cpu_target {
  char magic[8]; /* "AZCCPU01" */
  char triple[64];
  char arch[16];
  char cpu[64];
  char variant[32];
  char required[512];
  char features[2048];
} azc_bundle_cpu_target_t;

typedef struct azc_bundle_code_header {
  char magic[8]; /* "AZCCODE1" */
  uint32_t n_objects;
  uint32_t abi_version; /* AZK_ABI_VERSION */
} azc_bundle_code_header_t;

typedef struct azc_bundle_defaults {
  char magic[8]; /* "AZCDEF02" */
  float temperature, top_p, min_p, repeat_penalty;
  int32_t top_k, repeat_last_n;
  int32_t n_ctx;     /* 0: the model's, at most 4096 */
  int32_t n_predict; /* tokens to generate */
  int32_t n_threads; /* 0: all cores */
  int32_t n_gpu_layers;
  uint64_t seed; /* UINT64_MAX: random */
  /* AZCDEF02: the sampling options a Modelfile can set beyond those above */
  float typical_p;         /* 1: off */
  float presence_penalty;  /* 0: off */
  float frequency_penalty; /* 0: off */
  int32_t reserved;        /* 0 */
} azc_bundle_defaults_t;

#endif
