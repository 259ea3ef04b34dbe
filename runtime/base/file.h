/* Files: read-only memory maps (models and bundles are never copied into
 * memory), and atomic writes (temp file in the same folder, fsync, rename) so
 * that a killed or failing writer never leaves a half-written bundle or cache
 * entry behind. */
#ifndef AZC_BASE_FILE_H
#define AZC_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/base/status.h"

typedef struct azc_file_map {
  const uint8_t *data; /* NULL when size == 0 */
  size_t size;
  char *path;
} azc_file_map_t;

/* Maps `path` read-only. On failure *out is zeroed. */
azc_status_t azc_file_map_open(const char *path, azc_file_map_t *out);
void azc_file_map_close(azc_file_map_t *map);

/* Reads a whole file into a malloc'd buffer (NUL-terminated, size excludes it). */
azc_status_t azc_file_read_all(const char *path, char **out, size_t *out_size);

/* Atomic writer: writes go to "<path>.tmp.<pid>.<n>", commit renames it over
 * `path`; abort (or a failed commit) removes the temp file. */
typedef struct azc_atomic_file {
  FILE *fp;
  char *path;
  char *tmp_path;
  int failed;   /* a write failed; commit will refuse */
  int no_fsync; /* set after open for large derived files (bundles, quantized models): commit
                 * skips fsync; the rename still makes the file appear whole or not at all */
} azc_atomic_file_t;

azc_status_t azc_atomic_file_open(const char *path, azc_atomic_file_t *out);
azc_status_t azc_atomic_file_write(azc_atomic_file_t *f, const void *data, size_t size);
/* Pads with zeros so that the file position is a multiple of `align`. */
azc_status_t azc_atomic_file_pad(azc_atomic_file_t *f, size_t align);
long long azc_atomic_file_tell(azc_atomic_file_t *f);
azc_status_t azc_atomic_file_commit(azc_atomic_file_t *f);
void azc_atomic_file_abort(azc_atomic_file_t *f);

/* Creates a directory and its parents (mkdir -p). */
azc_status_t azc_mkdir_p(const char *path);

#endif
