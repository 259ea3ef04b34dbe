/* Bundle container: writer and reader round trip, atomic writes, and the
 * reader's refusal of every kind of damage (truncation at many lengths, a
 * flipped byte in the header, the table and each section, another format
 * version, hand-crafted tables with duplicate names, overlaps and bad
 * alignment). The damage tests patch bytes at the offsets that
 * docs/bundle-format.md gives, independently of the writer's code. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/bundle_writer.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "tests/test.h"

/* ---- helpers --------------------------------------------------------------- */

static const char *tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", test_tmp_dir(), name);
  return buf;
}

static int write_file(const char *path, const void *data, size_t size) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return -1;
  size_t w = size ? fwrite(data, 1, size, fp) : 0;
  return fclose(fp) == 0 && w == size ? 0 : -1;
}

/* Files in the test folder whose name contains ".tmp." (atomic-writer leftovers). */
static int count_temp_files(void) {
  DIR *d = opendir(test_tmp_dir());
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (strstr(de->d_name, ".tmp.")) n++;
  if (d) closedir(d);
  return n;
}

static void remove_temp_files(void) {
  DIR *d = opendir(test_tmp_dir());
  struct dirent *de;
  char path[1024];
  while (d && (de = readdir(d)))
    if (strstr(de->d_name, ".tmp.")) unlink(tmp_path(path, sizeof(path), de->d_name));
  if (d) closedir(d);
}

static uint8_t pattern_byte(uint64_t i, unsigned seed) {
  uint64_t x = (i + seed) * 0x9e3779b97f4a7c15ull;
  return (uint8_t)(x >> 56);
}

typedef struct fill_state {
  unsigned seed;
  uint64_t next_offset; /* offsets must arrive in order, without gaps */
  int calls, bad_calls;
  int fail_at_call; /* 0: never */
  int kill_at_call; /* 0: never */
} fill_state_t;

static azc_status_t fill_pattern(void *user, uint64_t offset, void *buf, size_t size) {
  fill_state_t *fs = user;
  fs->calls++;
  if (offset != fs->next_offset || size == 0 || size > AZC_BUNDLE_FILL_CHUNK) fs->bad_calls++;
  fs->next_offset = offset + size;
  if (fs->kill_at_call && fs->calls == fs->kill_at_call) raise(SIGKILL);
  if (fs->fail_at_call && fs->calls == fs->fail_at_call)
    return AZC_ERR(AZC_IO, "test: weights source went away");
  uint8_t *p = buf;
  for (size_t k = 0; k < size; k++) p[k] = pattern_byte(offset + k, fs->seed);
  return NULL;
}

/* Little-endian field patches, then the checksums that cover them. */
static void set_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void set_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void rehash_header(uint8_t *file) { set_u64(file + 56, azc_hash64(file, 56)); }
static uint8_t *entry(uint8_t *file, uint32_t i) {
  return file + azc_load_u64le(file + 40) + 64ull * i;
}
static void rehash_entry(uint8_t *file, uint32_t i) {
  uint8_t *e = entry(file, i);
  set_u64(e + 56, azc_hash64(e, 56));
}

/* Writes `bytes` to `path` and opens it; the result must be an error of
 * `code` whose message contains `needle`. */
#define EXPECT_REFUSED(path, bytes, n, code, needle)                                               \
  do {                                                                                             \
    ASSERT(write_file((path), (bytes), (n)) == 0);                                                 \
    azc_bundle_t *b_ = NULL;                                                                       \
    ASSERT_ERR(azc_bundle_open((path), 0, &b_), (code), (needle));                                 \
    ASSERT(b_ == NULL);                                                                            \
  } while (0)

/* The small bundle that the damage tests take apart: 5 sections, every
 * alignment kind, an empty one, a fill one. Section order = table order. */
static uint8_t small_meta[100], small_plan[5000], small_code[3] = {1, 2, 3};
static const char *const small_names[] = {"meta", "empty", "plan", "code", "weights"};
#define SMALL_WEIGHTS 20000

static azc_status_t write_small(const char *path) {
  for (size_t i = 0; i < sizeof(small_meta); i++) small_meta[i] = pattern_byte(i, 1);
  for (size_t i = 0; i < sizeof(small_plan); i++) small_plan[i] = pattern_byte(i, 2);
  azc_bundle_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_bundle_writer_create(&w));
  fill_state_t fs = {.seed = 3};
  azc_status_t st = azc_bundle_writer_add(w, "meta", small_meta, sizeof(small_meta), 8);
  if (!st) st = azc_bundle_writer_add(w, "empty", NULL, 0, 0);
  if (!st) st = azc_bundle_writer_add(w, "plan", small_plan, sizeof(small_plan), 1);
  if (!st) st = azc_bundle_writer_add(w, "code", small_code, sizeof(small_code), 4096);
  if (!st)
    st = azc_bundle_writer_add_fill(w, "weights", SMALL_WEIGHTS, AZC_BUNDLE_ALIGN_PAGE,
                                    fill_pattern, &fs);
  if (!st) st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  return st;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_hash_stream(void) {
  uint8_t buf[10000];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = pattern_byte(i, 9);
  azc_hash64_stream_t *s = azc_hash64_stream_create();
  ASSERT(s != NULL);
  azc_hash64_stream_update(s, buf, 1);
  azc_hash64_stream_update(s, buf + 1, 0);
  azc_hash64_stream_update(s, buf + 1, 4095);
  azc_hash64_stream_update(s, buf + 4096, sizeof(buf) - 4096);
  uint64_t got = azc_hash64_stream_digest(s);
  azc_hash64_stream_reset(s);
  uint64_t empty = azc_hash64_stream_digest(s);
  azc_hash64_stream_destroy(s);
  ASSERT(got == azc_hash64(buf, sizeof(buf)));
  ASSERT(empty == azc_hash64(buf, 0));
}

static void test_round_trip(void) {
  char path[1024];
  tmp_path(path, sizeof(path), "round_trip.bundle");
  static uint8_t a[777], c[64];
  for (size_t i = 0; i < sizeof(a); i++) a[i] = pattern_byte(i, 11);
  for (size_t i = 0; i < sizeof(c); i++) c[i] = pattern_byte(i, 12);
  const uint64_t big = 3 * AZC_BUNDLE_FILL_CHUNK + 12345; /* 4 chunks, the last partial */
  fill_state_t fs = {.seed = 13};

  azc_bundle_writer_t *w;
  ASSERT_OK(azc_bundle_writer_create(&w));
  ASSERT_OK(azc_bundle_writer_add(w, "meta", a, sizeof(a), 8));
  ASSERT_OK(azc_bundle_writer_add(w, "plan.v1", c, sizeof(c), 0));
  ASSERT_OK(azc_bundle_writer_add(w, "empty", NULL, 0, 256));
  ASSERT_OK(
      azc_bundle_writer_add_fill(w, "weights", big, AZC_BUNDLE_ALIGN_PAGE, fill_pattern, &fs));
  ASSERT_OK(azc_bundle_writer_add(w, "tiny_1", a, 1, 1));
  ASSERT_OK(azc_bundle_writer_add(w, "end-empty", NULL, 0, AZC_BUNDLE_ALIGN_PAGE));
  azc_status_t st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  ASSERT_OK(st);
  ASSERT_EQ_INT(fs.calls, 4);
  ASSERT_EQ_INT(fs.bad_calls, 0);
  ASSERT_EQ_INT(fs.next_offset, big);
  ASSERT_EQ_INT(count_temp_files(), 0);

  struct stat sb;
  ASSERT(stat(path, &sb) == 0);
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(path, 0, &b));
  ASSERT_EQ_INT(azc_bundle_file_size(b), sb.st_size);
  ASSERT_STREQ(azc_bundle_azc_version(b), AZC_VERSION_STRING);
  ASSERT_STREQ(azc_bundle_path(b), path);
  ASSERT_EQ_INT(azc_bundle_flags(b), 0);
  ASSERT_EQ_INT(azc_bundle_section_count(b), 6);

  const char *names[] = {"meta", "plan.v1", "empty", "weights", "tiny_1", "end-empty"};
  const uint64_t sizes[] = {sizeof(a), sizeof(c), 0, big, 1, 0};
  const uint32_t aligns[] = {8, AZC_BUNDLE_ALIGN_DEFAULT, 256, AZC_BUNDLE_ALIGN_PAGE,
                             1, AZC_BUNDLE_ALIGN_PAGE};
  long page = sysconf(_SC_PAGESIZE);
  uint64_t prev_end = AZC_BUNDLE_HEADER_SIZE + 6 * AZC_BUNDLE_ENTRY_SIZE;
  for (size_t i = 0; i < 6; i++) {
    azc_bundle_section_info_t info;
    ASSERT_OK(azc_bundle_section_info(b, i, &info));
    ASSERT_STREQ(info.name, names[i]);
    ASSERT_EQ_INT(info.size, sizes[i]);
    ASSERT_EQ_INT(info.align, aligns[i]);
    ASSERT_EQ_INT(info.offset % info.align, 0);
    ASSERT(info.offset >= prev_end);             /* laid out in order, after the table */
    ASSERT(info.offset - prev_end < info.align); /* with no more padding than needed */
    ASSERT(info.verified);
    prev_end = info.offset + info.size;
    const void *data;
    uint64_t size;
    ASSERT_OK(azc_bundle_section(b, names[i], &data, &size));
    ASSERT(data != NULL);
    ASSERT_EQ_INT(size, sizes[i]);
    ASSERT(info.checksum == azc_hash64(data, (size_t)size));
    size_t mem_align = (size_t)AZC_MIN((long)info.align, page);
    ASSERT_MSG((uintptr_t)data % mem_align == 0, "%s at %p", names[i], data);
  }
  ASSERT_EQ_INT(prev_end, sb.st_size); /* the trailing empty section ends the file */
  azc_bundle_section_info_t info;
  ASSERT_ERR(azc_bundle_section_info(b, 6, &info), AZC_OUT_OF_RANGE, "6");

  const void *data;
  uint64_t size;
  ASSERT_OK(azc_bundle_section(b, "meta", &data, &size));
  ASSERT(memcmp(data, a, sizeof(a)) == 0);
  ASSERT_OK(azc_bundle_section(b, "plan.v1", &data, &size));
  ASSERT(memcmp(data, c, sizeof(c)) == 0);
  ASSERT_OK(azc_bundle_section(b, "tiny_1", &data, &size));
  ASSERT_EQ_INT(((const uint8_t *)data)[0], a[0]);
  ASSERT_OK(azc_bundle_section(b, "weights", &data, &size));
  const uint8_t *wb = data;
  uint64_t mismatches = 0;
  for (uint64_t k = 0; k < big; k++) mismatches += wb[k] != pattern_byte(k, 13);
  ASSERT_EQ_INT(mismatches, 0);

  ASSERT(azc_bundle_has_section(b, "weights"));
  ASSERT(!azc_bundle_has_section(b, "weight"));
  ASSERT(!azc_bundle_has_section(b, NULL));
  ASSERT_ERR(azc_bundle_section(b, "cuda.code", &data, &size), AZC_NOT_FOUND, "'cuda.code'");
  ASSERT(data == NULL && size == 0);
  ASSERT_ERR(azc_bundle_verify_section(b, "x"), AZC_NOT_FOUND, "round_trip.bundle");
  ASSERT_OK(azc_bundle_verify_section(b, "weights"));
  azc_bundle_close(b);
  ASSERT_ERR(azc_bundle_open(path, 0x80, &b), AZC_INVALID_ARGUMENT, "flags");
}

static void test_no_sections(void) {
  char path[1024];
  tmp_path(path, sizeof(path), "empty.bundle");
  azc_bundle_writer_t *w;
  ASSERT_OK(azc_bundle_writer_create(&w));
  azc_status_t st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  ASSERT_OK(st);
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(path, 0, &b));
  ASSERT_EQ_INT(azc_bundle_section_count(b), 0);
  ASSERT_EQ_INT(azc_bundle_file_size(b), AZC_BUNDLE_HEADER_SIZE);
  const void *data;
  uint64_t size;
  ASSERT_ERR(azc_bundle_section(b, "meta", &data, &size), AZC_NOT_FOUND, "no sections");
  azc_bundle_close(b);
}

static void test_writer_rejects(void) {
  azc_bundle_writer_t *w;
  ASSERT_OK(azc_bundle_writer_create(&w));
  char x = 0;
  const char *bad_names[] = {"", "a b", "abcdefghijklmnopqrstuvwx" /* 24 */, "na/me", "\xc3\xa9"};
  for (size_t i = 0; i < AZC_ARRAY_SIZE(bad_names); i++)
    ASSERT_ERR(azc_bundle_writer_add(w, bad_names[i], &x, 1, 0), AZC_INVALID_ARGUMENT, "name");
  ASSERT_OK(azc_bundle_writer_add(w, "abcdefghijklmnopqrstuvw", &x, 1, 0)); /* 23: fits */
  ASSERT_ERR(azc_bundle_writer_add(w, NULL, &x, 1, 0), AZC_INVALID_ARGUMENT, "name");
  ASSERT_ERR(azc_bundle_writer_add(w, "a", &x, 1, 3), AZC_INVALID_ARGUMENT, "power of two");
  ASSERT_ERR(azc_bundle_writer_add(w, "a", &x, 1, AZC_BUNDLE_MAX_ALIGN * 2), AZC_INVALID_ARGUMENT,
             "power of two");
  ASSERT_ERR(azc_bundle_writer_add(w, "a", NULL, 5, 0), AZC_INVALID_ARGUMENT, "NULL");
  ASSERT_ERR(azc_bundle_writer_add_fill(w, "a", 5, 0, NULL, NULL), AZC_INVALID_ARGUMENT, "NULL");
  ASSERT_OK(azc_bundle_writer_add(w, "a", &x, 1, 0));
  ASSERT_ERR(azc_bundle_writer_add(w, "a", &x, 1, 0), AZC_INVALID_ARGUMENT, "'a' was added twice");
  ASSERT_ERR(azc_bundle_writer_write(w, "/nonexistent-dir/x.bundle"), AZC_IO, "nonexistent-dir");
  azc_bundle_writer_destroy(w);
}

static void test_atomic_write(void) {
  char path[1024];
  tmp_path(path, sizeof(path), "atomic.bundle");
  const char old[] = "the previous bundle";
  ASSERT(write_file(path, old, sizeof(old)) == 0);
  remove_temp_files();

  /* a fill callback that fails on its second chunk */
  fill_state_t fs = {.seed = 5, .fail_at_call = 2};
  azc_bundle_writer_t *w;
  ASSERT_OK(azc_bundle_writer_create(&w));
  ASSERT_OK(azc_bundle_writer_add(w, "meta", old, sizeof(old), 0));
  ASSERT_OK(azc_bundle_writer_add_fill(w, "weights", 3 * AZC_BUNDLE_FILL_CHUNK,
                                       AZC_BUNDLE_ALIGN_PAGE, fill_pattern, &fs));
  azc_status_t st = azc_bundle_writer_write(w, path);
  ASSERT(st != NULL);
  ASSERT_EQ_INT(azc_status_code(st), AZC_IO);
  ASSERT_MSG(strstr(azc_status_message(st), "section 'weights'") &&
                 strstr(azc_status_message(st), "weights source went away") &&
                 strstr(azc_status_message(st), "atomic.bundle"),
             "%s", azc_status_message(st));
  azc_status_free(st);
  size_t n;
  uint8_t *now = test_read_file(path, &n);
  ASSERT(now && n == sizeof(old) && memcmp(now, old, n) == 0); /* untouched */
  free(now);
  ASSERT_EQ_INT(count_temp_files(), 0);

  /* a writer killed in the middle: the destination is still untouched */
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    fs = (fill_state_t){.seed = 5, .kill_at_call = 2};
    azc_bundle_writer_write(w, path);
    _exit(3); /* not reached */
  }
  int status;
  ASSERT(waitpid(pid, &status, 0) == pid);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  now = test_read_file(path, &n);
  ASSERT(now && n == sizeof(old) && memcmp(now, old, n) == 0);
  free(now);
  ASSERT_EQ_INT(count_temp_files(), 1); /* the killed writer's, next to the bundle */
  remove_temp_files();

  /* and the same writer succeeds afterwards, replacing the old file */
  fs = (fill_state_t){.seed = 5};
  st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  ASSERT_OK(st);
  ASSERT_EQ_INT(count_temp_files(), 0);
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(path, 0, &b));
  ASSERT_EQ_INT(azc_bundle_section_count(b), 2);
  azc_bundle_close(b);
}

static void test_truncated(void) {
  char path[1024], bad[1024];
  tmp_path(path, sizeof(path), "small.bundle");
  tmp_path(bad, sizeof(bad), "cut.bundle");
  ASSERT_OK(write_small(path));
  size_t size;
  uint8_t *file = test_read_file(path, &size);
  ASSERT(file != NULL);
  ASSERT(size > 2 * AZC_BUNDLE_ALIGN_PAGE);
  int tried = 0;
  for (size_t n = 0; n < size; n += n < 512 ? 1 : 61) {
    EXPECT_REFUSED(bad, file, n, AZC_CORRUPT, "truncated");
    tried++;
  }
  EXPECT_REFUSED(bad, file, size - 1, AZC_CORRUPT, "truncated");
  ASSERT(tried > 900);
  /* one byte more: appended, also refused */
  uint8_t *longer = malloc(size + 1);
  memcpy(longer, file, size);
  longer[size] = 0;
  EXPECT_REFUSED(bad, longer, size + 1, AZC_CORRUPT, "appended");
  free(longer);
  /* the intact file still opens */
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(path, 0, &b));
  azc_bundle_close(b);
  free(file);
}

static void test_damaged_sections(void) {
  char path[1024], bad[1024], needle[128];
  tmp_path(path, sizeof(path), "small.bundle");
  tmp_path(bad, sizeof(bad), "damaged.bundle");
  ASSERT_OK(write_small(path));
  size_t size;
  uint8_t *file = test_read_file(path, &size);
  ASSERT(file != NULL);
  azc_bundle_t *b;
  ASSERT(write_file(bad, file, size) == 0);
  ASSERT_OK(azc_bundle_open(bad, 0, &b));
  int flipped = 0;
  for (size_t i = 0; i < azc_bundle_section_count(b); i++) {
    azc_bundle_section_info_t info;
    ASSERT_OK(azc_bundle_section_info(b, i, &info));
    ASSERT_STREQ(info.name, small_names[i]);
    if (info.size == 0) continue;
    uint64_t at[3] = {0, info.size / 2, info.size - 1};
    snprintf(needle, sizeof(needle), "section '%s' is damaged (checksum mismatch)", info.name);
    for (int k = 0; k < 3; k++) {
      file[info.offset + at[k]] ^= 0x10;
      EXPECT_REFUSED(bad, file, size, AZC_CORRUPT, needle);
      file[info.offset + at[k]] ^= 0x10;
      flipped++;
    }
  }
  azc_bundle_close(b);
  ASSERT_EQ_INT(flipped, 4 * 3); /* every non-empty section was damaged in turn */
  free(file);
}

static void test_damaged_header_and_table(void) {
  char path[1024], bad[1024], needle[128];
  tmp_path(path, sizeof(path), "small.bundle");
  tmp_path(bad, sizeof(bad), "damaged.bundle");
  ASSERT_OK(write_small(path));
  size_t size;
  uint8_t *file = test_read_file(path, &size);
  ASSERT(file != NULL);
  for (size_t i = 0; i < AZC_BUNDLE_HEADER_SIZE; i++) {
    file[i] ^= 0x01;
    if (i < 8)
      EXPECT_REFUSED(bad, file, size, AZC_CORRUPT, "not an azc bundle");
    else if (i < 12)
      EXPECT_REFUSED(bad, file, size, AZC_UNSUPPORTED, "bundle format version");
    else
      EXPECT_REFUSED(bad, file, size, AZC_CORRUPT, "bundle header is damaged (checksum mismatch)");
    file[i] ^= 0x01;
  }
  uint32_t count = azc_load_u32le(file + 32);
  ASSERT_EQ_INT(count, 5);
  for (size_t i = 0; i < count * AZC_BUNDLE_ENTRY_SIZE; i++) {
    uint8_t *p = file + AZC_BUNDLE_HEADER_SIZE + i;
    *p ^= 0x80;
    snprintf(needle, sizeof(needle), "section table entry %zu is damaged (checksum mismatch)",
             i / AZC_BUNDLE_ENTRY_SIZE);
    EXPECT_REFUSED(bad, file, size, AZC_CORRUPT, needle);
    *p ^= 0x80;
  }
  free(file);
}

static void test_not_a_bundle(void) {
  char bad[1024];
  tmp_path(bad, sizeof(bad), "notabundle.bin");
  uint8_t gguf[200] = "GGUF\3\0\0\0";
  EXPECT_REFUSED(bad, gguf, sizeof(gguf), AZC_CORRUPT, "not an azc bundle");
  EXPECT_REFUSED(bad, gguf, sizeof(gguf), AZC_CORRUPT, "GGUF");
  const char text[] = "#!/bin/sh\necho hello, this is not a bundle at all; it is long enough\n";
  EXPECT_REFUSED(bad, text, sizeof(text) - 1, AZC_CORRUPT, "not an azc bundle");
  azc_bundle_t *b;
  ASSERT_ERR(azc_bundle_open("/nonexistent/model.bundle", 0, &b), AZC_NOT_FOUND,
             "/nonexistent/model.bundle");
}

static void test_other_version(void) {
  char path[1024], bad[1024];
  tmp_path(path, sizeof(path), "small.bundle");
  tmp_path(bad, sizeof(bad), "version.bundle");
  ASSERT_OK(write_small(path));
  size_t size;
  uint8_t *file = test_read_file(path, &size);
  ASSERT(file != NULL);
  ASSERT_EQ_INT(azc_load_u32le(file + 8), AZC_BUNDLE_FORMAT_VERSION);
  char needle[160];
  const uint32_t versions[] = {0, AZC_BUNDLE_FORMAT_VERSION + 1, 1000};
  for (size_t k = 0; k < AZC_ARRAY_SIZE(versions); k++) {
    set_u32(file + 8, versions[k]);
    rehash_header(file); /* a well-formed bundle of another version */
    snprintf(needle, sizeof(needle),
             "bundle format version %u; this azc reads version %u — recompile the model with "
             "this azc",
             versions[k], AZC_BUNDLE_FORMAT_VERSION);
    EXPECT_REFUSED(bad, file, size, AZC_UNSUPPORTED, needle);
    /* also with a different (future) layout: the version is checked first */
    uint8_t tail[100];
    memcpy(tail, file, 12);
    memset(tail + 12, 0xee, sizeof(tail) - 12);
    EXPECT_REFUSED(bad, tail, sizeof(tail), AZC_UNSUPPORTED, needle);
  }
  free(file);
}

static void test_crafted_tables(void) {
  char path[1024], bad[1024];
  tmp_path(path, sizeof(path), "small.bundle");
  tmp_path(bad, sizeof(bad), "crafted.bundle");
  ASSERT_OK(write_small(path));
  size_t size;
  uint8_t *orig = test_read_file(path, &size);
  ASSERT(orig != NULL);
  uint8_t *f = malloc(size);
  /* table order: 0 meta (8), 1 empty (64), 2 plan (1), 3 code (4096), 4 weights (16384) */
  uint64_t meta_off = azc_load_u64le(entry(orig, 0) + 24);

#define RESET() memcpy(f, orig, size)
  RESET();
  memcpy(entry(f, 2), "meta", 5);
  rehash_entry(f, 2);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "two sections are named 'meta'");

  RESET();
  set_u64(entry(f, 2) + 24, meta_off + 10); /* plan starts inside meta */
  rehash_entry(f, 2);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "overlap");

  RESET();
  set_u64(entry(f, 3) + 24, azc_load_u64le(entry(f, 4) + 24) + 4096); /* code inside weights */
  rehash_entry(f, 3);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "overlap");

  RESET();
  set_u64(entry(f, 3) + 24, azc_load_u64le(entry(f, 3) + 24) + 8);
  rehash_entry(f, 3);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "section 'code' at offset");
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "not aligned to its declared alignment 4096");

  RESET();
  set_u32(entry(f, 0) + 40, 12);
  rehash_entry(f, 0);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "alignment 12 is not a power of two");

  RESET();
  set_u64(entry(f, 4) + 32, 1ull << 40);
  rehash_entry(f, 4);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "extends past the end of the file");

  RESET();
  set_u64(entry(f, 4) + 32, UINT64_MAX - 100); /* offset + size wraps around */
  rehash_entry(f, 4);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "extends past the end of the file");

  RESET();
  set_u64(entry(f, 2) + 24, 16);
  rehash_entry(f, 2);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "overlaps the 64-byte header");

  RESET();
  set_u64(entry(f, 2) + 24, AZC_BUNDLE_HEADER_SIZE + 64);
  rehash_entry(f, 2);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "overlaps the section table");

  RESET();
  memset(entry(f, 1), 'a', AZC_BUNDLE_NAME_SIZE);
  rehash_entry(f, 1);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "not NUL-terminated");

  RESET();
  memset(entry(f, 1), 0, AZC_BUNDLE_NAME_SIZE);
  rehash_entry(f, 1);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "empty name");

  RESET();
  memcpy(entry(f, 1), "em pty", 7);
  rehash_entry(f, 1);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "byte 0x20");

  RESET();
  set_u64(f + 40, 0); /* table offset inside the header */
  rehash_header(f);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "overlaps the 64-byte header");

  RESET();
  set_u64(f + 40, size - 64); /* table runs off the end */
  rehash_header(f);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "section table");
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "extends past the end of the file");

  RESET();
  set_u32(f + 32, 1u << 30);
  rehash_header(f);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "sections; at most");

  RESET();
  memset(f + 16, 'x', AZC_BUNDLE_VERSION_SIZE);
  rehash_header(f);
  EXPECT_REFUSED(bad, f, size, AZC_CORRUPT, "not NUL-terminated");

  /* flags: unknown must-understand bits refuse, informational bits do not */
  RESET();
  set_u32(f + 12, 1u << 3);
  rehash_header(f);
  EXPECT_REFUSED(bad, f, size, AZC_UNSUPPORTED, "header flags 0x8");
  RESET();
  set_u32(entry(f, 2) + 44, 1u << 0);
  rehash_entry(f, 2);
  EXPECT_REFUSED(bad, f, size, AZC_UNSUPPORTED, "section 'plan' uses features");
  RESET();
  set_u32(f + 12, 1u << 16);
  rehash_header(f);
  set_u32(entry(f, 2) + 44, 1u << 31);
  rehash_entry(f, 2);
  ASSERT(write_file(bad, f, size) == 0);
  azc_bundle_t *b;
  ASSERT_OK(azc_bundle_open(bad, 0, &b));
  ASSERT_EQ_INT(azc_bundle_flags(b), 1u << 16);
  azc_bundle_section_info_t info;
  ASSERT_OK(azc_bundle_section_info(b, 2, &info));
  ASSERT_EQ_INT(info.flags, 1u << 31);
  azc_bundle_close(b);

  /* reserved fields are ignored: a future writer may use them compatibly */
  RESET();
  set_u32(f + 36, 7);
  rehash_header(f);
  ASSERT(write_file(bad, f, size) == 0);
  ASSERT_OK(azc_bundle_open(bad, 0, &b));
  azc_bundle_close(b);
#undef RESET
  free(f);
  free(orig);
}

static void test_lazy_verify(void) {
  char path[1024], bad[1024];
  tmp_path(path, sizeof(path), "lazy.bundle");
  tmp_path(bad, sizeof(bad), "lazy_damaged.bundle");
  static uint8_t meta[300];
  for (size_t i = 0; i < sizeof(meta); i++) meta[i] = pattern_byte(i, 21);
  fill_state_t fs = {.seed = 22};
  const uint64_t big = 2 * AZC_BUNDLE_LAZY_MIN_SIZE + 5;
  azc_bundle_writer_t *w;
  ASSERT_OK(azc_bundle_writer_create(&w));
  ASSERT_OK(azc_bundle_writer_add(w, "meta", meta, sizeof(meta), 0));
  ASSERT_OK(
      azc_bundle_writer_add_fill(w, "weights", big, AZC_BUNDLE_ALIGN_PAGE, fill_pattern, &fs));
  azc_status_t st = azc_bundle_writer_write(w, path);
  azc_bundle_writer_destroy(w);
  ASSERT_OK(st);

  /* intact: lazy open leaves weights unverified until first use */
  azc_bundle_t *b;
  azc_bundle_section_info_t info;
  ASSERT_OK(azc_bundle_open(path, AZC_BUNDLE_LAZY_VERIFY, &b));
  ASSERT_OK(azc_bundle_section_info(b, 0, &info));
  ASSERT(info.verified); /* small sections are always checked at open */
  ASSERT_OK(azc_bundle_section_info(b, 1, &info));
  ASSERT(!info.verified);
  const void *data;
  uint64_t size;
  ASSERT_OK(azc_bundle_section(b, "weights", &data, &size));
  ASSERT_EQ_INT(size, big);
  ASSERT_OK(azc_bundle_section_info(b, 1, &info));
  ASSERT(info.verified);
  azc_bundle_close(b);

  /* damaged weights: an eager open refuses; a lazy one opens, but the data
   * is never handed out */
  size_t n;
  uint8_t *file = test_read_file(path, &n);
  ASSERT(file != NULL);
  uint64_t woff = azc_load_u64le(entry(file, 1) + 24);
  file[woff + big - 1] ^= 0x04;
  ASSERT(write_file(bad, file, n) == 0);
  free(file);
  ASSERT_ERR(azc_bundle_open(bad, 0, &b), AZC_CORRUPT, "section 'weights' is damaged");
  ASSERT_OK(azc_bundle_open(bad, AZC_BUNDLE_LAZY_VERIFY, &b));
  ASSERT_OK(azc_bundle_section(b, "meta", &data, &size));
  ASSERT(memcmp(data, meta, sizeof(meta)) == 0);
  azc_status_t e1 = azc_bundle_verify_section(b, "weights");
  azc_status_t e2 = azc_bundle_section(b, "weights", &data, &size);
  int ok1 = e1 && azc_status_code(e1) == AZC_CORRUPT &&
            strstr(azc_status_message(e1), "section 'weights' is damaged (checksum mismatch)");
  int ok2 = e2 && azc_status_code(e2) == AZC_CORRUPT &&
            strstr(azc_status_message(e2), "section 'weights' is damaged (checksum mismatch)");
  azc_status_free(e1);
  azc_status_free(e2);
  ASSERT(ok1 && ok2);
  ASSERT(data == NULL && size == 0);
  ASSERT_OK(azc_bundle_section_info(b, 1, &info));
  ASSERT(!info.verified);
  azc_bundle_close(b);
}

int main(void) {
  RUN(test_hash_stream);
  RUN(test_round_trip);
  RUN(test_no_sections);
  RUN(test_writer_rejects);
  RUN(test_atomic_write);
  RUN(test_truncated);
  RUN(test_damaged_sections);
  RUN(test_damaged_header_and_table);
  RUN(test_not_a_bundle);
  RUN(test_other_version);
  RUN(test_crafted_tables);
  RUN(test_lazy_verify);
  return test_summary();
}
