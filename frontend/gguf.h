/* GGUF files: a validating reader over a read-only mmap, and a writer.
 *
 * Reader: versions 2 and 3 (little-endian). Every count, length, offset,
 * dimension and type id is checked against the file size and for overflow
 * before anything is allocated or read, so a damaged file yields a status that
 * names the key or tensor and the byte offset, never a crash or a huge
 * allocation. Metadata strings and tensor data stay in the mapping (borrowed);
 * the reader owns its tables in one arena.
 *
 * Writer: collects metadata and tensors (tensor data is borrowed until
 * azc_gguf_writer_write) and writes a version-3 file atomically, in the layout
 * llama.cpp reads. The tests make their fixtures with it. */
#ifndef AZC_FRONTEND_GGUF_H
#define AZC_FRONTEND_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/arena.h"
#include "runtime/base/file.h"
#include "runtime/base/status.h"
#include "runtime/base/util.h"
#include "runtime/quant.h"

#define AZC_GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define AZC_GGUF_DEFAULT_ALIGNMENT 32
#define AZC_GGUF_MAX_DIMS 4

typedef enum azc_gguf_type {
  AZC_GGUF_UINT8 = 0,
  AZC_GGUF_INT8 = 1,
  AZC_GGUF_UINT16 = 2,
  AZC_GGUF_INT16 = 3,
  AZC_GGUF_UINT32 = 4,
  AZC_GGUF_INT32 = 5,
  AZC_GGUF_FLOAT32 = 6,
  AZC_GGUF_BOOL = 7,
  AZC_GGUF_STRING = 8,
  AZC_GGUF_ARRAY = 9,
  AZC_GGUF_UINT64 = 10,
  AZC_GGUF_INT64 = 11,
  AZC_GGUF_FLOAT64 = 12,
  AZC_GGUF_TYPE_COUNT
} azc_gguf_type_t;

typedef struct azc_gguf_value azc_gguf_value_t;
struct azc_gguf_value {
  azc_gguf_type_t type;
  union {
    uint64_t u;        /* UINT8..UINT64, BOOL */
    int64_t i;         /* INT8..INT64 */
    double f;          /* FLOAT32, FLOAT64 */
    azc_strview_t str; /* STRING */
    struct {
      azc_gguf_type_t elem_type;
      uint64_t count;
      const void *data;              /* numeric/bool elements: raw little-endian, in the map */
      const azc_strview_t *strs;     /* STRING elements */
      const azc_gguf_value_t *items; /* ARRAY elements (nested arrays) */
    } arr;
  } v;
};

typedef struct azc_gguf_kv {
  azc_strview_t key;
  azc_gguf_value_t value;
  uint64_t offset; /* file offset of the key */
} azc_gguf_kv_t;

typedef struct azc_gguf_tensor {
  const char *name; /* NUL-terminated copy */
  uint32_t n_dims;
  int64_t ne[AZC_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the row length; unused = 1 */
  azc_dtype_t type;
  uint64_t offset;      /* relative to the data section */
  uint64_t size;        /* bytes */
  const uint8_t *data;  /* in the map */
  uint64_t info_offset; /* file offset of the tensor info */
} azc_gguf_tensor_t;

typedef struct azc_gguf {
  azc_file_map_t map; /* when opened from a file */
  const uint8_t *base;
  size_t size;
  const char *name; /* the file name used in messages */
  uint32_t version;
  uint64_t n_kv;
  azc_gguf_kv_t *kv;
  uint64_t n_tensors;
  azc_gguf_tensor_t *tensors;
  uint64_t alignment;
  uint64_t data_offset;
  azc_arena_t arena;
} azc_gguf_t;

azc_status_t azc_gguf_open(const char *path, azc_gguf_t **out);
/* Parses a file image in memory (borrowed for the life of the result). */
azc_status_t azc_gguf_parse(const uint8_t *data, size_t size, const char *name, azc_gguf_t **out);
void azc_gguf_close(azc_gguf_t *g);

const azc_gguf_kv_t *azc_gguf_find(const azc_gguf_t *g, const char *key);
const azc_gguf_tensor_t *azc_gguf_find_tensor(const azc_gguf_t *g, const char *name);
const char *azc_gguf_type_name(azc_gguf_type_t t);
/* Bytes of one value of a fixed-size type (1, 2, 4 or 8); 0 for STRING, ARRAY
 * and anything outside the enum. */
size_t azc_gguf_type_size(azc_gguf_type_t t);

/* Typed getters: NOT_FOUND when the key is absent (message names key and
 * file), CORRUPT when its type cannot convert or the value does not fit. */
azc_status_t azc_gguf_get_i64(const azc_gguf_t *g, const char *key, int64_t *out);
azc_status_t azc_gguf_get_u32(const azc_gguf_t *g, const char *key, uint32_t *out);
azc_status_t azc_gguf_get_f32(const azc_gguf_t *g, const char *key, float *out);
azc_status_t azc_gguf_get_bool(const azc_gguf_t *g, const char *key, bool *out);
azc_status_t azc_gguf_get_str(const azc_gguf_t *g, const char *key, azc_strview_t *out);
/* Array getter: the key must hold an array of elem_type (any numeric type is
 * accepted for AZC_GGUF_INT32/FLOAT32 requests by the copy helpers below). */
azc_status_t azc_gguf_get_arr(const azc_gguf_t *g, const char *key, azc_gguf_type_t elem_type,
                              const azc_gguf_value_t **out);
/* Copies a numeric array into a malloc'd int32/float array (converting). */
azc_status_t azc_gguf_copy_arr_i32(const azc_gguf_t *g, const char *key, int32_t **out,
                                   uint64_t *count);
azc_status_t azc_gguf_copy_arr_f32(const azc_gguf_t *g, const char *key, float **out,
                                   uint64_t *count);
/* The optional forms return `def` when the key is absent, an error when it is
 * present with a bad type. */
azc_status_t azc_gguf_opt_i64(const azc_gguf_t *g, const char *key, int64_t def, int64_t *out);
azc_status_t azc_gguf_opt_f32(const azc_gguf_t *g, const char *key, float def, float *out);
azc_status_t azc_gguf_opt_bool(const azc_gguf_t *g, const char *key, int def, int *out);

/* Writes the value as text ("[512 strings]" for long arrays). */
void azc_gguf_value_format(const azc_gguf_value_t *v, char *buf, size_t cap, int max_items);

/* ---- writer ---- */
typedef struct azc_gguf_writer azc_gguf_writer_t;

azc_status_t azc_gguf_writer_create(azc_gguf_writer_t **out);
void azc_gguf_writer_destroy(azc_gguf_writer_t *w);
/* Setting a key again replaces its value. Strings and arrays are copied. */
azc_status_t azc_gguf_writer_set_u32(azc_gguf_writer_t *w, const char *key, uint32_t v);
azc_status_t azc_gguf_writer_set_i32(azc_gguf_writer_t *w, const char *key, int32_t v);
azc_status_t azc_gguf_writer_set_u64(azc_gguf_writer_t *w, const char *key, uint64_t v);
azc_status_t azc_gguf_writer_set_f32(azc_gguf_writer_t *w, const char *key, float v);
azc_status_t azc_gguf_writer_set_bool(azc_gguf_writer_t *w, const char *key, bool v);
azc_status_t azc_gguf_writer_set_str(azc_gguf_writer_t *w, const char *key, const char *v);
/* An array of count numeric/bool elements of elem_type, raw little-endian. */
azc_status_t azc_gguf_writer_set_arr(azc_gguf_writer_t *w, const char *key,
                                     azc_gguf_type_t elem_type, const void *data, uint64_t count);
azc_status_t azc_gguf_writer_set_arr_str(azc_gguf_writer_t *w, const char *key,
                                         const azc_strview_t *strs, uint64_t count);
/* Copies a metadata value read from another file (any type, nested arrays too). */
azc_status_t azc_gguf_writer_set_value(azc_gguf_writer_t *w, const char *key,
                                       const azc_gguf_value_t *v);
/* ne in ggml order (ne[0] = row length). data (size bytes) is borrowed until write. */
azc_status_t azc_gguf_writer_add_tensor(azc_gguf_writer_t *w, const char *name, azc_dtype_t type,
                                        uint32_t n_dims, const int64_t *ne, const void *data,
                                        uint64_t size);
/* Like add_tensor, but the data is produced at write time by fill(user, name,
 * buf, size), one tensor at a time, so a large model never sits in memory. */
typedef azc_status_t (*azc_gguf_fill_fn_t)(void *user, const char *name, void *buf, uint64_t size);
azc_status_t azc_gguf_writer_add_tensor_fill(azc_gguf_writer_t *w, const char *name,
                                             azc_dtype_t type, uint32_t n_dims, const int64_t *ne,
                                             uint64_t size, azc_gguf_fill_fn_t fill, void *user);
void azc_gguf_writer_set_alignment(azc_gguf_writer_t *w, uint32_t alignment);
/* Writes the file atomically (temp file + rename). */
azc_status_t azc_gguf_writer_write(azc_gguf_writer_t *w, const char *path);

#endif
