/* The model store: name rules (Ollama's model[:tag] and namespace/), the
 * folder from the environment, listing (bundles only, sorted, with size,
 * time and digest; temp files and other files ignored), case-insensitive
 * lookup, replacing, removing, and resolving a command-line MODEL. Bundles
 * here are small ones written by the bundle writer. */
#include <unistd.h>

#include "codegen/bundle_writer.h"
#include "runtime/model_store.h"
#include "tests/test.h"

static char store[4096];

static void write_bundle(const char *path, const char *payload) {
  azc_bundle_writer_t *w;
  azc_status_t st = azc_bundle_writer_create(&w);
  if (!st) st = azc_bundle_writer_add(w, "meta", payload, strlen(payload), 0);
  if (!st) st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  if (st) {
    fprintf(stderr, "write_bundle %s: %s\n", path, azc_status_message(st));
    azc_status_free(st);
  }
}

static void test_names(void) {
  char out[AZC_MODEL_NAME_MAX];
  ASSERT_OK(azc_model_name_normalize("tiny", out));
  ASSERT_STREQ(out, "tiny:latest");
  ASSERT_OK(azc_model_name_normalize("llama3.2:3b-instruct-q4_K_M", out));
  ASSERT_STREQ(out, "llama3.2:3b-instruct-q4_K_M");
  ASSERT_OK(azc_model_name_normalize("me/tiny", out));
  ASSERT_STREQ(out, "me/tiny:latest");
  ASSERT_ERR(azc_model_name_normalize("", out), AZC_INVALID_ARGUMENT, "empty");
  ASSERT_ERR(azc_model_name_normalize("a b", out), AZC_INVALID_ARGUMENT, "character ' '");
  ASSERT_ERR(azc_model_name_normalize("../x", out), AZC_INVALID_ARGUMENT, "namespace");
  ASSERT_ERR(azc_model_name_normalize("a/b/c", out), AZC_INVALID_ARGUMENT, "at most one '/'");
  ASSERT_ERR(azc_model_name_normalize("x:", out), AZC_INVALID_ARGUMENT, "empty tag");
  ASSERT_ERR(azc_model_name_normalize("x:a:b", out), AZC_INVALID_ARGUMENT, "more than one ':'");
  ASSERT_ERR(azc_model_name_normalize("-x", out), AZC_INVALID_ARGUMENT, "'-'");
  ASSERT_ERR(azc_model_name_normalize("a:b/c", out), AZC_INVALID_ARGUMENT, "':' comes before '/'");
  char longname[200];
  memset(longname, 'a', 100);
  longname[100] = 0;
  ASSERT_ERR(azc_model_name_normalize(longname, out), AZC_INVALID_ARGUMENT, "longer than 80");
}

static void test_dir_from_env(void) {
  char *d;
  setenv("AZC_HOME", "/tmp/azc-home-x/", 1);
  ASSERT_OK(azc_model_store_dir(NULL, &d));
  ASSERT_STREQ(d, "/tmp/azc-home-x/models");
  free(d);
  unsetenv("AZC_HOME");
  setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
  ASSERT_OK(azc_model_store_dir(NULL, &d));
  ASSERT_STREQ(d, "/tmp/xdg/azc/models");
  free(d);
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/u", 1);
  ASSERT_OK(azc_model_store_dir(NULL, &d));
  ASSERT_STREQ(d, "/home/u/.local/share/azc/models");
  free(d);
  ASSERT_OK(azc_model_store_dir("/explicit", &d));
  ASSERT_STREQ(d, "/explicit");
  free(d);
}

static void test_store_cycle(void) {
  azc_model_store_entry_t *all;
  size_t n;
  ASSERT_OK(azc_model_store_list(store, &all, &n)); /* the folder does not exist yet */
  ASSERT_EQ_INT(n, 0);
  azc_model_store_list_free(all, n);
  char *p1, *p2, *p3;
  ASSERT_OK(azc_model_store_path_for(store, "Tiny", &p1));
  write_bundle(p1, "one");
  ASSERT_OK(azc_model_store_path_for(store, "me/other:v2", &p2));
  write_bundle(p2, "two two");
  /* clutter that is not a model */
  char junk[4200];
  snprintf(junk, sizeof(junk), "%s/stray.bundle.tmp.123.0", store);
  FILE *f = fopen(junk, "w");
  ASSERT(f);
  fputs("half", f);
  fclose(f);
  snprintf(junk, sizeof(junk), "%s/notabundle:latest.bundle", store);
  f = fopen(junk, "w");
  fputs("GGUF....", f);
  fclose(f);
  ASSERT_OK(azc_model_store_list(store, &all, &n));
  ASSERT_EQ_INT(n, 2);
  ASSERT_STREQ(all[0].name, "me/other:v2");
  ASSERT_STREQ(all[1].name, "Tiny:latest");
  ASSERT(all[1].size > 64 && all[1].modified_unix > 0 && strlen(all[1].digest) == 16);
  ASSERT(strcmp(all[0].digest, all[1].digest));
  azc_model_store_list_free(all, n);
  /* case-insensitive lookup; the same name in another case replaces the entry */
  azc_model_store_entry_t e;
  ASSERT_OK(azc_model_store_find(store, "tiny:LATEST", &e));
  ASSERT_STREQ(e.path, p1);
  char digest[17];
  memcpy(digest, e.digest, 17);
  azc_model_store_entry_clear(&e);
  ASSERT_OK(azc_model_store_path_for(store, "TINY", &p3));
  ASSERT_STREQ(p3, p1);
  write_bundle(p3, "one, rewritten");
  ASSERT_OK(azc_model_store_find(store, "tiny", &e));
  ASSERT(strcmp(e.digest, digest)); /* new bytes, new digest */
  azc_model_store_entry_clear(&e);
  /* resolve: a file is itself, a name is the store's */
  char *path;
  bool in_store;
  ASSERT_OK(azc_model_store_resolve(store, p2, &path, &in_store));
  ASSERT(!in_store && !strcmp(path, p2));
  free(path);
  ASSERT_OK(azc_model_store_resolve(store, "me/other:v2", &path, &in_store));
  ASSERT(in_store && !strcmp(path, p2));
  free(path);
  ASSERT_ERR(azc_model_store_resolve(store, "ghost", &path, &in_store), AZC_NOT_FOUND,
             "no such file, and as a model name");
  /* remove: the namespace folder goes with its last model */
  ASSERT_OK(azc_model_store_remove(store, "me/other:v2"));
  char nsdir[4200];
  snprintf(nsdir, sizeof(nsdir), "%s/me", store);
  ASSERT(access(nsdir, F_OK) != 0);
  ASSERT_ERR(azc_model_store_remove(store, "me/other:v2"), AZC_NOT_FOUND, "not found in the store");
  ASSERT_OK(azc_model_store_list(store, &all, &n));
  ASSERT_EQ_INT(n, 1);
  azc_model_store_list_free(all, n);
  free(p1);
  free(p2);
  free(p3);
}

static void test_name_from_path(void) {
  char out[64];
  azc_model_name_from_path("/a/b/tiny-llama.bundle", out, sizeof(out));
  ASSERT_STREQ(out, "tiny-llama");
  azc_model_name_from_path("m.gguf", out, sizeof(out));
  ASSERT_STREQ(out, "m");
  azc_model_name_from_path("noext", out, sizeof(out));
  ASSERT_STREQ(out, "noext");
}

int main(void) {
  snprintf(store, sizeof(store), "%s/store-%d", test_tmp_dir(), (int)getpid());
  RUN(test_names);
  RUN(test_dir_from_env);
  RUN(test_store_cycle);
  RUN(test_name_from_path);
  return test_summary();
}
