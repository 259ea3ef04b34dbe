/* Bundle writer (see bundle_writer.h and docs/bundle-format.md).
 *
 * The layout is fixed before the first byte is written: header at 0, the
 * section table right after it, then the sections in the order they were
 * added, each at the next multiple of its alignment (the gaps are zeros). The
 * file is written front to back in one pass; the table's checksums are only
 * known once every section has streamed through the hash, so the table is
 * first written as zeros and filled in by one seek back before the commit.
 * Nothing reaches `path` until the rename. */
#include "codegen/bundle_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/file.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"

typedef struct wsection {
  char name[AZC_BUNDLE_NAME_SIZE];
  const void *data; /* borrowed; NULL for fill sections */
  uint64_t size;
  uint32_t align;
  azc_bundle_fill_fn_t fill;
  void *user;
  const azc_bundle_piece_t *pieces; /* piece sections */
  size_t n_pieces;
  uint64_t offset, checksum; /* set by the write */
} wsection_t;

struct azc_bundle_writer {
  wsection_t *sections;
  uint32_t count, cap;
};

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

azc_status_t azc_bundle_writer_create(azc_bundle_writer_t **out) {
  *out = calloc(1, sizeof(**out));
  if (!*out) return AZC_ERR(AZC_OUT_OF_MEMORY, "bundle writer: out of memory");
  return NULL;
}

void azc_bundle_writer_destroy(azc_bundle_writer_t *w) {
  if (!w) return;
  free(w->sections);
  free(w);
}

static azc_status_t add(azc_bundle_writer_t *w, const char *name, const void *data, uint64_t size,
                        uint32_t align, azc_bundle_fill_fn_t fill, void *user) {
  if (!azc_bundle_name_valid(name))
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "bundle section name '%s': expected 1 to %u characters of [A-Za-z0-9._-]",
                   name ? name : "(null)", AZC_BUNDLE_NAME_SIZE - 1);
  if (align == 0) align = AZC_BUNDLE_ALIGN_DEFAULT;
  if ((align & (align - 1)) || align > AZC_BUNDLE_MAX_ALIGN)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "bundle section '%s': alignment %u is not a power of two up to %u", name, align,
                   AZC_BUNDLE_MAX_ALIGN);
  for (uint32_t i = 0; i < w->count; i++)
    if (strcmp(w->sections[i].name, name) == 0)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "bundle section '%s' was added twice", name);
  if (w->count >= AZC_BUNDLE_MAX_SECTIONS)
    return AZC_ERR(AZC_OUT_OF_RANGE, "bundle section '%s': a bundle holds at most %u sections",
                   name, AZC_BUNDLE_MAX_SECTIONS);
  if (w->count == w->cap) {
    uint32_t cap = w->cap ? w->cap * 2 : 16;
    wsection_t *p = realloc(w->sections, cap * sizeof(*p));
    if (!p) return AZC_ERR(AZC_OUT_OF_MEMORY, "bundle section '%s': out of memory", name);
    w->sections = p;
    w->cap = cap;
  }
  wsection_t *s = &w->sections[w->count++];
  memset(s, 0, sizeof(*s));
  memcpy(s->name, name, strlen(name));
  s->data = data;
  s->size = size;
  s->align = align;
  s->fill = fill;
  s->user = user;
  return NULL;
}

azc_status_t azc_bundle_writer_add(azc_bundle_writer_t *w, const char *name, const void *data,
                                   size_t size, uint32_t align) {
  if (!data && size)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "bundle section '%s': %zu bytes at NULL",
                   name ? name : "(null)", size);
  return add(w, name, data, size, align, NULL, NULL);
}

azc_status_t azc_bundle_writer_add_fill(azc_bundle_writer_t *w, const char *name, uint64_t size,
                                        uint32_t align, azc_bundle_fill_fn_t fill, void *user) {
  if (!fill)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "bundle section '%s': fill callback is NULL",
                   name ? name : "(null)");
  return add(w, name, NULL, size, align, fill, user);
}

/* Places the sections after the table; returns the file size. */
static azc_status_t layout(azc_bundle_writer_t *w, uint64_t *file_size) {
  uint64_t pos = AZC_BUNDLE_HEADER_SIZE + (uint64_t)w->count * AZC_BUNDLE_ENTRY_SIZE;
  for (uint32_t i = 0; i < w->count; i++) {
    wsection_t *s = &w->sections[i];
    s->offset = azc_align_up(pos, s->align);
    if (azc_add_overflow_u64(s->offset, s->size, &pos) || pos > (uint64_t)INT64_MAX)
      return AZC_ERR(AZC_OUT_OF_RANGE, "bundle section '%s': %llu bytes do not fit in a file",
                     s->name, (unsigned long long)s->size);
  }
  *file_size = pos;
  return NULL;
}

static void encode_header(uint8_t *h, uint32_t count, uint64_t file_size) {
  memset(h, 0, AZC_BUNDLE_HEADER_SIZE);
  memcpy(h, AZC_BUNDLE_MAGIC, 8);
  put_u32(h + 8, AZC_BUNDLE_FORMAT_VERSION);
  put_u32(h + 12, 0); /* flags */
  snprintf((char *)h + 16, AZC_BUNDLE_VERSION_SIZE, "%s", AZC_VERSION_STRING);
  put_u32(h + 32, count);
  put_u32(h + 36, 0); /* reserved */
  put_u64(h + 40, AZC_BUNDLE_HEADER_SIZE);
  put_u64(h + 48, file_size);
  put_u64(h + 56, azc_hash64(h, 56));
}

static void encode_entry(uint8_t *e, const wsection_t *s) {
  memset(e, 0, AZC_BUNDLE_ENTRY_SIZE);
  memcpy(e, s->name, AZC_BUNDLE_NAME_SIZE);
  put_u64(e + 24, s->offset);
  put_u64(e + 32, s->size);
  put_u32(e + 40, s->align);
  put_u32(e + 44, 0); /* flags */
  put_u64(e + 48, s->checksum);
  put_u64(e + 56, azc_hash64(e, 56));
}

azc_status_t azc_bundle_writer_add_pieces(azc_bundle_writer_t *w, const char *name, uint64_t size,
                                          uint32_t align, const azc_bundle_piece_t *pieces,
                                          size_t n_pieces) {
  uint64_t end = 0;
  for (size_t i = 0; i < n_pieces; i++) {
    if (pieces[i].dst_offset < end || pieces[i].len > size ||
        pieces[i].dst_offset > size - pieces[i].len)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "bundle section '%s': piece %zu overlaps or overflows",
                     name, i);
    end = pieces[i].dst_offset + pieces[i].len;
  }
  AZC_RETURN_IF_ERROR(add(w, name, NULL, size, align, NULL, NULL));
  w->sections[w->count - 1].pieces = pieces;
  w->sections[w->count - 1].n_pieces = n_pieces;
  return NULL;
}

static azc_status_t write_zeros(int fd, uint64_t n, const char *name) {
  static const uint8_t zeros[4096];
  while (n) {
    ssize_t k = write(fd, zeros, (size_t)AZC_MIN(n, sizeof(zeros)));
    if (k <= 0) return AZC_ERR(AZC_IO, "section '%s': write failed: %s", name, strerror(errno));
    n -= (uint64_t)k;
  }
  return NULL;
}

/* Copies the pieces with the kernel's file-to-file copy; hashes from memory. */
static azc_status_t write_pieces(azc_atomic_file_t *f, wsection_t *s, azc_hash64_stream_t *hs) {
  static const uint8_t zeros[4096];
  if (fflush(f->fp) != 0) return AZC_ERR(AZC_IO, "section '%s': flush failed", s->name);
  int fd = fileno(f->fp);
  azc_hash64_stream_reset(hs);
  uint64_t at = 0;
  for (size_t i = 0; i <= s->n_pieces; i++) {
    uint64_t next = i < s->n_pieces ? s->pieces[i].dst_offset : s->size;
    AZC_RETURN_IF_ERROR(write_zeros(fd, next - at, s->name));
    for (uint64_t z = at; z < next; z += sizeof(zeros))
      azc_hash64_stream_update(hs, zeros, (size_t)AZC_MIN(next - z, sizeof(zeros)));
    at = next;
    if (i == s->n_pieces) break;
    const azc_bundle_piece_t *p = &s->pieces[i];
    loff_t src = (loff_t)p->src_offset;
    uint64_t done = 0;
    while (p->src_fd >= 0 && done < p->len) {
      ssize_t k = copy_file_range(p->src_fd, &src, fd, NULL, (size_t)(p->len - done), 0);
      if (k <= 0) break; /* not supported here: write the rest from memory */
      done += (uint64_t)k;
    }
    while (done < p->len) {
      ssize_t k =
          write(fd, (const uint8_t *)p->ptr + done, (size_t)AZC_MIN(p->len - done, 1u << 24));
      if (k <= 0)
        return AZC_ERR(AZC_IO, "section '%s': write failed: %s", s->name, strerror(errno));
      done += (uint64_t)k;
    }
    azc_hash64_stream_update(hs, p->ptr, (size_t)p->len);
    at += p->len;
  }
  s->checksum = azc_hash64_stream_digest(hs);
  /* the stream's position follows the descriptor again */
  if (fseeko(f->fp, 0, SEEK_END) != 0) return AZC_ERR(AZC_IO, "section '%s': seek failed", s->name);
  return NULL;
}

/* Streams a fill section through the callback, the hash and the file. */
static azc_status_t write_fill(azc_atomic_file_t *f, wsection_t *s, uint8_t *buf,
                               azc_hash64_stream_t *hs) {
  azc_hash64_stream_reset(hs);
  for (uint64_t done = 0; done < s->size;) {
    size_t n = (size_t)AZC_MIN(s->size - done, (uint64_t)AZC_BUNDLE_FILL_CHUNK);
    memset(buf, 0, n);
    AZC_RETURN_IF_ERROR_CTX(s->fill(s->user, done, buf, n), "section '%s' at byte %llu", s->name,
                            (unsigned long long)done);
    azc_hash64_stream_update(hs, buf, n);
    AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, buf, n));
    done += n;
  }
  s->checksum = azc_hash64_stream_digest(hs);
  return NULL;
}

static azc_status_t write_body(azc_bundle_writer_t *w, azc_atomic_file_t *f, uint64_t file_size) {
  uint8_t block[AZC_BUNDLE_HEADER_SIZE];
  encode_header(block, w->count, file_size);
  AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, block, sizeof(block)));
  memset(block, 0, sizeof(block)); /* table placeholder, filled in below */
  for (uint32_t i = 0; i < w->count; i++)
    AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, block, AZC_BUNDLE_ENTRY_SIZE));

  uint8_t *buf = NULL;
  azc_hash64_stream_t *hs = NULL;
  azc_status_t st = NULL;
  for (uint32_t i = 0; i < w->count && !st; i++) {
    wsection_t *s = &w->sections[i];
    st = azc_atomic_file_pad(f, s->align);
    if (!st && azc_atomic_file_tell(f) != (long long)s->offset)
      st = AZC_ERR(AZC_INTERNAL, "section '%s': file position %lld, layout says %llu", s->name,
                   azc_atomic_file_tell(f), (unsigned long long)s->offset);
    if (st) break;
    if (s->pieces) {
      if (!hs) hs = azc_hash64_stream_create();
      st = hs ? write_pieces(f, s, hs) : AZC_ERR(AZC_OUT_OF_MEMORY, "section '%s'", s->name);
      continue;
    }
    if (!s->fill) {
      s->checksum = azc_hash64(s->data, (size_t)s->size);
      st = azc_atomic_file_write(f, s->data, (size_t)s->size);
      continue;
    }
    if (!buf) buf = malloc(AZC_BUNDLE_FILL_CHUNK);
    if (!hs) hs = azc_hash64_stream_create();
    if (!buf || !hs) st = AZC_ERR(AZC_OUT_OF_MEMORY, "section '%s': out of memory", s->name);
    if (!st) st = write_fill(f, s, buf, hs);
  }
  free(buf);
  if (hs) azc_hash64_stream_destroy(hs);
  AZC_RETURN_IF_ERROR(st);
  if (azc_atomic_file_tell(f) != (long long)file_size)
    return AZC_ERR(AZC_INTERNAL, "file ends at %lld, layout says %llu", azc_atomic_file_tell(f),
                   (unsigned long long)file_size);

  if (fseeko(f->fp, AZC_BUNDLE_HEADER_SIZE, SEEK_SET) != 0)
    return AZC_ERR(AZC_IO, "cannot seek back to the section table");
  for (uint32_t i = 0; i < w->count; i++) {
    encode_entry(block, &w->sections[i]);
    AZC_RETURN_IF_ERROR(azc_atomic_file_write(f, block, AZC_BUNDLE_ENTRY_SIZE));
  }
  return NULL;
}

azc_status_t azc_bundle_writer_write(azc_bundle_writer_t *w, const char *path) {
  if (!path) return AZC_ERR(AZC_INVALID_ARGUMENT, "azc_bundle_writer_write: path is NULL");
  uint64_t file_size = 0;
  AZC_RETURN_IF_ERROR_CTX(layout(w, &file_size), "writing bundle %s", path);
  azc_atomic_file_t f;
  AZC_RETURN_IF_ERROR_CTX(azc_atomic_file_open(path, &f), "writing bundle");
  f.no_fsync = 1; /* a bundle can be rebuilt; fsync of GBs would dominate a warm compile */
  azc_status_t st = write_body(w, &f, file_size);
  if (st) {
    azc_atomic_file_abort(&f);
    return azc_status_wrap(st, "writing bundle %s", path);
  }
  AZC_RETURN_IF_ERROR_CTX(azc_atomic_file_commit(&f), "writing bundle");
  return NULL;
}
