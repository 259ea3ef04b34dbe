/* azc_fuzz_seeds TARGET DIR: writes the seed corpus of one fuzz target into
 * DIR with the project's own writers, so that every target starts from valid
 * inputs of its format on any machine (../shared is not needed):
 *
 *   fuzz_gguf            files from azc's GGUF writer: every value type,
 *                        nested arrays, tensors of several types and
 *                        alignments, small SPM and BPE vocabularies
 *   fuzz_tokenize_*      the tokenizer fixtures' texts (tests/tokenizer/data),
 *                        each behind the flags byte the targets read
 *   fuzz_detokenize      those texts encoded by the synthetic tokenizers
 *   fuzz_chat_jinja      chat templates in the styles of real ones
 *   fuzz_bundle*         a bundle compiled by azc's pipeline from a one-layer
 *                        synthetic gpt2 model (Q8_0), with a chat section;
 *                        with NVRTC built in, also that model compiled for
 *                        the GPU (-ngl 99, sm_80: a cuda.code section)
 *
 * A target without a maker here gets an empty directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/bundle_emit.h"
#include "driver/compile.h"
#include "frontend/gguf.h"
#include "frontend/model.h"
#include "frontend/synth.h"
#include "frontend/vocab.h"
#include "runtime/chat_info.h"
#include "tests/fuzz/fuzz_tokenizers.h"

static char dir[4096];

static azc_status_t write_seed(const char *name, const void *data, size_t size) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return AZC_ERR(AZC_IO, "%s: cannot create", path);
  size_t n = fwrite(data, 1, size, f);
  if (fclose(f) != 0 || n != size) return AZC_ERR(AZC_IO, "%s: write failed", path);
  return NULL;
}

static const char *path_in_dir(const char *name) {
  static char path[4200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return path;
}

/* ---- fuzz_gguf ---- */

static azc_status_t gguf_values(void) {
  azc_gguf_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_gguf_writer_create(&w));
  azc_status_t st = azc_gguf_writer_set_str(w, "general.architecture", "llama");
  if (!st) st = azc_gguf_writer_set_u32(w, "u32", 7);
  if (!st) st = azc_gguf_writer_set_i32(w, "i32", -7);
  if (!st) st = azc_gguf_writer_set_u64(w, "u64", 1ull << 40);
  if (!st) st = azc_gguf_writer_set_f32(w, "f32", 0.5f);
  if (!st) st = azc_gguf_writer_set_bool(w, "bool", true);
  if (!st) st = azc_gguf_writer_set_str(w, "general.alignment.note", "Salam");
  const uint8_t u8[] = {1, 2, 3};
  const int16_t i16[] = {-1, 2};
  const uint64_t u64[] = {1, 2};
  const double f64[] = {0.25, -1};
  const float f32[] = {1.5f, -2};
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.u8", AZC_GGUF_UINT8, u8, 3);
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.bool", AZC_GGUF_BOOL, u8, 2);
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.i16", AZC_GGUF_INT16, i16, 2);
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.u64", AZC_GGUF_UINT64, u64, 2);
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.f64", AZC_GGUF_FLOAT64, f64, 2);
  if (!st) st = azc_gguf_writer_set_arr(w, "arr.f32", AZC_GGUF_FLOAT32, f32, 2);
  const azc_strview_t strs[] = {{"a", 1}, {"", 0}, {"d\xc3\xbcnya", 6}};
  if (!st) st = azc_gguf_writer_set_arr_str(w, "arr.str", strs, 3);
  /* an array of arrays */
  azc_gguf_value_t inner[2] = {{.type = AZC_GGUF_ARRAY}, {.type = AZC_GGUF_ARRAY}};
  inner[0].v.arr.elem_type = AZC_GGUF_FLOAT32;
  inner[0].v.arr.count = 2;
  inner[0].v.arr.data = f32;
  inner[1].v.arr.elem_type = AZC_GGUF_STRING;
  inner[1].v.arr.count = 3;
  inner[1].v.arr.strs = strs;
  azc_gguf_value_t outer = {.type = AZC_GGUF_ARRAY};
  outer.v.arr.elem_type = AZC_GGUF_ARRAY;
  outer.v.arr.count = 2;
  outer.v.arr.items = inner;
  if (!st) st = azc_gguf_writer_set_value(w, "arr.nested", &outer);
  if (!st) st = azc_gguf_writer_write(w, path_in_dir("values.gguf"));
  azc_gguf_writer_destroy(w);
  return st;
}

static azc_status_t gguf_tensors(const char *name, uint32_t alignment) {
  static uint8_t data[4096];
  for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)(i * 37);
  azc_gguf_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_gguf_writer_create(&w));
  azc_gguf_writer_set_alignment(w, alignment);
  azc_status_t st = azc_gguf_writer_set_str(w, "general.architecture", "llama");
  if (!st) st = azc_gguf_writer_set_u32(w, "general.alignment", alignment);
  static const azc_dtype_t types[] = {AZC_DTYPE_F32,  AZC_DTYPE_F16,  AZC_DTYPE_BF16,
                                      AZC_DTYPE_Q8_0, AZC_DTYPE_Q4_0, AZC_DTYPE_Q4_K,
                                      AZC_DTYPE_Q6_K};
  for (size_t i = 0; !st && i < sizeof(types) / sizeof(types[0]); i++) {
    const azc_dtype_info_t *ti = azc_dtype_info(types[i]);
    int64_t ne[2] = {ti->block_size, 2};
    char tname[32];
    snprintf(tname, sizeof(tname), "t%zu.%s", i, ti->name);
    st = azc_gguf_writer_add_tensor(w, tname, types[i], i % 2 ? 1 : 2, ne, data,
                                    (uint64_t)ti->type_size * (i % 2 ? 1 : 2));
  }
  if (!st) st = azc_gguf_writer_write(w, path_in_dir(name));
  azc_gguf_writer_destroy(w);
  return st;
}

/* A small vocabulary (fits the target's max_len), in the keys llama.cpp
 * writes; BPE with merges and a pre-tokenizer, SPM with scores and types. */
static azc_status_t gguf_small_vocab(bool bpe) {
  static const char *spm[] = {"<unk>", "<s>",    "</s>",   "\xe2\x96\x81",  "a",  "b",
                              "l",     "m",      "s",      "\xe2\x96\x81S", "al", "am",
                              "Sal",   "<0x0A>", "<0xC3>", "<0xBC>"};
  static const char *gpt[] = {"<|endoftext|>",
                              "a",
                              "b",
                              "l",
                              "m",
                              "S",
                              "\xc4\xa0",
                              "al",
                              "am",
                              "Sal",
                              "\xc4\xa0"
                              "a",
                              "<|im_start|>"};
  static const char *merges[] = {"a l", "a m", "S al",
                                 "\xc4\xa0 "
                                 "a"};
  const char **toks = bpe ? gpt : spm;
  size_t n = bpe ? sizeof(gpt) / sizeof(gpt[0]) : sizeof(spm) / sizeof(spm[0]);
  azc_strview_t sv[16];
  float scores[16];
  int32_t types[16];
  for (size_t i = 0; i < n; i++) {
    sv[i] = (azc_strview_t){toks[i], strlen(toks[i])};
    scores[i] = -(float)i;
    types[i] = AZC_TOKEN_NORMAL;
    if (!bpe && i < 3) types[i] = i == 0 ? AZC_TOKEN_UNKNOWN : AZC_TOKEN_CONTROL;
    if (!bpe && toks[i][0] == '<' && toks[i][1] == '0') types[i] = AZC_TOKEN_BYTE;
    if (bpe && toks[i][0] == '<') types[i] = AZC_TOKEN_CONTROL;
  }
  azc_strview_t mv[4];
  for (size_t i = 0; i < 4; i++) mv[i] = (azc_strview_t){merges[i], strlen(merges[i])};
  azc_gguf_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_gguf_writer_create(&w));
  azc_status_t st = azc_gguf_writer_set_str(w, "general.architecture", bpe ? "gpt2" : "llama");
  if (!st) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.model", bpe ? "gpt2" : "llama");
  if (!st && bpe) st = azc_gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2");
  if (!st) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", sv, n);
  if (!st) st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.scores", AZC_GGUF_FLOAT32, scores, n);
  if (!st) st = azc_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AZC_GGUF_INT32, types, n);
  if (!st && bpe) st = azc_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", mv, 4);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", bpe ? 0 : 1);
  if (!st) st = azc_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", bpe ? 0 : 2);
  if (!st) st = azc_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", !bpe);
  if (!st) st = azc_gguf_writer_write(w, path_in_dir(bpe ? "vocab_bpe.gguf" : "vocab_spm.gguf"));
  azc_gguf_writer_destroy(w);
  return st;
}

static azc_status_t seeds_gguf(void) {
  AZC_RETURN_IF_ERROR(gguf_values());
  AZC_RETURN_IF_ERROR(gguf_tensors("tensors32.gguf", 32));
  AZC_RETURN_IF_ERROR(gguf_tensors("tensors64.gguf", 64));
  AZC_RETURN_IF_ERROR(gguf_small_vocab(false));
  return gguf_small_vocab(true);
}

/* ---- tokenizer texts ---- */

/* Calls fn for each text of a llama.cpp-style .inp file. */
static azc_status_t each_text(const char *path, azc_status_t (*fn)(const char *, size_t, int),
                              int *count) {
  size_t size;
  uint8_t *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return AZC_ERR(AZC_NOT_FOUND, "%s: cannot open the tokenizer fixture", path);
  fseek(f, 0, SEEK_END);
  size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(size + 1);
  if (!buf || fread(buf, 1, size, f) != size) {
    fclose(f);
    free(buf);
    return AZC_ERR(AZC_IO, "%s: read failed", path);
  }
  fclose(f);
  buf[size] = 0;
  static const char sep[] = "\n__ggml_vocab_test__\n";
  const char *p = (const char *)buf, *end = p + size;
  azc_status_t st = NULL;
  while (!st && p < end) {
    const char *q = strstr(p, sep);
    size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
    if (n && n <= 480) st = fn(p, n, (*count)++);
    p += n + (q ? sizeof(sep) - 1 : 0);
  }
  free(buf);
  return st;
}

static azc_status_t text_seed(const char *text, size_t n, int i) {
  uint8_t buf[512];
  buf[0] = (uint8_t)((i % 4) | (i / 4 % AZC_FUZZ_N_PRE) << 2); /* flags, pre-tokenizer */
  memcpy(buf + 1, text, n);
  char name[32];
  snprintf(name, sizeof(name), "text%03d", i);
  return write_seed(name, buf, n + 1);
}

static const char *fixtures[] = {AZC_FUZZ_FIXTURES "/extra.inp", AZC_FUZZ_FIXTURES "/js-extra.inp"};

static azc_status_t seeds_texts(void) {
  int count = 0;
  for (size_t i = 0; i < 2; i++) AZC_RETURN_IF_ERROR(each_text(fixtures[i], text_seed, &count));
  return NULL;
}

/* ---- fuzz_detokenize: ids ---- */

static azc_fuzz_tokenizers_t toks;

static azc_status_t ids_seed(const char *text, size_t n, int i) {
  const azc_tokenizer_t *tok = i % 2 ? toks.bpe[0] : toks.spm;
  int32_t *ids;
  size_t n_ids;
  AZC_RETURN_IF_ERROR(azc_tokenizer_encode(tok, text, n, true, true, &ids, &n_ids));
  uint8_t buf[1024];
  size_t k = 0;
  buf[k++] = (uint8_t)(i % 2);
  for (size_t j = 0; j < n_ids && k + 2 <= sizeof(buf); j++) {
    uint16_t v = azc_fuzz_id_encode(tok, ids[j]);
    buf[k++] = (uint8_t)v;
    buf[k++] = (uint8_t)(v >> 8);
  }
  free(ids);
  char name[32];
  snprintf(name, sizeof(name), "ids%03d", i);
  return write_seed(name, buf, k);
}

static azc_status_t seeds_ids(void) {
  AZC_RETURN_IF_ERROR(azc_fuzz_tokenizers_make(&toks));
  int count = 0;
  azc_status_t st = NULL;
  for (size_t i = 0; !st && i < 2; i++) st = each_text(fixtures[i], ids_seed, &count);
  azc_fuzz_tokenizers_free(&toks);
  return st;
}

/* ---- fuzz_bundle ---- */

static azc_status_t compile_bundle(const char *shape, const char *name, bool gpu) {
  azc_synth_params_t p;
  AZC_RETURN_IF_ERROR(azc_synth_preset(shape, &p));
  p.wtype = AZC_DTYPE_Q8_0;
  p.n_layer = 1; /* small: every byte of a seed is copied and hashed per execution */
  p.n_embd = 32;
  p.n_ff = 64;
  p.n_head = p.n_head_kv = 1;
  p.n_ctx = 32;
  char gguf[4200];
  snprintf(gguf, sizeof(gguf), "%s/%s.gguf.tmp", dir, name);
  AZC_RETURN_IF_ERROR(azc_synth_write(&p, gguf, NULL, NULL));
  azc_model_t *m = NULL;
  azc_ir_graph_t *g = NULL;
  azc_compiled_t *c = NULL;
  azc_compile_options_t opt = azc_compile_options_default();
  opt.jobs = 1;
  opt.n_batch = 8;
  opt.n_ctx = 64;
  if (gpu) { /* CPU and CUDA code, the layer on CUDA: a cuda.code section */
    opt.gpu_arch = "sm_80";
    opt.n_gpu_layers = 99;
  }
  azc_status_t st = azc_model_open(gguf, &m);
  if (!st) st = azc_model_lower(m, &g);
  if (!st) st = azc_compile_graph(g, m->hp.n_vocab, m->hp.n_ctx_train, &opt, &c);
  azc_bundle_defaults_t def = azc_bundle_defaults_default();
  /* a chat section as a Modelfile makes one */
  azc_chat_info_t *chat = azc_chat_info_create();
  static const char tmpl[] = "{{ .System }} {{ .Prompt }}";
  if (!st && !chat) st = AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  if (!st) st = azc_chat_info_set(chat, AZC_CHAT_TEMPLATE, tmpl, sizeof(tmpl) - 1);
  if (!st) st = azc_chat_info_set(chat, AZC_CHAT_SYSTEM, "Be brief.", 9);
  if (!st) st = azc_chat_info_add_message(chat, "user", "Salam");
  if (!st) st = azc_chat_info_add_param(chat, "stop", "</s>");
  if (!st) st = azc_bundle_emit(path_in_dir(name), m, c, &def, chat, NULL, NULL);
  azc_chat_info_destroy(chat);
  azc_compiled_free(c);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
  remove(gguf);
  return st;
}

/* gpt2 only: tiny-llama's bundle is 3 times larger (one kernel alone has
 * 240 KiB of code), which makes each execution 3 times slower */
static azc_status_t seeds_bundle(void) {
  AZC_RETURN_IF_ERROR(compile_bundle("tiny-gpt2", "gpt2.bundle", false));
  /* with NVRTC built in, a GPU bundle too, so the fuzzers reach the
   * cuda.code reader (runtime/cuda_code.c) */
  if (!azc_codegen_backend_find("cuda")) {
    fprintf(stderr, "seeds: no GPU bundle seed (this azc has no NVRTC)\n");
    return NULL;
  }
  return compile_bundle("tiny-gpt2", "gpt2-gpu.bundle", true);
}

/* ---- fuzz_modelfile ---- */

static azc_status_t seeds_modelfile(void) {
  static const char *files[] = {
      "FROM ./model.gguf\n",
      "# comment\nFROM llama3:8b\nPARAMETER num_ctx 4096\nPARAMETER temperature 0.7\n"
      "PARAMETER stop \"<|eot_id|>\"\nPARAMETER stop \"<|end_of_text|>\"\n",
      "from ./m.gguf\nparameter top_k 40\nparameter top_p 0.95\nparameter min_p 0.05\n"
      "parameter seed -1\nparameter num_predict -2\nparameter use_mmap false\n"
      "parameter repeat_last_n -1\nparameter mirostat 2\nparameter penalize_newline true\n",
      "FROM m\nTEMPLATE \"\"\"{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
      "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
      "{{ .Response }}<|im_end|>\"\"\"\nSYSTEM \"\"\"You are\nterse.\"\"\"\n",
      "FROM m\nTEMPLATE \"\"\"{{- range $i, $m := .Messages }}{{- if eq .Role \"user\" }}[INST] "
      "{{ .Content }} [/INST]{{ else if eq .Role \"assistant\" }}{{ .Content }}</s>{{ end }}"
      "{{- end }}\"\"\"\nMESSAGE user Hi\nMESSAGE assistant Hello # not a comment\n",
      "FROM m\nLICENSE \"\"\"MIT\n\nCopyright\"\"\"\nLICENSE Apache-2.0\nDRAFT ./small.gguf\n"
      "REQUIRES 0.1.0\n",
      "FROM m\nADAPTER ./lora.gguf\n",
      "FROM m\nSYSTEM \"unclosed\n",
      "\xef\xbb\xbf" "FROM m\r\nPARAMETER num_gpu 99\r\n",
      "FROM m\nTEMPLATE {{ with .System }}{{ . }}{{ end }}{{ len .Messages }}"
      "{{ index .Messages 0 }}{{ slice .Prompt 1 }}\n",
  };
  char name[32];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(name, sizeof(name), "modelfile%02zu", i);
    AZC_RETURN_IF_ERROR(write_seed(name, files[i], strlen(files[i])));
  }
  static const uint8_t utf16[] = {0xff, 0xfe, 'F', 0, 'R', 0, 'O', 0, 'M', 0, ' ', 0, 'm', 0, '\n', 0};
  return write_seed("modelfile-utf16", utf16, sizeof(utf16));
}

/* ---- fuzz_chat_jinja ---- */

static azc_status_t seeds_chat_jinja(void) {
  static const char *templates[] = {
      /* ChatML (a builtin) */
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\n' }}{% endif %}",
      /* Llama 3 with a date line and a default system message (jinja) */
      "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- if strftime_now is defined "
      "%}\n        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n        "
      "{%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n{%- endif %}\n{%- if "
      "messages[0]['role'] == 'system' %}\n    {%- set system_message = "
      "messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    "
      "{%- set system_message = \"\" %}\n{%- endif %}\n{{- "
      "\"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Today Date: \" + "
      "date_string + \"\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n{%- for message "
      "in messages %}\n    {{- '<|start_header_id|>' + message['role'] + "
      "'<|end_header_id|>\\n\\n'+ "
      "message['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt "
      "%}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n",
      /* Gemma: raise_exception for a system message, alternation check */
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role "
      "not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == "
      "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must "
      "alternate') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' "
      "%}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' "
      "+ message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt "
      "%}{{'<start_of_turn>model\n'}}{% endif %}",
      /* macros, namespaces, loop filters, block set, filter blocks, a tools branch */
      "{%- macro turn(m, sep='\\n') -%}<|{{ m.role | upper }}|>{{ sep }}{{ m.content | "
      "replace('\\r', '') }}{%- endmacro -%}\n{%- set ns = namespace(n=0, sys='') -%}\n{%- for m "
      "in messages if m.role != 'tool' -%}\n{%- if m.role == 'system' %}{% set ns.sys = m.content "
      "%}{% continue %}{% endif -%}\n{%- set ns.n = ns.n + 1 -%}{{ turn(m, sep=': ') }}{{ '\\n' "
      "if not loop.last }}\n{%- endfor -%}\n{%- set tail %}[{{ ns.n }} turns{{ ', system ' ~ "
      "ns.sys | length if ns.sys }}]{% endset -%}\n{%- filter trim %}  {{ tail }}  {% endfilter "
      "-%}\n{%- if tools is defined and tools %}{{ tools | map(attribute='name') | unique | "
      "join(', ') | indent(2, first=true) }}{{ tools | tojson(indent=2) }}{% endif -%}\n{%- if "
      "add_generation_prompt %}<|BOT|>{% endif %}",
      /* selectattr, dict literals and methods, slices, string methods */
      "{% set sys = messages | selectattr('role', 'equalto', 'system') | list %}{% set rest = "
      "messages | rejectattr('role', 'equalto', 'system') | list %}{% set d = {'user': 'U', "
      "'assistant': 'A'} %}{% if sys %}S: {{ sys[0].content.strip() }}\n{% endif %}{% for m in "
      "rest[-8:] %}{{ d.get(m.role, '?') }}: {{ m.content.split('\\n') | join(' / ') }}{% if "
      "m.content.startswith(('#', '!')) %}*{% endif %}\n{% endfor %}{% if add_generation_prompt "
      "%}A:{% endif %}",
  };
  char name[32];
  for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
    snprintf(name, sizeof(name), "template%02zu", i);
    AZC_RETURN_IF_ERROR(write_seed(name, templates[i], strlen(templates[i])));
  }
  return NULL;
}

static const struct {
  const char *target;
  azc_status_t (*make)(void);
} makers[] = {
    {"fuzz_gguf", seeds_gguf},           {"fuzz_tokenize_spm", seeds_texts},
    {"fuzz_tokenize_bpe", seeds_texts},  {"fuzz_detokenize", seeds_ids},
    {"fuzz_bundle", seeds_bundle},       {"fuzz_bundle_sealed", seeds_bundle},
    {"fuzz_modelfile", seeds_modelfile}, {"fuzz_chat_jinja", seeds_chat_jinja},
};

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: azc_fuzz_seeds TARGET DIR\n");
    return 2;
  }
  snprintf(dir, sizeof(dir), "%s", argv[2]);
  for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++) {
    if (strcmp(makers[i].target, argv[1])) continue;
    azc_status_t st = makers[i].make();
    if (st) {
      fprintf(stderr, "azc_fuzz_seeds: %s: %s\n", argv[1], azc_status_message(st));
      azc_status_free(st);
      return 1;
    }
    return 0;
  }
  fprintf(stderr, "azc_fuzz_seeds: no seed maker for %s: it starts from an empty corpus\n",
          argv[1]);
  return 0;
}
