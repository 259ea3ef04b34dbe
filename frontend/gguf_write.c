/* GGUF writer (see gguf.h). Metadata values are serialized into one growing
 * byte buffer per key as they are set (so nested arrays copied from another
 * file need no second representation); tensors are laid out in the order they
 * were added, each at an offset aligned to general.alignment, as llama.cpp
 * writes and expects them. */
#include "frontend/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
  uint8_t *data;
  size_t size, cap;
  int oom;
} buf_t;

static void buf_put(buf_t *b, const void *p, size_t n) {
  if (b->oom || n == 0) return; /* p may be NULL for an empty array */
  if (b->size + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->size + n) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->size, p, n);
  b->size += n;
}
static void put_u32(buf_t *b, uint32_t v) { buf_put(b, &v, 4); }
static void put_u64(buf_t *b, uint64_t v) { buf_put(b, &v, 8); }
static void put_str(buf_t *b, const char *s, size_t n) {
  put_u64(b, n);
  buf_put(b, s, n);
}

typedef struct wkv {
  char *key;
  buf_t value; /* type id + value bytes */
} wkv_t;

typedef struct wtensor {
  char *name;
  azc_dtype_t type;
  uint32_t n_dims;
  int64_t ne[AZC_GGUF_MAX_DIMS];
  const void *data;
  uint64_t size;
  azc_gguf_fill_fn_t fill; /* when set, produces the data at write time */
  void *fill_user;
} wtensor_t;

struct azc_gguf_writer {
  wkv_t *kv;
  size_t n_kv, cap_kv;
  wtensor_t *tensors;
  size_t n_tensors, cap_tensors;
  uint32_t alignment;
};

azc_status_t azc_gguf_writer_create(azc_gguf_writer_t **out) {
  *out = calloc(1, sizeof(**out));
  if (!*out) return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer");
  (*out)->alignment = AZC_GGUF_DEFAULT_ALIGNMENT;
  return NULL;
}

void azc_gguf_writer_destroy(azc_gguf_writer_t *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n_kv; i++) {
    free(w->kv[i].key);
    free(w->kv[i].value.data);
  }
  for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
  free(w->kv);
  free(w->tensors);
  free(w);
}

/* Returns the (emptied) value buffer for key, adding the key if new. */
static azc_status_t slot(azc_gguf_writer_t *w, const char *key, buf_t **out) {
  for (size_t i = 0; i < w->n_kv; i++)
    if (!strcmp(w->kv[i].key, key)) {
      w->kv[i].value.size = 0;
      *out = &w->kv[i].value;
      return NULL;
    }
  if (w->n_kv == w->cap_kv) {
    size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
    wkv_t *kv = realloc(w->kv, cap * sizeof(*kv));
    if (!kv) return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key);
    w->kv = kv;
    w->cap_kv = cap;
  }
  wkv_t *kv = &w->kv[w->n_kv];
  memset(kv, 0, sizeof(*kv));
  kv->key = strdup(key);
  if (!kv->key) return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key);
  w->n_kv++;
  *out = &kv->value;
  return NULL;
}

static azc_status_t set_scalar(azc_gguf_writer_t *w, const char *key, azc_gguf_type_t t,
                               const void *p, size_t n) {
  buf_t *b;
  AZC_RETURN_IF_ERROR(slot(w, key, &b));
  put_u32(b, t);
  buf_put(b, p, n);
  return b->oom ? AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key) : NULL;
}

azc_status_t azc_gguf_writer_set_u32(azc_gguf_writer_t *w, const char *key, uint32_t v) {
  return set_scalar(w, key, AZC_GGUF_UINT32, &v, 4);
}
azc_status_t azc_gguf_writer_set_i32(azc_gguf_writer_t *w, const char *key, int32_t v) {
  return set_scalar(w, key, AZC_GGUF_INT32, &v, 4);
}
azc_status_t azc_gguf_writer_set_u64(azc_gguf_writer_t *w, const char *key, uint64_t v) {
  return set_scalar(w, key, AZC_GGUF_UINT64, &v, 8);
}
azc_status_t azc_gguf_writer_set_f32(azc_gguf_writer_t *w, const char *key, float v) {
  return set_scalar(w, key, AZC_GGUF_FLOAT32, &v, 4);
}
azc_status_t azc_gguf_writer_set_bool(azc_gguf_writer_t *w, const char *key, bool v) {
  uint8_t b = v ? 1 : 0;
  return set_scalar(w, key, AZC_GGUF_BOOL, &b, 1);
}

azc_status_t azc_gguf_writer_set_str(azc_gguf_writer_t *w, const char *key, const char *v) {
  buf_t *b;
  AZC_RETURN_IF_ERROR(slot(w, key, &b));
  put_u32(b, AZC_GGUF_STRING);
  put_str(b, v, strlen(v));
  return b->oom ? AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key) : NULL;
}

azc_status_t azc_gguf_writer_set_arr(azc_gguf_writer_t *w, const char *key,
                                     azc_gguf_type_t elem_type, const void *data, uint64_t count) {
  size_t es = azc_gguf_type_size(elem_type);
  if (!es)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "gguf writer: key '%s': %s is not a numeric element type",
                   key, azc_gguf_type_name(elem_type));
  buf_t *b;
  AZC_RETURN_IF_ERROR(slot(w, key, &b));
  put_u32(b, AZC_GGUF_ARRAY);
  put_u32(b, elem_type);
  put_u64(b, count);
  buf_put(b, data, (size_t)count * es);
  return b->oom ? AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key) : NULL;
}

azc_status_t azc_gguf_writer_set_arr_str(azc_gguf_writer_t *w, const char *key,
                                         const azc_strview_t *strs, uint64_t count) {
  buf_t *b;
  AZC_RETURN_IF_ERROR(slot(w, key, &b));
  put_u32(b, AZC_GGUF_ARRAY);
  put_u32(b, AZC_GGUF_STRING);
  put_u64(b, count);
  for (uint64_t i = 0; i < count; i++) put_str(b, strs[i].data, strs[i].size);
  return b->oom ? AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key) : NULL;
}

/* Serializes a value's payload (without its type id for array items of a
 * known element type). */
static void put_value(buf_t *b, const azc_gguf_value_t *v) {
  size_t es = azc_gguf_type_size(v->type);
  if (es) {
    uint8_t tmp[8];
    switch (v->type) {
    case AZC_GGUF_FLOAT32: {
      float f = (float)v->v.f;
      memcpy(tmp, &f, 4);
      break;
    }
    case AZC_GGUF_FLOAT64: memcpy(tmp, &v->v.f, 8); break;
    default: memcpy(tmp, &v->v.u, 8); break; /* little-endian: low bytes first */
    }
    buf_put(b, tmp, es);
  } else if (v->type == AZC_GGUF_STRING) {
    put_str(b, v->v.str.data, v->v.str.size);
  } else if (v->type == AZC_GGUF_ARRAY) {
    azc_gguf_type_t et = v->v.arr.elem_type;
    put_u32(b, et);
    put_u64(b, v->v.arr.count);
    size_t ees = azc_gguf_type_size(et);
    if (ees)
      buf_put(b, v->v.arr.data, (size_t)v->v.arr.count * ees);
    else if (et == AZC_GGUF_STRING)
      for (uint64_t i = 0; i < v->v.arr.count; i++)
        put_str(b, v->v.arr.strs[i].data, v->v.arr.strs[i].size);
    else
      for (uint64_t i = 0; i < v->v.arr.count; i++) put_value(b, &v->v.arr.items[i]);
  }
}

azc_status_t azc_gguf_writer_set_value(azc_gguf_writer_t *w, const char *key,
                                       const azc_gguf_value_t *v) {
  if ((unsigned)v->type >= AZC_GGUF_TYPE_COUNT)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "gguf writer: key '%s': bad value type", key);
  buf_t *b;
  AZC_RETURN_IF_ERROR(slot(w, key, &b));
  put_u32(b, v->type);
  put_value(b, v);
  return b->oom ? AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", key) : NULL;
}

azc_status_t azc_gguf_writer_add_tensor(azc_gguf_writer_t *w, const char *name, azc_dtype_t type,
                                        uint32_t n_dims, const int64_t *ne, const void *data,
                                        uint64_t size) {
  const azc_dtype_info_t *ti = azc_dtype_info(type);
  if (!ti) return AZC_ERR(AZC_INVALID_ARGUMENT, "tensor '%s': bad type %d", name, (int)type);
  if (n_dims == 0 || n_dims > AZC_GGUF_MAX_DIMS)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tensor '%s': %u dimensions", name, n_dims);
  uint64_t nelem = 1;
  for (uint32_t d = 0; d < n_dims; d++)
    if (ne[d] < 0 || azc_mul_overflow_u64(nelem, (uint64_t)ne[d], &nelem) ||
        nelem > (uint64_t)INT64_MAX)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tensor '%s': dimension %u = %" PRId64 " is invalid",
                     name, d, ne[d]);
  if (ne[0] % ti->block_size)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "tensor '%s': row length %" PRId64 " not a multiple of %d",
                   name, ne[0], ti->block_size);
  uint64_t expect = nelem / (uint64_t)ti->block_size * (uint64_t)ti->type_size;
  if (expect != size)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "tensor '%s': %" PRIu64 " bytes given, %s shape needs %" PRIu64, name, size,
                   ti->name, expect);
  for (size_t i = 0; i < w->n_tensors; i++)
    if (!strcmp(w->tensors[i].name, name))
      return AZC_ERR(AZC_INVALID_ARGUMENT, "tensor '%s' added twice", name);
  if (w->n_tensors == w->cap_tensors) {
    size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
    wtensor_t *t = realloc(w->tensors, cap * sizeof(*t));
    if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: tensor '%s'", name);
    w->tensors = t;
    w->cap_tensors = cap;
  }
  wtensor_t *t = &w->tensors[w->n_tensors];
  memset(t, 0, sizeof(*t));
  t->name = strdup(name);
  if (!t->name) return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: tensor '%s'", name);
  t->type = type;
  t->n_dims = n_dims;
  for (int d = 0; d < AZC_GGUF_MAX_DIMS; d++) t->ne[d] = d < (int)n_dims ? ne[d] : 1;
  t->data = data;
  t->size = size;
  w->n_tensors++;
  return NULL;
}

azc_status_t azc_gguf_writer_add_tensor_fill(azc_gguf_writer_t *w, const char *name,
                                             azc_dtype_t type, uint32_t n_dims, const int64_t *ne,
                                             uint64_t size, azc_gguf_fill_fn_t fill, void *user) {
  static const uint8_t none[1];
  AZC_RETURN_IF_ERROR(azc_gguf_writer_add_tensor(w, name, type, n_dims, ne, none, size));
  w->tensors[w->n_tensors - 1].fill = fill;
  w->tensors[w->n_tensors - 1].fill_user = user;
  return NULL;
}

void azc_gguf_writer_set_alignment(azc_gguf_writer_t *w, uint32_t alignment) {
  w->alignment = alignment ? alignment : AZC_GGUF_DEFAULT_ALIGNMENT;
}

static bool has_key(const azc_gguf_writer_t *w, const char *key) {
  for (size_t i = 0; i < w->n_kv; i++)
    if (!strcmp(w->kv[i].key, key)) return true;
  return false;
}

static azc_status_t write_all(azc_gguf_writer_t *w, azc_atomic_file_t *f) {
  if ((w->alignment & (w->alignment - 1)) != 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "alignment %u is not a power of two", w->alignment);
  /* the key must state the padding actually written, also when it was set or
   * copied from another file with a different value */
  if (w->alignment != AZC_GGUF_DEFAULT_ALIGNMENT || has_key(w, "general.alignment"))
    AZC_RETURN_IF_ERROR(azc_gguf_writer_set_u32(w, "general.alignment", w->alignment));
  buf_t h = {0};
  put_u32(&h, AZC_GGUF_MAGIC);
  put_u32(&h, 3);
  put_u64(&h, w->n_tensors);
  put_u64(&h, w->n_kv);
  for (size_t i = 0; i < w->n_kv; i++) {
    put_str(&h, w->kv[i].key, strlen(w->kv[i].key));
    buf_put(&h, w->kv[i].value.data, w->kv[i].value.size);
  }
  uint64_t off = 0;
  for (size_t i = 0; i < w->n_tensors; i++) {
    wtensor_t *t = &w->tensors[i];
    put_str(&h, t->name, strlen(t->name));
    put_u32(&h, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&h, (uint64_t)t->ne[d]);
    put_u32(&h, t->type);
    put_u64(&h, off);
    off = azc_align_up(off + t->size, w->alignment);
  }
  if (h.oom) {
    free(h.data);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: header");
  }
  azc_status_t st = azc_atomic_file_write(f, h.data, h.size);
  free(h.data);
  AZC_RETURN_IF_ERROR(st);
  AZC_RETURN_IF_ERROR(azc_atomic_file_pad(f, w->alignment));
  for (size_t i = 0; i < w->n_tensors; i++) {
    wtensor_t *t = &w->tensors[i];
    if (t->fill) {
      void *buf = malloc(t->size ? (size_t)t->size : 1);
      if (!buf)
        return AZC_ERR(AZC_OUT_OF_MEMORY, "tensor '%s': %" PRIu64 " bytes", t->name, t->size);
      azc_status_t fst = t->fill(t->fill_user, t->name, buf, t->size);
      if (!fst) fst = azc_atomic_file_write(f, buf, t->size);
      free(buf);
      AZC_RETURN_IF_ERROR_CTX(fst, "tensor '%s'", t->name);
    } else {
      AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, t->data, t->size));
    }
    AZC_RETURN_IF_ERROR(azc_atomic_file_pad(f, w->alignment));
  }
  return NULL;
}

azc_status_t azc_gguf_writer_write(azc_gguf_writer_t *w, const char *path) {
  for (size_t i = 0; i < w->n_kv; i++)
    if (w->kv[i].value.oom)
      return AZC_ERR(AZC_OUT_OF_MEMORY, "gguf writer: key '%s'", w->kv[i].key);
  azc_atomic_file_t f;
  AZC_RETURN_IF_ERROR(azc_atomic_file_open(path, &f));
  f.no_fsync = 1; /* model files are large and derived (like llama.cpp's quantize, no fsync) */
  azc_status_t st = write_all(w, &f);
  if (st) {
    azc_atomic_file_abort(&f);
    return azc_status_wrap(st, "writing %s", path);
  }
  return azc_atomic_file_commit(&f);
}
