/* Bundle writer: collects named sections, then writes them as one bundle file
 * (docs/bundle-format.md) that runtime/bundle.h reads.
 *
 * A section is either borrowed bytes (azc_bundle_writer_add: the caller keeps
 * them alive until the write) or produced at write time by a callback in
 * chunks (azc_bundle_writer_add_fill), so that a multi-GB weights section is
 * never in memory at once; its checksum is computed as the chunks stream by.
 * The write is atomic: a temp file next to `path`, fsync, rename. A failing
 * callback, a full disk or a killed process never leaves a half-written
 * bundle at `path`; the file that was there before stays untouched. */
#ifndef AZC_CODEGEN_BUNDLE_WRITER_H
#define AZC_CODEGEN_BUNDLE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"
#include "runtime/bundle.h"

/* Largest chunk a fill callback is asked for. */
#define AZC_BUNDLE_FILL_CHUNK (1u << 20)

/* Produces bytes [offset, offset + size) of a section into buf (size <=
 * AZC_BUNDLE_FILL_CHUNK, buf zeroed). Called with increasing, contiguous
 * offsets from 0 to the section size, once per write. A failure aborts the
 * write; its message is kept, prefixed with the bundle and section. */
typedef azc_status_t (*azc_bundle_fill_fn_t)(void *user, uint64_t offset, void *buf, size_t size);

typedef struct azc_bundle_writer azc_bundle_writer_t;

azc_status_t azc_bundle_writer_create(azc_bundle_writer_t **out);
void azc_bundle_writer_destroy(azc_bundle_writer_t *w);

/* Adds a section of `size` bytes at `data` (borrowed until the write). The
 * name must satisfy azc_bundle_name_valid and be new to this writer; align is
 * a power of two up to AZC_BUNDLE_MAX_ALIGN, or 0 for AZC_BUNDLE_ALIGN_DEFAULT
 * (use AZC_BUNDLE_ALIGN_PAGE for weights). Sections are laid out in the order
 * they are added. */
azc_status_t azc_bundle_writer_add(azc_bundle_writer_t *w, const char *name, const void *data,
                                   size_t size, uint32_t align);
/* Adds a section whose `size` bytes come from fill(user, ...) during the write. */
azc_status_t azc_bundle_writer_add_fill(azc_bundle_writer_t *w, const char *name, uint64_t size,
                                        uint32_t align, azc_bundle_fill_fn_t fill, void *user);

/* A range of another file copied into a section: len bytes at src_offset of
 * src_fd (whose bytes are also at ptr, for the checksum) land at dst_offset
 * within the section. src_fd < 0: the bytes are written from ptr. */
typedef struct azc_bundle_piece {
  int src_fd;
  uint64_t src_offset;
  const void *ptr;
  uint64_t dst_offset, len;
} azc_bundle_piece_t;

/* Adds a section made of pieces of other files (sorted by dst_offset, not
 * overlapping; the gaps are zeros). The bytes are copied file to file by the
 * kernel (copy_file_range, which needs no pass through user memory and can
 * share blocks on filesystems that support it), falling back to plain
 * writes. The pieces array is borrowed until the write. */
azc_status_t azc_bundle_writer_add_pieces(azc_bundle_writer_t *w, const char *name, uint64_t size,
                                          uint32_t align, const azc_bundle_piece_t *pieces,
                                          size_t n_pieces);

/* Writes the bundle to `path` atomically. May be called again (e.g. to a
 * second path); fill callbacks are then called again. */
azc_status_t azc_bundle_writer_write(azc_bundle_writer_t *w, const char *path);

#endif
