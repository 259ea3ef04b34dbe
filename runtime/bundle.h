/* Bundle reader: opens the one file that `azc compile` writes, checks it, and
 * hands out its sections as borrowed pointers into a read-only memory map.
 *
 * The container is generic: a 64-byte header, a table of named sections, then
 * the sections, each aligned as its table entry says and each with an XXH3-64
 * checksum. docs/bundle-format.md describes it byte by byte; the constants
 * below are the ones it names. What a section holds (meta, plan, tokenizer,
 * code, weights, ...) is up to its reader, not this file.
 *
 * azc_bundle_open refuses a file that is not a bundle, comes from another
 * format version, is truncated or damaged, or whose table is inconsistent,
 * with a message that says which check failed and why. Every section is
 * verified before its data is handed out: at open by default, or, with
 * AZC_BUNDLE_LAZY_VERIFY, large sections on first use (so that opening a
 * multi-GB bundle costs microseconds plus the mmap). */
#ifndef AZC_RUNTIME_BUNDLE_H
#define AZC_RUNTIME_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

/* Format constants (see docs/bundle-format.md). */
#define AZC_BUNDLE_MAGIC "AZCBUNDL" /* 8 bytes, no terminator */
#define AZC_BUNDLE_FORMAT_VERSION 2u
#define AZC_BUNDLE_HEADER_SIZE 64u
#define AZC_BUNDLE_ENTRY_SIZE 64u   /* one section table entry */
#define AZC_BUNDLE_NAME_SIZE 24u    /* name field; names are 1..23 bytes + NUL */
#define AZC_BUNDLE_VERSION_SIZE 16u /* azc version string field, NUL-padded */
#define AZC_BUNDLE_MAX_SECTIONS 4096u
#define AZC_BUNDLE_MAX_ALIGN (1u << 21) /* 2 MiB: a huge page */
#define AZC_BUNDLE_ALIGN_DEFAULT 64u    /* a cache line; what align 0 means */
/* Weights: a multiple of both 4 KiB and 16 KiB pages (x86, Apple silicon). */
#define AZC_BUNDLE_ALIGN_PAGE 16384u
/* Flag bits 0..15 (header and section flags) must be understood by a reader,
 * which refuses a bundle that sets one it does not know; bits 16..31 are
 * informational and ignored when unknown. Format versions 1 and 2 define none. */
#define AZC_BUNDLE_FLAGS_REQUIRED_MASK 0x0000ffffu
#define AZC_BUNDLE_FLAGS_KNOWN 0u

/* Open flags. */
enum {
  /* Sections of at least AZC_BUNDLE_LAZY_MIN_SIZE bytes are not hashed at
   * open; azc_bundle_section() hashes one on first use (or call
   * azc_bundle_verify_section() earlier, e.g. on another thread). */
  AZC_BUNDLE_LAZY_VERIFY = 1u << 0,
};
#define AZC_BUNDLE_LAZY_MIN_SIZE (1u << 20)

typedef struct azc_bundle azc_bundle_t;

/* Section names: 1..23 bytes of [A-Za-z0-9._-]. */
bool azc_bundle_name_valid(const char *name);

typedef struct azc_bundle_section_info {
  const char *name; /* borrowed from the bundle */
  uint64_t offset;  /* from the start of the file */
  uint64_t size;
  uint32_t align;
  uint32_t flags;
  uint64_t checksum; /* XXH3-64 of the section's bytes, as stored */
  bool verified;     /* the bytes have been checked against the checksum */
} azc_bundle_section_info_t;

/* Maps and checks the bundle at `path` (flags: AZC_BUNDLE_*). The checks, in
 * order: size >= header, magic, format version, header checksum, file size
 * against the header, table placement, each table entry's checksum, name,
 * alignment and bounds, names unique, no overlaps, then section checksums. */
azc_status_t azc_bundle_open(const char *path, uint32_t flags, azc_bundle_t **out);
void azc_bundle_close(azc_bundle_t *b);

const char *azc_bundle_path(const azc_bundle_t *b);
/* The azc version that wrote the bundle (informational; the format version
 * decides compatibility). */
const char *azc_bundle_azc_version(const azc_bundle_t *b);
uint32_t azc_bundle_flags(const azc_bundle_t *b);
uint64_t azc_bundle_file_size(const azc_bundle_t *b);

size_t azc_bundle_section_count(const azc_bundle_t *b);
/* Section i in table order (0 <= i < count). */
azc_status_t azc_bundle_section_info(const azc_bundle_t *b, size_t i,
                                     azc_bundle_section_info_t *info);
bool azc_bundle_has_section(const azc_bundle_t *b, const char *name);

/* The bytes of section `name`, borrowed until azc_bundle_close. A section not
 * yet verified (lazy open) is verified first, so damaged bytes are never
 * handed out. Empty sections give a non-NULL pointer and size 0. */
azc_status_t azc_bundle_section(azc_bundle_t *b, const char *name, const void **data,
                                uint64_t *size);
/* The bytes of section `name` before (or without) verification, for a caller
 * that verifies it on another thread (azc_bundle_verify_section) and checks
 * the result before trusting anything computed from it. */
azc_status_t azc_bundle_section_unverified(azc_bundle_t *b, const char *name, const void **data,
                                           uint64_t *size);
/* Checks section `name` against its checksum now (once; later calls return
 * the remembered result). Safe to call from several threads. */
azc_status_t azc_bundle_verify_section(azc_bundle_t *b, const char *name);

#endif
