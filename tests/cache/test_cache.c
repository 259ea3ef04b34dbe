/* Kernel cache: put/get round trip, misses, directory selection from the
 * environment, damaged entries (detected, removed, rebuilt), concurrent
 * writers in two processes while a third reads, info/list, and a clear that
 * removes the cache's own files and nothing else. Entry bytes are patched at
 * the offsets cache.h documents, independently of cache.c. */
#include <dirent.h>
#include <ftw.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codegen/cache.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "tests/test.h"

/* ---- helpers --------------------------------------------------------------- */

static int rm_item(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  return remove(path);
}

/* A fresh, empty directory <test tmp>/<name>. */
static const char *fresh_dir(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", test_tmp_dir(), name);
  nftw(buf, rm_item, 16, FTW_DEPTH | FTW_PHYS);
  return buf;
}

static int temp_count;
static int count_temp(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  if (strstr(path + ftw->base, ".tmp.")) temp_count++;
  return 0;
}
static int count_temp_files(const char *dir) {
  temp_count = 0;
  nftw(dir, count_temp, 16, FTW_PHYS);
  return temp_count;
}

static bool exists(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0;
}

static int write_file(const char *path, const void *data, size_t size) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return -1;
  size_t w = size ? fwrite(data, 1, size, fp) : 0;
  return fclose(fp) == 0 && w == size ? 0 : -1;
}

static azc_hash128_t key_of(unsigned i) { return azc_hash128(&i, sizeof(i)); }

/* Payload for key i (variant v): a deterministic size and bytes. */
static size_t payload_size(unsigned i) { return 100 + (size_t)i * 197 % 20000; }
static void payload_fill(uint8_t *buf, size_t n, unsigned i, unsigned v) {
  for (size_t k = 0; k < n; k++)
    buf[k] = (uint8_t)(((k + i * 7919u + v * 104729u) * 0x9e3779b97f4a7c15ull) >> 56);
}

static azc_status_t put_i(azc_cache_t *c, unsigned i, unsigned v) {
  size_t n = payload_size(i);
  uint8_t *buf = malloc(n);
  if (!buf) return AZC_ERR(AZC_OUT_OF_MEMORY, "test");
  payload_fill(buf, n, i, v);
  char desc[64];
  snprintf(desc, sizeof(desc), "kernel %u variant %u", i, v);
  azc_status_t st = azc_cache_put(c, key_of(i), buf, n, desc);
  free(buf);
  return st;
}

/* 1 when get(i) returns exactly the payload of (i, v), 0 otherwise. */
static int get_is(azc_cache_t *c, unsigned i, unsigned v) {
  void *data;
  size_t size;
  azc_status_t st = azc_cache_get(c, key_of(i), &data, &size);
  if (st) {
    azc_status_free(st);
    return 0;
  }
  uint8_t *want = malloc(payload_size(i));
  payload_fill(want, payload_size(i), i, v);
  int ok = size == payload_size(i) && memcmp(data, want, size) == 0;
  free(want);
  free(data);
  return ok;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_round_trip(void) {
  char dir[1024], path[2048];
  fresh_dir(dir, sizeof(dir), "rt");
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  ASSERT_STREQ(azc_cache_dir(c), dir);
  ASSERT(!exists(dir)); /* nothing is created before the first put */

  azc_hash128_t key = {0x0123456789abcdefull, 0xfedcba9876543210ull};
  uint8_t payload[5000];
  payload_fill(payload, sizeof(payload), 1, 0);
  const char *desc = "matmul q4_0 (4096x4096) x f32 (T,4096) avx2";
  azc_status_t st = azc_cache_put(c, key, payload, sizeof(payload), desc);
  if (st) azc_cache_close(c);
  ASSERT_OK(st);

  /* the file: <dir>/fe/fedcba98765432100123456789abcdef.azk, fields per cache.h */
  ASSERT(azc_cache_entry_path(c, key, path, sizeof(path)) == path);
  char want_path[2048];
  snprintf(want_path, sizeof(want_path), "%s/fe/fedcba98765432100123456789abcdef.azk", dir);
  ASSERT_STREQ(path, want_path);
  size_t n;
  uint8_t *file = test_read_file(path, &n);
  ASSERT(file != NULL);
  ASSERT_EQ_INT(n, AZC_CACHE_HEADER_SIZE + strlen(desc) + sizeof(payload));
  ASSERT(memcmp(file, "AZCKERNL", 8) == 0);
  ASSERT_EQ_INT(azc_load_u32le(file + 8), 1);
  ASSERT_EQ_INT(azc_load_u32le(file + 12), strlen(desc));
  ASSERT(azc_load_u64le(file + 16) == key.lo && azc_load_u64le(file + 24) == key.hi);
  ASSERT_EQ_INT(azc_load_u64le(file + 32), sizeof(payload));
  ASSERT(azc_load_u64le(file + 40) == azc_hash64(payload, sizeof(payload)));
  ASSERT(memcmp(file + 56, desc, strlen(desc)) == 0);
  ASSERT(memcmp(file + 56 + strlen(desc), payload, sizeof(payload)) == 0);
  free(file);

  void *data;
  size_t size;
  ASSERT_OK(azc_cache_get(c, key, &data, &size));
  ASSERT_EQ_INT(size, sizeof(payload));
  int same = memcmp(data, payload, size) == 0;
  free(data);
  ASSERT(same);

  /* a put replaces; an empty payload is a valid entry */
  ASSERT_OK(azc_cache_put(c, key, "xyz", 3, NULL));
  ASSERT_OK(azc_cache_get(c, key, &data, &size));
  same = size == 3 && memcmp(data, "xyz", 3) == 0;
  free(data);
  ASSERT(same);
  azc_hash128_t key2 = {1, 2};
  ASSERT_OK(azc_cache_put(c, key2, NULL, 0, "empty"));
  ASSERT_OK(azc_cache_get(c, key2, &data, &size));
  ASSERT(data != NULL);
  ASSERT_EQ_INT(size, 0);
  free(data);

  azc_cache_stats_t s = azc_cache_stats(c);
  ASSERT_EQ_INT(s.hits, 3);
  ASSERT_EQ_INT(s.misses, 0);
  ASSERT_EQ_INT(s.corrupt, 0);
  ASSERT_EQ_INT(s.puts, 3);
  ASSERT_EQ_INT(count_temp_files(dir), 0);
  ASSERT_ERR(azc_cache_put(c, key, NULL, 5, NULL), AZC_INVALID_ARGUMENT, "NULL");
  azc_cache_close(c);
}

static void test_missing(void) {
  char dir[1024], hex[33];
  fresh_dir(dir, sizeof(dir), "missing");
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  void *data = (void *)1;
  size_t size = 9;
  azc_hash128_hex(key_of(5), hex);
  ASSERT_ERR(azc_cache_get(c, key_of(5), &data, &size), AZC_NOT_FOUND, hex);
  ASSERT(data == NULL && size == 0);
  azc_cache_stats_t s = azc_cache_stats(c);
  ASSERT_EQ_INT(s.misses, 1);
  ASSERT_EQ_INT(s.hits, 0);
  ASSERT(!exists(dir)); /* a get creates nothing */
  azc_cache_close(c);
}

/* Sets (value non-NULL) or unsets an environment variable. */
static void env(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

static void check_env_dirs(void) {
  char *d;
  env("AZC_CACHE_DIR", "/a/b");
  env("XDG_CACHE_HOME", "/x");
  env("HOME", "/h");
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/a/b");
  free(d);
  ASSERT_OK(azc_cache_dir_resolve("/explicit/dir", &d)); /* an explicit dir wins */
  ASSERT_STREQ(d, "/explicit/dir");
  free(d);
  env("AZC_CACHE_DIR", "/a/b//");
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/a/b");
  free(d);
  env("AZC_CACHE_DIR", ""); /* empty counts as unset */
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/x/azc");
  free(d);
  env("AZC_CACHE_DIR", NULL);
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/x/azc");
  free(d);
  env("XDG_CACHE_HOME", "relative/path"); /* the XDG spec says to ignore it */
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/h/.cache/azc");
  free(d);
  env("XDG_CACHE_HOME", NULL);
  ASSERT_OK(azc_cache_dir_resolve(NULL, &d));
  ASSERT_STREQ(d, "/h/.cache/azc");
  free(d);
  env("HOME", NULL);
  azc_cache_t *c;
  ASSERT_ERR(azc_cache_open(NULL, &c), AZC_NOT_FOUND, "AZC_CACHE_DIR");
  ASSERT(c == NULL);

  /* end to end: each variable leads a put to its folder, made with mkdir -p */
  char base[1024], want[2048], path[2048];
  fresh_dir(base, sizeof(base), "env");
  const char *vars[] = {"AZC_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  const char *subs[] = {"/cache-env/deep", "/xdg/azc", "/home/.cache/azc"};
  const char *vals[] = {"/cache-env/deep", "/xdg", "/home"};
  for (int i = 0; i < 3; i++) {
    char value[2048];
    snprintf(value, sizeof(value), "%s%s", base, vals[i]);
    env(vars[i], value);
    ASSERT_OK(azc_cache_open(NULL, &c));
    snprintf(want, sizeof(want), "%s%s", base, subs[i]);
    int dir_ok = strcmp(azc_cache_dir(c), want) == 0;
    azc_status_t st = azc_cache_put(c, key_of(i), "abc", 3, "env");
    azc_cache_entry_path(c, key_of(i), path, sizeof(path));
    azc_cache_close(c);
    ASSERT_MSG(dir_ok, "%s: expected %s", vars[i], want);
    ASSERT_OK(st);
    ASSERT(strncmp(path, want, strlen(want)) == 0 && exists(path));
    env(vars[i], NULL); /* the next variable is the one left */
  }
}

static void test_env_precedence(void) {
  const char *names[] = {"AZC_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  char *saved[3];
  for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
  check_env_dirs();
  for (int i = 0; i < 3; i++) {
    env(names[i], saved[i]);
    free(saved[i]);
  }
}

typedef struct damage {
  const char *what; /* in the message */
  void (*apply)(uint8_t *file, size_t *n);
} damage_t;

static void flip_payload(uint8_t *f, size_t *n) { f[*n - 1] ^= 1; }
static void cut_one(uint8_t *f, size_t *n) { (*n)--; }
static void cut_header(uint8_t *f, size_t *n) { *n = 20; }
static void cut_all(uint8_t *f, size_t *n) { *n = 0; }
static void add_byte(uint8_t *f, size_t *n) { f[(*n)++] = 0; }
static void bad_magic(uint8_t *f, size_t *n) { f[3] = 'X'; }
static void bad_version(uint8_t *f, size_t *n) { f[8] = 2; }
static void other_key(uint8_t *f, size_t *n) { f[20] ^= 0x40; } /* key.lo */
static void flip_desc(uint8_t *f, size_t *n) { f[AZC_CACHE_HEADER_SIZE + 2] ^= 0x20; }
static void flip_size(uint8_t *f, size_t *n) { f[32] ^= 1; }

static const damage_t damages[] = {
    {"payload checksum mismatch", flip_payload},
    {"truncated", cut_one},
    {"truncated", cut_header},
    {"truncated", cut_all},
    {"trailing bytes", add_byte},
    {"bad magic", bad_magic},
    {"format version 2", bad_version},
    {"it holds key", other_key},
    {"header checksum mismatch", flip_desc},
    {"its header says", flip_size},
};

static void test_corrupt_entries(void) {
  char dir[1024], path[2048];
  fresh_dir(dir, sizeof(dir), "corrupt");
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  unsigned k = 42;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(damages); i++) {
    azc_status_t st = put_i(c, k, 0);
    if (!st && !get_is(c, k, 0)) st = AZC_ERR(AZC_INTERNAL, "entry did not read back");
    azc_cache_entry_path(c, key_of(k), path, sizeof(path));
    size_t n = 0;
    uint8_t *file = st ? NULL : test_read_file(path, &n);
    uint8_t *bigger = file ? realloc(file, n + 1) : NULL;
    if (bigger) {
      damages[i].apply(bigger, &n);
      if (write_file(path, bigger, n) != 0) st = AZC_ERR(AZC_IO, "cannot damage %s", path);
    } else if (!st) {
      st = AZC_ERR(AZC_IO, "cannot read %s", path);
    }
    free(bigger);
    if (st) azc_cache_close(c);
    ASSERT_OK(st);

    void *data;
    size_t size;
    azc_cache_stats_t before = azc_cache_stats(c);
    st = azc_cache_get(c, key_of(k), &data, &size);
    azc_cache_stats_t after = azc_cache_stats(c);
    int ok = st && azc_status_code(st) == AZC_NOT_FOUND &&
             strstr(azc_status_message(st), "damaged") &&
             strstr(azc_status_message(st), damages[i].what);
    if (!ok) fprintf(stderr, "damage %zu: %s\n", i, st ? azc_status_message(st) : "accepted");
    azc_status_free(st);
    if (!ok) azc_cache_close(c);
    ASSERT(ok);
    ASSERT(!exists(path)); /* removed */
    ASSERT_EQ_INT(after.corrupt, before.corrupt + 1);
    ASSERT_EQ_INT(after.misses, before.misses + 1);
    ASSERT_EQ_INT(after.hits, before.hits);
    /* the caller recompiles and puts it again */
    st = put_i(c, k, 0);
    if (st) azc_cache_close(c);
    ASSERT_OK(st);
    ASSERT(get_is(c, k, 0));
  }
  ASSERT_EQ_INT(azc_cache_stats(c).corrupt, AZC_ARRAY_SIZE(damages));

  /* another entry's file under this key's name */
  char other[2048];
  ASSERT_OK(put_i(c, 7, 0));
  azc_cache_entry_path(c, key_of(7), other, sizeof(other));
  azc_cache_entry_path(c, key_of(k), path, sizeof(path));
  ASSERT(rename(other, path) == 0);
  void *data;
  size_t size;
  ASSERT_ERR(azc_cache_get(c, key_of(k), &data, &size), AZC_NOT_FOUND, "it holds key");
  ASSERT(!exists(path));
  azc_cache_close(c);
}

/* Overwrites key i's entry file with a damaged copy of itself. */
static azc_status_t damage_entry(azc_cache_t *c, unsigned i, const damage_t *d, char *path,
                                 size_t cap) {
  azc_cache_entry_path(c, key_of(i), path, cap);
  size_t n = 0;
  uint8_t *file = test_read_file(path, &n);
  uint8_t *bigger = file ? realloc(file, n + 1) : NULL;
  if (!bigger) {
    free(file);
    return AZC_ERR(AZC_IO, "cannot read %s", path);
  }
  d->apply(bigger, &n);
  int bad = write_file(path, bigger, n);
  free(bigger);
  return bad ? AZC_ERR(AZC_IO, "cannot damage %s", path) : NULL;
}

/* azc_cache_map: the payload in place, at the offset cache.h gives, through
 * the descriptor too; a replacing put leaves a mapping alone; every damage
 * that get finds, map finds (and removes the entry). */
static void test_map(void) {
  char dir[1024], path[2048];
  fresh_dir(dir, sizeof(dir), "map");
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  azc_cache_mapped_t m;
  ASSERT_ERR(azc_cache_map(c, key_of(3), &m), AZC_NOT_FOUND, "no entry");
  ASSERT_EQ_INT(m.fd, -1);
  ASSERT_OK(put_i(c, 3, 0));
  ASSERT_OK(azc_cache_map(c, key_of(3), &m));
  size_t n = payload_size(3);
  uint8_t want[20100], got[20100];
  ASSERT(n <= sizeof(want));
  payload_fill(want, n, 3, 0);
  ASSERT(m.fd >= 0 && m.size == n && memcmp(m.data, want, n) == 0);
  ASSERT_EQ_INT(m.offset, AZC_CACHE_HEADER_SIZE + strlen("kernel 3 variant 0"));
  ASSERT(pread(m.fd, got, n, (off_t)m.offset) == (ssize_t)n && memcmp(got, want, n) == 0);
  ASSERT_OK(put_i(c, 3, 1)); /* replaced by rename: the mapped file is another inode */
  ASSERT(memcmp(m.data, want, n) == 0);
  azc_cache_unmap(&m);
  ASSERT(m.fd == -1 && m.map == NULL && m.data == NULL);
  azc_cache_unmap(&m); /* twice is harmless */
  ASSERT_OK(azc_cache_map(c, key_of(3), &m));
  payload_fill(want, n, 3, 1);
  ASSERT(memcmp(m.data, want, n) == 0);
  azc_cache_unmap(&m);
  for (size_t i = 0; i < AZC_ARRAY_SIZE(damages); i++) {
    ASSERT_OK(put_i(c, 3, 0));
    ASSERT_OK(damage_entry(c, 3, &damages[i], path, sizeof(path)));
    azc_status_t st = azc_cache_map(c, key_of(3), &m);
    int ok = st && azc_status_code(st) == AZC_NOT_FOUND &&
             strstr(azc_status_message(st), "damaged") &&
             strstr(azc_status_message(st), damages[i].what) && m.fd == -1 && m.data == NULL;
    if (!ok) fprintf(stderr, "damage %zu: %s\n", i, st ? azc_status_message(st) : "accepted");
    azc_status_free(st);
    ASSERT(ok);
    ASSERT(!exists(path));
  }
  azc_cache_stats_t s = azc_cache_stats(c);
  ASSERT_EQ_INT(s.hits, 2);
  ASSERT_EQ_INT(s.corrupt, AZC_ARRAY_SIZE(damages));
  ASSERT_EQ_INT(s.misses, 1 + AZC_ARRAY_SIZE(damages));
  azc_cache_close(c);
}

static void test_concurrent(void) {
  char dir[1024];
  fresh_dir(dir, sizeof(dir), "concurrent");
  const unsigned hot = 1000, n_keys = 100;
  fflush(NULL);
  pid_t pids[2];
  for (unsigned p = 0; p < 2; p++) {
    pids[p] = fork();
    ASSERT(pids[p] >= 0);
    if (pids[p] == 0) {
      azc_cache_t *c;
      int fails = 0;
      if (azc_cache_open(dir, &c)) _exit(2);
      for (unsigned i = 0; i < n_keys; i++) {
        /* the two processes walk the keys in opposite orders and hammer the hot key */
        unsigned k = p == 0 ? i : n_keys - 1 - i;
        azc_status_t st = put_i(c, k, 0);
        if (!st) st = put_i(c, hot, p);
        if (st) {
          fprintf(stderr, "child %u: %s\n", p, azc_status_message(st));
          azc_status_free(st);
          fails++;
        }
      }
      azc_cache_close(c);
      _exit(fails ? 1 : 0);
    }
  }
  /* meanwhile: every read of the hot key is a miss or one writer's whole entry */
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  int running = 2, bad_reads = 0, hits = 0, status[2] = {0, 0};
  while (running) {
    for (unsigned p = 0; p < 2; p++) {
      if (pids[p] > 0 && waitpid(pids[p], &status[p], WNOHANG) == pids[p]) {
        pids[p] = 0;
        running--;
      }
    }
    void *data;
    size_t size;
    azc_status_t st = azc_cache_get(c, key_of(hot), &data, &size);
    if (st) {
      azc_status_free(st);
      continue;
    }
    hits++;
    uint8_t *want = malloc(payload_size(hot));
    int ok = 0;
    for (unsigned v = 0; v < 2 && !ok; v++) {
      payload_fill(want, payload_size(hot), hot, v);
      ok = size == payload_size(hot) && memcmp(data, want, size) == 0;
    }
    bad_reads += !ok;
    free(want);
    free(data);
  }
  azc_cache_stats_t s = azc_cache_stats(c);
  ASSERT_EQ_INT(s.corrupt, 0);
  ASSERT_EQ_INT(bad_reads, 0);
  for (unsigned p = 0; p < 2; p++)
    ASSERT_MSG(WIFEXITED(status[p]) && WEXITSTATUS(status[p]) == 0, "child %u status %d", p,
               status[p]);
  for (unsigned i = 0; i < n_keys; i++) ASSERT_MSG(get_is(c, i, 0), "key %u", i);
  ASSERT(get_is(c, hot, 0) || get_is(c, hot, 1));
  ASSERT_EQ_INT(azc_cache_stats(c).corrupt, 0);
  azc_cache_close(c);
  ASSERT_EQ_INT(count_temp_files(dir), 0);
  azc_cache_info_t info;
  ASSERT_OK(azc_cache_info(dir, &info));
  ASSERT_EQ_INT(info.entries, n_keys + 1);
  ASSERT_EQ_INT(info.temp_files, 0);
  fprintf(stderr, "  (%d concurrent hits on the hot key)\n", hits);
}

typedef struct listed {
  int count, valid, bad;
  uint64_t payload_bytes;
  char descs[16][64];
} listed_t;

static void on_entry(void *user, const azc_cache_entry_info_t *e) {
  listed_t *l = user;
  if (e->valid)
    l->valid++;
  else
    l->bad++;
  l->payload_bytes += e->payload_size;
  if (l->count < 16) snprintf(l->descs[l->count], 64, "%s", e->description);
  l->count++;
}

static void test_info_and_list(void) {
  char dir[1024], path[2048];
  fresh_dir(dir, sizeof(dir), "info");
  azc_cache_info_t info;
  ASSERT_OK(azc_cache_info(dir, &info)); /* no directory yet: empty */
  ASSERT_EQ_INT(info.entries, 0);
  ASSERT_EQ_INT(info.oldest_mtime, 0);
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  uint64_t bytes = 0, payload = 0;
  for (unsigned i = 0; i < 7; i++) {
    azc_status_t st = put_i(c, i, 0);
    if (st) azc_cache_close(c);
    ASSERT_OK(st);
    char desc[64];
    bytes += AZC_CACHE_HEADER_SIZE +
             (uint64_t)snprintf(desc, sizeof(desc), "kernel %u variant 0", i) + payload_size(i);
    payload += payload_size(i);
  }
  /* control characters become spaces; long descriptions are cut */
  char longdesc[AZC_CACHE_MAX_DESCRIPTION + 100];
  memset(longdesc, 'd', sizeof(longdesc) - 1);
  longdesc[sizeof(longdesc) - 1] = 0;
  ASSERT_OK(azc_cache_put(c, key_of(100), "p", 1, "line one\nline\ttwo"));
  ASSERT_OK(azc_cache_put(c, key_of(101), "p", 1, longdesc));
  bytes +=
      2 * (AZC_CACHE_HEADER_SIZE + 1) + strlen("line one\nline\ttwo") + AZC_CACHE_MAX_DESCRIPTION;
  payload += 2;
  azc_cache_entry_path(c, key_of(101), path, sizeof(path));
  struct stat sb;
  ASSERT(stat(path, &sb) == 0);
  ASSERT_EQ_INT(sb.st_size, AZC_CACHE_HEADER_SIZE + AZC_CACHE_MAX_DESCRIPTION + 1);

  ASSERT_OK(azc_cache_info(dir, &info));
  ASSERT_EQ_INT(info.entries, 9);
  ASSERT_EQ_INT(info.total_bytes, bytes);
  ASSERT(info.oldest_mtime > 0 && info.oldest_mtime <= info.newest_mtime);
  ASSERT_EQ_INT(info.temp_files, 0);

  listed_t l = {0};
  ASSERT_OK(azc_cache_list(dir, on_entry, &l));
  ASSERT_EQ_INT(l.count, 9);
  ASSERT_EQ_INT(l.valid, 9);
  ASSERT_EQ_INT(l.payload_bytes, payload);
  int found3 = 0, found_ctrl = 0;
  for (int i = 0; i < l.count; i++) {
    found3 += strcmp(l.descs[i], "kernel 3 variant 0") == 0;
    found_ctrl += strcmp(l.descs[i], "line one line two") == 0;
  }
  ASSERT(found3 == 1 && found_ctrl == 1);

  /* a damaged header shows as not valid, with the reason */
  azc_cache_entry_path(c, key_of(2), path, sizeof(path));
  FILE *fp = fopen(path, "r+b");
  ASSERT(fp != NULL);
  fseek(fp, 0, SEEK_SET);
  fputc('Z', fp);
  fclose(fp);
  memset(&l, 0, sizeof(l));
  ASSERT_OK(azc_cache_list(dir, on_entry, &l));
  ASSERT_EQ_INT(l.valid, 8);
  ASSERT_EQ_INT(l.bad, 1);
  int why = 0;
  for (int i = 0; i < l.count; i++) why += strstr(l.descs[i], "bad magic") != NULL;
  ASSERT_EQ_INT(why, 1);

  /* a killed writer's temp file is counted separately */
  char tmp[2200];
  snprintf(tmp, sizeof(tmp), "%s.tmp.12345.0", path);
  ASSERT(write_file(tmp, "partial", 7) == 0);
  ASSERT_OK(azc_cache_info(dir, &info));
  ASSERT_EQ_INT(info.entries, 9);
  ASSERT_EQ_INT(info.temp_files, 1);
  azc_cache_close(c);
}

static void test_clear(void) {
  char dir[1024], p[2048], hex[33];
  fresh_dir(dir, sizeof(dir), "clear");
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(dir, &c));
  uint64_t bytes = 0;
  for (unsigned i = 0; i < 10; i++) {
    azc_status_t st = put_i(c, i, 0);
    if (st) azc_cache_close(c);
    ASSERT_OK(st);
    azc_cache_entry_path(c, key_of(i), p, sizeof(p));
    struct stat sb;
    stat(p, &sb);
    bytes += (uint64_t)sb.st_size;
  }
  /* a killed writer's temp file: the cache's own, removed */
  azc_cache_entry_path(c, key_of(0), p, sizeof(p));
  char tmpfile[2200];
  snprintf(tmpfile, sizeof(tmpfile), "%s.tmp.999.3", p);
  ASSERT(write_file(tmpfile, "part", 4) == 0);
  struct timeval old[2] = {{time(NULL) - 2 * AZC_CACHE_STALE_TEMP_SECONDS, 0},
                           {time(NULL) - 2 * AZC_CACHE_STALE_TEMP_SECONDS, 0}};
  ASSERT(utimes(tmpfile, old) == 0);
  bytes += 4;
  /* a fresh one may be a put in progress: left alone */
  char fresh[2200];
  snprintf(fresh, sizeof(fresh), "%s.tmp.1000.0", p);
  ASSERT(write_file(fresh, "writing", 7) == 0);
  azc_hash128_hex(key_of(0), hex);
  char entry0_folder[1100];
  snprintf(entry0_folder, sizeof(entry0_folder), "%s/%.2s", dir, hex);

  /* things that are not the cache's: all must survive */
  const char *keep_files[] = {"notes.txt",
                              "zz/data.azk",
                              "AB/0123456789abcdef0123456789abcdef.azk",
                              "ab/keep.txt",
                              "ab/0123456789abcdef0123456789abcdef.azk.bak",
                              "ab/cd23456789abcdef0123456789abcdef.azk", /* wrong folder */
                              "ab/0123456789abcdef0123456789abcde.azk",  /* 31 digits */
                              "linked/ef0123456789abcdef0123456789abcd.azk"};
  for (size_t i = 0; i < AZC_ARRAY_SIZE(keep_files); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, keep_files[i]);
    char *slash = strrchr(p, '/');
    *slash = 0;
    mkdir(p, 0755);
    *slash = '/';
    ASSERT(write_file(p, "keep", 4) == 0);
  }
  /* a symbolic link named like a cache folder is not followed */
  char link[1100], target[1100];
  snprintf(link, sizeof(link), "%s/ef", dir);
  snprintf(target, sizeof(target), "%s/linked", dir);
  ASSERT(symlink(target, link) == 0);

  uint64_t files = 0, freed = 0;
  ASSERT_OK(azc_cache_clear(dir, &files, &freed));
  ASSERT_EQ_INT(files, 11);
  ASSERT_EQ_INT(freed, bytes);
  azc_cache_info_t info;
  ASSERT_OK(azc_cache_info(dir, &info));
  ASSERT_EQ_INT(info.entries, 0);
  ASSERT_EQ_INT(info.temp_files, 1);
  ASSERT(exists(fresh) && !exists(tmpfile));
  ASSERT_EQ_INT(unlink(fresh), 0);
  for (size_t i = 0; i < AZC_ARRAY_SIZE(keep_files); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, keep_files[i]);
    ASSERT_MSG(exists(p), "%s was removed", keep_files[i]);
  }
  ASSERT(exists(link) && exists(dir));
  ASSERT(exists(entry0_folder)); /* it held the fresh temp file */
  char hex1[33], entry1_folder[1100];
  azc_hash128_hex(key_of(1), hex1);
  snprintf(entry1_folder, sizeof(entry1_folder), "%s/%.2s", dir, hex1);
  if (strncmp(hex1, "ab", 2) != 0 && strncmp(hex1, hex, 2) != 0)
    ASSERT(!exists(entry1_folder)); /* emptied folders go */
  ASSERT(!get_is(c, 0, 0));

  /* and the cache works again afterwards */
  ASSERT_OK(put_i(c, 0, 0));
  ASSERT(get_is(c, 0, 0));
  ASSERT_OK(azc_cache_clear(dir, NULL, NULL));
  char missing[1100];
  snprintf(missing, sizeof(missing), "%s/does-not-exist", dir);
  ASSERT_OK(azc_cache_clear(missing, &files, NULL)); /* nothing to clear */
  ASSERT_EQ_INT(files, 0);
  azc_cache_close(c);
}

static void test_put_errors(void) {
  char dir[1024], blocker[1100];
  fresh_dir(dir, sizeof(dir), "errors");
  mkdir(dir, 0755);
  snprintf(blocker, sizeof(blocker), "%s/file", dir);
  ASSERT(write_file(blocker, "x", 1) == 0);
  char bad[1200];
  snprintf(bad, sizeof(bad), "%s/cache", blocker); /* a directory under a regular file */
  azc_cache_t *c;
  ASSERT_OK(azc_cache_open(bad, &c));
  azc_status_t st = azc_cache_put(c, key_of(1), "abc", 3, "x");
  azc_cache_close(c);
  ASSERT(st != NULL);
  int ok = azc_status_code(st) == AZC_IO && strstr(azc_status_message(st), "kernel cache");
  azc_status_free(st);
  ASSERT(ok);
  ASSERT_ERR(azc_cache_info(blocker, &(azc_cache_info_t){0}), AZC_IO, "file");
}

int main(void) {
  RUN(test_round_trip);
  RUN(test_missing);
  RUN(test_env_precedence);
  RUN(test_corrupt_entries);
  RUN(test_map);
  RUN(test_concurrent);
  RUN(test_info_and_list);
  RUN(test_clear);
  RUN(test_put_errors);
  return test_summary();
}
