/* azc: the command-line driver. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "azc %s: an ahead-of-time compiler for language models (GGUF)\n"
          "\n"
          "usage:\n"
          "  azc compile (MODEL.gguf | Modelfile) -o OUT.bundle [--target-cpu CPU] ...\n"
          "  azc create NAME [-f Modelfile]         compile a Modelfile into the model store\n"
          "  azc list | azc show NAME [--modelfile] | azc rm NAME   the model store\n"
          "  azc chat MODEL [--verbose]             chat, as ollama run (turns from stdin)\n"
          "  azc run (MODEL.gguf | MODEL.bundle) (-p TEXT | -f FILE) [options]\n"
          "  azc inspect (MODEL.gguf [--ir [--after PASS]] | MODEL.bundle)\n"
          "  azc bench MODEL.gguf [-t N] [--json] [--vs-llama-bench PATH]   compiled vs eager (vs llama.cpp)\n"
          "  azc cache (info | clear)                the kernel cache\n"
          "  azc tokenize MODEL TEXT [--bos]        token ids of TEXT\n"
          "      run options: -n N  --temp T  --top-k K  --top-p P  --min-p P\n"
          "      --repeat-penalty R  --repeat-last-n N  --seed S  -t THREADS  -c CTX  --eager\n"
          "      --json  --logits-out FILE  --ignore-eos  --kv-type f32|f16|q8_0\n"
          "  azc mkmodel --shape NAME -o OUT.gguf   a random-weight model (tests, benchmarks)\n"
          "  azc quantize IN.gguf OUT.gguf --type TYPE   q8_0, q4_0, q4_k_m, q5_k_m, q6_k, f16, ...\n"
          "  azc serve [--host H] [--port P] [--parallel N] [MODEL...]   Ollama/OpenAI HTTP API\n"
          "\n"
          "run 'azc COMMAND --help' for a command's options\n",
          AZC_VERSION_STRING);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("azc %s\n", AZC_VERSION_STRING);
    return 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "inspect")) return azc_cmd_inspect(argc - 1, argv + 1);
  if (!strcmp(cmd, "tokenize")) return azc_cmd_tokenize(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return azc_cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "mkmodel")) return azc_cmd_mkmodel(argc - 1, argv + 1);
  if (!strcmp(cmd, "compile")) return azc_cmd_compile(argc - 1, argv + 1);
  if (!strcmp(cmd, "cache")) return azc_cmd_cache(argc - 1, argv + 1);
  if (!strcmp(cmd, "quantize")) return azc_cmd_quantize(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return azc_cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "create")) return azc_cmd_create(argc - 1, argv + 1);
  if (!strcmp(cmd, "list") || !strcmp(cmd, "ls")) return azc_cmd_list(argc - 1, argv + 1);
  if (!strcmp(cmd, "show")) return azc_cmd_show(argc - 1, argv + 1);
  if (!strcmp(cmd, "rm")) return azc_cmd_rm(argc - 1, argv + 1);
  if (!strcmp(cmd, "chat")) return azc_cmd_chat(argc - 1, argv + 1);
  if (!strcmp(cmd, "serve")) return azc_cmd_serve(argc - 1, argv + 1);
  return cli_usage_error("unknown command '%s' (azc --help lists the commands)", cmd);
}
