/* azc cache info | clear [--dir DIR]: what the kernel cache holds, and
 * emptying it. The directory is $AZC_CACHE_DIR, else $XDG_CACHE_HOME/azc,
 * else ~/.cache/azc. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "codegen/cache.h"

static void list_entry(void *user, const azc_cache_entry_info_t *e) {
  (void)user;
  char hex[33];
  azc_hash128_hex(e->key, hex);
  printf("  %s %8llu bytes  %s%s\n", hex, (unsigned long long)e->file_size,
         e->valid ? "" : "INVALID: ", e->description ? e->description : "");
}

int azc_cmd_cache(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : NULL, *dir = NULL;
  bool list = false;
  for (int i = 2; i < argc; i++) {
    azc_status_t st = NULL;
    if (!strcmp(argv[i], "--dir")) st = cli_str_arg(argc, argv, &i, &dir);
    else if (!strcmp(argv[i], "--list")) list = true;
    else st = AZC_ERR(AZC_INVALID_ARGUMENT, "cache: unexpected argument '%s'", argv[i]);
    if (st) return cli_fail(st);
  }
  if (!what || (strcmp(what, "info") && strcmp(what, "clear")))
    return cli_usage_error("cache: usage: azc cache (info [--list] | clear) [--dir DIR]");
  char *resolved = NULL;
  azc_status_t st = azc_cache_dir_resolve(dir, &resolved);
  if (st) return cli_fail(st);
  if (!strcmp(what, "info")) {
    azc_cache_info_t info;
    st = azc_cache_info(resolved, &info);
    if (!st) {
      printf("kernel cache: %s\n", resolved);
      printf("  %llu kernels, %.2f MiB", (unsigned long long)info.entries,
             (double)info.total_bytes / (1 << 20));
      if (info.temp_files) printf(", %llu temp files from interrupted writes", (unsigned long long)info.temp_files);
      printf("\n");
      if (list) st = azc_cache_list(resolved, list_entry, NULL);
    }
  } else {
    uint64_t files = 0, bytes = 0;
    st = azc_cache_clear(resolved, &files, &bytes);
    if (!st)
      printf("kernel cache: %s: removed %llu files (%.2f MiB)\n", resolved,
             (unsigned long long)files, (double)bytes / (1 << 20));
  }
  free(resolved);
  return st ? cli_fail(st) : 0;
}
