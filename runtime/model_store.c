/* The model store (see model_store.h). A store entry is a bundle file whose
 * path spells the model's name, so listing is a directory walk (two levels:
 * the store and one namespace folder) and there is no index to keep in step.
 * A file is listed only when its first bytes are a bundle header whose table
 * lies inside the file; its digest hashes that header and table, which hold
 * every section's checksum, so two bundles with the same digest hold the same
 * bytes (in all but the padding) and the digest is computed from a few KiB. */
#include "runtime/model_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/base/file.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"

enum { PART_MAX = 80 };
static const char SUFFIX[] = ".bundle";

static char *join3(const char *a, const char *b, const char *c) {
  size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s%s%s", a, b, c);
  return s;
}

azc_status_t azc_model_store_dir(const char *dir_or_null, char **out) {
  *out = NULL;
  const char *e, *suffix = "";
  if (dir_or_null && *dir_or_null)
    e = dir_or_null;
  else if ((e = getenv("AZC_HOME")) && *e)
    suffix = "/models";
  else if ((e = getenv("XDG_DATA_HOME")) && e[0] == '/')
    suffix = "/azc/models";
  else if ((e = getenv("HOME")) && *e)
    suffix = "/.local/share/azc/models";
  else
    return AZC_ERR(AZC_NOT_FOUND, "model store: no folder (set AZC_HOME, XDG_DATA_HOME or HOME)");
  char *d = join3(e, "", "");
  if (!d) return AZC_ERR(AZC_OUT_OF_MEMORY, "model store");
  size_t n = strlen(d);
  while (n > 1 && d[n - 1] == '/') d[--n] = 0;
  if (*suffix) {
    char *full = join3(n == 1 && d[0] == '/' ? "" : d, suffix, "");
    free(d);
    if (!full) return AZC_ERR(AZC_OUT_OF_MEMORY, "model store");
    d = full;
    n = strlen(d);
  }
  if (n + AZC_MODEL_NAME_MAX + sizeof(SUFFIX) + 2 >= 4096) {
    free(d);
    return AZC_ERR(AZC_INVALID_ARGUMENT, "model store: folder name is too long");
  }
  *out = d;
  return NULL;
}

static bool part_char(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '_' || c == '.' || c == '-');
}

/* Checks one part [start, end) of a name; `what` names it in the message. */
static azc_status_t check_part(const char *name, size_t start, size_t end, const char *what) {
  if (end == start) return AZC_ERR(AZC_INVALID_ARGUMENT, "model name '%s': empty %s", name, what);
  if (end - start > PART_MAX)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "model name '%s': %s longer than %d characters", name,
                   what, PART_MAX);
  for (size_t i = start; i < end; i++)
    if (!part_char(name[i], i == start))
      return AZC_ERR(AZC_INVALID_ARGUMENT,
                     "model name '%s': character '%c' at %zu not allowed in the %s (letters, "
                     "digits, and _ . - after the first)",
                     name, name[i], i + 1, what);
  return NULL;
}

azc_status_t azc_model_name_normalize(const char *name, char out[AZC_MODEL_NAME_MAX]) {
  out[0] = 0;
  size_t n = name ? strlen(name) : 0;
  if (n == 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "empty model name");
  const char *slash = memchr(name, '/', n);
  const char *colon = memchr(name, ':', n);
  if (colon && slash && colon < slash)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "model name '%s': ':' comes before '/'", name);
  size_t model_start = 0;
  if (slash) {
    if (memchr(slash + 1, '/', n - (size_t)(slash + 1 - name)))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "model name '%s': at most one '/' (namespace/model)",
                     name);
    AZC_RETURN_IF_ERROR(check_part(name, 0, (size_t)(slash - name), "namespace"));
    model_start = (size_t)(slash - name) + 1;
  }
  size_t model_end = colon ? (size_t)(colon - name) : n;
  AZC_RETURN_IF_ERROR(check_part(name, model_start, model_end, "model"));
  if (colon) {
    if (memchr(colon + 1, ':', n - model_end - 1))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "model name '%s': more than one ':'", name);
    AZC_RETURN_IF_ERROR(check_part(name, model_end + 1, n, "tag"));
  }
  snprintf(out, AZC_MODEL_NAME_MAX, "%s%s", name, colon ? "" : ":latest");
  return NULL;
}

/* Reads the header and table of a bundle and hashes them; false when the
 * file is not a (complete) bundle. */
static bool bundle_digest(const char *path, uint64_t file_size, char digest[17]) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  uint8_t h[AZC_BUNDLE_HEADER_SIZE];
  bool ok = fread(h, 1, sizeof(h), f) == sizeof(h) && !memcmp(h, AZC_BUNDLE_MAGIC, 8);
  uint32_t count = ok ? azc_load_u32le(h + 32) : 0;
  uint64_t table = ok ? azc_load_u64le(h + 40) : 0, size = ok ? azc_load_u64le(h + 48) : 0;
  ok = ok && size == file_size && count <= AZC_BUNDLE_MAX_SECTIONS && table >= sizeof(h) &&
       table + (uint64_t)count * AZC_BUNDLE_ENTRY_SIZE <= file_size;
  uint8_t *buf = ok ? malloc(sizeof(h) + (size_t)count * AZC_BUNDLE_ENTRY_SIZE) : NULL;
  if (buf) {
    memcpy(buf, h, sizeof(h));
    size_t tn = (size_t)count * AZC_BUNDLE_ENTRY_SIZE;
    ok = fseek(f, (long)table, SEEK_SET) == 0 && fread(buf + sizeof(h), 1, tn, f) == tn;
    if (ok) snprintf(digest, 17, "%016llx", (unsigned long long)azc_hash64(buf, sizeof(h) + tn));
  } else {
    ok = false;
  }
  free(buf);
  fclose(f);
  return ok;
}

typedef struct list {
  azc_model_store_entry_t *items;
  size_t n, cap;
} list_t;

static azc_status_t add_entry(list_t *l, const char *path, const char *ns, const char *file) {
  struct stat st;
  size_t fl = strlen(file);
  if (fl <= sizeof(SUFFIX) - 1 || strcmp(file + fl - (sizeof(SUFFIX) - 1), SUFFIX)) return NULL;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
  char name[AZC_MODEL_NAME_MAX], norm[AZC_MODEL_NAME_MAX];
  int w = snprintf(name, sizeof(name), "%s%s%.*s", ns ? ns : "", ns ? "/" : "",
                   (int)(fl - (sizeof(SUFFIX) - 1)), file);
  if (w <= 0 || (size_t)w >= sizeof(name) || !strchr(name, ':')) return NULL;
  azc_status_t bad = azc_model_name_normalize(name, norm);
  if (bad) { /* a file whose name is not a model name is not a model */
    azc_status_free(bad);
    return NULL;
  }
  char digest[17];
  if (!bundle_digest(path, (uint64_t)st.st_size, digest)) return NULL;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    azc_model_store_entry_t *it = realloc(l->items, cap * sizeof(*it));
    if (!it) return AZC_ERR(AZC_OUT_OF_MEMORY, "model store list");
    l->items = it;
    l->cap = cap;
  }
  azc_model_store_entry_t *e = &l->items[l->n];
  memset(e, 0, sizeof(*e));
  snprintf(e->name, sizeof(e->name), "%s", norm);
  e->path = join3(path, "", "");
  if (!e->path) return AZC_ERR(AZC_OUT_OF_MEMORY, "model store list");
  e->size = (uint64_t)st.st_size;
  e->modified_unix = (int64_t)st.st_mtime;
  memcpy(e->digest, digest, sizeof(digest));
  l->n++;
  return NULL;
}

static azc_status_t scan(list_t *l, const char *dir, const char *ns) {
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return NULL; /* an empty store has no folder yet */
    return AZC_ERR(AZC_IO, "model store %s: %s", dir, strerror(errno));
  }
  azc_status_t st = NULL;
  struct dirent *de;
  while (!st && (de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char *path = join3(dir, "/", de->d_name);
    if (!path) {
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "model store list");
      break;
    }
    struct stat sb;
    if (!ns && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      azc_status_t bad = check_part(de->d_name, 0, strlen(de->d_name), "namespace");
      if (!bad) st = scan(l, path, de->d_name);
      azc_status_free(bad);
    } else {
      st = add_entry(l, path, ns, de->d_name);
    }
    free(path);
  }
  closedir(d);
  return st;
}

static int by_name(const void *a, const void *b) {
  const azc_model_store_entry_t *x = a, *y = b;
  int c = strcasecmp(x->name, y->name);
  return c ? c : strcmp(x->name, y->name);
}

azc_status_t azc_model_store_list(const char *dir, azc_model_store_entry_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  char *root;
  AZC_RETURN_IF_ERROR(azc_model_store_dir(dir, &root));
  list_t l = {0};
  azc_status_t st = scan(&l, root, NULL);
  free(root);
  if (st) {
    azc_model_store_list_free(l.items, l.n);
    return st;
  }
  if (l.n) qsort(l.items, l.n, sizeof(*l.items), by_name);
  *out = l.items;
  *n = l.n;
  return NULL;
}

void azc_model_store_entry_clear(azc_model_store_entry_t *e) {
  free(e->path);
  memset(e, 0, sizeof(*e));
}

void azc_model_store_list_free(azc_model_store_entry_t *entries, size_t n) {
  for (size_t i = 0; i < n; i++) free(entries[i].path);
  free(entries);
}

azc_status_t azc_model_store_find(const char *dir, const char *name, azc_model_store_entry_t *out) {
  memset(out, 0, sizeof(*out));
  char norm[AZC_MODEL_NAME_MAX];
  AZC_RETURN_IF_ERROR(azc_model_name_normalize(name, norm));
  azc_model_store_entry_t *all;
  size_t n;
  AZC_RETURN_IF_ERROR(azc_model_store_list(dir, &all, &n));
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(all[i].name, norm)) {
      *out = all[i];
      all[i].path = NULL;
      azc_model_store_list_free(all, n);
      return NULL;
    }
  azc_model_store_list_free(all, n);
  char *root = NULL;
  azc_status_t st = azc_model_store_dir(dir, &root);
  azc_status_free(st);
  st = AZC_ERR(AZC_NOT_FOUND,
               "model '%s' not found in the store (%s; %zu models, `azc list` shows them)", norm,
               root ? root : "?", n);
  free(root);
  return st;
}

azc_status_t azc_model_store_path_for(const char *dir, const char *name, char **out_path) {
  *out_path = NULL;
  char norm[AZC_MODEL_NAME_MAX];
  AZC_RETURN_IF_ERROR(azc_model_name_normalize(name, norm));
  azc_model_store_entry_t e;
  azc_status_t st = azc_model_store_find(dir, norm, &e);
  if (!st) {
    *out_path = e.path; /* replace the entry that has this name in another case */
    return NULL;
  }
  if (azc_status_code(st) != AZC_NOT_FOUND) return st;
  azc_status_free(st);
  char *root;
  AZC_RETURN_IF_ERROR(azc_model_store_dir(dir, &root));
  char *path = join3(root, "/", norm), *slash = NULL;
  free(root);
  char *full = path ? join3(path, SUFFIX, "") : NULL;
  free(path);
  if (!full) return AZC_ERR(AZC_OUT_OF_MEMORY, "model store");
  slash = strrchr(full, '/');
  *slash = 0;
  st = azc_mkdir_p(full);
  *slash = '/';
  if (st) {
    free(full);
    return azc_status_wrap(st, "model store");
  }
  *out_path = full;
  return NULL;
}

azc_status_t azc_model_store_remove(const char *dir, const char *name) {
  azc_model_store_entry_t e;
  AZC_RETURN_IF_ERROR(azc_model_store_find(dir, name, &e));
  azc_status_t st = NULL;
  if (unlink(e.path) != 0) st = AZC_ERR(AZC_IO, "%s: cannot remove: %s", e.path, strerror(errno));
  if (!st && strchr(e.name, '/')) { /* a namespace folder left empty goes too */
    char *slash = strrchr(e.path, '/');
    *slash = 0;
    rmdir(e.path); /* fails harmlessly when other models remain */
  }
  azc_model_store_entry_clear(&e);
  return st;
}

azc_status_t azc_model_store_resolve(const char *dir, const char *model, char **out_path,
                                     bool *in_store) {
  *out_path = NULL;
  *in_store = false;
  struct stat sb;
  if (stat(model, &sb) == 0 && S_ISREG(sb.st_mode)) {
    *out_path = join3(model, "", "");
    return *out_path ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "model path");
  }
  azc_model_store_entry_t e;
  azc_status_t st = azc_model_store_find(dir, model, &e);
  if (st) return azc_status_wrap(st, "%s: no such file, and as a model name", model);
  *out_path = e.path;
  *in_store = true;
  return NULL;
}

void azc_model_name_from_path(const char *path, char *out, size_t cap) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
  snprintf(out, cap, "%.*s", (int)n, base);
}
