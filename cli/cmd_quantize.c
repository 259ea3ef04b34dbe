/* azc quantize IN.gguf OUT.gguf --type TYPE [-t THREADS]: writes the model
 * with its weights in TYPE (q8_0, q4_0, q4_k_m, q5_k_m, q6_k, f16, ...), with
 * llama.cpp's rules for the mixed types. Shows each tensor as it is written
 * and ends with the sizes and time. */
#include <string.h>

#include "cli/cli.h"
#include "frontend/quantize.h"
#include "runtime/base/util.h"

static void progress(void *user, int i, int n, const char *name, azc_dtype_t from, azc_dtype_t to) {
  (void)user;
  fprintf(stderr, "azc: quantize: [%4d/%4d] %-32s %-5s -> %s\n", i + 1, n, name, azc_dtype_name(from),
          azc_dtype_name(to));
}

int azc_cmd_quantize(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *type = NULL;
  long long threads = 0;
  for (int i = 1; i < argc; i++) {
    azc_status_t st = NULL;
    if (!strcmp(argv[i], "--type")) st = cli_str_arg(argc, argv, &i, &type);
    else if (!strcmp(argv[i], "-t")) st = cli_int_arg(argc, argv, &i, 1, 1024, &threads);
    else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc quantize IN.gguf OUT.gguf --type TYPE [-t THREADS]\n  types: %s\n",
             azc_ftype_names());
      return 0;
    } else if (argv[i][0] == '-') st = AZC_ERR(AZC_INVALID_ARGUMENT, "quantize: unknown option %s", argv[i]);
    else if (!in) in = argv[i];
    else if (!out) out = argv[i];
    else st = AZC_ERR(AZC_INVALID_ARGUMENT, "quantize: unexpected argument '%s'", argv[i]);
    if (st) return cli_fail(st);
  }
  if (!in || !out || !type)
    return cli_usage_error("quantize: usage: azc quantize IN.gguf OUT.gguf --type TYPE");
  int f = azc_ftype_from_name(type);
  if (f < 0) return cli_usage_error("quantize: unknown type '%s' (types: %s)", type, azc_ftype_names());
  double t0 = azc_time_ms();
  azc_quantize_stats_t s;
  azc_status_t st = azc_quantize_file(in, out, (azc_ftype_t)f, (int)threads, progress, NULL, &s);
  if (st) return cli_fail(st);
  fprintf(stderr,
          "azc: quantize: wrote %s: %d tensors (%d converted, %d fallbacks), %.2f MiB -> %.2f MiB in "
          "%.0f ms\n",
          out, s.n_tensors, s.n_quantized, s.n_fallback, (double)s.bytes_in / (1 << 20),
          (double)s.bytes_out / (1 << 20), azc_time_ms() - t0);
  return 0;
}
