/* The model store: where `azc create NAME -f Modelfile` puts compiled models
 * and where `azc list/show/rm/chat/serve` find them by name.
 *
 * The store is a folder of bundles, one file per model, named as Ollama
 * names models: `model[:tag]` or `namespace/model[:tag]`, the tag "latest"
 * when none is given. The folder is $AZC_HOME/models, else
 * $XDG_DATA_HOME/azc/models, else ~/.local/share/azc/models; a model
 * `ns/name:tag` is the file `<folder>/ns/name:tag.bundle`. Nothing else is
 * kept beside the bundles: everything `azc show` prints (the Modelfile, the
 * template, parameters) is inside the bundle, so a store entry is complete or
 * absent (bundles are written to a temp file and renamed), and copying a
 * bundle file into the folder adds a model. Names match case-insensitively,
 * as in Ollama; the stored spelling is the one given to `azc create`.
 *
 * This is runtime code (the server links it without the compiler). */
#ifndef AZC_RUNTIME_MODEL_STORE_H
#define AZC_RUNTIME_MODEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

#define AZC_MODEL_NAME_MAX 160 /* normalized name, with ":tag", + NUL */

typedef struct azc_model_store_entry {
  char name[AZC_MODEL_NAME_MAX]; /* normalized: "model:tag" or "ns/model:tag" */
  char *path;                    /* the bundle file (owned by the entry) */
  uint64_t size;                 /* bytes */
  int64_t modified_unix;         /* mtime, seconds since the epoch */
  char digest[17];               /* hex XXH3-64 of the bundle's header and section table */
} azc_model_store_entry_t;

/* The store folder (malloc'd; not created). dir_or_null overrides the
 * environment (tests). Fails only when no folder can be named at all. */
azc_status_t azc_model_store_dir(const char *dir_or_null, char **out);

/* Checks a model name and writes its normalized form ("x" -> "x:latest").
 * Parts are [A-Za-z0-9][A-Za-z0-9_.-]*, at most 80 bytes each; one optional
 * "namespace/" before the model. The message names the offending character. */
azc_status_t azc_model_name_normalize(const char *name, char out[AZC_MODEL_NAME_MAX]);

/* Every bundle in the store, sorted by name. Files that are not readable
 * bundles are skipped (a half-copied file is not a model). Free with
 * azc_model_store_list_free. */
azc_status_t azc_model_store_list(const char *dir, azc_model_store_entry_t **out, size_t *n);
void azc_model_store_list_free(azc_model_store_entry_t *entries, size_t n);

/* The entry for `name` (normalized first, matched case-insensitively).
 * AZC_NOT_FOUND "model 'x:latest' not found in the store (<dir>); `azc list` shows ...".
 * Free out->path with free() (or azc_model_store_entry_clear). */
azc_status_t azc_model_store_find(const char *dir, const char *name, azc_model_store_entry_t *out);
void azc_model_store_entry_clear(azc_model_store_entry_t *e);

/* The path a new model `name` is written to (an existing entry with the same
 * name in another case is replaced, so the path is that entry's); creates the
 * folders it needs. malloc'd. */
azc_status_t azc_model_store_path_for(const char *dir, const char *name, char **out_path);

/* Deletes the model (and a namespace folder left empty). */
azc_status_t azc_model_store_remove(const char *dir, const char *name);

/* What a command-line MODEL argument names: an existing file (a bundle or a
 * GGUF, used as it is) or a model in the store. *out_path is malloc'd;
 * *in_store tells which. A name that is neither fails with a message that
 * says both were tried. */
azc_status_t azc_model_store_resolve(const char *dir, const char *model, char **out_path,
                                     bool *in_store);

/* The name a file is served under: its base name without the extension
 * ("models/tiny.bundle" -> "tiny"). Writes at most cap bytes with NUL. */
void azc_model_name_from_path(const char *path, char *out, size_t cap);

#endif
