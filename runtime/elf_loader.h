/* Loading compiled CPU kernels: a small ELF object loader for the runtime.
 *
 * The compiler turns every kernel into an ELF64 relocatable object (ET_REL,
 * position-independent, small code model) through the LLVM C API; a bundle
 * carries those objects. The runtime must run them without LLVM, without a
 * linker and without dlopen, so this loader does a static linker's job in
 * memory: it lays the allocatable sections of n objects out in ONE mapping
 * (text, then read-only data and the GOT, then writable data), resolves symbols
 * between the objects and, for undefined ones, through a resolver callback,
 * applies the relocations, routes calls to external functions through stubs
 * inside the mapping (libc may lie more than 2 GiB away), and finally makes
 * text read+execute and read-only data read-only. Memory is never writable and
 * executable at once. docs/elf-loader.md explains the choice and the limits.
 *
 * Every input byte is untrusted: a malformed object gives a status that names
 * the object index, the section or symbol and the problem, never a crash.
 *
 * The relocation arithmetic is a pure function (azc_elf_reloc_apply) so that
 * both machines, x86_64 and aarch64, can be unit-tested on either host; for
 * the same reason an image can be loaded (never run) for a foreign machine
 * through azc_code_image_params_t.machine. */
#ifndef AZC_RUNTIME_ELF_LOADER_H
#define AZC_RUNTIME_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/status.h"

/* External symbol -> its address, or NULL when unknown. */
typedef void *(*azc_elf_resolve_fn_t)(void *user, const char *name);

typedef struct azc_code_image azc_code_image_t;

typedef struct azc_code_image_params {
  azc_elf_resolve_fn_t resolve; /* NULL: azc_elf_default_resolve */
  void *user;                   /* passed to resolve */
  /* Testing only. 0: this host's machine (the normal case). A different ELF
   * e_machine (EM_AARCH64 on an x86_64 host, ...) lays out and relocates the
   * objects for that machine, but its text is never made executable: such an
   * image may only be inspected, never called. */
  uint16_t machine;
} azc_code_image_params_t;

azc_code_image_params_t azc_code_image_params_default(void);

/* Loads n_objects ELF64 relocatable objects for this machine (EM_X86_64 on
 * x86_64, EM_AARCH64 on aarch64; anything else is AZC_UNSUPPORTED) into one
 * mapping. objects[i] holds sizes[i] bytes, needs no alignment and is only
 * read during the call. Kept: sections with SHF_ALLOC (PROGBITS and NOBITS;
 * .eh_frame and notes are dropped), each COMDAT group once (the first object
 * that has its signature wins), SHN_COMMON symbols (merged by name, largest
 * size). A symbol defined twice (strong) is an error; strong beats weak, the
 * first weak wins among weaks; an undefined weak symbol that nobody defines is
 * 0. Not supported (AZC_UNSUPPORTED): TLS, IFUNC, constructors (.init_array),
 * SHT_REL, extended section numbering, alignment above the page size. On
 * success *out owns the mapping; free it with azc_code_image_free. */
azc_status_t azc_code_image_load(const void *const *objects, const size_t *sizes, int n_objects,
                                 azc_elf_resolve_fn_t resolve, void *user, azc_code_image_t **out);
azc_status_t azc_code_image_load_params(const void *const *objects, const size_t *sizes,
                                        int n_objects, const azc_code_image_params_t *params,
                                        azc_code_image_t **out);

/* The address of a defined global or weak symbol (function or data), or NULL.
 * Hidden and protected symbols are included (LLVM marks kernel helpers hidden;
 * visibility only matters to dynamic linking); local (static) ones are not. */
void *azc_code_image_symbol(const azc_code_image_t *img, const char *name);
/* The mapping: base address and size in bytes (whole pages). */
const void *azc_code_image_base(const azc_code_image_t *img);
size_t azc_code_image_size(const azc_code_image_t *img);
void azc_code_image_free(azc_code_image_t *img);

/* The built-in resolver: memcpy, memmove, memset, memcmp, bzero, the libm
 * functions LLVM emits calls to for kernels (expf, exp, logf, log, tanhf, sinf,
 * cosf, sincosf, sincos, sqrtf, powf, pow, fmaxf, fminf, floorf, roundf, erff
 * and more, see libc_symbols in elf_loader.c) and compiler-rt's __powisf2 and
 * __powidf2; NULL for anything else. `user` is ignored. */
void *azc_elf_default_resolve(void *user, const char *name);

/* EM_X86_64 or EM_AARCH64 for this host; 0 on hosts the loader cannot run on. */
uint16_t azc_elf_host_machine(void);
/* "EM_X86_64 (62)"-style name for messages; unknown machines give "EM_? (n)". */
const char *azc_elf_machine_name(uint16_t machine, char *buf, size_t cap);

/* ---- Relocation arithmetic (elf_reloc.c), exposed for tests ---- */

typedef enum azc_elf_reloc_kind {
  AZC_ELF_RELOC_UNSUPPORTED = 0,
  AZC_ELF_RELOC_NONE,   /* R_*_NONE: nothing to do */
  AZC_ELF_RELOC_DIRECT, /* uses the symbol address S */
  AZC_ELF_RELOC_BRANCH, /* a call or jump: S is a stub when the target is external */
  AZC_ELF_RELOC_GOT,    /* reads a GOT slot: needs values.got_entry */
} azc_elf_reloc_kind_t;

/* The numbers of one relocation, named as in the psABIs. */
typedef struct azc_elf_reloc_values {
  uint64_t place;     /* P: run-time address of the bytes being patched */
  uint64_t symbol;    /* S (for a BRANCH to an external function: its stub) */
  int64_t addend;     /* A */
  uint64_t got_entry; /* GOT kinds: the slot's address. On x86_64 the slot holds
                         S and A is added to the slot address (GOTPCREL: G + GOT
                         + A - P); on aarch64 the slot holds S + A and A is not
                         added again (GDAT(S + A)). */
  uint64_t got_base;  /* GOT: start of the GOT (x86_64 GOTPC*, GOTOFF64, GOT64) */
} azc_elf_reloc_values_t;

azc_elf_reloc_kind_t azc_elf_reloc_kind(uint16_t machine, uint32_t type);
/* "R_X86_64_PC32", ..., or NULL for a type this loader does not know. */
const char *azc_elf_reloc_name(uint16_t machine, uint32_t type);

/* Applies one relocation to the `room` bytes at `bytes` (the place; room is
 * what is left of the section, checked against the field's width). Values
 * that do not fit the field are AZC_OUT_OF_RANGE, misaligned low-12-bit
 * offsets and branch targets AZC_CORRUPT, unknown types AZC_UNSUPPORTED;
 * nothing is ever silently truncated (except in the _NC types, whose psABI
 * definition is "no check"). */
azc_status_t azc_elf_reloc_apply(uint16_t machine, uint32_t type, uint8_t *bytes, size_t room,
                                 const azc_elf_reloc_values_t *values);

/* A far-call stub: jumps to `target` from anywhere. x86_64: jmp *0(%rip) +
 * the 8-byte address; aarch64: ldr x16, #8; br x16; the 8-byte address. */
#define AZC_ELF_STUB_SIZE 16
void azc_elf_stub_write(uint16_t machine, uint8_t *bytes, uint64_t target);

#endif
