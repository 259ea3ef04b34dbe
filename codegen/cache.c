/* Kernel cache (see cache.h for the layout and the entry format).
 *
 * Every entry is one small file written with the atomic writer (temp file in
 * the same folder, rename; no fsync, as the checksums catch what a power loss
 * could leave), so there is no lock and no index to keep
 * consistent: the file system's rename is the only synchronization, and
 * `info`, `list` and `clear` are walks over the two-level folder tree. A get
 * reads the header first and checks the sizes against the file before it
 * allocates, so a damaged entry costs one small read and never a large
 * allocation. Only names the cache itself makes are ever touched by a walk
 * (two lowercase hex digits for folders, 32 plus ".azk" for entries, that
 * plus ".tmp.*" for temp files), and symbolic links are never followed. */
#include "codegen/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/file.h"
#include "runtime/base/log.h"
#include "runtime/base/util.h"

struct azc_cache {
  char *dir;
  _Atomic uint64_t hits, misses, corrupt, puts;
};

/* Header field offsets (cache.h). */
enum {
  H_MAGIC = 0,
  H_VERSION = 8,
  H_DESC_LEN = 12,
  H_KEY_LO = 16,
  H_KEY_HI = 24,
  H_PAYLOAD_SIZE = 32,
  H_PAYLOAD_HASH = 40,
  H_HEADER_HASH = 48,
};

#define ENTRY_NAME_LEN 36 /* 32 hex digits + ".azk" */

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static uint64_t parse_hex64(const char *s) {
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) v = v << 4 | (uint64_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
  return v;
}

/* ---- directory ---------------------------------------------------------- */

azc_status_t azc_cache_dir_resolve(const char *dir_or_null, char **out) {
  *out = NULL;
  const char *base = NULL, *suffix = "", *e;
  if (dir_or_null && *dir_or_null) {
    base = dir_or_null;
  } else if ((e = getenv("AZC_CACHE_DIR")) && *e) {
    base = e;
  } else if ((e = getenv("XDG_CACHE_HOME")) && e[0] == '/') { /* XDG: relative is ignored */
    base = e;
    suffix = "/azc";
  } else if ((e = getenv("HOME")) && *e) {
    base = e;
    suffix = "/.cache/azc";
  } else {
    return AZC_ERR(AZC_NOT_FOUND,
                   "kernel cache: no directory (set AZC_CACHE_DIR, XDG_CACHE_HOME or HOME)");
  }
  size_t n = strlen(base);
  while (n > 1 && base[n - 1] == '/') n--;
  if (n == 1 && base[0] == '/' && *suffix) n = 0; /* "/" + "/azc" */
  size_t total = n + strlen(suffix);
  if (total + ENTRY_NAME_LEN + 64 >= PATH_MAX)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kernel cache: directory %s%s is too long", base, suffix);
  char *dir = malloc(total + 1);
  if (!dir) return AZC_ERR(AZC_OUT_OF_MEMORY, "kernel cache: out of memory");
  memcpy(dir, base, n);
  strcpy(dir + n, suffix);
  *out = dir;
  return NULL;
}

azc_status_t azc_cache_open(const char *dir_or_null, azc_cache_t **out) {
  *out = NULL;
  azc_cache_t *c = calloc(1, sizeof(*c));
  if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "kernel cache: out of memory");
  azc_status_t st = azc_cache_dir_resolve(dir_or_null, &c->dir);
  if (st) {
    free(c);
    return st;
  }
  *out = c;
  return NULL;
}

void azc_cache_close(azc_cache_t *c) {
  if (!c) return;
  free(c->dir);
  free(c);
}

const char *azc_cache_dir(const azc_cache_t *c) { return c->dir; }

char *azc_cache_entry_path(const azc_cache_t *c, azc_hash128_t key, char *buf, size_t cap) {
  char hex[33];
  azc_hash128_hex(key, hex);
  int n = snprintf(buf, cap, "%s/%.2s/%s%s", c->dir, hex, hex, AZC_CACHE_ENTRY_EXT);
  return n >= 0 && (size_t)n < cap ? buf : NULL;
}

azc_cache_stats_t azc_cache_stats(const azc_cache_t *c) {
  azc_cache_stats_t s = {atomic_load(&c->hits), atomic_load(&c->misses), atomic_load(&c->corrupt),
                         atomic_load(&c->puts)};
  return s;
}

/* ---- entry header --------------------------------------------------------- */

typedef struct parsed {
  uint32_t desc_len;
  uint64_t payload_size, payload_hash;
  char desc[AZC_CACHE_MAX_DESCRIPTION + 1]; /* NUL-terminated */
} parsed_t;

static bool read_full(int fd, void *buf, size_t n, uint64_t off) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return true;
}

/* XXH3-64 of header bytes 0..47 followed by the description. */
static uint64_t header_hash(const uint8_t *h, const uint8_t *desc, uint32_t desc_len) {
  uint8_t buf[H_HEADER_HASH + AZC_CACHE_MAX_DESCRIPTION];
  memcpy(buf, h, H_HEADER_HASH);
  if (desc_len) memcpy(buf + H_HEADER_HASH, desc, desc_len);
  return azc_hash64(buf, H_HEADER_HASH + desc_len);
}

/* Reads and checks everything but the payload checksum. On failure writes
 * why into `why` and returns false. */
static bool check_header(int fd, uint64_t file_size, azc_hash128_t key, parsed_t *p, char *why,
                         size_t cap) {
  uint8_t h[AZC_CACHE_HEADER_SIZE + AZC_CACHE_MAX_DESCRIPTION];
  if (file_size < AZC_CACHE_HEADER_SIZE) {
    snprintf(why, cap, "truncated: %llu bytes, smaller than the %u-byte header",
             (unsigned long long)file_size, AZC_CACHE_HEADER_SIZE);
    return false;
  }
  if (!read_full(fd, h, AZC_CACHE_HEADER_SIZE, 0)) {
    snprintf(why, cap, "cannot read the header");
    return false;
  }
  if (memcmp(h + H_MAGIC, AZC_CACHE_ENTRY_MAGIC, 8) != 0) {
    snprintf(why, cap, "bad magic (not an azc kernel cache entry)");
    return false;
  }
  uint32_t version = azc_load_u32le(h + H_VERSION);
  if (version != AZC_CACHE_FORMAT_VERSION) {
    snprintf(why, cap, "entry format version %u, this azc writes %u", version,
             AZC_CACHE_FORMAT_VERSION);
    return false;
  }
  azc_hash128_t stored = {azc_load_u64le(h + H_KEY_LO), azc_load_u64le(h + H_KEY_HI)};
  if (stored.lo != key.lo || stored.hi != key.hi) {
    char hex[33];
    azc_hash128_hex(stored, hex);
    snprintf(why, cap, "it holds key %s, not the key its name says", hex);
    return false;
  }
  p->desc_len = azc_load_u32le(h + H_DESC_LEN);
  p->payload_size = azc_load_u64le(h + H_PAYLOAD_SIZE);
  p->payload_hash = azc_load_u64le(h + H_PAYLOAD_HASH);
  if (p->desc_len > AZC_CACHE_MAX_DESCRIPTION || p->payload_size > AZC_CACHE_MAX_PAYLOAD) {
    snprintf(why, cap, "description length %u or payload size %llu out of range", p->desc_len,
             (unsigned long long)p->payload_size);
    return false;
  }
  uint64_t want = AZC_CACHE_HEADER_SIZE + (uint64_t)p->desc_len + p->payload_size;
  if (file_size != want) {
    snprintf(why, cap, "%s: %llu bytes, its header says %llu",
             file_size < want ? "truncated" : "trailing bytes", (unsigned long long)file_size,
             (unsigned long long)want);
    return false;
  }
  const uint8_t *desc = h + AZC_CACHE_HEADER_SIZE;
  if (!read_full(fd, h + AZC_CACHE_HEADER_SIZE, p->desc_len, AZC_CACHE_HEADER_SIZE)) {
    snprintf(why, cap, "cannot read the description");
    return false;
  }
  if (header_hash(h, desc, p->desc_len) != azc_load_u64le(h + H_HEADER_HASH)) {
    snprintf(why, cap, "header checksum mismatch");
    return false;
  }
  memcpy(p->desc, desc, p->desc_len);
  p->desc[p->desc_len] = 0;
  return true;
}

/* ---- get / put ---------------------------------------------------------- */

/* Deletes the damaged file at path unless another writer has replaced it
 * since it was opened (then the new entry is left alone). */
static void remove_damaged(const char *path, const struct stat *opened) {
  struct stat now;
  if (lstat(path, &now) == 0 && now.st_ino == opened->st_ino && now.st_dev == opened->st_dev)
    unlink(path);
}

/* Opens the entry of key read-only (path receives its name); a missing
 * entry counts as a miss and is AZC_NOT_FOUND. */
static azc_status_t open_entry(azc_cache_t *c, azc_hash128_t key, char path[PATH_MAX], int *fd_out,
                               struct stat *sb) {
  char hex[33];
  azc_hash128_hex(key, hex);
  if (!azc_cache_entry_path(c, key, path, PATH_MAX))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kernel cache: path of %s is too long", hex);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      return AZC_ERR(AZC_IO, "kernel cache: cannot open %s: %s", path, strerror(errno));
    atomic_fetch_add(&c->misses, 1);
    return AZC_ERR(AZC_NOT_FOUND, "kernel cache: no entry %s in %s", hex, c->dir);
  }
  if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
    close(fd);
    return AZC_ERR(AZC_IO, "kernel cache: %s is not a readable file", path);
  }
  *fd_out = fd;
  return NULL;
}

azc_status_t azc_cache_get(azc_cache_t *c, azc_hash128_t key, void **data, size_t *size) {
  *data = NULL;
  *size = 0;
  char path[PATH_MAX];
  int fd;
  struct stat sb;
  AZC_RETURN_IF_ERROR(open_entry(c, key, path, &fd, &sb));
  parsed_t p;
  char why[200];
  void *buf = NULL;
  bool ok = check_header(fd, (uint64_t)sb.st_size, key, &p, why, sizeof(why));
  if (ok) {
    buf = malloc(p.payload_size ? (size_t)p.payload_size : 1);
    if (!buf) {
      close(fd);
      return AZC_ERR(AZC_OUT_OF_MEMORY, "kernel cache: %s: out of memory for %llu bytes", path,
                     (unsigned long long)p.payload_size);
    }
    if (!read_full(fd, buf, (size_t)p.payload_size, AZC_CACHE_HEADER_SIZE + p.desc_len)) {
      ok = false;
      snprintf(why, sizeof(why), "cannot read the payload");
    } else if (azc_hash64(buf, (size_t)p.payload_size) != p.payload_hash) {
      ok = false;
      snprintf(why, sizeof(why), "payload checksum mismatch");
    }
  }
  if (!ok) {
    free(buf);
    remove_damaged(path, &sb);
    close(fd);
    atomic_fetch_add(&c->misses, 1);
    atomic_fetch_add(&c->corrupt, 1);
    azc_log_warn("kernel cache: %s was damaged (%s); removed, the kernel will be rebuilt", path,
                 why);
    return AZC_ERR(AZC_NOT_FOUND, "kernel cache: entry %s was damaged (%s) and has been removed",
                   path, why);
  }
  close(fd);
  atomic_fetch_add(&c->hits, 1);
  *data = buf;
  *size = (size_t)p.payload_size;
  return NULL;
}

static azc_status_t damaged(azc_cache_t *c, const char *path, const struct stat *sb, int fd,
                            const char *why) {
  remove_damaged(path, sb);
  close(fd);
  atomic_fetch_add(&c->misses, 1);
  atomic_fetch_add(&c->corrupt, 1);
  azc_log_warn("kernel cache: %s was damaged (%s); removed, its contents will be rebuilt", path,
               why);
  return AZC_ERR(AZC_NOT_FOUND, "kernel cache: entry %s was damaged (%s) and has been removed",
                 path, why);
}

void azc_cache_unmap(azc_cache_mapped_t *m) {
  if (m->map) munmap(m->map, m->map_size);
  if (m->fd >= 0) close(m->fd);
  memset(m, 0, sizeof(*m));
  m->fd = -1;
}

azc_status_t azc_cache_map(azc_cache_t *c, azc_hash128_t key, azc_cache_mapped_t *out) {
  memset(out, 0, sizeof(*out));
  out->fd = -1;
  char path[PATH_MAX];
  int fd;
  struct stat sb;
  AZC_RETURN_IF_ERROR(open_entry(c, key, path, &fd, &sb));
  parsed_t p;
  char why[200];
  if (!check_header(fd, (uint64_t)sb.st_size, key, &p, why, sizeof(why)))
    return damaged(c, path, &sb, fd, why);
  /* MAP_POPULATE: one call maps the pages the checksum is about to read */
  size_t map_size = (size_t)sb.st_size;
  void *map = mmap(NULL, map_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED) {
    azc_status_t st = AZC_ERR(AZC_IO, "kernel cache: cannot map %s: %s", path, strerror(errno));
    close(fd);
    return st;
  }
  uint64_t offset = AZC_CACHE_HEADER_SIZE + (uint64_t)p.desc_len;
  const uint8_t *data = (const uint8_t *)map + offset;
  if (azc_hash64(data, (size_t)p.payload_size) != p.payload_hash) {
    munmap(map, map_size);
    return damaged(c, path, &sb, fd, "payload checksum mismatch");
  }
  atomic_fetch_add(&c->hits, 1);
  *out = (azc_cache_mapped_t){fd, offset, p.payload_size, data, map, map_size};
  return NULL;
}

azc_status_t azc_cache_put(azc_cache_t *c, azc_hash128_t key, const void *data, size_t size,
                           const char *description) {
  char path[PATH_MAX], hex[33];
  azc_hash128_hex(key, hex);
  if (!data && size)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kernel cache: storing %s: %zu bytes at NULL", hex, size);
  if ((uint64_t)size > AZC_CACHE_MAX_PAYLOAD)
    return AZC_ERR(AZC_OUT_OF_RANGE, "kernel cache: storing %s: %zu bytes; at most %llu", hex, size,
                   (unsigned long long)AZC_CACHE_MAX_PAYLOAD);
  if (!azc_cache_entry_path(c, key, path, sizeof(path)))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "kernel cache: path of %s is too long", hex);

  /* header + description in one buffer: the header checksum covers both */
  uint8_t h[AZC_CACHE_HEADER_SIZE + AZC_CACHE_MAX_DESCRIPTION];
  uint32_t desc_len = 0;
  for (const char *d = description; d && *d && desc_len < AZC_CACHE_MAX_DESCRIPTION; d++) {
    unsigned char ch = (unsigned char)*d;
    h[AZC_CACHE_HEADER_SIZE + desc_len++] = ch < 0x20 || ch == 0x7f ? ' ' : ch;
  }
  memcpy(h + H_MAGIC, AZC_CACHE_ENTRY_MAGIC, 8);
  put_u32(h + H_VERSION, AZC_CACHE_FORMAT_VERSION);
  put_u32(h + H_DESC_LEN, desc_len);
  put_u64(h + H_KEY_LO, key.lo);
  put_u64(h + H_KEY_HI, key.hi);
  put_u64(h + H_PAYLOAD_SIZE, size);
  put_u64(h + H_PAYLOAD_HASH, azc_hash64(data, size));
  put_u64(h + H_HEADER_HASH, header_hash(h, h + AZC_CACHE_HEADER_SIZE, desc_len));

  char sub[PATH_MAX];
  snprintf(sub, sizeof(sub), "%s/%.2s", c->dir, hex);
  azc_atomic_file_t f;
  azc_status_t st = NULL;
  for (int attempt = 0; attempt < 2; attempt++) { /* a concurrent clear may remove the folder */
    azc_status_free(st);
    st = azc_mkdir_p(sub);
    if (!st) st = azc_atomic_file_open(path, &f);
    if (!st) break;
  }
  /* no fsync: a kill cannot cut a renamed entry, and an entry a power loss
     leaves short or zeroed fails its length and checksums on the next get,
     which removes it and rebuilds the kernel */
  if (!st) f.no_fsync = 1;
  if (st) return azc_status_wrap(st, "kernel cache: storing %s", hex);
  st = azc_atomic_file_write(&f, h, AZC_CACHE_HEADER_SIZE + desc_len);
  if (!st) st = azc_atomic_file_write(&f, data, size);
  if (st) {
    azc_atomic_file_abort(&f);
    return azc_status_wrap(st, "kernel cache: storing %s", hex);
  }
  AZC_RETURN_IF_ERROR_CTX(azc_atomic_file_commit(&f), "kernel cache: storing %s", hex);
  atomic_fetch_add(&c->puts, 1);
  return NULL;
}

/* ---- walks: info, list, clear --------------------------------------------- */

typedef enum { ITEM_ENTRY, ITEM_TEMP } item_kind_t;
/* path: the file; name: its name; sb: its lstat (a regular file). */
typedef void (*item_fn_t)(void *user, item_kind_t kind, const char *path, const char *name,
                          const struct stat *sb);

/* Entry "<32 hex>.azk" or temp "<32 hex>.azk.tmp.*", in the folder named by
 * its first two digits; anything else is not the cache's. */
static int classify(const char *name, const char *folder) {
  size_t n = strlen(name);
  if (n < ENTRY_NAME_LEN || !is_hex(name, 32) || memcmp(name, folder, 2) != 0 ||
      memcmp(name + 32, AZC_CACHE_ENTRY_EXT, 4) != 0)
    return -1;
  if (n == ENTRY_NAME_LEN) return ITEM_ENTRY;
  if (n > ENTRY_NAME_LEN + 5 && memcmp(name + ENTRY_NAME_LEN, ".tmp.", 5) == 0) return ITEM_TEMP;
  return -1;
}

static azc_status_t walk(const char *dir, item_fn_t fn, void *user, bool remove_empty_folders) {
  DIR *top = opendir(dir);
  if (!top) {
    if (errno == ENOENT) return NULL; /* nothing cached yet */
    return AZC_ERR(AZC_IO, "kernel cache: cannot read %s: %s", dir, strerror(errno));
  }
  azc_status_t st = NULL;
  struct dirent *de;
  while (!st && (de = readdir(top))) {
    const char *folder = de->d_name;
    if (strlen(folder) != 2 || !is_hex(folder, 2)) continue;
    char sub[PATH_MAX], path[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/%s", dir, folder);
    struct stat sb;
    if (lstat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue; /* symlinks are not followed */
    DIR *d = opendir(sub);
    if (!d) {
      st = AZC_ERR(AZC_IO, "kernel cache: cannot read %s: %s", sub, strerror(errno));
      break;
    }
    struct dirent *fe;
    while ((fe = readdir(d))) {
      int kind = classify(fe->d_name, folder);
      if (kind < 0) continue;
      int n = snprintf(path, sizeof(path), "%s/%s", sub, fe->d_name);
      if (n < 0 || (size_t)n >= sizeof(path)) continue;
      if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
      fn(user, (item_kind_t)kind, path, fe->d_name, &sb);
    }
    closedir(d);
    if (remove_empty_folders) rmdir(sub); /* fails, harmlessly, unless empty */
  }
  closedir(top);
  return st;
}

static void info_item(void *user, item_kind_t kind, const char *path, const char *name,
                      const struct stat *sb) {
  azc_cache_info_t *info = user;
  if (kind == ITEM_TEMP) {
    info->temp_files++;
    return;
  }
  int64_t t = (int64_t)sb->st_mtime;
  if (info->entries == 0 || t < info->oldest_mtime) info->oldest_mtime = t;
  if (info->entries == 0 || t > info->newest_mtime) info->newest_mtime = t;
  info->entries++;
  info->total_bytes += (uint64_t)sb->st_size;
}

azc_status_t azc_cache_info(const char *dir_or_null, azc_cache_info_t *info) {
  memset(info, 0, sizeof(*info));
  char *dir;
  AZC_RETURN_IF_ERROR(azc_cache_dir_resolve(dir_or_null, &dir));
  azc_status_t st = walk(dir, info_item, info, false);
  free(dir);
  return st;
}

typedef struct list_ctx {
  azc_cache_list_fn_t fn;
  void *user;
} list_ctx_t;

static void list_item(void *user, item_kind_t kind, const char *path, const char *name,
                      const struct stat *sb) {
  if (kind != ITEM_ENTRY) return;
  list_ctx_t *ctx = user;
  azc_cache_entry_info_t e = {0};
  e.key.hi = parse_hex64(name);
  e.key.lo = parse_hex64(name + 16);
  e.path = path;
  e.file_size = (uint64_t)sb->st_size;
  e.mtime = (int64_t)sb->st_mtime;
  parsed_t p;
  char why[200];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return; /* removed since the folder was read */
  e.valid = check_header(fd, e.file_size, e.key, &p, why, sizeof(why));
  close(fd);
  e.payload_size = e.valid ? p.payload_size : 0;
  e.description = e.valid ? p.desc : why;
  ctx->fn(ctx->user, &e);
}

azc_status_t azc_cache_list(const char *dir_or_null, azc_cache_list_fn_t fn, void *user) {
  if (!fn) return AZC_ERR(AZC_INVALID_ARGUMENT, "azc_cache_list: callback is NULL");
  char *dir;
  AZC_RETURN_IF_ERROR(azc_cache_dir_resolve(dir_or_null, &dir));
  list_ctx_t ctx = {fn, user};
  azc_status_t st = walk(dir, list_item, &ctx, false);
  free(dir);
  return st;
}

typedef struct clear_ctx {
  uint64_t files, bytes;
  int64_t now;
} clear_ctx_t;

static void clear_item(void *user, item_kind_t kind, const char *path, const char *name,
                       const struct stat *sb) {
  clear_ctx_t *ctx = user;
  /* a fresh temp file may belong to a put that is still running */
  if (kind == ITEM_TEMP && (int64_t)sb->st_mtime > ctx->now - AZC_CACHE_STALE_TEMP_SECONDS) return;
  if (unlink(path) == 0) {
    ctx->files++;
    ctx->bytes += (uint64_t)sb->st_size;
  }
}

azc_status_t azc_cache_clear(const char *dir_or_null, uint64_t *removed_files,
                             uint64_t *removed_bytes) {
  if (removed_files) *removed_files = 0;
  if (removed_bytes) *removed_bytes = 0;
  char *dir;
  AZC_RETURN_IF_ERROR(azc_cache_dir_resolve(dir_or_null, &dir));
  clear_ctx_t ctx = {0, 0, (int64_t)time(NULL)};
  azc_status_t st = walk(dir, clear_item, &ctx, true);
  free(dir);
  if (removed_files) *removed_files = ctx.files;
  if (removed_bytes) *removed_bytes = ctx.bytes;
  return st;
}
