/* azc serve [--host H] [--port P] [--parallel N] [MODEL...]: the HTTP server
 * (serve/serve.h). Bundles and store names are served as they are; a GGUF
 * file is compiled first (through the kernel cache) to a bundle kept in the
 * cache folder, <cache>/serve/<key>/<name>.bundle, keyed by the file's path,
 * size and modification time (and -ngl: with -ngl N other than 0 it is
 * compiled with GPU code, as azc compile -ngl N does, when NVRTC is built
 * in), so a second start reuses it. The server
 * itself links no compiler (azc-serve is the same server without this
 * step). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/build.h"
#include "cli/cli.h"
#include "cli/run_common.h"
#include "codegen/backend.h"
#include "codegen/cache.h"
#include "runtime/base/file.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/model_store.h"
#ifdef AZC_HAVE_SERVE
#include "serve/serve.h"
#endif

/* The bundle for GGUF `path` (malloc'd), compiled unless the cache has it;
 * with GPU code (default placement ngl) when ngl != 0 and this azc has the
 * CUDA back end (NVRTC), else for the CPU only (the server then warns). */
static azc_status_t gguf_bundle(const char *path, int32_t ngl, char **out) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb)) return AZC_ERR(AZC_NOT_FOUND, "%s: no such file", path);
  char *real = realpath(path, NULL);
  if (!real) return AZC_ERR(AZC_IO, "%s: cannot resolve the path", path);
  bool gpu = ngl != 0 && azc_codegen_backend_find("cuda");
  if (ngl != 0 && !gpu)
    fprintf(stderr,
            "azc: serve: -ngl: GPU code generation is not built in (this azc was "
            "configured without NVRTC): %s is compiled for the CPU\n",
            path);
  char key_src[4200];
  int kn = snprintf(key_src, sizeof(key_src), "%s|%lld|%lld|%s", real, (long long)sb.st_size,
                    (long long)sb.st_mtime, AZC_VERSION_STRING);
  if (gpu && kn >= 0 && kn < (int)sizeof(key_src)) /* a CPU bundle keeps its key */
    kn += snprintf(key_src + kn, sizeof(key_src) - (size_t)kn, "|gpu ngl %d", ngl);
  free(real);
  char *cache = NULL;
  AZC_RETURN_IF_ERROR(azc_cache_dir_resolve(NULL, &cache));
  char name[AZC_MODEL_NAME_MAX];
  azc_model_name_from_path(path, name, sizeof(name));
  size_t cap = strlen(cache) + sizeof(name) + 64;
  char *dir = malloc(cap), *bundle = malloc(cap);
  if (!dir || !bundle) {
    free(cache), free(dir), free(bundle);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "serve");
  }
  snprintf(dir, cap, "%s/serve/%016llx", cache,
           (unsigned long long)azc_hash64(key_src, (size_t)AZC_MIN(kn, (int)sizeof(key_src) - 1)));
  snprintf(bundle, cap, "%s/%s.bundle", dir, name);
  free(cache);
  azc_status_t st = NULL;
  if (!run_is_bundle(bundle)) {
    st = azc_mkdir_p(dir);
    fprintf(stderr, "azc: serve: compiling %s to %s\n", path, bundle);
    azc_compile_options_t opt = azc_compile_options_default();
    if (gpu) opt.n_gpu_layers = ngl; /* the default --gpu-arch sm_80,sm_90 */
    azc_bundle_defaults_t def = azc_bundle_defaults_default();
    if (!st) st = cli_compile_gguf(path, bundle, &opt, &def, NULL);
  }
  free(dir);
  if (st) {
    free(bundle);
    return st;
  }
  *out = bundle;
  return NULL;
}

int azc_cmd_serve(int argc, char **argv) {
#ifndef AZC_HAVE_SERVE
  (void)argc, (void)argv, (void)gguf_bundle;
  return cli_fail(AZC_ERR(AZC_UNSUPPORTED, "the HTTP server is not built in: this azc was "
                                           "configured with -DAZC_WITH_SERVE=OFF"));
#else
  /* GGUF arguments become bundles; everything else goes to the server as it is */
  char **args = calloc((size_t)argc + 1, sizeof(char *));
  char **owned = calloc((size_t)argc + 1, sizeof(char *));
  if (!args || !owned) return 1;
  int rc = 0;
  int32_t ngl = 0; /* -ngl: GGUF files are compiled with GPU code */
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "-ngl") || !strcmp(argv[i], "--gpu-layers") ||
        !strcmp(argv[i], "--n-gpu-layers"))
      ngl = !strcmp(argv[i + 1], "auto") ? AZC_GPU_LAYERS_AUTO : (int32_t)atoi(argv[i + 1]);
  for (int i = 0; i < argc && !rc; i++) {
    args[i] = argv[i];
    if (i == 0 || argv[i][0] == '-') {
      static const char *with_value[] = {
          "--host",         "--port", "--parallel",   "-np",           "--queue", "-c",
          "--ctx-size",     "-t",     "--threads",    "--max-body",    "--store", "--kv-type",
          "--batch-window", "-ngl",   "--gpu-layers", "--n-gpu-layers"};
      for (size_t k = 0; i > 0 && k < AZC_ARRAY_SIZE(with_value); k++)
        if (!strcmp(argv[i], with_value[k]) && i + 1 < argc) {
          args[i + 1] = argv[i + 1];
          i++;
          break;
        }
      continue;
    }
    if (!cli_ends_with(argv[i], ".gguf")) continue;
    azc_status_t st = gguf_bundle(argv[i], ngl, &owned[i]);
    if (st)
      rc = cli_fail(st);
    else
      args[i] = owned[i];
  }
  if (!rc) rc = azc_serve_main(argc, args, "azc serve");
  for (int i = 0; i < argc; i++) free(owned[i]);
  free(owned);
  free(args);
  return rc;
#endif
}
