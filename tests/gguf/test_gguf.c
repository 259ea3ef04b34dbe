/* frontend/gguf: the writer and the validating reader.
 *
 * A fixture made by the writer holds every metadata type (scalars, strings
 * with UTF-8 and NUL bytes, arrays of each element type, nested arrays) and
 * tensors of several types and shapes at alignment 64; it is read back and
 * every value, shape, offset and data byte is compared. The real files under
 * shared/ must open and agree with known facts. Then damaged input: the
 * fixture truncated at every length and with every header byte changed (each
 * copy in a buffer of exactly its size, so ASan sees any over-read, and with
 * the heap use of each parse measured under ASan), and hand-made files for
 * each check in the reader, with the exact message expected. */
#include <dirent.h>
#include <inttypes.h>
#include <unistd.h>

#include "frontend/gguf.h"
#include "tests/test.h"

/* ---- heap accounting (ASan builds): the peak bytes live during a parse ---- */

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_HEAP_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_HEAP_HOOKS 1
#endif
#endif

#ifdef HAVE_HEAP_HOOKS
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
/* signed: blocks allocated before the hooks were installed may be freed */
static long long heap_live, heap_peak;
static void on_malloc(const volatile void *p, size_t n) {
  heap_live += (long long)n;
  if (heap_live > heap_peak) heap_peak = heap_live;
}
static void on_free(const volatile void *p) {
  if (p) heap_live -= (long long)__sanitizer_get_allocated_size(p);
}
static void heap_hooks_install(void) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
static long long heap_mark(void) { return heap_peak = heap_live; }
static size_t heap_peak_since(long long mark) { return (size_t)(heap_peak - mark); }
#else
static void heap_hooks_install(void) {}
static long long heap_mark(void) { return 0; }
static size_t heap_peak_since(long long mark) { return 0; }
#endif

/* ---- a byte builder for hand-made files ---- */

typedef struct bytes {
  uint8_t *data;
  size_t size, cap;
} bytes_t;

static void b_put(bytes_t *b, const void *p, size_t n) {
  if (b->size + n > b->cap) {
    b->cap = (b->size + n) * 2 + 64;
    b->data = realloc(b->data, b->cap);
    if (!b->data) abort();
  }
  if (n) memcpy(b->data + b->size, p, n);
  b->size += n;
}
static void b_u32(bytes_t *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(bytes_t *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(bytes_t *b, const char *s) {
  b_u64(b, strlen(s));
  b_put(b, s, strlen(s));
}
static void b_zeros(bytes_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) b_put(b, "", 1);
}
static void b_pad(bytes_t *b, size_t align) { b_zeros(b, (align - b->size % align) % align); }
static void b_header(bytes_t *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  b->size = 0;
  b_u32(b, AZC_GGUF_MAGIC);
  b_u32(b, version);
  b_u64(b, n_tensors);
  b_u64(b, n_kv);
}
static void b_kv_u32(bytes_t *b, const char *key, uint32_t v) {
  b_str(b, key);
  b_u32(b, AZC_GGUF_UINT32);
  b_u32(b, v);
}
static void b_tensor(bytes_t *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                     uint32_t type, uint64_t offset) {
  b_str(b, name);
  b_u32(b, n_dims);
  for (uint32_t d = 0; d < n_dims; d++) b_u64(b, ne[d]);
  b_u32(b, type);
  b_u64(b, offset);
}

/* Parses a copy of data[0..size) in a buffer of exactly that size. */
static azc_status_t parse_copy(const uint8_t *data, size_t size, const char *name, azc_gguf_t **out,
                               uint8_t **copy) {
  *copy = malloc(size ? size : 1);
  if (size) memcpy(*copy, data, size);
  return azc_gguf_parse(*copy, size, name, out);
}

/* The file must be refused with this code and exactly this message. */
#define EXPECT_BAD(b, code, ...)                                                                   \
  do {                                                                                             \
    char want_[512];                                                                               \
    snprintf(want_, sizeof(want_), __VA_ARGS__);                                                   \
    azc_gguf_t *g_;                                                                                \
    uint8_t *copy_;                                                                                \
    azc_status_t st_ = parse_copy((b)->data, (b)->size, "bad.gguf", &g_, &copy_);                  \
    free(copy_);                                                                                   \
    if (!st_) azc_gguf_close(g_);                                                                  \
    ASSERT_MSG(st_ != NULL, "accepted, expected: %s", want_);                                      \
    int same_ = azc_status_code(st_) == (code) && !strcmp(azc_status_message(st_), want_);         \
    if (!same_)                                                                                    \
      fprintf(stderr, "  got      %s: %s\n  expected %s: %s\n",                                    \
              azc_code_name(azc_status_code(st_)), azc_status_message(st_), azc_code_name(code),   \
              want_);                                                                              \
    azc_status_free(st_);                                                                          \
    ASSERT(same_);                                                                                 \
  } while (0)

#define EXPECT_GOOD(b)                                                                             \
  do {                                                                                             \
    azc_gguf_t *g_;                                                                                \
    uint8_t *copy_;                                                                                \
    azc_status_t good_st_ = parse_copy((b)->data, (b)->size, "good.gguf", &g_, &copy_);            \
    azc_gguf_close(g_);                                                                            \
    free(copy_);                                                                                   \
    ASSERT_OK(good_st_);                                                                           \
  } while (0)

/* ---- the fixture ---- */

static const char *const fixture_strs[] = {
    "", "a", "h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x99\x82", "", "x y\tz"};
static const uint8_t fx_u8[] = {0, 1, 255};
static const int8_t fx_i8[] = {-128, 0, 127, -1};
static const uint16_t fx_u16[] = {0, 65535, 256};
static const int16_t fx_i16[] = {-32768, 32767};
static const uint32_t fx_u32[] = {0, 4000000000u, 7};
static const int32_t fx_i32[] = {INT32_MIN, -1, INT32_MAX};
static const uint8_t fx_bool[] = {1, 0, 1};
static const uint64_t fx_u64[] = {UINT64_MAX, 0};
static const int64_t fx_i64[] = {INT64_MIN, INT64_MAX, -2};
static float fx_f32[] = {1.5f, -2.0f, 0.0f};
static const double fx_f64[] = {3.141592653589793, -1e300};

static const struct {
  const char *key;
  azc_gguf_type_t type;
  const void *data;
  uint64_t count;
} fixture_arrays[] = {
    {"arr.u8", AZC_GGUF_UINT8, fx_u8, 3},     {"arr.i8", AZC_GGUF_INT8, fx_i8, 4},
    {"arr.u16", AZC_GGUF_UINT16, fx_u16, 3},  {"arr.i16", AZC_GGUF_INT16, fx_i16, 2},
    {"arr.u32", AZC_GGUF_UINT32, fx_u32, 3},  {"arr.i32", AZC_GGUF_INT32, fx_i32, 3},
    {"arr.f32", AZC_GGUF_FLOAT32, fx_f32, 3}, {"arr.bool", AZC_GGUF_BOOL, fx_bool, 3},
    {"arr.u64", AZC_GGUF_UINT64, fx_u64, 2},  {"arr.i64", AZC_GGUF_INT64, fx_i64, 3},
    {"arr.f64", AZC_GGUF_FLOAT64, fx_f64, 2}, {"arr.empty", AZC_GGUF_UINT32, NULL, 0},
};

/* Tensor data (borrowed by the writer until it writes). */
static float tx_vec[7];
static uint16_t tx_half[15];
static uint8_t tx_q8[6 * 2 * 34];
static float tx_4d[12];

static const struct {
  const char *name;
  azc_dtype_t type;
  uint32_t n_dims;
  int64_t ne[4];
  const void *data;
  uint64_t size;
} fixture_tensors[] = {
    {"token_embd.vec", AZC_DTYPE_F32, 1, {7}, tx_vec, sizeof(tx_vec)},
    {"blk.0.half", AZC_DTYPE_F16, 2, {3, 5}, tx_half, sizeof(tx_half)},
    {"blk.0.empty", AZC_DTYPE_F32, 2, {4, 0}, tx_vec, 0},
    {"blk.0.q8", AZC_DTYPE_Q8_0, 3, {64, 2, 3}, tx_q8, sizeof(tx_q8)},
    {"output.4d", AZC_DTYPE_F32, 4, {2, 3, 1, 2}, tx_4d, sizeof(tx_4d)},
};

static azc_strview_t sv(const char *s) { return (azc_strview_t){s, strlen(s)}; }

static azc_gguf_value_t scalar(azc_gguf_type_t t) { return (azc_gguf_value_t){.type = t}; }

/* Nested values: [["a", "b"], [], ["", "ü"]], [[1, 2, 3], [-4]] and
 * [[[7]], [[8, 9], []]] (uint8 at the bottom). */
static azc_strview_t nest_strs0[2], nest_strs2[2];
static azc_gguf_value_t nest_str_items[3], nest_int_items[2], nest3_leaf[3], nest3_mid[2];
static const int32_t nest_ints0[] = {1, 2, 3}, nest_ints1[] = {-4};
static const uint8_t nest3_a[] = {7}, nest3_b[] = {8, 9};

static azc_gguf_value_t array_of(azc_gguf_type_t et, uint64_t count) {
  azc_gguf_value_t v = {.type = AZC_GGUF_ARRAY};
  v.v.arr.elem_type = et;
  v.v.arr.count = count;
  return v;
}

static void build_nested(azc_gguf_value_t *strs, azc_gguf_value_t *ints, azc_gguf_value_t *deep) {
  nest_strs0[0] = sv("a");
  nest_strs0[1] = sv("b");
  nest_strs2[0] = sv("");
  nest_strs2[1] = sv("\xc3\xbc");
  nest_str_items[0] = array_of(AZC_GGUF_STRING, 2);
  nest_str_items[0].v.arr.strs = nest_strs0;
  nest_str_items[1] = array_of(AZC_GGUF_STRING, 0);
  nest_str_items[2] = array_of(AZC_GGUF_STRING, 2);
  nest_str_items[2].v.arr.strs = nest_strs2;
  *strs = array_of(AZC_GGUF_ARRAY, 3);
  strs->v.arr.items = nest_str_items;

  nest_int_items[0] = array_of(AZC_GGUF_INT32, 3);
  nest_int_items[0].v.arr.data = nest_ints0;
  nest_int_items[1] = array_of(AZC_GGUF_INT32, 1);
  nest_int_items[1].v.arr.data = nest_ints1;
  *ints = array_of(AZC_GGUF_ARRAY, 2);
  ints->v.arr.items = nest_int_items;

  nest3_leaf[0] = array_of(AZC_GGUF_UINT8, 1);
  nest3_leaf[0].v.arr.data = nest3_a;
  nest3_leaf[1] = array_of(AZC_GGUF_UINT8, 2);
  nest3_leaf[1].v.arr.data = nest3_b;
  nest3_leaf[2] = array_of(AZC_GGUF_UINT8, 0);
  nest3_mid[0] = array_of(AZC_GGUF_ARRAY, 1);
  nest3_mid[0].v.arr.items = &nest3_leaf[0];
  nest3_mid[1] = array_of(AZC_GGUF_ARRAY, 2);
  nest3_mid[1].v.arr.items = &nest3_leaf[1];
  *deep = array_of(AZC_GGUF_ARRAY, 2);
  deep->v.arr.items = nest3_mid;
}

enum { FIXTURE_ALIGNMENT = 64 };

/* Writes the fixture; *n_kv = the number of keys it holds. */
static azc_status_t write_fixture(const char *path, uint64_t *n_kv) {
  for (int i = 0; i < 7; i++) tx_vec[i] = 1.5f * (float)i - 2.0f;
  for (int i = 0; i < 15; i++) tx_half[i] = azc_f32_to_fp16((float)i * 0.25f - 1.0f);
  for (size_t i = 0; i < sizeof(tx_q8); i++) tx_q8[i] = (uint8_t)(i * 7 + 3);
  for (int i = 0; i < 12; i++) tx_4d[i] = (float)(i * i) - 40.0f;
  fx_f32[2] = INFINITY;

  azc_gguf_writer_t *w;
  AZC_RETURN_IF_ERROR(azc_gguf_writer_create(&w));
  azc_status_t st = NULL;
#define TRY(expr)                                                                                  \
  do {                                                                                             \
    if (!st) st = (expr);                                                                          \
  } while (0)
  azc_gguf_value_t v = scalar(AZC_GGUF_UINT8);
  v.v.u = 200;
  TRY(azc_gguf_writer_set_value(w, "s.u8", &v));
  v = scalar(AZC_GGUF_INT8);
  v.v.i = -100;
  TRY(azc_gguf_writer_set_value(w, "s.i8", &v));
  v = scalar(AZC_GGUF_UINT16);
  v.v.u = 60000;
  TRY(azc_gguf_writer_set_value(w, "s.u16", &v));
  v = scalar(AZC_GGUF_INT16);
  v.v.i = -30000;
  TRY(azc_gguf_writer_set_value(w, "s.i16", &v));
  TRY(azc_gguf_writer_set_u32(w, "s.u32", 1)); /* replaced below */
  TRY(azc_gguf_writer_set_u32(w, "s.u32", 4000000000u));
  TRY(azc_gguf_writer_set_i32(w, "s.i32", -2000000000));
  TRY(azc_gguf_writer_set_u64(w, "s.u64", UINT64_MAX));
  v = scalar(AZC_GGUF_INT64);
  v.v.i = INT64_MIN;
  TRY(azc_gguf_writer_set_value(w, "s.i64", &v));
  TRY(azc_gguf_writer_set_f32(w, "s.f32", 3.25f));
  v = scalar(AZC_GGUF_FLOAT64);
  v.v.f = -1.0 / 3.0;
  TRY(azc_gguf_writer_set_value(w, "s.f64", &v));
  TRY(azc_gguf_writer_set_bool(w, "s.true", true));
  TRY(azc_gguf_writer_set_bool(w, "s.false", false));
  TRY(azc_gguf_writer_set_str(w, "general.architecture", "llama"));
  TRY(azc_gguf_writer_set_str(w, "s.utf8", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"));
  TRY(azc_gguf_writer_set_str(w, "s.empty", ""));
  v = scalar(AZC_GGUF_STRING);
  v.v.str = (azc_strview_t){"a\0b", 3};
  TRY(azc_gguf_writer_set_value(w, "s.nul", &v));
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_arrays); i++)
    TRY(azc_gguf_writer_set_arr(w, fixture_arrays[i].key, fixture_arrays[i].type,
                                fixture_arrays[i].data, fixture_arrays[i].count));
  azc_strview_t strs[AZC_ARRAY_SIZE(fixture_strs)];
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_strs); i++) strs[i] = sv(fixture_strs[i]);
  TRY(azc_gguf_writer_set_arr_str(w, "arr.str", strs, AZC_ARRAY_SIZE(fixture_strs)));
  azc_gguf_value_t nstrs, nints, deep;
  build_nested(&nstrs, &nints, &deep);
  TRY(azc_gguf_writer_set_value(w, "nest.str", &nstrs));
  TRY(azc_gguf_writer_set_value(w, "nest.i32", &nints));
  TRY(azc_gguf_writer_set_value(w, "nest.deep", &deep));
  azc_gguf_writer_set_alignment(w, FIXTURE_ALIGNMENT);
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_tensors); i++)
    TRY(azc_gguf_writer_add_tensor(w, fixture_tensors[i].name, fixture_tensors[i].type,
                                   fixture_tensors[i].n_dims, fixture_tensors[i].ne,
                                   fixture_tensors[i].data, fixture_tensors[i].size));
  TRY(azc_gguf_writer_write(w, path));
#undef TRY
  /* 16 scalars and strings, the numeric arrays, the string array, 3 nested,
   * general.alignment */
  *n_kv = 16 + AZC_ARRAY_SIZE(fixture_arrays) + 1 + 3 + 1;
  azc_gguf_writer_destroy(w);
  return st;
}

static const char *fixture_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", test_tmp_dir(), name);
  return buf;
}

/* Reads the fixture file into memory. */
static azc_status_t fixture_bytes(uint8_t **data, size_t *size) {
  char path[512];
  uint64_t n_kv;
  AZC_RETURN_IF_ERROR(write_fixture(fixture_path(path, sizeof(path), "fixture.gguf"), &n_kv));
  return azc_file_read_all(path, (char **)data, size);
}

/* ---- round trip ---- */

static const azc_gguf_value_t *value_of(const azc_gguf_t *g, const char *key) {
  const azc_gguf_kv_t *kv = azc_gguf_find(g, key);
  return kv ? &kv->value : NULL;
}

static void check_scalars(const azc_gguf_t *g) {
  const azc_gguf_value_t *v;
#define SCALAR(key, t, field, want)                                                                \
  do {                                                                                             \
    v = value_of(g, key);                                                                          \
    ASSERT_MSG(v != NULL, "key %s missing", key);                                                  \
    ASSERT_MSG(v->type == (t), "%s has type %s", key, azc_gguf_type_name(v->type));                \
    ASSERT_MSG(v->v.field == (want), "%s has the wrong value", key);                               \
  } while (0)
  SCALAR("s.u8", AZC_GGUF_UINT8, u, 200);
  SCALAR("s.i8", AZC_GGUF_INT8, i, -100);
  SCALAR("s.u16", AZC_GGUF_UINT16, u, 60000);
  SCALAR("s.i16", AZC_GGUF_INT16, i, -30000);
  SCALAR("s.u32", AZC_GGUF_UINT32, u, 4000000000u);
  SCALAR("s.i32", AZC_GGUF_INT32, i, -2000000000);
  SCALAR("s.u64", AZC_GGUF_UINT64, u, UINT64_MAX);
  SCALAR("s.i64", AZC_GGUF_INT64, i, INT64_MIN);
  SCALAR("s.f32", AZC_GGUF_FLOAT32, f, 3.25);
  SCALAR("s.f64", AZC_GGUF_FLOAT64, f, -1.0 / 3.0);
  SCALAR("s.true", AZC_GGUF_BOOL, u, 1);
  SCALAR("s.false", AZC_GGUF_BOOL, u, 0);
#undef SCALAR
  v = value_of(g, "s.utf8");
  ASSERT(v && v->type == AZC_GGUF_STRING);
  ASSERT(azc_strview_eq(v->v.str, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"));
  v = value_of(g, "s.empty");
  ASSERT(v && v->type == AZC_GGUF_STRING && v->v.str.size == 0);
  v = value_of(g, "s.nul");
  ASSERT(v && v->type == AZC_GGUF_STRING && v->v.str.size == 3);
  ASSERT(memcmp(v->v.str.data, "a\0b", 3) == 0);
  v = value_of(g, "general.alignment");
  ASSERT(v && v->type == AZC_GGUF_UINT32 && v->v.u == FIXTURE_ALIGNMENT);
}

static size_t elem_bytes(azc_gguf_type_t t) {
  switch (t) {
  case AZC_GGUF_UINT8:
  case AZC_GGUF_INT8:
  case AZC_GGUF_BOOL: return 1;
  case AZC_GGUF_UINT16:
  case AZC_GGUF_INT16: return 2;
  case AZC_GGUF_UINT32:
  case AZC_GGUF_INT32:
  case AZC_GGUF_FLOAT32: return 4;
  case AZC_GGUF_UINT64:
  case AZC_GGUF_INT64:
  case AZC_GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

static void check_arrays(const azc_gguf_t *g) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_arrays); i++) {
    const azc_gguf_value_t *v = value_of(g, fixture_arrays[i].key);
    ASSERT_MSG(v && v->type == AZC_GGUF_ARRAY, "%s", fixture_arrays[i].key);
    ASSERT_MSG(v->v.arr.elem_type == fixture_arrays[i].type, "%s: element type %s",
               fixture_arrays[i].key, azc_gguf_type_name(v->v.arr.elem_type));
    ASSERT_EQ_INT(v->v.arr.count, fixture_arrays[i].count);
    size_t n = (size_t)fixture_arrays[i].count * elem_bytes(fixture_arrays[i].type);
    ASSERT_MSG(n == 0 || memcmp(v->v.arr.data, fixture_arrays[i].data, n) == 0, "%s data",
               fixture_arrays[i].key);
  }
  const azc_gguf_value_t *v;
  ASSERT_OK(azc_gguf_get_arr(g, "arr.str", AZC_GGUF_STRING, &v));
  ASSERT_EQ_INT(v->v.arr.count, AZC_ARRAY_SIZE(fixture_strs));
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_strs); i++)
    ASSERT_MSG(azc_strview_eq(v->v.arr.strs[i], fixture_strs[i]), "string %zu", i);

  /* nested: compare with the values they were written from */
  azc_gguf_value_t nstrs, nints, deep;
  build_nested(&nstrs, &nints, &deep);
  ASSERT_OK(azc_gguf_get_arr(g, "nest.str", AZC_GGUF_ARRAY, &v));
  ASSERT_EQ_INT(v->v.arr.count, 3);
  for (int i = 0; i < 3; i++) {
    const azc_gguf_value_t *it = &v->v.arr.items[i], *want = &nstrs.v.arr.items[i];
    ASSERT(it->type == AZC_GGUF_ARRAY && it->v.arr.elem_type == AZC_GGUF_STRING);
    ASSERT_EQ_INT(it->v.arr.count, want->v.arr.count);
    for (uint64_t j = 0; j < it->v.arr.count; j++) {
      ASSERT(it->v.arr.strs[j].size == want->v.arr.strs[j].size);
      ASSERT(!memcmp(it->v.arr.strs[j].data, want->v.arr.strs[j].data, it->v.arr.strs[j].size));
    }
  }
  ASSERT_OK(azc_gguf_get_arr(g, "nest.i32", AZC_GGUF_ARRAY, &v));
  ASSERT_EQ_INT(v->v.arr.count, 2);
  for (int i = 0; i < 2; i++) {
    const azc_gguf_value_t *it = &v->v.arr.items[i], *want = &nints.v.arr.items[i];
    ASSERT(it->type == AZC_GGUF_ARRAY && it->v.arr.elem_type == AZC_GGUF_INT32);
    ASSERT_EQ_INT(it->v.arr.count, want->v.arr.count);
    ASSERT(!memcmp(it->v.arr.data, want->v.arr.data, (size_t)it->v.arr.count * 4));
  }
  char text[256];
  azc_gguf_value_format(value_of(g, "nest.deep"), text, sizeof(text), 8);
  ASSERT_STREQ(text, "[[[7]], [[8, 9], []]]");
  azc_gguf_value_format(value_of(g, "nest.str"), text, sizeof(text), 8);
  ASSERT_STREQ(text, "[[\"a\", \"b\"], [], [\"\", \"\xc3\xbc\"]]");
  azc_gguf_value_format(value_of(g, "arr.i8"), text, sizeof(text), 2);
  ASSERT_STREQ(text, "[-128, 0, ... (4 int8)]");
}

static void check_tensors(const azc_gguf_t *g) {
  ASSERT_EQ_INT(g->n_tensors, AZC_ARRAY_SIZE(fixture_tensors));
  ASSERT_EQ_INT(g->data_offset % FIXTURE_ALIGNMENT, 0);
  ASSERT(g->data_offset <= g->size);
  for (size_t i = 0; i < AZC_ARRAY_SIZE(fixture_tensors); i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i]; /* in the order written */
    ASSERT_STREQ(t->name, fixture_tensors[i].name);
    ASSERT(azc_gguf_find_tensor(g, t->name) == t);
    ASSERT_EQ_INT(t->n_dims, fixture_tensors[i].n_dims);
    for (uint32_t d = 0; d < AZC_GGUF_MAX_DIMS; d++)
      ASSERT_EQ_INT(t->ne[d], d < t->n_dims ? fixture_tensors[i].ne[d] : 1);
    ASSERT_EQ_INT(t->type, fixture_tensors[i].type);
    ASSERT_EQ_INT(t->size, fixture_tensors[i].size);
    ASSERT_MSG(t->offset % FIXTURE_ALIGNMENT == 0, "%s at %" PRIu64, t->name, t->offset);
    ASSERT(t->data == g->base + g->data_offset + t->offset);
    ASSERT(t->size == 0 || memcmp(t->data, fixture_tensors[i].data, t->size) == 0);
    /* the info offset points at the name's length */
    ASSERT_EQ_INT(azc_load_u64le(g->base + t->info_offset), strlen(t->name));
  }
  ASSERT(azc_gguf_find_tensor(g, "nope") == NULL);
}

static void test_round_trip(void) {
  char path[512];
  uint64_t n_kv;
  ASSERT_OK(write_fixture(fixture_path(path, sizeof(path), "fixture.gguf"), &n_kv));
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  int ok = g->version == 3 && g->n_kv == n_kv && g->alignment == FIXTURE_ALIGNMENT;
  for (uint64_t i = 0; ok && i < g->n_kv; i++) /* each key offset points at its length */
    ok = azc_load_u64le(g->base + g->kv[i].offset) == g->kv[i].key.size;
  if (ok) check_scalars(g);
  if (ok && !test_current_failed) check_arrays(g);
  if (ok && !test_current_failed) check_tensors(g);
  azc_gguf_close(g);
  ASSERT(ok);
}

/* Typed getters and their conversions on the fixture. */
static void test_getters(void) {
  char path[512];
  uint64_t n_kv;
  ASSERT_OK(write_fixture(fixture_path(path, sizeof(path), "getters.gguf"), &n_kv));
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  int64_t i64 = 0;
  uint32_t u32 = 0;
  float f = 0;
  bool b = false;
  int ib = 0;
  azc_strview_t s;
  int32_t *ia = NULL;
  float *fa = NULL;
  uint64_t n = 0;
  azc_status_t st = NULL;
  /* each check ends the test on failure; the file is closed at the end */
#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #cond);                            \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)
#define CHECK_OK(expr) CHECK((st = (expr)) == NULL)
#define CHECK_ERR(expr, code, needle)                                                              \
  do {                                                                                             \
    st = (expr);                                                                                   \
    CHECK(st &&azc_status_code(st) == (code) && strstr(azc_status_message(st), (needle)));         \
    azc_status_free(st);                                                                           \
    st = NULL;                                                                                     \
  } while (0)
  CHECK_OK(azc_gguf_get_i64(g, "s.u8", &i64));
  CHECK(i64 == 200);
  CHECK_OK(azc_gguf_get_i64(g, "s.i16", &i64));
  CHECK(i64 == -30000);
  CHECK_OK(azc_gguf_get_i64(g, "s.i64", &i64));
  CHECK(i64 == INT64_MIN);
  CHECK_ERR(azc_gguf_get_i64(g, "s.u64", &i64), AZC_CORRUPT, "out of range");
  CHECK_ERR(azc_gguf_get_i64(g, "s.true", &i64), AZC_CORRUPT, "expected an integer");
  CHECK_ERR(azc_gguf_get_i64(g, "s.f32", &i64), AZC_CORRUPT, "has type float32");
  CHECK_OK(azc_gguf_get_u32(g, "s.u32", &u32));
  CHECK(u32 == 4000000000u);
  CHECK_ERR(azc_gguf_get_u32(g, "s.i8", &u32), AZC_CORRUPT, "value -100 is out of range");
  CHECK_OK(azc_gguf_get_f32(g, "s.f64", &f));
  CHECK(f == (float)(-1.0 / 3.0));
  CHECK_OK(azc_gguf_get_f32(g, "s.i32", &f));
  CHECK(f == -2000000000.0f);
  CHECK_ERR(azc_gguf_get_f32(g, "s.utf8", &f), AZC_CORRUPT, "expected a number");
  CHECK_OK(azc_gguf_get_bool(g, "s.true", &b));
  CHECK(b);
  CHECK_ERR(azc_gguf_get_bool(g, "s.u8", &b), AZC_CORRUPT, "expected bool");
  CHECK_OK(azc_gguf_get_str(g, "general.architecture", &s));
  CHECK(azc_strview_eq(s, "llama"));
  CHECK_ERR(azc_gguf_get_str(g, "arr.str", &s), AZC_CORRUPT, "has type array, expected string");
  const azc_gguf_value_t *v;
  CHECK_ERR(azc_gguf_get_arr(g, "arr.str", AZC_GGUF_INT32, &v), AZC_CORRUPT,
            "has type array of string, expected array of int32");
  CHECK_ERR(azc_gguf_get_arr(g, "s.u8", AZC_GGUF_UINT8, &v), AZC_CORRUPT, "has type uint8");
  /* missing keys name the key and the file */
  CHECK_ERR(azc_gguf_get_i64(g, "no.such.key", &i64), AZC_NOT_FOUND, "no.such.key");
  CHECK_ERR(azc_gguf_get_str(g, "no.such.key", &s), AZC_NOT_FOUND, "getters.gguf");
  CHECK_OK(azc_gguf_opt_i64(g, "no.such.key", 17, &i64));
  CHECK(i64 == 17);
  CHECK_OK(azc_gguf_opt_f32(g, "no.such.key", 0.5f, &f));
  CHECK(f == 0.5f);
  CHECK_OK(azc_gguf_opt_bool(g, "no.such.key", 1, &ib));
  CHECK(ib == 1);
  CHECK_OK(azc_gguf_opt_bool(g, "s.false", 1, &ib));
  CHECK(ib == 0);
  CHECK_ERR(azc_gguf_opt_i64(g, "s.utf8", 17, &i64), AZC_CORRUPT, "s.utf8");
  /* array copies convert */
  CHECK_OK(azc_gguf_copy_arr_i32(g, "arr.u8", &ia, &n));
  CHECK(n == 3 && ia[0] == 0 && ia[1] == 1 && ia[2] == 255);
  free(ia);
  ia = NULL;
  CHECK_OK(azc_gguf_copy_arr_i32(g, "arr.i32", &ia, &n));
  CHECK(n == 3 && ia[0] == INT32_MIN && ia[2] == INT32_MAX);
  free(ia);
  ia = NULL;
  CHECK_ERR(azc_gguf_copy_arr_i32(g, "arr.u32", &ia, &n), AZC_CORRUPT, "element 1 out of int32");
  CHECK(ia == NULL && n == 0);
  CHECK_ERR(azc_gguf_copy_arr_i32(g, "arr.f32", &ia, &n), AZC_CORRUPT, "element 2 out of int32");
  CHECK_ERR(azc_gguf_copy_arr_i32(g, "arr.str", &ia, &n), AZC_CORRUPT, "not an array of numbers");
  CHECK_OK(azc_gguf_copy_arr_i32(g, "arr.empty", &ia, &n));
  CHECK(n == 0);
  free(ia);
  ia = NULL;
  CHECK_OK(azc_gguf_copy_arr_f32(g, "arr.i16", &fa, &n));
  CHECK(n == 2 && fa[0] == -32768.0f && fa[1] == 32767.0f);
  free(fa);
  fa = NULL;
  CHECK_OK(azc_gguf_copy_arr_f32(g, "arr.f64", &fa, &n));
  CHECK(n == 2 && fa[0] == (float)3.141592653589793);
  free(fa);
  fa = NULL;
#undef CHECK_ERR
#undef CHECK_OK
#undef CHECK
  azc_gguf_close(g);
  return;
fail:
  if (st) fprintf(stderr, "  status: %s\n", azc_status_message(st));
  azc_status_free(st);
  free(ia);
  free(fa);
  azc_gguf_close(g);
  ASSERT(0);
}

/* Copying every value and tensor of a file into a new writer gives the same
 * bytes: set_value handles every type, nested arrays included. */
static void test_copy_is_identical(void) {
  char path[512], copy_path[512];
  uint64_t n_kv;
  ASSERT_OK(write_fixture(fixture_path(path, sizeof(path), "orig.gguf"), &n_kv));
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  azc_gguf_writer_t *w;
  azc_status_t st = azc_gguf_writer_create(&w);
  for (uint64_t i = 0; !st && i < g->n_kv; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)g->kv[i].key.size, g->kv[i].key.data);
    st = azc_gguf_writer_set_value(w, key, &g->kv[i].value);
  }
  if (!st) azc_gguf_writer_set_alignment(w, (uint32_t)g->alignment);
  for (uint64_t i = 0; !st && i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    st = azc_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size);
  }
  if (!st) st = azc_gguf_writer_write(w, fixture_path(copy_path, sizeof(copy_path), "copy.gguf"));
  azc_gguf_writer_destroy(w);
  azc_gguf_close(g);
  ASSERT_OK(st);
  char *a, *b;
  size_t na, nb;
  ASSERT_OK(azc_file_read_all(path, &a, &na));
  st = azc_file_read_all(copy_path, &b, &nb);
  if (st) free(a);
  ASSERT_OK(st);
  int same = na == nb && memcmp(a, b, na) == 0;
  free(a);
  free(b);
  ASSERT_MSG(same, "the copy differs (%zu vs %zu bytes)", na, nb);
}

/* The writer keeps general.alignment in step with the padding it writes,
 * even when the key was copied in with another value. */
static void test_writer_alignment_key(void) {
  char path[512];
  fixture_path(path, sizeof(path), "align.gguf");
  static const float data[3] = {1, 2, 3};
  const int64_t ne[1] = {3};
  azc_gguf_writer_t *w;
  ASSERT_OK(azc_gguf_writer_create(&w));
  azc_status_t st = azc_gguf_writer_set_u32(w, "general.alignment", 64); /* but writes at 32 */
  if (!st) st = azc_gguf_writer_add_tensor(w, "a", AZC_DTYPE_F32, 1, ne, data, sizeof(data));
  if (!st) st = azc_gguf_writer_add_tensor(w, "b", AZC_DTYPE_F32, 1, ne, data, sizeof(data));
  if (!st) st = azc_gguf_writer_write(w, path);
  azc_gguf_writer_destroy(w);
  ASSERT_OK(st);
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  uint64_t align = g->alignment, off_b = g->tensors[1].offset;
  azc_gguf_close(g);
  ASSERT_EQ_INT(align, 32);
  ASSERT_EQ_INT(off_b, 32);

  /* an alignment that is not a power of two is refused */
  ASSERT_OK(azc_gguf_writer_create(&w));
  azc_gguf_writer_set_alignment(w, 48);
  st = azc_gguf_writer_write(w, path);
  azc_gguf_writer_destroy(w);
  ASSERT_ERR(st, AZC_INVALID_ARGUMENT, "alignment 48");
}

static void test_writer_refuses(void) {
  azc_gguf_writer_t *w;
  ASSERT_OK(azc_gguf_writer_create(&w));
  static const uint8_t q[34 * 2] = {0};
  int64_t ne[5] = {32, 2, 1, 1, 1};
  azc_status_t s1 = azc_gguf_writer_add_tensor(w, "t", AZC_DTYPE_Q8_0, 2, ne, q, 34); /* size */
  azc_status_t s2 = azc_gguf_writer_add_tensor(w, "t", AZC_DTYPE_Q8_0, 5, ne, q, 68); /* dims */
  azc_status_t s3 = azc_gguf_writer_add_tensor(w, "t", AZC_DTYPE_Q8_0, 0, ne, q, 68);
  azc_status_t s4 = azc_gguf_writer_add_tensor(w, "t", (azc_dtype_t)4, 2, ne, q, 68);
  azc_status_t s5 = azc_gguf_writer_add_tensor(w, "t", AZC_DTYPE_Q8_0, 2, ne, q, 68);
  azc_status_t s6 = azc_gguf_writer_add_tensor(w, "t", AZC_DTYPE_Q8_0, 2, ne, q, 68); /* twice */
  int64_t bad_row[2] = {33, 1}, negative[2] = {32, -2}, huge[2] = {INT64_MAX / 2 + 1, 4};
  azc_status_t s7 = azc_gguf_writer_add_tensor(w, "u", AZC_DTYPE_Q8_0, 2, bad_row, q, 34);
  azc_status_t s8 = azc_gguf_writer_add_tensor(w, "v", AZC_DTYPE_Q8_0, 2, negative, q, 0);
  azc_status_t s9 = azc_gguf_writer_add_tensor(w, "x", AZC_DTYPE_F32, 2, huge, q, 0);
  azc_status_t s10 = azc_gguf_writer_set_arr(w, "k", AZC_GGUF_STRING, q, 1);
  azc_gguf_writer_destroy(w);
  ASSERT_ERR(s1, AZC_INVALID_ARGUMENT, "34 bytes given, Q8_0 shape needs 68");
  ASSERT_ERR(s2, AZC_INVALID_ARGUMENT, "5 dimensions");
  ASSERT_ERR(s3, AZC_INVALID_ARGUMENT, "0 dimensions");
  ASSERT_ERR(s4, AZC_INVALID_ARGUMENT, "bad type 4");
  ASSERT_OK(s5);
  ASSERT_ERR(s6, AZC_INVALID_ARGUMENT, "added twice");
  ASSERT_ERR(s7, AZC_INVALID_ARGUMENT, "row length 33");
  ASSERT_ERR(s8, AZC_INVALID_ARGUMENT, "tensor 'v'");
  ASSERT_ERR(s9, AZC_INVALID_ARGUMENT, "tensor 'x'");
  ASSERT_ERR(s10, AZC_INVALID_ARGUMENT, "not a numeric element type");
}

/* ---- the real files ---- */

/* Reads every byte a parsed file points at (values and tensor data), so that
 * ASan checks the pointers, and checks the tensors' invariants. Returns a
 * description of the first broken invariant, or NULL. */
static uint64_t touch_sum;
static void touch(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) touch_sum += b[i];
}
static void touch_value(const azc_gguf_value_t *v) {
  if (v->type == AZC_GGUF_STRING) touch(v->v.str.data, v->v.str.size);
  if (v->type != AZC_GGUF_ARRAY) return;
  azc_gguf_type_t et = v->v.arr.elem_type;
  if (et == AZC_GGUF_STRING)
    for (uint64_t i = 0; i < v->v.arr.count; i++)
      touch(v->v.arr.strs[i].data, v->v.arr.strs[i].size);
  else if (et == AZC_GGUF_ARRAY)
    for (uint64_t i = 0; i < v->v.arr.count; i++) touch_value(&v->v.arr.items[i]);
  else
    touch(v->v.arr.data, (size_t)v->v.arr.count * elem_bytes(et));
}
static const char *touch_all(const azc_gguf_t *g, int with_tensor_data) {
  char text[512];
  for (uint64_t i = 0; i < g->n_kv; i++) {
    touch(g->kv[i].key.data, g->kv[i].key.size);
    touch_value(&g->kv[i].value);
    azc_gguf_value_format(&g->kv[i].value, text, sizeof(text), 4);
  }
  if (g->alignment == 0 || (g->alignment & (g->alignment - 1))) return "alignment";
  if (g->n_tensors && (g->data_offset % g->alignment || g->data_offset > g->size))
    return "data offset";
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    const azc_dtype_info_t *ti = azc_dtype_info(t->type);
    if (!ti || t->n_dims > AZC_GGUF_MAX_DIMS) return "tensor type or dims";
    /* the size must be what the shape needs, computed without overflow */
    unsigned __int128 want =
        (unsigned __int128)(uint64_t)t->ne[0] / (uint64_t)ti->block_size * (uint64_t)ti->type_size;
    for (int d = 1; d < AZC_GGUF_MAX_DIMS; d++) want *= (uint64_t)t->ne[d];
    if (t->ne[0] % ti->block_size || want != t->size) return "tensor size";
    if (t->offset % g->alignment) return "tensor offset";
    if (t->data != g->base + g->data_offset + t->offset) return "tensor data pointer";
    if (t->data < g->base || t->size > g->size || t->data + t->size > g->base + g->size)
      return "tensor data outside the file";
    if (with_tensor_data) touch(t->data, (size_t)t->size);
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void check_real_file(const char *path) {
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  const char *bad = touch_all(g, 1);
  /* tensors do not overlap */
  uint64_t *spans = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * 2 * sizeof(uint64_t));
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    spans[2 * i] = g->tensors[i].offset;
    spans[2 * i + 1] = g->tensors[i].offset + g->tensors[i].size;
  }
  qsort(spans, (size_t)g->n_tensors, 2 * sizeof(uint64_t), cmp_u64);
  int overlap = 0;
  for (uint64_t i = 1; i < g->n_tensors; i++) overlap |= spans[2 * i] < spans[2 * i - 1];
  free(spans);
  fprintf(stderr, "  %s: version %u, %" PRIu64 " keys, %" PRIu64 " tensors\n", path, g->version,
          g->n_kv, g->n_tensors);
  azc_gguf_close(g);
  ASSERT_MSG(!bad, "%s: %s", path, bad);
  ASSERT_MSG(!overlap, "%s: tensors overlap", path);
}

static void test_real_files(void) {
  if (!test_shared_dir()) TEST_SKIP("AZC_SHARED_DIR is not set or missing: no real GGUF files");
  const char *dirs[] = {"models", "vocab"};
  int n = 0;
  for (int d = 0; d < 2; d++) {
    char dir[512];
    if (!test_shared_path(dir, sizeof(dir), dirs[d])) continue;
    DIR *dp = opendir(dir);
    ASSERT(dp != NULL);
    struct dirent *e;
    while ((e = readdir(dp))) {
      size_t len = strlen(e->d_name);
      if (len < 5 || strcmp(e->d_name + len - 5, ".gguf")) continue;
      char path[1024];
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      n++;
      check_real_file(path);
      if (test_current_failed) break;
    }
    closedir(dp);
    if (test_current_failed) return;
  }
  ASSERT_MSG(n >= 2, "found only %d GGUF files", n);
}

static void test_stories260k(void) {
  char path[512];
  if (!test_shared_path(path, sizeof(path), "models/stories260K.gguf"))
    TEST_SKIP("shared/models/stories260K.gguf is missing");
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  azc_strview_t arch = {0};
  uint32_t embd = 0, blocks = 0;
  const azc_gguf_value_t *tokens = NULL;
  azc_status_t st = azc_gguf_get_str(g, "general.architecture", &arch);
  if (!st) st = azc_gguf_get_u32(g, "llama.embedding_length", &embd);
  if (!st) st = azc_gguf_get_u32(g, "llama.block_count", &blocks);
  if (!st) st = azc_gguf_get_arr(g, "tokenizer.ggml.tokens", AZC_GGUF_STRING, &tokens);
  int arch_ok = !st && azc_strview_eq(arch, "llama");
  uint64_t n_tensors = g->n_tensors, n_tokens = tokens ? tokens->v.arr.count : 0;
  const azc_gguf_tensor_t *t = azc_gguf_find_tensor(g, "token_embd.weight");
  int t_ok = t && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 512 && t->type == AZC_DTYPE_F32 &&
             t->size == 64 * 512 * 4;
  azc_gguf_close(g);
  ASSERT_OK(st);
  ASSERT(arch_ok);
  ASSERT_EQ_INT(embd, 64);
  ASSERT_EQ_INT(blocks, 5);
  ASSERT_EQ_INT(n_tensors, 48);
  ASSERT_EQ_INT(n_tokens, 512);
  ASSERT(t_ok);
}

static void test_gpt2_q8(void) {
  char path[512];
  if (!test_shared_path(path, sizeof(path), "models/gpt2-small-tied-Q8_0.gguf"))
    TEST_SKIP("shared/models/gpt2-small-tied-Q8_0.gguf is missing");
  azc_gguf_t *g;
  ASSERT_OK(azc_gguf_open(path, &g));
  const azc_gguf_value_t *merges = NULL;
  azc_status_t st = azc_gguf_get_arr(g, "tokenizer.ggml.merges", AZC_GGUF_STRING, &merges);
  uint64_t n_merges = merges ? merges->v.arr.count : 0;
  const azc_gguf_tensor_t *t = azc_gguf_find_tensor(g, "token_embd.weight");
  int q8 = t && t->type == AZC_DTYPE_Q8_0 && t->ne[0] % 32 == 0 &&
           t->size == (uint64_t)t->ne[0] / 32 * 34 * (uint64_t)t->ne[1];
  azc_gguf_close(g);
  ASSERT_OK(st);
  ASSERT_EQ_INT(n_merges, 50000);
  ASSERT(q8);
}

/* ---- damaged input ---- */

/* "<name>: byte N: ..." with N <= limit. */
static int names_file_and_byte(azc_status_t st, const char *name, size_t limit) {
  char prefix[256];
  snprintf(prefix, sizeof(prefix), "%s: byte ", name);
  const char *m = azc_status_message(st);
  if (strncmp(m, prefix, strlen(prefix))) return 0;
  unsigned long long at = strtoull(m + strlen(prefix), NULL, 10);
  return at <= limit;
}

static void test_truncated_everywhere(void) {
  uint8_t *file;
  size_t size;
  ASSERT_OK(fixture_bytes(&file, &size));
  /* the end of the last tensor's data: every shorter file is refused, every
   * longer one (only padding cut) reads the same */
  azc_gguf_t *full;
  azc_status_t st = azc_gguf_parse(file, size, "trunc.gguf", &full);
  if (st) free(file);
  ASSERT_OK(st);
  uint64_t data_end = 0;
  for (uint64_t i = 0; i < full->n_tensors; i++)
    data_end =
        AZC_MAX(data_end, full->data_offset + full->tensors[i].offset + full->tensors[i].size);
  uint64_t n_kv = full->n_kv, n_tensors = full->n_tensors;
  azc_gguf_close(full);
  int failures = 0;
  for (size_t len = 0; len <= size && failures < 5; len++) {
    azc_gguf_t *g;
    uint8_t *copy;
    st = parse_copy(file, len, "trunc.gguf", &g, &copy);
    if (len >= data_end) {
      if (st || g->n_kv != n_kv || g->n_tensors != n_tensors || touch_all(g, 1)) {
        fprintf(stderr, "  length %zu of %zu: %s\n", len, size, azc_status_message(st));
        failures++;
      }
    } else if (!st || azc_status_code(st) != AZC_CORRUPT ||
               !names_file_and_byte(st, "trunc.gguf", len)) {
      fprintf(stderr, "  length %zu of %zu (data ends at %" PRIu64 "): %s: %s\n", len, size,
              data_end, st ? azc_code_name(azc_status_code(st)) : "accepted",
              azc_status_message(st));
      failures++;
    }
    azc_status_free(st);
    azc_gguf_close(g);
    free(copy);
  }
  free(file);
  fprintf(stderr, "  %zu truncations of a %zu-byte file, data ends at %" PRIu64 "\n", size + 1,
          size, data_end);
  ASSERT(data_end < size); /* the fixture has padding after the last tensor */
  ASSERT_EQ_INT(failures, 0);
}

static void test_every_header_byte_changed(void) {
  uint8_t *file;
  size_t size;
  ASSERT_OK(fixture_bytes(&file, &size));
  azc_gguf_t *g;
  long long mark = heap_mark();
  azc_status_t st = azc_gguf_parse(file, size, "flip.gguf", &g);
  size_t clean_peak = heap_peak_since(mark);
  size_t header_end = st ? 0 : (size_t)g->data_offset;
  azc_gguf_close(g);
  if (st) free(file);
  ASSERT_OK(st);
#ifdef HAVE_HEAP_HOOKS
  ASSERT(clean_peak > 0); /* the accounting sees the reader's allocations */
#endif
  size_t bound = 128 * 1024 + 16 * size, worst = clean_peak;
  int failures = 0, accepted = 0, refused = 0;
  for (size_t i = 0; i < header_end && failures < 5; i++)
    for (int op = 0; op < 2; op++) {
      uint8_t *copy = malloc(size);
      memcpy(copy, file, size);
      copy[i] = op ? (uint8_t)(copy[i] + 1) : (uint8_t)(copy[i] ^ 0xff);
      mark = heap_mark();
      st = azc_gguf_parse(copy, size, "flip.gguf", &g);
      size_t peak = heap_peak_since(mark);
      worst = AZC_MAX(worst, peak);
      const char *bad = NULL;
      if (!st) {
        bad = touch_all(g, 1);
        accepted++;
      } else {
        azc_code_t code = azc_status_code(st);
        if ((code != AZC_CORRUPT && code != AZC_UNSUPPORTED) ||
            !names_file_and_byte(st, "flip.gguf", size))
          bad = "bad status";
        refused++;
      }
      if (peak > bound) bad = "too much memory";
      if (bad) {
        fprintf(stderr, "  byte %zu %s: %s (%s; peak heap %zu)\n", i, op ? "+1" : "^0xff", bad,
                azc_status_message(st), peak);
        failures++;
      }
      azc_status_free(st);
      azc_gguf_close(g);
      free(copy);
    }
  free(file);
  fprintf(stderr, "  %zu header bytes changed twice: %d accepted, %d refused, peak heap %zu\n",
          header_end, accepted, refused, worst);
  ASSERT(refused > 0 && accepted > 0);
  ASSERT_EQ_INT(failures, 0);
}

static void test_bad_header(void) {
  bytes_t b = {0};
  b_header(&b, 3, 0, 0);
  EXPECT_GOOD(&b);
  b_header(&b, 2, 0, 0);
  EXPECT_GOOD(&b); /* version 2 has the same layout */
  b_header(&b, 3, 0, 0);
  b.data[3] = 'X';
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 0: not a GGUF file (magic 47 47 55 58, expected 'GGUF')");
  b.size = 3;
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 0: file of 3 bytes is too small to be GGUF");
  b_header(&b, 1, 0, 0);
  EXPECT_BAD(&b, AZC_UNSUPPORTED,
             "bad.gguf: byte 4: GGUF version 1 is not supported (azc reads versions 2 and 3)");
  b_header(&b, 4, 0, 0);
  EXPECT_BAD(&b, AZC_UNSUPPORTED,
             "bad.gguf: byte 4: unknown GGUF version 4 (azc reads versions 2 and 3)");
  b_header(&b, 0x03000000u, 0, 0);
  EXPECT_BAD(&b, AZC_UNSUPPORTED, "bad.gguf: byte 4: big-endian GGUF is not supported");
  b_header(&b, 3, 0, 0);
  b.size = 23;
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 16: header metadata count: needs 8 bytes, only 7 left in file");
  b_header(&b, 3, UINT64_C(1) << 63, 0);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 8: tensor count 9223372036854775808 cannot fit in a file of 24 bytes");
  b_header(&b, 3, 0, UINT64_C(1) << 40);
  b_zeros(&b, 100);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 16: metadata count 1099511627776 cannot fit in a file of 124 bytes");
  b_header(&b, 3, 0, 8); /* 8 entries of at least 13 bytes do not fit in 100 */
  b_zeros(&b, 100);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 16: metadata count 8 cannot fit in a file of 124 bytes");
  free(b.data);
}

static void test_bad_metadata(void) {
  bytes_t b = {0};
  /* string lengths */
  b_header(&b, 3, 0, 1);
  b_u64(&b, UINT64_C(1) << 62);
  b_zeros(&b, 20);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: metadata entry 0 key: string length 4611686018427387904 exceeds "
             "the 20 bytes left");
  b_header(&b, 3, 0, 1);
  b_str(&b, "k");
  b_u32(&b, AZC_GGUF_STRING);
  b_u64(&b, UINT64_C(1) << 62);
  b_zeros(&b, 3);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 37: key 'k': string length 4611686018427387904 exceeds the 3 bytes "
             "left");
  b_header(&b, 3, 0, 1);
  b_u64(&b, 0);
  b_u32(&b, AZC_GGUF_UINT8);
  b_zeros(&b, 1);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: metadata entry 0 has an empty key");

  /* array counts */
  b_header(&b, 3, 0, 1);
  b_str(&b, "k");
  b_u32(&b, AZC_GGUF_ARRAY);
  b_u32(&b, AZC_GGUF_UINT64);
  b_u64(&b, UINT64_C(1) << 61);
  b_zeros(&b, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 37: key 'k': array of 2305843009213693952 uint64 elements does not "
             "fit in the 64 bytes left");
  b_header(&b, 3, 0, 1);
  b_str(&b, "k");
  b_u32(&b, AZC_GGUF_ARRAY);
  b_u32(&b, AZC_GGUF_STRING);
  b_u64(&b, 9); /* 9 strings need at least 72 bytes */
  b_zeros(&b, 71);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 37: key 'k': array of 9 string elements does not fit in the 71 bytes "
             "left");
  b.size -= 71;
  b_zeros(&b, 72); /* 9 empty strings */
  EXPECT_GOOD(&b);
  b_header(&b, 3, 0, 1);
  b_str(&b, "k");
  b_u32(&b, AZC_GGUF_ARRAY);
  b_u32(&b, AZC_GGUF_ARRAY);
  b_u64(&b, UINT64_MAX);
  b_zeros(&b, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 37: key 'k': array of 18446744073709551615 array elements does not "
             "fit in the 64 bytes left");

  /* nesting: 8 levels read, 9 or 100 do not */
  for (int levels = 8; levels <= 100; levels += levels == 8 ? 1 : 91) {
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, AZC_GGUF_ARRAY);
    for (int i = 1; i < levels; i++) {
      b_u32(&b, AZC_GGUF_ARRAY);
      b_u64(&b, 1);
    }
    b_u32(&b, AZC_GGUF_UINT32);
    b_u64(&b, 0);
    if (levels == 8)
      EXPECT_GOOD(&b);
    else
      EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte %d: key 'k': arrays nested deeper than 8",
                 37 + 8 * 12);
  }

  /* value types */
  const uint32_t bad_types[] = {13, 0xffffffffu};
  for (int i = 0; i < 2; i++) {
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, bad_types[i]);
    b_zeros(&b, 8);
    EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 33: key 'k': invalid value type %u", bad_types[i]);
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, AZC_GGUF_ARRAY);
    b_u32(&b, bad_types[i]);
    b_u64(&b, 0);
    EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 37: key 'k': invalid array element type %u",
               bad_types[i]);
  }

  /* duplicate keys */
  b_header(&b, 3, 0, 2);
  b_kv_u32(&b, "a", 1);
  b_kv_u32(&b, "a", 2);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 41: key 'a': duplicate key");

  /* general.alignment */
  const uint32_t bad_align[] = {0, 3, 48};
  for (int i = 0; i < 3; i++) {
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", bad_align[i]);
    EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: general.alignment %u is not a power of two",
               bad_align[i]);
  }
  b_header(&b, 3, 0, 1);
  b_str(&b, "general.alignment");
  b_u32(&b, AZC_GGUF_UINT64);
  b_u64(&b, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: general.alignment has type uint64, expected uint32");
  b_header(&b, 3, 0, 1);
  b_str(&b, "general.alignment");
  b_u32(&b, AZC_GGUF_STRING);
  b_str(&b, "64");
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: general.alignment has type string, expected uint32");
  free(b.data);
}

/* A file with one tensor "w" after n_kv alignment keys, padded, with
 * data_bytes of data. The tensor info starts at byte 24 (no keys). */
static void one_tensor(bytes_t *b, uint32_t alignment, uint32_t n_dims, const uint64_t *ne,
                       uint32_t type, uint64_t offset, size_t data_bytes) {
  b_header(b, 3, 1, alignment ? 1 : 0);
  if (alignment) b_kv_u32(b, "general.alignment", alignment);
  b_tensor(b, "w", n_dims, ne, type, offset);
  b_pad(b, alignment ? alignment : 32);
  b_zeros(b, data_bytes);
}

static void test_bad_tensors(void) {
  bytes_t b = {0};
  uint64_t ne[5] = {8, 1, 1, 1, 1};
  one_tensor(&b, 0, 1, ne, AZC_DTYPE_F32, 0, 32);
  EXPECT_GOOD(&b);
  /* name at 24, n_dims at 33, ne[0] at 37, type at 45, offset at 49 */
  const uint32_t bad_types[] = {4, 5, 99, AZC_DTYPE_COUNT, 0xffffffffu};
  for (int i = 0; i < 5; i++) {
    one_tensor(&b, 0, 1, ne, bad_types[i], 0, 32);
    EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 45: tensor 'w': invalid tensor type id %u",
               bad_types[i]);
  }
  one_tensor(&b, 0, 5, ne, AZC_DTYPE_F32, 0, 32);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 33: tensor 'w': 5 dimensions, at most 4 supported");
  b_header(&b, 3, 1, 0);
  b_str(&b, "w");
  b_u32(&b, 0xffffffffu);
  b_zeros(&b, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 33: tensor 'w': 4294967295 dimensions, at most 4 supported");

  /* dimensions whose product overflows */
  uint64_t big[2] = {UINT64_C(1) << 32, UINT64_C(1) << 32};
  one_tensor(&b, 0, 2, big, AZC_DTYPE_F32, 0, 0);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 45: tensor 'w': dimension 1 = 4294967296 overflows");
  uint64_t neg[1] = {UINT64_C(1) << 63};
  one_tensor(&b, 0, 1, neg, AZC_DTYPE_F32, 0, 0);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 37: tensor 'w': dimension 0 = 9223372036854775808 overflows");
  /* element counts that fit but byte sizes that do not */
  uint64_t wide[1] = {UINT64_C(1) << 62};
  one_tensor(&b, 0, 1, wide, AZC_DTYPE_F32, 0, 0);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: tensor 'w': byte size overflows");
  uint64_t tall[2] = {UINT64_C(1) << 61, 2};
  one_tensor(&b, 0, 2, tall, AZC_DTYPE_F32, 0, 0);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: tensor 'w': byte size overflows");

  /* a row that is not whole blocks */
  uint64_t q33[2] = {33, 1};
  one_tensor(&b, 0, 2, q33, AZC_DTYPE_Q8_0, 0, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 53: tensor 'w': row length 33 is not a multiple of the Q8_0 block "
             "size 32");
  uint64_t q64[2] = {64, 1};
  one_tensor(&b, 0, 2, q64, AZC_DTYPE_Q8_0, 0, 68);
  EXPECT_GOOD(&b);

  /* offsets: unaligned, past the end, overflowing */
  one_tensor(&b, 0, 1, ne, AZC_DTYPE_F32, 8, 64);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 49: tensor 'w': data offset 8 is not a multiple of the alignment 32");
  /* the key takes bytes 24..57; the tensor info 57..90 (its offset at 82) */
  one_tensor(&b, 64, 1, ne, AZC_DTYPE_F32, 32, 128);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 82: tensor 'w': data offset 32 is not a multiple of the alignment 64");
  one_tensor(&b, 64, 1, ne, AZC_DTYPE_F32, 64, 95);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 57: tensor 'w': data [192, +32) runs past the end of the file (223 "
             "bytes)");
  one_tensor(&b, 64, 1, ne, AZC_DTYPE_F32, 64, 96);
  EXPECT_GOOD(&b);
  one_tensor(&b, 0, 1, ne, AZC_DTYPE_F32, 0, 31);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: tensor 'w': data [64, +32) runs past the end of the file (95 "
             "bytes)");
  one_tensor(&b, 0, 1, ne, AZC_DTYPE_F32, UINT64_MAX - 31, 32);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: tensor 'w': data offset 18446744073709551584 (+32 bytes) "
             "overflows");
  b_header(&b, 3, 1, 0);
  b_tensor(&b, "w", 1, ne, AZC_DTYPE_F32, 0); /* no padding, no data */
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 57: tensor data section starts past the end of the file");

  /* names */
  b_header(&b, 3, 2, 0);
  b_tensor(&b, "w", 1, ne, AZC_DTYPE_F32, 0);
  b_tensor(&b, "w", 1, ne, AZC_DTYPE_F32, 32);
  b_pad(&b, 32);
  b_zeros(&b, 64);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 57: tensor 'w': duplicate tensor name");
  b_header(&b, 3, 1, 0);
  b_tensor(&b, "", 1, ne, AZC_DTYPE_F32, 0);
  b_pad(&b, 32);
  b_zeros(&b, 32);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: tensor 0: invalid name (0 bytes)");
  b_header(&b, 3, 1, 0);
  b_u64(&b, 3);
  b_put(&b, "a\0b", 3);
  b_u32(&b, 1);
  b_u64(&b, 8);
  b_u32(&b, AZC_DTYPE_F32);
  b_u64(&b, 0);
  b_pad(&b, 32);
  b_zeros(&b, 32);
  EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte 24: tensor 0: invalid name (3 bytes)");
  b_header(&b, 3, 1, 0);
  b_u64(&b, UINT64_C(1) << 62);
  b_zeros(&b, 40);
  EXPECT_BAD(&b, AZC_CORRUPT,
             "bad.gguf: byte 24: tensor info 0 name: string length 4611686018427387904 exceeds "
             "the 40 bytes left");
  free(b.data);
}

/* Duplicate keys and tensor names are found in linear time: 200,000 keys
 * and 100,000 tensors (quadratic checks took minutes) parse quickly, and a
 * duplicate of the first name, placed last, is still caught. */
static void test_many_names(void) {
  enum { N_KEYS = 200000, N_TENSORS = 100000 };
  bytes_t b = {0};
  uint64_t ne[1] = {8};
  char name[32];
  for (int dup = 0; dup < 3; dup++) {
    b_header(&b, 3, N_TENSORS, N_KEYS);
    size_t last_key = 0, last_info = 0;
    for (int i = 0; i < N_KEYS; i++) {
      snprintf(name, sizeof(name), "key.%d", dup == 1 && i == N_KEYS - 1 ? 0 : i);
      last_key = b.size;
      b_str(&b, name);
      b_u32(&b, AZC_GGUF_UINT8);
      b_put(&b, "x", 1);
    }
    for (int i = 0; i < N_TENSORS; i++) {
      snprintf(name, sizeof(name), "blk.%d.w", dup == 2 && i == N_TENSORS - 1 ? 0 : i);
      last_info = b.size;
      b_tensor(&b, name, 1, ne, AZC_DTYPE_F32, 0);
    }
    b_pad(&b, 32);
    b_zeros(&b, 32);
    double t0 = azc_time_ms();
    if (dup == 0)
      EXPECT_GOOD(&b);
    else if (dup == 1)
      EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte %zu: key 'key.0': duplicate key", last_key);
    else
      EXPECT_BAD(&b, AZC_CORRUPT, "bad.gguf: byte %zu: tensor 'blk.0.w': duplicate tensor name",
                 last_info);
    double ms = azc_time_ms() - t0;
    ASSERT_MSG(ms < 10000, "parsing %zu bytes with %d keys and %d tensors took %.0f ms", b.size,
               N_KEYS, N_TENSORS, ms);
  }
  free(b.data);
}

static void test_open_errors(void) {
  char path[512];
  fixture_path(path, sizeof(path), "empty.gguf");
  FILE *fp = fopen(path, "wb");
  ASSERT(fp != NULL);
  fclose(fp);
  azc_gguf_t *g = (azc_gguf_t *)path;
  char want[600];
  snprintf(want, sizeof(want), "%s: byte 0: file of 0 bytes is too small to be GGUF", path);
  ASSERT_ERR(azc_gguf_open(path, &g), AZC_CORRUPT, want);
  ASSERT(g == NULL);
  ASSERT_ERR(azc_gguf_open(test_tmp_dir(), &g), AZC_IO, "not a regular file");
  fixture_path(path, sizeof(path), "no-such-file.gguf");
  ASSERT_ERR(azc_gguf_open(path, &g), AZC_NOT_FOUND, path);
  ASSERT(g == NULL);
}

int main(void) {
  heap_hooks_install();
  RUN(test_round_trip);
  RUN(test_getters);
  RUN(test_copy_is_identical);
  RUN(test_writer_alignment_key);
  RUN(test_writer_refuses);
  RUN(test_real_files);
  RUN(test_stories260k);
  RUN(test_gpt2_q8);
  RUN(test_truncated_everywhere);
  RUN(test_every_header_byte_changed);
  RUN(test_bad_header);
  RUN(test_bad_metadata);
  RUN(test_bad_tensors);
  RUN(test_many_names);
  RUN(test_open_errors);
  return test_summary();
}
