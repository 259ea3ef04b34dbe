/* azc mkmodel --shape NAME -o OUT.gguf [--type TYPE] [--vocab-from GGUF]
 * [--seed N]: writes a model with random weights in a real architecture and
 * shape (frontend/synth.h) with azc's own GGUF writer, for tests, the
 * README's first run and the benchmarks.
 * azc mkmodel --vocab-from-json tokenizer.json -o OUT.gguf [--arch A]
 * [--name N]: writes a vocab-only GGUF from a Hugging Face tokenizer
 * (frontend/vocab_json.c). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/synth.h"
#include "frontend/vocab.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"

static void progress(void *user, int done, int total) {
  (void)user;
  if (done == total || done % 16 == 0) {
    fprintf(stderr, "\razc: mkmodel: %d/%d tensors", done, total);
    cli_line_open = done != total;
    if (done == total) fprintf(stderr, "\n");
  }
}

int azc_cmd_mkmodel(int argc, char **argv) {
  const char *shape = NULL, *out = NULL, *vocab = NULL, *type = "f32";
  const char *vocab_json = NULL, *arch = NULL, *name = NULL, *chat_template = NULL;
  long long seed = 42;
  for (int i = 1; i < argc; i++) {
    azc_status_t st = NULL;
    if (!strcmp(argv[i], "--shape"))
      st = cli_str_arg(argc, argv, &i, &shape);
    else if (!strcmp(argv[i], "-o"))
      st = cli_str_arg(argc, argv, &i, &out);
    else if (!strcmp(argv[i], "--type"))
      st = cli_str_arg(argc, argv, &i, &type);
    else if (!strcmp(argv[i], "--vocab-from"))
      st = cli_str_arg(argc, argv, &i, &vocab);
    else if (!strcmp(argv[i], "--seed"))
      st = cli_int_arg(argc, argv, &i, 0, INT64_MAX, &seed);
    else if (!strcmp(argv[i], "--vocab-from-json"))
      st = cli_str_arg(argc, argv, &i, &vocab_json);
    else if (!strcmp(argv[i], "--arch"))
      st = cli_str_arg(argc, argv, &i, &arch);
    else if (!strcmp(argv[i], "--chat-template"))
      st = cli_str_arg(argc, argv, &i, &chat_template);
    else if (!strcmp(argv[i], "--name"))
      st = cli_str_arg(argc, argv, &i, &name);
    else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc mkmodel --shape NAME -o OUT.gguf [--type TYPE] [--vocab-from GGUF] "
             "[--seed N] [--chat-template FILE.jinja]\n       azc mkmodel --vocab-from-json "
             "tokenizer.json -o OUT.gguf [--arch A] "
             "[--name N]\n  shapes: %s\n  types: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, ...\n",
             azc_synth_preset_names());
      return 0;
    } else
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "mkmodel: unknown argument '%s'", argv[i]);
    if (st) return cli_fail(st);
  }
  if (vocab_json && out && !shape) {
    azc_vocab_json_info_t info;
    azc_status_t st = azc_vocab_write_from_json(vocab_json, arch, name, out, &info);
    if (st) return cli_fail(st);
    fprintf(stderr,
            "azc: mkmodel: wrote %s (vocabulary only: %s, pre '%s', %d tokens, %d added, %d "
            "merges)\n",
            out, info.model, info.pre, info.n_vocab, info.n_added, info.n_merges);
    return 0;
  }
  if (!shape || !out)
    return cli_usage_error("mkmodel: usage: azc mkmodel --shape NAME -o OUT.gguf");
  azc_synth_params_t p;
  azc_status_t st = azc_synth_preset(shape, &p);
  if (st) return cli_fail(st);
  int t = azc_dtype_from_name(type);
  const azc_dtype_info_t *ti = t >= 0 ? azc_dtype_info((uint32_t)t) : NULL;
  if (!ti || !ti->can_quantize)
    return cli_usage_error("mkmodel: cannot write weights of type '%s'", type);
  p.wtype = (azc_dtype_t)t;
  p.vocab_from = vocab;
  p.seed = (uint64_t)seed;
  char *tmpl = NULL;
  size_t tmpl_len = 0;
  if (chat_template) {
    st = azc_file_read_all(chat_template, &tmpl, &tmpl_len);
    if (st) return cli_fail(st);
    p.chat_template = tmpl;
  }
  double t0 = azc_time_ms();
  st = azc_synth_write(&p, out, progress, NULL);
  free(tmpl);
  if (st) return cli_fail(st);
  fprintf(stderr, "azc: mkmodel: wrote %s (%s, %s weights) in %.0f ms\n", out, shape, ti->name,
          azc_time_ms() - t0);
  return 0;
}
