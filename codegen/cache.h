/* Kernel cache: compiled kernels (ELF objects, PTX) on disk under an
 * XXH3-128 key, so that a kernel is compiled once per machine, not once per
 * layer or per model. Repacked weights (driver/compile.c) are entries too,
 * keyed by their source bytes and layout and described "weight <name> ...":
 * a warm compile maps them (azc_cache_map) and the bundle writer copies them
 * file to file instead of repacking.
 *
 * The caller computes the key (XXH3-128 over the canonical kernel spec,
 * target, codegen options and azc version); the cache stores the payload
 * opaquely with a one-line description for `azc cache info`. Layout:
 *
 *   <dir>/<first 2 hex digits of the key>/<32 hex digits>.azk
 *
 * where <dir> is $AZC_CACHE_DIR, else $XDG_CACHE_HOME/azc, else
 * $HOME/.cache/azc (created on the first put).
 *
 * Entry file, format version 1, little-endian:
 *
 *   offset  size  field
 *   0       8     magic "AZCKERNL"
 *   8       4     u32 format version (1)
 *   12      4     u32 description length D (<= AZC_CACHE_MAX_DESCRIPTION)
 *   16      8     u64 key.lo
 *   24      8     u64 key.hi (the file name is key.hi then key.lo in hex)
 *   32      8     u64 payload size P
 *   40      8     u64 XXH3-64 of the payload
 *   48      8     u64 XXH3-64 of bytes 0..47 followed by the description
 *   56      D     description (UTF-8, one line, no terminator)
 *   56+D    P     payload
 *
 * The file is exactly 56 + D + P bytes. Entries are written to a temp file in
 * the same folder and renamed into place, so concurrent writers of one key
 * both succeed and a reader sees a whole entry or none. An entry that fails
 * any check (size, magic, version, key, either checksum) is deleted and
 * reported as a miss, so the caller compiles the kernel again and puts it.
 * A cache object is safe to use from several threads. */
#ifndef AZC_CODEGEN_CACHE_H
#define AZC_CODEGEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/hash.h"
#include "runtime/base/status.h"

#define AZC_CACHE_ENTRY_MAGIC "AZCKERNL"
#define AZC_CACHE_FORMAT_VERSION 1u
#define AZC_CACHE_HEADER_SIZE 56u
#define AZC_CACHE_MAX_DESCRIPTION 1024u
#define AZC_CACHE_MAX_PAYLOAD (1ull << 30)
#define AZC_CACHE_ENTRY_EXT ".azk"
#define AZC_CACHE_STALE_TEMP_SECONDS 3600

typedef struct azc_cache azc_cache_t;

/* Counts for this cache object (this process), since azc_cache_open. */
typedef struct azc_cache_stats {
  uint64_t hits;
  uint64_t misses;  /* every get that returned AZC_NOT_FOUND, corrupt ones included */
  uint64_t corrupt; /* misses whose entry was damaged and removed ("rebuilt") */
  uint64_t puts;
} azc_cache_stats_t;

/* The cache directory that dir_or_null names (itself when not NULL/empty)
 * or the environment selects; malloc'd, the caller frees it. */
azc_status_t azc_cache_dir_resolve(const char *dir_or_null, char **out);

/* Opens the cache in dir_or_null (NULL: from the environment). Creates
 * nothing; the directory is made on the first put. */
azc_status_t azc_cache_open(const char *dir_or_null, azc_cache_t **out);
void azc_cache_close(azc_cache_t *c);
const char *azc_cache_dir(const azc_cache_t *c);
/* The path of key's entry file (whether or not it exists) into buf; returns
 * buf, or NULL when cap is too small. */
char *azc_cache_entry_path(const azc_cache_t *c, azc_hash128_t key, char *buf, size_t cap);

/* The payload stored under key, malloc'd (the caller frees it; non-NULL even
 * when size is 0). AZC_NOT_FOUND when absent or damaged (then removed). */
azc_status_t azc_cache_get(azc_cache_t *c, azc_hash128_t key, void **data, size_t *size);
/* Stores size bytes under key, atomically replacing any entry there.
 * description: one line for `azc cache info` (NULL: none; control characters
 * become spaces; longer than AZC_CACHE_MAX_DESCRIPTION bytes is cut). */
azc_status_t azc_cache_put(azc_cache_t *c, azc_hash128_t key, const void *data, size_t size,
                           const char *description);
azc_cache_stats_t azc_cache_stats(const azc_cache_t *c);

/* An entry mapped read-only instead of copied (repacked weights: the bundle
 * writer hashes the payload from `data` and copies it file to file from fd
 * at `offset` with copy_file_range). Owned by the caller: azc_cache_unmap. */
typedef struct azc_cache_mapped {
  int fd;           /* the entry file, open read-only; -1 when nothing is mapped */
  uint64_t offset;  /* where the payload starts in the file */
  uint64_t size;    /* payload bytes */
  const void *data; /* the payload, inside the mapping */
  void *map;        /* the whole file's mapping, map_size bytes */
  size_t map_size;
} azc_cache_mapped_t;

/* azc_cache_get without the copy: maps key's entry and checks all of it,
 * the payload checksum included, before it returns. AZC_NOT_FOUND when
 * absent or damaged (then removed, as by azc_cache_get). *out is set to an
 * empty mapping (fd -1) first. */
azc_status_t azc_cache_map(azc_cache_t *c, azc_hash128_t key, azc_cache_mapped_t *out);
/* Unmaps and closes; leaves m empty (fd -1). Safe on an empty mapping. */
void azc_cache_unmap(azc_cache_mapped_t *m);

/* What a cache directory holds. A missing directory is an empty cache. */
typedef struct azc_cache_info {
  uint64_t entries;
  uint64_t total_bytes; /* file sizes of the entries */
  uint64_t temp_files;  /* left by writers that were killed mid-write */
  int64_t oldest_mtime; /* seconds since the epoch; 0 when there are no entries */
  int64_t newest_mtime;
} azc_cache_info_t;

azc_status_t azc_cache_info(const char *dir_or_null, azc_cache_info_t *info);

/* One entry as listed; borrowed for the duration of the callback. Listing
 * reads headers and descriptions but does not hash payloads. */
typedef struct azc_cache_entry_info {
  azc_hash128_t key;
  const char *path;
  uint64_t file_size;
  uint64_t payload_size; /* 0 when !valid */
  int64_t mtime;
  bool valid;              /* header, key and sizes check out */
  const char *description; /* the description, or why the entry is not valid */
} azc_cache_entry_info_t;

typedef void (*azc_cache_list_fn_t)(void *user, const azc_cache_entry_info_t *entry);

/* Calls fn for every entry file (folder order, not sorted). */
azc_status_t azc_cache_list(const char *dir_or_null, azc_cache_list_fn_t fn, void *user);

/* Removes every entry file, the temp files of interrupted writes (older than
 * AZC_CACHE_STALE_TEMP_SECONDS: a younger one may belong to a put that is
 * still running) and then the two-hex-digit folders left empty. Nothing else is touched: other
 * files, folders and symbolic links stay, and so does the directory itself.
 * removed_files / removed_bytes may be NULL. */
azc_status_t azc_cache_clear(const char *dir_or_null, uint64_t *removed_files,
                             uint64_t *removed_bytes);

#endif
