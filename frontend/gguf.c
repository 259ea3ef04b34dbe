/* GGUF reader (see gguf.h). A cursor walks the mapped bytes; every read is
 * bounds-checked first, and every count is checked against the bytes left
 * (each element needs at least a known number of bytes) before any table is
 * allocated, so memory use is bounded by a small multiple of the file size.
 * Messages say "<file>: byte <offset>: <what>: <problem>". */
#include "frontend/gguf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/hash.h"

enum { MAX_ARRAY_DEPTH = 8, MAX_NAME_LEN = 4096 };

typedef struct cursor {
  const uint8_t *base;
  size_t size, pos;
  const char *file;
  azc_arena_t *arena;
} cursor_t;

static size_t left(const cursor_t *c) { return c->size - c->pos; }

#define CUR_ERR(c, at, code, ...)                                                                  \
  azc_status_wrap(AZC_ERR(code, __VA_ARGS__), "%s: byte %zu", (c)->file, (size_t)(at))

static azc_status_t need(cursor_t *c, uint64_t n, const char *what) {
  if (n > left(c))
    return CUR_ERR(c, c->pos, AZC_CORRUPT, "%s: needs %" PRIu64 " bytes, only %zu left in file",
                   what, n, left(c));
  return NULL;
}

static azc_status_t rd_u32(cursor_t *c, uint32_t *v, const char *what) {
  AZC_RETURN_IF_ERROR(need(c, 4, what));
  *v = azc_load_u32le(c->base + c->pos);
  c->pos += 4;
  return NULL;
}

static azc_status_t rd_u64(cursor_t *c, uint64_t *v, const char *what) {
  AZC_RETURN_IF_ERROR(need(c, 8, what));
  *v = azc_load_u64le(c->base + c->pos);
  c->pos += 8;
  return NULL;
}

static azc_status_t rd_str(cursor_t *c, azc_strview_t *s, const char *what) {
  uint64_t n;
  size_t at = c->pos;
  AZC_RETURN_IF_ERROR(rd_u64(c, &n, what));
  if (n > left(c))
    return CUR_ERR(c, at, AZC_CORRUPT, "%s: string length %" PRIu64 " exceeds the %zu bytes left",
                   what, n, left(c));
  s->data = (const char *)c->base + c->pos;
  s->size = (size_t)n;
  c->pos += (size_t)n;
  return NULL;
}

size_t azc_gguf_type_size(azc_gguf_type_t t) {
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

const char *azc_gguf_type_name(azc_gguf_type_t t) {
  static const char *names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                "int32",  "float32", "bool",   "string", "array",
                                "uint64", "int64",   "float64"};
  return (unsigned)t < AZC_GGUF_TYPE_COUNT ? names[t] : "invalid";
}

/* Decodes one scalar at p into v (type already set). */
static void load_scalar(azc_gguf_value_t *v, const uint8_t *p) {
  switch (v->type) {
  case AZC_GGUF_UINT8: v->v.u = p[0]; break;
  case AZC_GGUF_BOOL: v->v.u = p[0] != 0; break;
  case AZC_GGUF_INT8: v->v.i = (int8_t)p[0]; break;
  case AZC_GGUF_UINT16: v->v.u = azc_load_u16le(p); break;
  case AZC_GGUF_INT16: v->v.i = (int16_t)azc_load_u16le(p); break;
  case AZC_GGUF_UINT32: v->v.u = azc_load_u32le(p); break;
  case AZC_GGUF_INT32: v->v.i = (int32_t)azc_load_u32le(p); break;
  case AZC_GGUF_UINT64: v->v.u = azc_load_u64le(p); break;
  case AZC_GGUF_INT64: v->v.i = (int64_t)azc_load_u64le(p); break;
  case AZC_GGUF_FLOAT32: {
    float f;
    memcpy(&f, p, 4);
    v->v.f = f;
    break;
  }
  case AZC_GGUF_FLOAT64: memcpy(&v->v.f, p, 8); break;
  default: break;
  }
}

static azc_status_t rd_value(cursor_t *c, azc_gguf_type_t type, azc_gguf_value_t *v, int depth,
                             const char *what);

static azc_status_t rd_array(cursor_t *c, azc_gguf_value_t *v, int depth, const char *what) {
  size_t at = c->pos;
  uint32_t et;
  uint64_t n;
  AZC_RETURN_IF_ERROR(rd_u32(c, &et, what));
  AZC_RETURN_IF_ERROR(rd_u64(c, &n, what));
  if (et >= AZC_GGUF_TYPE_COUNT)
    return CUR_ERR(c, at, AZC_CORRUPT, "%s: invalid array element type %u", what, et);
  if (depth >= MAX_ARRAY_DEPTH)
    return CUR_ERR(c, at, AZC_CORRUPT, "%s: arrays nested deeper than %d", what, MAX_ARRAY_DEPTH);
  v->v.arr.elem_type = (azc_gguf_type_t)et;
  v->v.arr.count = n;
  size_t es = azc_gguf_type_size((azc_gguf_type_t)et);
  /* minimum bytes per element: its size, 8 for a string length, 12 for an array header */
  uint64_t min_elem = es ? es : (et == AZC_GGUF_STRING ? 8 : 12), total;
  if (azc_mul_overflow_u64(n, min_elem, &total) || total > left(c))
    return CUR_ERR(c, at, AZC_CORRUPT,
                   "%s: array of %" PRIu64 " %s elements does not fit in the %zu bytes left", what,
                   n, azc_gguf_type_name((azc_gguf_type_t)et), left(c));
  if (es) {
    v->v.arr.data = c->base + c->pos;
    c->pos += (size_t)total;
    return NULL;
  }
  if (et == AZC_GGUF_STRING) {
    azc_strview_t *s = n ? azc_arena_alloc(c->arena, (size_t)n * sizeof(*s), 8) : NULL;
    if (n && !s) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: %s: out of memory", c->file, what);
    for (uint64_t i = 0; i < n; i++) AZC_RETURN_IF_ERROR(rd_str(c, &s[i], what));
    v->v.arr.strs = s;
    return NULL;
  }
  azc_gguf_value_t *items = n ? azc_arena_alloc(c->arena, (size_t)n * sizeof(*items), 8) : NULL;
  if (n && !items) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: %s: out of memory", c->file, what);
  for (uint64_t i = 0; i < n; i++)
    AZC_RETURN_IF_ERROR(rd_value(c, AZC_GGUF_ARRAY, &items[i], depth + 1, what));
  v->v.arr.items = items;
  return NULL;
}

static azc_status_t rd_value(cursor_t *c, azc_gguf_type_t type, azc_gguf_value_t *v, int depth,
                             const char *what) {
  v->type = type;
  size_t es = azc_gguf_type_size(type);
  if (es) {
    AZC_RETURN_IF_ERROR(need(c, es, what));
    load_scalar(v, c->base + c->pos);
    c->pos += es;
    return NULL;
  }
  if (type == AZC_GGUF_STRING) return rd_str(c, &v->v.str, what);
  if (type == AZC_GGUF_ARRAY) return rd_array(c, v, depth, what);
  return CUR_ERR(c, c->pos, AZC_CORRUPT, "%s: invalid value type %u", what, (unsigned)type);
}

/* A set of names (open addressing, in the arena) so that duplicate keys and
 * tensor names are found in linear time: a crafted file with a million keys
 * must not cost a million squared comparisons. */
typedef struct name_set {
  azc_strview_t *slots; /* data == NULL: empty */
  size_t mask;
} name_set_t;

static bool name_set_init(name_set_t *s, azc_arena_t *arena, uint64_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2; /* n is bounded by the file size */
  s->mask = cap - 1;
  s->slots = azc_arena_alloc(arena, cap * sizeof(*s->slots), 8);
  return s->slots != NULL;
}

/* Adds a name; false when an equal one was added before. */
static bool name_set_add(name_set_t *s, azc_strview_t name) {
  size_t i = (size_t)azc_hash64(name.data, name.size) & s->mask;
  for (; s->slots[i].data; i = (i + 1) & s->mask)
    if (s->slots[i].size == name.size && !memcmp(s->slots[i].data, name.data, name.size))
      return false;
  s->slots[i] = name;
  return true;
}

static void key_label(char *buf, size_t cap, azc_strview_t key) {
  int n = key.size > 200 ? 200 : (int)key.size;
  snprintf(buf, cap, "key '%.*s'", n, key.data);
}

static azc_status_t parse(azc_gguf_t *g) {
  cursor_t c = {g->base, g->size, 0, g->name, &g->arena};
  uint32_t magic, version;
  if (g->size < 4)
    return CUR_ERR(&c, 0, AZC_CORRUPT, "file of %zu bytes is too small to be GGUF", g->size);
  magic = azc_load_u32le(g->base);
  if (magic != AZC_GGUF_MAGIC)
    return CUR_ERR(&c, 0, AZC_CORRUPT,
                   "not a GGUF file (magic %02x %02x %02x %02x, expected 'GGUF')", g->base[0],
                   g->base[1], g->base[2], g->base[3]);
  c.pos = 4;
  AZC_RETURN_IF_ERROR(rd_u32(&c, &version, "header version"));
  if (version == 1)
    return CUR_ERR(&c, 4, AZC_UNSUPPORTED,
                   "GGUF version 1 is not supported (azc reads versions 2 and 3)");
  if (version == 0x02000000u || version == 0x03000000u)
    return CUR_ERR(&c, 4, AZC_UNSUPPORTED, "big-endian GGUF is not supported");
  if (version != 2 && version != 3)
    return CUR_ERR(&c, 4, AZC_UNSUPPORTED, "unknown GGUF version %u (azc reads versions 2 and 3)",
                   version);
  g->version = version;
  uint64_t n_tensors, n_kv;
  AZC_RETURN_IF_ERROR(rd_u64(&c, &n_tensors, "header tensor count"));
  AZC_RETURN_IF_ERROR(rd_u64(&c, &n_kv, "header metadata count"));
  /* a key-value pair takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 4 + 8 */
  if (n_kv > left(&c) / 13)
    return CUR_ERR(&c, 16, AZC_CORRUPT,
                   "metadata count %" PRIu64 " cannot fit in a file of %zu bytes", n_kv, g->size);
  if (n_tensors > left(&c) / 24)
    return CUR_ERR(&c, 8, AZC_CORRUPT, "tensor count %" PRIu64 " cannot fit in a file of %zu bytes",
                   n_tensors, g->size);
  g->n_kv = n_kv;
  g->n_tensors = n_tensors;
  g->kv = n_kv ? azc_arena_alloc(&g->arena, (size_t)n_kv * sizeof(*g->kv), 8) : NULL;
  g->tensors =
      n_tensors ? azc_arena_alloc(&g->arena, (size_t)n_tensors * sizeof(*g->tensors), 8) : NULL;
  name_set_t names;
  if ((n_kv && !g->kv) || (n_tensors && !g->tensors) ||
      !name_set_init(&names, &g->arena, AZC_MAX(n_kv, n_tensors)))
    return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory for the tables", g->name);

  g->alignment = AZC_GGUF_DEFAULT_ALIGNMENT;
  for (uint64_t i = 0; i < n_kv; i++) {
    azc_gguf_kv_t *kv = &g->kv[i];
    kv->offset = c.pos;
    char label[256];
    snprintf(label, sizeof(label), "metadata entry %" PRIu64 " key", i);
    AZC_RETURN_IF_ERROR(rd_str(&c, &kv->key, label));
    key_label(label, sizeof(label), kv->key);
    if (kv->key.size == 0)
      return CUR_ERR(&c, kv->offset, AZC_CORRUPT, "metadata entry %" PRIu64 " has an empty key", i);
    if (!name_set_add(&names, kv->key))
      return CUR_ERR(&c, kv->offset, AZC_CORRUPT, "%s: duplicate key", label);
    uint32_t type;
    size_t type_at = c.pos;
    AZC_RETURN_IF_ERROR(rd_u32(&c, &type, label));
    if (type >= AZC_GGUF_TYPE_COUNT)
      return CUR_ERR(&c, type_at, AZC_CORRUPT, "%s: invalid value type %u", label, type);
    AZC_RETURN_IF_ERROR(rd_value(&c, (azc_gguf_type_t)type, &kv->value, 0, label));
    if (azc_strview_eq(kv->key, "general.alignment")) {
      if (kv->value.type != AZC_GGUF_UINT32)
        return CUR_ERR(&c, kv->offset, AZC_CORRUPT,
                       "general.alignment has type %s, expected uint32",
                       azc_gguf_type_name(kv->value.type));
      uint64_t a = kv->value.v.u;
      if (a == 0 || (a & (a - 1)) != 0)
        return CUR_ERR(&c, kv->offset, AZC_CORRUPT,
                       "general.alignment %" PRIu64 " is not a power of two", a);
      g->alignment = a;
    }
  }

  memset(names.slots, 0, (names.mask + 1) * sizeof(*names.slots)); /* now for tensor names */
  for (uint64_t i = 0; i < n_tensors; i++) {
    azc_gguf_tensor_t *t = &g->tensors[i];
    t->info_offset = c.pos;
    char label[320];
    snprintf(label, sizeof(label), "tensor info %" PRIu64 " name", i);
    azc_strview_t name;
    AZC_RETURN_IF_ERROR(rd_str(&c, &name, label));
    if (name.size == 0 || name.size > MAX_NAME_LEN || memchr(name.data, 0, name.size))
      return CUR_ERR(&c, t->info_offset, AZC_CORRUPT,
                     "tensor %" PRIu64 ": invalid name (%zu bytes)", i, name.size);
    t->name = azc_arena_strndup(&g->arena, name.data, name.size);
    if (!t->name) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", g->name);
    snprintf(label, sizeof(label), "tensor '%.200s'", t->name);
    if (!name_set_add(&names, name))
      return CUR_ERR(&c, t->info_offset, AZC_CORRUPT, "%s: duplicate tensor name", label);
    size_t dims_at = c.pos;
    AZC_RETURN_IF_ERROR(rd_u32(&c, &t->n_dims, label));
    if (t->n_dims > AZC_GGUF_MAX_DIMS)
      return CUR_ERR(&c, dims_at, AZC_CORRUPT, "%s: %u dimensions, at most %d supported", label,
                     t->n_dims, AZC_GGUF_MAX_DIMS);
    for (int d = 0; d < AZC_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    uint64_t nelem = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
      uint64_t ne;
      size_t at = c.pos;
      AZC_RETURN_IF_ERROR(rd_u64(&c, &ne, label));
      if (ne > (uint64_t)INT64_MAX || azc_mul_overflow_u64(nelem, ne, &nelem) ||
          nelem > (uint64_t)INT64_MAX)
        return CUR_ERR(&c, at, AZC_CORRUPT, "%s: dimension %u = %" PRIu64 " overflows", label, d,
                       ne);
      t->ne[d] = (int64_t)ne;
    }
    uint32_t type;
    size_t type_at = c.pos;
    AZC_RETURN_IF_ERROR(rd_u32(&c, &type, label));
    const azc_dtype_info_t *ti = azc_dtype_info(type);
    if (!ti) return CUR_ERR(&c, type_at, AZC_CORRUPT, "%s: invalid tensor type id %u", label, type);
    if (t->ne[0] % ti->block_size != 0)
      return CUR_ERR(&c, type_at, AZC_CORRUPT,
                     "%s: row length %" PRId64 " is not a multiple of the %s block size %d", label,
                     t->ne[0], ti->name, ti->block_size);
    t->type = (azc_dtype_t)type;
    uint64_t rows = nelem / (t->ne[0] ? (uint64_t)t->ne[0] : 1), row_bytes, size;
    if (t->ne[0] == 0) rows = 0;
    if (azc_mul_overflow_u64((uint64_t)t->ne[0] / (uint64_t)ti->block_size, (uint64_t)ti->type_size,
                             &row_bytes) ||
        azc_mul_overflow_u64(rows, row_bytes, &size))
      return CUR_ERR(&c, t->info_offset, AZC_CORRUPT, "%s: byte size overflows", label);
    t->size = size;
    size_t off_at = c.pos;
    AZC_RETURN_IF_ERROR(rd_u64(&c, &t->offset, label));
    if (t->offset % g->alignment != 0)
      return CUR_ERR(&c, off_at, AZC_CORRUPT,
                     "%s: data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                     label, t->offset, g->alignment);
  }
  g->data_offset = azc_align_up(c.pos, g->alignment);
  if (n_tensors && g->data_offset > g->size)
    return CUR_ERR(&c, c.pos, AZC_CORRUPT, "tensor data section starts past the end of the file");
  for (uint64_t i = 0; i < n_tensors; i++) {
    azc_gguf_tensor_t *t = &g->tensors[i];
    uint64_t start, end;
    if (azc_add_overflow_u64(g->data_offset, t->offset, &start) ||
        azc_add_overflow_u64(start, t->size, &end))
      return CUR_ERR(&c, t->info_offset, AZC_CORRUPT,
                     "tensor '%.200s': data offset %" PRIu64 " (+%" PRIu64 " bytes) overflows",
                     t->name, t->offset, t->size);
    if (end > g->size)
      return CUR_ERR(&c, t->info_offset, AZC_CORRUPT,
                     "tensor '%.200s': data [%" PRIu64 ", +%" PRIu64
                     ") runs past the end of the file (%zu bytes)",
                     t->name, g->data_offset + t->offset, t->size, g->size);
    t->data = g->base + start;
  }
  return NULL;
}

azc_status_t azc_gguf_parse(const uint8_t *data, size_t size, const char *name, azc_gguf_t **out) {
  *out = NULL;
  azc_gguf_t *g = calloc(1, sizeof(*g));
  if (!g) return AZC_ERR(AZC_OUT_OF_MEMORY, "out of memory");
  azc_arena_init(&g->arena, 64 * 1024);
  g->base = data;
  g->size = size;
  g->name = azc_arena_strdup(&g->arena, name ? name : "<memory>");
  azc_status_t st = g->name ? parse(g) : AZC_ERR(AZC_OUT_OF_MEMORY, "out of memory");
  if (st) {
    azc_gguf_close(g);
    return st;
  }
  *out = g;
  return NULL;
}

azc_status_t azc_gguf_open(const char *path, azc_gguf_t **out) {
  *out = NULL;
  azc_file_map_t map;
  AZC_RETURN_IF_ERROR(azc_file_map_open(path, &map));
  static const uint8_t empty[1];
  azc_status_t st = azc_gguf_parse(map.data ? map.data : empty, map.size, path, out);
  if (st) {
    azc_file_map_close(&map);
    return st;
  }
  (*out)->map = map;
  return NULL;
}

void azc_gguf_close(azc_gguf_t *g) {
  if (!g) return;
  if (g->map.path) azc_file_map_close(&g->map);
  azc_arena_free(&g->arena);
  free(g);
}

const azc_gguf_kv_t *azc_gguf_find(const azc_gguf_t *g, const char *key) {
  for (uint64_t i = 0; i < g->n_kv; i++)
    if (azc_strview_eq(g->kv[i].key, key)) return &g->kv[i];
  return NULL;
}

const azc_gguf_tensor_t *azc_gguf_find_tensor(const azc_gguf_t *g, const char *name) {
  for (uint64_t i = 0; i < g->n_tensors; i++)
    if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
  return NULL;
}

static azc_status_t find_or_err(const azc_gguf_t *g, const char *key, const azc_gguf_kv_t **kv) {
  *kv = azc_gguf_find(g, key);
  if (!*kv) return AZC_ERR(AZC_NOT_FOUND, "%s: missing metadata key '%s'", g->name, key);
  return NULL;
}

static bool is_int_type(azc_gguf_type_t t) {
  return t <= AZC_GGUF_INT32 || t == AZC_GGUF_UINT64 || t == AZC_GGUF_INT64 || t == AZC_GGUF_BOOL;
}
static bool is_signed_type(azc_gguf_type_t t) {
  return t == AZC_GGUF_INT8 || t == AZC_GGUF_INT16 || t == AZC_GGUF_INT32 || t == AZC_GGUF_INT64;
}

azc_status_t azc_gguf_get_i64(const azc_gguf_t *g, const char *key, int64_t *out) {
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  azc_gguf_type_t t = kv->value.type;
  if (!is_int_type(t) || t == AZC_GGUF_BOOL)
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' has type %s, expected an integer", g->name, key,
                   azc_gguf_type_name(t));
  if (!is_signed_type(t) && kv->value.v.u > (uint64_t)INT64_MAX)
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' value %" PRIu64 " is out of range", g->name, key,
                   kv->value.v.u);
  *out = is_signed_type(t) ? kv->value.v.i : (int64_t)kv->value.v.u;
  return NULL;
}

azc_status_t azc_gguf_get_u32(const azc_gguf_t *g, const char *key, uint32_t *out) {
  int64_t v;
  AZC_RETURN_IF_ERROR(azc_gguf_get_i64(g, key, &v));
  if (v < 0 || v > (int64_t)UINT32_MAX)
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' value %" PRId64 " is out of range", g->name, key, v);
  *out = (uint32_t)v;
  return NULL;
}

azc_status_t azc_gguf_get_f32(const azc_gguf_t *g, const char *key, float *out) {
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  azc_gguf_type_t t = kv->value.type;
  if (t == AZC_GGUF_FLOAT32 || t == AZC_GGUF_FLOAT64)
    *out = (float)kv->value.v.f;
  else if (is_int_type(t) && t != AZC_GGUF_BOOL)
    *out = is_signed_type(t) ? (float)kv->value.v.i : (float)kv->value.v.u;
  else
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' has type %s, expected a number", g->name, key,
                   azc_gguf_type_name(t));
  return NULL;
}

azc_status_t azc_gguf_get_bool(const azc_gguf_t *g, const char *key, bool *out) {
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  if (kv->value.type != AZC_GGUF_BOOL)
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' has type %s, expected bool", g->name, key,
                   azc_gguf_type_name(kv->value.type));
  *out = kv->value.v.u != 0;
  return NULL;
}

azc_status_t azc_gguf_get_str(const azc_gguf_t *g, const char *key, azc_strview_t *out) {
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  if (kv->value.type != AZC_GGUF_STRING)
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' has type %s, expected string", g->name, key,
                   azc_gguf_type_name(kv->value.type));
  *out = kv->value.v.str;
  return NULL;
}

azc_status_t azc_gguf_get_arr(const azc_gguf_t *g, const char *key, azc_gguf_type_t elem_type,
                              const azc_gguf_value_t **out) {
  *out = NULL;
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  if (kv->value.type != AZC_GGUF_ARRAY || kv->value.v.arr.elem_type != elem_type)
    return AZC_ERR(
        AZC_CORRUPT, "%s: key '%s' has type %s%s%s, expected array of %s", g->name, key,
        azc_gguf_type_name(kv->value.type), kv->value.type == AZC_GGUF_ARRAY ? " of " : "",
        kv->value.type == AZC_GGUF_ARRAY ? azc_gguf_type_name(kv->value.v.arr.elem_type) : "",
        azc_gguf_type_name(elem_type));
  *out = &kv->value;
  return NULL;
}

/* Reads element i of a numeric array as a double. */
static double arr_elem(const azc_gguf_value_t *v, uint64_t i) {
  azc_gguf_value_t e = {.type = v->v.arr.elem_type};
  load_scalar(&e, (const uint8_t *)v->v.arr.data + i * azc_gguf_type_size(e.type));
  if (e.type == AZC_GGUF_FLOAT32 || e.type == AZC_GGUF_FLOAT64) return e.v.f;
  return is_signed_type(e.type) ? (double)e.v.i : (double)e.v.u;
}

static azc_status_t numeric_arr(const azc_gguf_t *g, const char *key,
                                const azc_gguf_value_t **out) {
  const azc_gguf_kv_t *kv;
  AZC_RETURN_IF_ERROR(find_or_err(g, key, &kv));
  if (kv->value.type != AZC_GGUF_ARRAY || !azc_gguf_type_size(kv->value.v.arr.elem_type))
    return AZC_ERR(AZC_CORRUPT, "%s: key '%s' is not an array of numbers", g->name, key);
  *out = &kv->value;
  return NULL;
}

azc_status_t azc_gguf_copy_arr_i32(const azc_gguf_t *g, const char *key, int32_t **out,
                                   uint64_t *count) {
  *out = NULL;
  *count = 0;
  const azc_gguf_value_t *v;
  AZC_RETURN_IF_ERROR(numeric_arr(g, key, &v));
  uint64_t n = v->v.arr.count;
  int32_t *a = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
  if (!a) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: key '%s': out of memory", g->name, key);
  for (uint64_t i = 0; i < n; i++) {
    double d = arr_elem(v, i);
    if (!(d >= INT32_MIN && d <= INT32_MAX)) { /* NaN too: converting it is undefined */
      free(a);
      return AZC_ERR(AZC_CORRUPT, "%s: key '%s' element %" PRIu64 " out of int32 range", g->name,
                     key, i);
    }
    a[i] = (int32_t)d;
  }
  *out = a;
  *count = n;
  return NULL;
}

azc_status_t azc_gguf_copy_arr_f32(const azc_gguf_t *g, const char *key, float **out,
                                   uint64_t *count) {
  *out = NULL;
  *count = 0;
  const azc_gguf_value_t *v;
  AZC_RETURN_IF_ERROR(numeric_arr(g, key, &v));
  uint64_t n = v->v.arr.count;
  float *a = malloc((size_t)(n ? n : 1) * sizeof(float));
  if (!a) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: key '%s': out of memory", g->name, key);
  for (uint64_t i = 0; i < n; i++) a[i] = (float)arr_elem(v, i);
  *out = a;
  *count = n;
  return NULL;
}

azc_status_t azc_gguf_opt_i64(const azc_gguf_t *g, const char *key, int64_t def, int64_t *out) {
  if (!azc_gguf_find(g, key)) {
    *out = def;
    return NULL;
  }
  return azc_gguf_get_i64(g, key, out);
}

azc_status_t azc_gguf_opt_f32(const azc_gguf_t *g, const char *key, float def, float *out) {
  if (!azc_gguf_find(g, key)) {
    *out = def;
    return NULL;
  }
  return azc_gguf_get_f32(g, key, out);
}

azc_status_t azc_gguf_opt_bool(const azc_gguf_t *g, const char *key, int def, int *out) {
  if (!azc_gguf_find(g, key)) {
    *out = def;
    return NULL;
  }
  bool b;
  AZC_RETURN_IF_ERROR(azc_gguf_get_bool(g, key, &b));
  *out = b;
  return NULL;
}

static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
  if (*len >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n > 0) *len = AZC_MIN(cap, *len + (size_t)n);
}

static void append_str(char *buf, size_t cap, size_t *len, azc_strview_t s) {
  append(buf, cap, len, "\"");
  for (size_t i = 0; i < s.size && i < 120; i++) {
    unsigned char ch = (unsigned char)s.data[i];
    if (ch == '\n')
      append(buf, cap, len, "\\n");
    else if (ch == '"' || ch == '\\')
      append(buf, cap, len, "\\%c", ch);
    else if (ch < 0x20)
      append(buf, cap, len, "\\x%02x", ch);
    else
      append(buf, cap, len, "%c", ch);
  }
  if (s.size > 120) append(buf, cap, len, "...(%zu bytes)", s.size);
  append(buf, cap, len, "\"");
}

static void format_value(const azc_gguf_value_t *v, char *buf, size_t cap, size_t *len,
                         int max_items) {
  switch (v->type) {
  case AZC_GGUF_STRING: append_str(buf, cap, len, v->v.str); return;
  case AZC_GGUF_BOOL: append(buf, cap, len, "%s", v->v.u ? "true" : "false"); return;
  case AZC_GGUF_FLOAT32:
  case AZC_GGUF_FLOAT64: append(buf, cap, len, "%g", v->v.f); return;
  case AZC_GGUF_ARRAY: {
    uint64_t n = v->v.arr.count;
    append(buf, cap, len, "[");
    uint64_t shown = n < (uint64_t)max_items ? n : (uint64_t)max_items;
    for (uint64_t i = 0; i < shown; i++) {
      if (i) append(buf, cap, len, ", ");
      azc_gguf_type_t et = v->v.arr.elem_type;
      if (et == AZC_GGUF_STRING) {
        append_str(buf, cap, len, v->v.arr.strs[i]);
      } else if (et == AZC_GGUF_ARRAY) {
        format_value(&v->v.arr.items[i], buf, cap, len, max_items);
      } else {
        azc_gguf_value_t e = {.type = et};
        load_scalar(&e, (const uint8_t *)v->v.arr.data + i * azc_gguf_type_size(et));
        format_value(&e, buf, cap, len, max_items);
      }
    }
    if (shown < n)
      append(buf, cap, len, ", ... (%" PRIu64 " %s)", n, azc_gguf_type_name(v->v.arr.elem_type));
    append(buf, cap, len, "]");
    return;
  }
  default:
    if (is_signed_type(v->type))
      append(buf, cap, len, "%" PRId64, v->v.i);
    else
      append(buf, cap, len, "%" PRIu64, v->v.u);
  }
}

void azc_gguf_value_format(const azc_gguf_value_t *v, char *buf, size_t cap, int max_items) {
  size_t len = 0;
  if (cap) buf[0] = 0;
  format_value(v, buf, cap, &len, max_items);
  if (cap) buf[AZC_MIN(len, cap - 1)] = 0;
}
