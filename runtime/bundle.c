/* Bundle reader (see bundle.h and docs/bundle-format.md).
 *
 * Checks go from what every format version shares to what only this one
 * means: the magic and the version field sit at fixed offsets forever, so a
 * bundle from another version is named as such before any layout-dependent
 * check could misread it. Then the header checksum (so that sizes and offsets
 * are trusted only once they are known to be what the writer wrote), the file
 * size (truncation is the commonest damage and gets its own message), the
 * table (each entry has its own checksum, so a damaged entry is named by
 * index), the structure (bounds, alignment, unique names, no overlaps) and
 * last the section checksums, which are the only checks whose cost grows with
 * the file. All reads of the mapped file are bounds-checked memcpy loads, so
 * a hostile file cannot make the reader touch memory outside the map. */
#include "runtime/bundle.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/file.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"

enum { VERIFY_PENDING = 0, VERIFY_OK = 1, VERIFY_DAMAGED = 2 };

typedef struct section {
  char name[AZC_BUNDLE_NAME_SIZE];
  uint64_t offset, size, checksum;
  uint32_t align, flags;
  atomic_int state; /* VERIFY_* */
} section_t;

struct azc_bundle {
  azc_file_map_t map;
  char azc_version[AZC_BUNDLE_VERSION_SIZE];
  uint32_t flags;
  uint32_t count;
  uint64_t table_offset;
  section_t *sections; /* count entries, table order */
};

/* Header field offsets (docs/bundle-format.md, "Header"). */
enum {
  H_MAGIC = 0,
  H_VERSION = 8,
  H_FLAGS = 12,
  H_AZC_VERSION = 16,
  H_COUNT = 32,
  H_TABLE_OFFSET = 40,
  H_FILE_SIZE = 48,
  H_CHECKSUM = 56,
};
/* Table entry field offsets ("Section table"). */
enum {
  E_NAME = 0,
  E_OFFSET = 24,
  E_SIZE = 32,
  E_ALIGN = 40,
  E_FLAGS = 44,
  E_CHECKSUM = 48,
  E_ENTRY_CHECKSUM = 56,
};

static bool name_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool azc_bundle_name_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n >= AZC_BUNDLE_NAME_SIZE) return false;
  for (size_t i = 0; i < n; i++)
    if (!name_char_ok(name[i])) return false;
  return true;
}

static azc_status_t check_header(azc_bundle_t *b) {
  const char *path = b->map.path;
  const uint8_t *h = b->map.data;
  size_t n = b->map.size;
  if (n < H_FLAGS)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: file is %zu bytes, too small for a bundle header (%u bytes): truncated, "
                   "or not an azc bundle",
                   path, n, AZC_BUNDLE_HEADER_SIZE);
  if (memcmp(h + H_MAGIC, AZC_BUNDLE_MAGIC, 8) != 0) {
    const char *hint = memcmp(h, "GGUF", 4) == 0 ? " (this is a GGUF model: compile it first)" : "";
    return AZC_ERR(AZC_CORRUPT,
                   "%s: not an azc bundle: it starts with %02x %02x %02x %02x %02x %02x %02x "
                   "%02x, not \"%s\"%s",
                   path, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], AZC_BUNDLE_MAGIC, hint);
  }
  uint32_t version = azc_load_u32le(h + H_VERSION);
  if (version != AZC_BUNDLE_FORMAT_VERSION)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: bundle format version %u; this azc reads version %u — recompile the "
                   "model with this azc (%s)",
                   path, version, AZC_BUNDLE_FORMAT_VERSION, AZC_VERSION_STRING);
  if (n < AZC_BUNDLE_HEADER_SIZE)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: file is %zu bytes, too small for the %u-byte bundle header: truncated",
                   path, n, AZC_BUNDLE_HEADER_SIZE);
  if (azc_hash64(h, H_CHECKSUM) != azc_load_u64le(h + H_CHECKSUM))
    return AZC_ERR(AZC_CORRUPT, "%s: bundle header is damaged (checksum mismatch)", path);

  uint64_t file_size = azc_load_u64le(h + H_FILE_SIZE);
  if (file_size > n)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: file is %zu bytes but its header says %llu: the bundle is truncated "
                   "(an interrupted write, copy or download?)",
                   path, n, (unsigned long long)file_size);
  if (file_size < n)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: file is %zu bytes but its header says %llu: %llu bytes were appended "
                   "to the bundle",
                   path, n, (unsigned long long)file_size, (unsigned long long)(n - file_size));

  b->flags = azc_load_u32le(h + H_FLAGS);
  uint32_t unknown = b->flags & AZC_BUNDLE_FLAGS_REQUIRED_MASK & ~AZC_BUNDLE_FLAGS_KNOWN;
  if (unknown)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: bundle uses features this azc does not know (header flags 0x%x) — "
                   "recompile the model with this azc",
                   path, unknown);
  memcpy(b->azc_version, h + H_AZC_VERSION, AZC_BUNDLE_VERSION_SIZE);
  if (!memchr(b->azc_version, 0, AZC_BUNDLE_VERSION_SIZE))
    return AZC_ERR(AZC_CORRUPT, "%s: azc version field in the header is not NUL-terminated", path);

  b->count = azc_load_u32le(h + H_COUNT);
  b->table_offset = azc_load_u64le(h + H_TABLE_OFFSET);
  if (b->count > AZC_BUNDLE_MAX_SECTIONS)
    return AZC_ERR(AZC_CORRUPT, "%s: header declares %u sections; at most %u are allowed", path,
                   b->count, AZC_BUNDLE_MAX_SECTIONS);
  uint64_t table_size = (uint64_t)b->count * AZC_BUNDLE_ENTRY_SIZE, table_end;
  if (b->table_offset < AZC_BUNDLE_HEADER_SIZE)
    return AZC_ERR(AZC_CORRUPT, "%s: section table at offset %llu overlaps the %u-byte header",
                   path, (unsigned long long)b->table_offset, AZC_BUNDLE_HEADER_SIZE);
  if (azc_add_overflow_u64(b->table_offset, table_size, &table_end) || table_end > n)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: section table (%u entries of %u bytes at offset %llu) extends past the "
                   "end of the file (%zu bytes)",
                   path, b->count, AZC_BUNDLE_ENTRY_SIZE, (unsigned long long)b->table_offset, n);
  return NULL;
}

/* Reads and checks table entry i on its own (checksum, name, alignment,
 * bounds); relations between entries are checked by check_relations. */
static azc_status_t parse_entry(azc_bundle_t *b, uint32_t i) {
  const char *path = b->map.path;
  const uint8_t *e = b->map.data + b->table_offset + (uint64_t)i * AZC_BUNDLE_ENTRY_SIZE;
  if (azc_hash64(e, E_ENTRY_CHECKSUM) != azc_load_u64le(e + E_ENTRY_CHECKSUM))
    return AZC_ERR(AZC_CORRUPT, "%s: section table entry %u is damaged (checksum mismatch)", path,
                   i);
  section_t *s = &b->sections[i];
  memcpy(s->name, e + E_NAME, AZC_BUNDLE_NAME_SIZE);
  const char *nul = memchr(s->name, 0, AZC_BUNDLE_NAME_SIZE);
  if (!nul)
    return AZC_ERR(AZC_CORRUPT, "%s: section table entry %u: name is not NUL-terminated", path, i);
  size_t len = (size_t)(nul - s->name);
  if (len == 0) return AZC_ERR(AZC_CORRUPT, "%s: section table entry %u: empty name", path, i);
  for (size_t k = 0; k < len; k++)
    if (!name_char_ok(s->name[k]))
      return AZC_ERR(AZC_CORRUPT,
                     "%s: section table entry %u: name has byte 0x%02x (allowed: letters, "
                     "digits, '.', '_', '-')",
                     path, i, (unsigned char)s->name[k]);
  for (size_t k = len; k < AZC_BUNDLE_NAME_SIZE; k++)
    if (s->name[k])
      return AZC_ERR(AZC_CORRUPT, "%s: section '%s': name padding is not zero", path, s->name);

  s->offset = azc_load_u64le(e + E_OFFSET);
  s->size = azc_load_u64le(e + E_SIZE);
  s->align = azc_load_u32le(e + E_ALIGN);
  s->flags = azc_load_u32le(e + E_FLAGS);
  s->checksum = azc_load_u64le(e + E_CHECKSUM);
  atomic_init(&s->state, VERIFY_PENDING);

  if (s->align == 0 || (s->align & (s->align - 1)) || s->align > AZC_BUNDLE_MAX_ALIGN)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: section '%s': alignment %u is not a power of two between 1 and %u", path,
                   s->name, s->align, AZC_BUNDLE_MAX_ALIGN);
  uint32_t unknown = s->flags & AZC_BUNDLE_FLAGS_REQUIRED_MASK & ~AZC_BUNDLE_FLAGS_KNOWN;
  if (unknown)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: section '%s' uses features this azc does not know (flags 0x%x) — "
                   "recompile the model with this azc",
                   path, s->name, unknown);
  if (s->offset % s->align)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: section '%s' at offset %llu is not aligned to its declared alignment %u",
                   path, s->name, (unsigned long long)s->offset, s->align);
  uint64_t end;
  if (azc_add_overflow_u64(s->offset, s->size, &end) || end > b->map.size)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: section '%s' (%llu bytes at offset %llu) extends past the end of the "
                   "file (%zu bytes)",
                   path, s->name, (unsigned long long)s->size, (unsigned long long)s->offset,
                   b->map.size);
  if (s->offset < AZC_BUNDLE_HEADER_SIZE)
    return AZC_ERR(AZC_CORRUPT, "%s: section '%s' at offset %llu overlaps the %u-byte header", path,
                   s->name, (unsigned long long)s->offset, AZC_BUNDLE_HEADER_SIZE);
  uint64_t table_end = b->table_offset + (uint64_t)b->count * AZC_BUNDLE_ENTRY_SIZE;
  if (s->size && s->offset < table_end && b->table_offset < end)
    return AZC_ERR(AZC_CORRUPT,
                   "%s: section '%s' (bytes %llu..%llu) overlaps the section table (bytes "
                   "%llu..%llu)",
                   path, s->name, (unsigned long long)s->offset, (unsigned long long)end,
                   (unsigned long long)b->table_offset, (unsigned long long)table_end);
  return NULL;
}

static int cmp_by_name(const void *a, const void *b) {
  return strcmp((*(const section_t *const *)a)->name, (*(const section_t *const *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b) {
  const section_t *x = *(const section_t *const *)a, *y = *(const section_t *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Names unique, non-empty sections pairwise disjoint (sorted, so O(n log n)). */
static azc_status_t check_relations(azc_bundle_t *b) {
  if (b->count < 2) return NULL;
  section_t **order = malloc(b->count * sizeof(*order));
  if (!order) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", b->map.path);
  for (uint32_t i = 0; i < b->count; i++) order[i] = &b->sections[i];
  azc_status_t st = NULL;
  qsort(order, b->count, sizeof(*order), cmp_by_name);
  for (uint32_t i = 1; i < b->count && !st; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0)
      st = AZC_ERR(AZC_CORRUPT, "%s: two sections are named '%s'", b->map.path, order[i]->name);
  uint32_t n = 0;
  for (uint32_t i = 0; i < b->count; i++)
    if (b->sections[i].size) order[n++] = &b->sections[i];
  qsort(order, n, sizeof(*order), cmp_by_offset);
  for (uint32_t i = 1; i < n && !st; i++) {
    const section_t *p = order[i - 1], *q = order[i];
    if (p->offset + p->size > q->offset)
      st = AZC_ERR(AZC_CORRUPT,
                   "%s: sections '%s' (bytes %llu..%llu) and '%s' (bytes %llu..%llu) overlap",
                   b->map.path, p->name, (unsigned long long)p->offset,
                   (unsigned long long)(p->offset + p->size), q->name,
                   (unsigned long long)q->offset, (unsigned long long)(q->offset + q->size));
  }
  free(order);
  return st;
}

static azc_status_t verify(const azc_bundle_t *b, section_t *s) {
  int state = atomic_load(&s->state);
  if (state == VERIFY_PENDING) {
    uint64_t h = azc_hash64(b->map.data + s->offset, (size_t)s->size);
    state = h == s->checksum ? VERIFY_OK : VERIFY_DAMAGED;
    atomic_store(&s->state, state);
  }
  if (state == VERIFY_DAMAGED)
    return AZC_ERR(AZC_CORRUPT, "%s: section '%s' is damaged (checksum mismatch)", b->map.path,
                   s->name);
  return NULL;
}

azc_status_t azc_bundle_open(const char *path, uint32_t flags, azc_bundle_t **out) {
  *out = NULL;
  if (!path) return AZC_ERR(AZC_INVALID_ARGUMENT, "azc_bundle_open: path is NULL");
  if (flags & ~(uint32_t)AZC_BUNDLE_LAZY_VERIFY)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: unknown open flags 0x%x", path, flags);
  azc_bundle_t *b = calloc(1, sizeof(*b));
  if (!b) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  azc_status_t st = azc_file_map_open(path, &b->map);
  if (st) {
    free(b);
    return st;
  }
  st = check_header(b);
  if (!st && b->count) {
    b->sections = calloc(b->count, sizeof(*b->sections));
    if (!b->sections) st = AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  for (uint32_t i = 0; !st && i < b->count; i++) st = parse_entry(b, i);
  if (!st) st = check_relations(b);
  for (uint32_t i = 0; !st && i < b->count; i++) {
    section_t *s = &b->sections[i];
    if (!(flags & AZC_BUNDLE_LAZY_VERIFY) || s->size < AZC_BUNDLE_LAZY_MIN_SIZE) st = verify(b, s);
  }
  if (st) {
    azc_bundle_close(b);
    return st;
  }
  *out = b;
  return NULL;
}

void azc_bundle_close(azc_bundle_t *b) {
  if (!b) return;
  azc_file_map_close(&b->map);
  free(b->sections);
  free(b);
}

const char *azc_bundle_path(const azc_bundle_t *b) { return b->map.path; }
const char *azc_bundle_azc_version(const azc_bundle_t *b) { return b->azc_version; }
uint32_t azc_bundle_flags(const azc_bundle_t *b) { return b->flags; }
uint64_t azc_bundle_file_size(const azc_bundle_t *b) { return b->map.size; }
size_t azc_bundle_section_count(const azc_bundle_t *b) { return b->count; }

azc_status_t azc_bundle_section_info(const azc_bundle_t *b, size_t i,
                                     azc_bundle_section_info_t *info) {
  memset(info, 0, sizeof(*info));
  if (i >= b->count)
    return AZC_ERR(AZC_OUT_OF_RANGE, "%s: section index %zu, but the bundle has %u sections",
                   b->map.path, i, b->count);
  const section_t *s = &b->sections[i];
  info->name = s->name;
  info->offset = s->offset;
  info->size = s->size;
  info->align = s->align;
  info->flags = s->flags;
  info->checksum = s->checksum;
  info->verified = atomic_load(&s->state) == VERIFY_OK;
  return NULL;
}

static section_t *find(const azc_bundle_t *b, const char *name) {
  for (uint32_t i = 0; i < b->count; i++)
    if (strcmp(b->sections[i].name, name) == 0) return &b->sections[i];
  return NULL;
}

bool azc_bundle_has_section(const azc_bundle_t *b, const char *name) {
  return name && find(b, name) != NULL;
}

static azc_status_t not_found(const azc_bundle_t *b, const char *name) {
  char list[256] = "";
  size_t used = 0;
  for (uint32_t i = 0; i < b->count && used + 1 < sizeof(list); i++) {
    int k = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", b->sections[i].name);
    if (k < 0) break;
    used += (size_t)k;
  }
  if (used >= sizeof(list)) memcpy(list + sizeof(list) - 5, "...", 4);
  return AZC_ERR(AZC_NOT_FOUND, "%s: no section '%s' in this bundle (it has: %s)", b->map.path,
                 name ? name : "(null)", b->count ? list : "no sections");
}

azc_status_t azc_bundle_section(azc_bundle_t *b, const char *name, const void **data,
                                uint64_t *size) {
  *data = NULL;
  *size = 0;
  section_t *s = name ? find(b, name) : NULL;
  if (!s) return not_found(b, name);
  AZC_RETURN_IF_ERROR(verify(b, s));
  /* an empty section at the very end points one past the map: valid, unread */
  *data = b->map.data + s->offset;
  *size = s->size;
  return NULL;
}

azc_status_t azc_bundle_section_unverified(azc_bundle_t *b, const char *name, const void **data,
                                           uint64_t *size) {
  *data = NULL;
  *size = 0;
  section_t *s = name ? find(b, name) : NULL;
  if (!s) return not_found(b, name);
  *data = b->map.data + s->offset;
  *size = s->size;
  return NULL;
}

azc_status_t azc_bundle_verify_section(azc_bundle_t *b, const char *name) {
  section_t *s = name ? find(b, name) : NULL;
  if (!s) return not_found(b, name);
  return verify(b, s);
}
