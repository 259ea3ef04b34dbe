/* azc compile MODEL.gguf -o MODEL.bundle [options]: the ahead-of-time
 * compile. Shows each phase as it runs (frontend, passes, kernels with cache
 * hits and misses, weights, write), op counts before and after fusion, the
 * number of kernels and the arena peak, and ends with a timing summary. */
#include <stdlib.h>
#include <string.h>

#include "cli/build.h"
#include "cli/cli.h"

static void compile_usage(FILE *out) {
  fprintf(
      out,
      "usage: azc compile (MODEL.gguf | Modelfile) -o OUT.bundle [options]\n"
      "  a Modelfile (Ollama's grammar) names its model with FROM; its PARAMETERs,\n"
      "  TEMPLATE, SYSTEM, MESSAGEs and LICENSE go into the bundle\n"
      "  --target-cpu CPU     CPU to compile for (default: this one); e.g. haswell, znver3\n"
      "  --target TRIPLE      e.g. x86_64-linux-gnu, aarch64-linux-gnu\n"
      "  --gpu-arch LIST      also generate CUDA code: a cubin per arch + PTX of the lowest\n"
      "                       (default sm_80,sm_90 when -ngl asks for the GPU)\n"
      "  -ngl N, --gpu-layers N  layers [0, N) on the GPU by default (99: all; auto: as many\n"
      "                       as fit, decided at run time); azc run can override it\n"
      "  -b N                 most tokens per forward call (default 512)\n"
      "  -c CTX               default context size stored in the bundle\n"
      "  -j JOBS              parallel kernel compiles (default: all cores)\n"
      "  --no-cache           compile every kernel; do not read or write the cache\n"
      "  --no-fuse            skip the fusion passes: one kernel per IR op (same answers, slower)\n"
      "  --dump-after=PASS    print the IR after PASS (or 'all')\n"
      "  defaults stored for azc run: -n N --temp T --top-k K --top-p P --min-p P\n"
      "                                --repeat-penalty R --repeat-last-n N --seed S -t THREADS\n");
}

int azc_cmd_compile(int argc, char **argv) {
  const char *model_path = NULL, *out = NULL;
  azc_compile_options_t opt = azc_compile_options_default();
  azc_bundle_defaults_t def = azc_bundle_defaults_default();
  bool def_flags = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long long iv;
    double fv;
    azc_status_t st = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      compile_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-o"))
      st = cli_str_arg(argc, argv, &i, &out);
    else if (!strcmp(a, "--target-cpu"))
      st = cli_str_arg(argc, argv, &i, &opt.target_cpu);
    else if (!strcmp(a, "--target"))
      st = cli_str_arg(argc, argv, &i, &opt.target_triple);
    else if (!strcmp(a, "--gpu-arch"))
      st = cli_str_arg(argc, argv, &i, &opt.gpu_arch);
    else if (!strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers") || !strcmp(a, "--n-gpu-layers")) {
      if (i + 1 < argc && !strcmp(argv[i + 1], "auto"))
        opt.n_gpu_layers = -1, i++;
      else if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv)))
        opt.n_gpu_layers = (int32_t)iv;
    } else if (!strcmp(a, "--no-cache"))
      opt.use_cache = false;
    else if (!strcmp(a, "--no-fuse"))
      opt.fuse = false;
    else if (!strncmp(a, "--dump-after=", 13))
      opt.dump_after = a + 13, opt.dump_out = stdout;
    else if (!strcmp(a, "--dump-after"))
      st = cli_str_arg(argc, argv, &i, &opt.dump_after), opt.dump_out = stdout;
    else if (!strcmp(a, "-b")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1 << 16, &iv))) opt.n_batch = iv;
    } else if (!strcmp(a, "-j")) {
      if (!(st = cli_int_arg(argc, argv, &i, 1, 64, &iv))) opt.jobs = (int)iv;
    } else if (!strcmp(a, "-c")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1 << 24, &iv))) def.n_ctx = (int32_t)iv;
    } else if (!strcmp(a, "-n")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, -1, 1 << 30, &iv))) def.n_predict = (int32_t)iv;
    } else if (!strcmp(a, "-t")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, 1, 1024, &iv))) def.n_threads = (int32_t)iv;
    } else if (!strcmp(a, "--temp")) {
      def_flags = true;
      if (!(st = cli_float_arg(argc, argv, &i, 0, 100, &fv))) def.temperature = (float)fv;
    } else if (!strcmp(a, "--top-k")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 30, &iv))) def.top_k = (int32_t)iv;
    } else if (!strcmp(a, "--top-p")) {
      def_flags = true;
      if (!(st = cli_float_arg(argc, argv, &i, 0, 1, &fv))) def.top_p = (float)fv;
    } else if (!strcmp(a, "--min-p")) {
      def_flags = true;
      if (!(st = cli_float_arg(argc, argv, &i, 0, 1, &fv))) def.min_p = (float)fv;
    } else if (!strcmp(a, "--repeat-penalty")) {
      def_flags = true;
      if (!(st = cli_float_arg(argc, argv, &i, 0.01, 100, &fv))) def.repeat_penalty = (float)fv;
    } else if (!strcmp(a, "--repeat-last-n")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, 0, 1 << 20, &iv))) def.repeat_last_n = (int32_t)iv;
    } else if (!strcmp(a, "--seed")) {
      def_flags = true;
      if (!(st = cli_int_arg(argc, argv, &i, 0, INT64_MAX, &iv))) def.seed = (uint64_t)iv;
    } else if (a[0] == '-')
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "compile: unknown option %s", a);
    else if (!model_path)
      model_path = a;
    else
      st = AZC_ERR(AZC_INVALID_ARGUMENT, "compile: unexpected argument '%s'", a);
    if (st) return cli_fail_usage(st, "azc compile");
  }
  if (!model_path || !out)
    return cli_fail_usage(AZC_ERR(AZC_INVALID_ARGUMENT, "compile: give a model and -o OUT.bundle"),
                          "azc compile");
  azc_status_t st;
  if (cli_is_modelfile(model_path)) {
    st = def_flags
             ? AZC_ERR(AZC_INVALID_ARGUMENT,
                       "compile: %s is a Modelfile: give run defaults as PARAMETER lines in it, "
                       "not as flags",
                       model_path)
             : cli_build_modelfile(model_path, out, &opt);
  } else {
    st = cli_compile_gguf(model_path, out, &opt, &def, NULL);
  }
  return st ? cli_fail(st) : 0;
}
