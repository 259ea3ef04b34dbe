/* Ollama's options: every name of Ollama's API with its type, Go's parsing
 * rules, ranges, the deprecated options, stop strings, the round trip
 * through the bundle's defaults record and chat parameters, and resolution
 * (request, then the model's stored default, then azc's). */
#include "runtime/model_options.h"
#include "tests/test.h"

static void test_table(void) {
  static const char *const names[] = {"num_ctx",
                                      "num_batch",
                                      "num_gpu",
                                      "main_gpu",
                                      "use_mmap",
                                      "num_thread",
                                      "num_keep",
                                      "seed",
                                      "num_predict",
                                      "top_k",
                                      "top_p",
                                      "min_p",
                                      "typical_p",
                                      "repeat_last_n",
                                      "temperature",
                                      "repeat_penalty",
                                      "presence_penalty",
                                      "frequency_penalty",
                                      "stop"};
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    const azc_option_info_t *o = azc_option_find(names[i]);
    ASSERT_MSG(o && o->id >= 0, "%s", names[i]);
  }
  static const char *const deprecated[] = {
      "mirostat", "mirostat_eta", "mirostat_tau", "penalize_newline", "low_vram",
      "f16_kv",   "logits_all",   "vocab_only",   "use_mlock",        "numa"};
  for (size_t i = 0; i < sizeof(deprecated) / sizeof(*deprecated); i++) {
    const azc_option_info_t *o = azc_option_find(deprecated[i]);
    ASSERT_MSG(o && o->id == -1, "%s", deprecated[i]);
  }
  ASSERT(!azc_option_find("Temperature")); /* names are exact, as in Ollama */
  ASSERT(!azc_option_find("tfs_z"));
}

static void test_parse_rules(void) {
  azc_options_t o;
  memset(&o, 0, sizeof(o));
  bool dep;
  ASSERT_OK(azc_options_set_text(&o, "num_ctx", "+2048", &dep));
  ASSERT_EQ_INT(o.v[AZC_OPT_NUM_CTX].i, 2048);
  ASSERT(!dep && azc_options_has(&o, AZC_OPT_NUM_CTX));
  ASSERT_OK(azc_options_set_text(&o, "temperature", "7e-1", NULL));
  ASSERT_NEAR(o.v[AZC_OPT_TEMPERATURE].f, 0.7, 1e-7);
  ASSERT_OK(azc_options_set_text(&o, "use_mmap", "False", NULL));
  ASSERT(!o.v[AZC_OPT_USE_MMAP].b);
  ASSERT_OK(azc_options_set_text(&o, "use_mmap", "1", NULL));
  ASSERT(o.v[AZC_OPT_USE_MMAP].b);
  ASSERT_OK(azc_options_set_text(&o, "seed", "-1", NULL));
  ASSERT_ERR(azc_options_set_text(&o, "num_ctx", "2k", NULL), AZC_INVALID_ARGUMENT,
             "invalid int value '2k' for num_ctx");
  ASSERT_ERR(azc_options_set_text(&o, "num_ctx", "1.5", NULL), AZC_INVALID_ARGUMENT, "int");
  ASSERT_ERR(azc_options_set_text(&o, "num_ctx", " 5", NULL), AZC_INVALID_ARGUMENT, "int");
  ASSERT_ERR(azc_options_set_text(&o, "num_ctx", "99999999999999999999", NULL),
             AZC_INVALID_ARGUMENT, "int");
  ASSERT_ERR(azc_options_set_text(&o, "top_p", "abc", NULL), AZC_INVALID_ARGUMENT,
             "invalid float value 'abc' for top_p");
  ASSERT_ERR(azc_options_set_text(&o, "top_p", "1.5", NULL), AZC_INVALID_ARGUMENT, "out of range");
  ASSERT_ERR(azc_options_set_text(&o, "top_p", "nan", NULL), AZC_INVALID_ARGUMENT, "out of range");
  ASSERT_ERR(azc_options_set_text(&o, "temperature", "1e39", NULL), AZC_INVALID_ARGUMENT, "float");
  ASSERT_ERR(azc_options_set_text(&o, "temperature", "0x1p-2", NULL), AZC_INVALID_ARGUMENT,
             "float");
  ASSERT_ERR(azc_options_set_text(&o, "use_mmap", "yes", NULL), AZC_INVALID_ARGUMENT,
             "invalid bool value 'yes'");
  ASSERT_ERR(azc_options_set_text(&o, "num_gqa", "1", NULL), AZC_INVALID_ARGUMENT,
             "unknown parameter 'num_gqa'");
  uint32_t before = o.set;
  ASSERT_OK(azc_options_set_text(&o, "mirostat", "2", &dep));
  ASSERT(dep && o.set == before);
  /* JSON values */
  ASSERT_OK(azc_options_set_number(&o, "top_k", 40, NULL));
  ASSERT_EQ_INT(o.v[AZC_OPT_TOP_K].i, 40);
  ASSERT_ERR(azc_options_set_number(&o, "top_k", 4.5, NULL), AZC_INVALID_ARGUMENT, "whole number");
  ASSERT_ERR(azc_options_set_number(&o, "use_mmap", 1, NULL), AZC_INVALID_ARGUMENT, "bool");
  ASSERT_ERR(azc_options_set_bool(&o, "top_k", true, NULL), AZC_INVALID_ARGUMENT, "int");
  ASSERT_OK(azc_options_set_bool(&o, "use_mmap", false, NULL));
}

static void test_stop(void) {
  azc_options_t o;
  memset(&o, 0, sizeof(o));
  ASSERT_OK(azc_options_set_text(&o, "stop", "<|eot_id|>", NULL));
  ASSERT_OK(azc_options_set_text(&o, "stop", "### User:", NULL));
  ASSERT_OK(azc_options_set_text(&o, "stop", "<|eot_id|>", NULL)); /* kept once */
  ASSERT_EQ_INT(o.n_stop, 2);
  ASSERT_STREQ(o.stop[1], "### User:");
  ASSERT_ERR(azc_options_add_stop(&o, "", 0), AZC_INVALID_ARGUMENT, "empty");
  char big[300];
  memset(big, 'x', sizeof(big));
  ASSERT_ERR(azc_options_add_stop(&o, big, sizeof(big)), AZC_INVALID_ARGUMENT, "at most");
  char buf[64];
  azc_options_format(&o, AZC_OPT_STOP, 0, buf, sizeof(buf));
  ASSERT_STREQ(buf, "<|eot_id|>");
}

static void test_resolution(void) {
  /* stored: a Modelfile said temperature 0.2 and stop "A"; azc's top-k 50 stays */
  azc_bundle_defaults_t d;
  memset(&d, 0, sizeof(d));
  azc_options_t mf;
  memset(&mf, 0, sizeof(mf));
  azc_options_t def = azc_options_default();
  azc_options_to_defaults(&def, &d);
  ASSERT_OK(azc_options_set_text(&mf, "temperature", "0.2", NULL));
  ASSERT_OK(azc_options_set_text(&mf, "num_gpu", "99", NULL));
  ASSERT_OK(azc_options_set_text(&mf, "num_ctx", "1024", NULL));
  azc_options_to_defaults(&mf, &d);
  ASSERT_EQ_INT(d.n_gpu_layers, 99);
  ASSERT_EQ_INT(d.n_ctx, 1024);
  const char *names[] = {"stop", "num_batch", "temperature"}, *values[] = {"A", "256", "0.9"};
  azc_options_t stored;
  ASSERT_OK(azc_options_from_stored(&d, names, values, 3, &stored));
  ASSERT_NEAR(stored.v[AZC_OPT_TEMPERATURE].f, 0.2, 1e-7); /* the record, not the text, holds it */
  ASSERT_EQ_INT(stored.v[AZC_OPT_NUM_BATCH].i, 256);
  ASSERT_EQ_INT(stored.v[AZC_OPT_TOP_K].i, 50);
  ASSERT_EQ_INT(stored.n_stop, 1);
  /* a request sets top_k and its own stop list */
  azc_options_t req, out;
  memset(&req, 0, sizeof(req));
  ASSERT_OK(azc_options_set_number(&req, "top_k", 5, NULL));
  azc_options_resolve(&req, &stored, &out);
  ASSERT_EQ_INT(out.v[AZC_OPT_TOP_K].i, 5);             /* request */
  ASSERT_NEAR(out.v[AZC_OPT_TEMPERATURE].f, 0.2, 1e-7); /* stored */
  ASSERT_NEAR(out.v[AZC_OPT_TOP_P].f, 0.9, 1e-7);       /* azc */
  ASSERT_EQ_INT(out.n_stop, 1);
  ASSERT_OK(azc_options_add_stop(&req, "B", 1));
  azc_options_resolve(&req, &stored, &out);
  ASSERT_EQ_INT(out.n_stop, 1);
  ASSERT_STREQ(out.stop[0], "B");
  azc_options_resolve(NULL, NULL, &out); /* nothing stored: azc's defaults */
  ASSERT_NEAR(out.v[AZC_OPT_TEMPERATURE].f, 0.8, 1e-7);
  ASSERT_EQ_INT(out.v[AZC_OPT_TOP_K].i, 50);
  ASSERT_EQ_INT(out.n_stop, 0);
  /* sampler parameters: -1 repeat_last_n is the context, a negative seed is random */
  ASSERT_OK(azc_options_set_text(&req, "repeat_last_n", "-1", NULL));
  ASSERT_OK(azc_options_set_text(&req, "seed", "-5", NULL));
  azc_options_resolve(&req, &stored, &out);
  azc_sampler_params_t sp = azc_options_sampler_params(&out, 777);
  ASSERT_EQ_INT(sp.repeat_last_n, 777);
  ASSERT(sp.seed == AZC_SEED_RANDOM);
  ASSERT_EQ_INT(sp.top_k, 5);
}

int main(void) {
  RUN(test_table);
  RUN(test_parse_rules);
  RUN(test_stop);
  RUN(test_resolution);
  return test_summary();
}
