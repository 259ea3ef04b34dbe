/* ELF object loader (see elf_loader.h and docs/elf-loader.md): a static
 * linker's work, done in memory, for the objects the compiler emits.
 *
 * The load runs in passes, and every byte of input is checked before use:
 *   1. parse: headers, section table, string tables and every symbol are
 *      validated and copied out (inputs may be unaligned, so nothing is cast);
 *   2. COMDAT groups: the first object holding a signature keeps its members,
 *      later copies are discarded;
 *   3. classify each section into a region (text, read-only, writable) and
 *      scan the relocation sections, which sizes the stub and GOT areas and
 *      rejects unknown relocation types before anything is mapped;
 *   4. the global symbol table: defined globals of all objects, sorted by
 *      name; duplicates are resolved (strong > common > weak, first weak wins);
 *   5. layout in one anonymous mapping: [text | stubs] [rodata, .data.rel.ro |
 *      GOT] [data, bss | commons], each region page-aligned; one mapping keeps
 *      every PC-relative reference (+-2 GiB, +-4 GiB for ADRP) within reach;
 *   6. copy section bytes, apply relocations (arithmetic in elf_reloc.c);
 *      calls to functions outside the image go through a stub in the text
 *      region, GOT-indirect references through a slot in the read-only
 *      region; stubs and slots are shared by target address;
 *   7. protections: text r-x, read-only r--, data rw-. The mapping is rw- only
 *      while it is being written and never executable at the same time.
 * The symbol table that the image keeps owns copies of the names: the input
 * objects may be freed after the call. */
#include "runtime/elf_loader.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* Larger images could break the +-2 GiB reach of PC-relative fields. */
#define MAX_IMAGE_BYTES ((uint64_t)1 << 30)

enum { REGION_TEXT, REGION_RODATA, REGION_DATA, N_REGIONS, SEC_SKIP = 0xfe, SEC_DISCARDED = 0xff };
enum { SYM_PENDING = 0, SYM_INSIDE = 1, SYM_EXTERNAL = 2 };

typedef struct object {
  int index;
  const uint8_t *data;
  size_t size;
  uint32_t shnum;
  Elf64_Shdr *sh;   /* copied section headers */
  uint8_t *region;  /* per section: REGION_*, SEC_SKIP or SEC_DISCARDED */
  uint64_t *offset; /* per section: offset in the mapping (loaded sections) */
  const char *shstrtab;
  size_t shstrtab_size;
  uint32_t symtab; /* section index of SHT_SYMTAB, 0 = none */
  uint64_t nsyms;
  const char *strtab;
  size_t strtab_size;
  uint64_t *sym_addr; /* per symbol, filled while relocating */
  uint8_t *sym_state; /* SYM_* */
} object_t;

/* A defined global or weak symbol. */
typedef struct gsym {
  const char *name; /* borrowed from the object's string table */
  int obj;
  uint64_t sym;
  uint8_t bind;
  uint16_t shndx;
  uint64_t value, size; /* SHN_COMMON: value is the alignment */
  uint64_t address;
} gsym_t;

/* uint64 key -> slot index, for sharing stubs and GOT slots. */
typedef struct addr_map {
  uint64_t *keys;
  uint32_t *slots; /* slot + 1; 0 = empty */
  size_t cap;
  uint32_t used;
} addr_map_t;

typedef struct loader {
  uint16_t machine;
  bool foreign;
  azc_elf_resolve_fn_t resolve;
  void *user;
  object_t *objs;
  int n;
  gsym_t *globals; /* winners, sorted by name */
  size_t n_globals;
  uint64_t page;
  uint64_t region_start[N_REGIONS], region_end[N_REGIONS];
  uint64_t stub_off, max_stubs, got_off, max_got;
  uint8_t *base;
  size_t map_size;
  addr_map_t stubs, got;
} loader_t;

typedef struct image_symbol {
  const char *name;
  void *address;
} image_symbol_t;

struct azc_code_image {
  uint8_t *base;
  size_t size;
  uint16_t machine;
  image_symbol_t *symbols; /* sorted by name */
  size_t n_symbols;
  char *names;
};

uint16_t azc_elf_host_machine(void) {
#if defined(__x86_64__)
  return EM_X86_64;
#elif defined(__aarch64__)
  return EM_AARCH64;
#else
  return 0;
#endif
}

const char *azc_elf_machine_name(uint16_t machine, char *buf, size_t cap) {
  const char *name = machine == EM_X86_64    ? "EM_X86_64"
                     : machine == EM_AARCH64 ? "EM_AARCH64"
                     : machine == EM_386     ? "EM_386"
                     : machine == EM_ARM     ? "EM_ARM"
                     : machine == EM_RISCV   ? "EM_RISCV"
                                             : "EM_?";
  snprintf(buf, cap, "%s (%u)", name, (unsigned)machine);
  return buf;
}

azc_code_image_params_t azc_code_image_params_default(void) {
  return (azc_code_image_params_t){.resolve = NULL, .user = NULL, .machine = 0};
}

/* ---- parsing ---- */

static const char *sec_name(const object_t *o, uint32_t i) {
  if (!o->shstrtab || i >= o->shnum) return "?";
  return o->shstrtab + o->sh[i].sh_name; /* validated: inside, NUL-terminated table */
}

static Elf64_Sym sym_read(const object_t *o, uint64_t i) {
  Elf64_Sym s;
  memcpy(&s, o->data + o->sh[o->symtab].sh_offset + i * sizeof(Elf64_Sym), sizeof(s));
  return s;
}

static const char *sym_name(const object_t *o, const Elf64_Sym *s) {
  if (ELF64_ST_TYPE(s->st_info) == STT_SECTION && s->st_shndx < o->shnum)
    return sec_name(o, s->st_shndx);
  return o->strtab + s->st_name;
}

static bool in_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

static bool is_pow2_or_zero(uint64_t x) { return (x & (x - 1)) == 0; }

#define OBJ_ERR(o, code, fmt, ...) AZC_ERR(code, "object %d: " fmt, (o)->index, __VA_ARGS__)
#define SEC_ERR(o, i, code, fmt, ...)                                                              \
  AZC_ERR(code, "object %d: section %u (%s): " fmt, (o)->index, (unsigned)(i), sec_name(o, i),     \
          __VA_ARGS__)

/* A string table: inside the object and NUL-terminated at its end, so every
 * offset below its size reads a terminated string. */
static azc_status_t check_strtab(const object_t *o, uint32_t i, const char **out, size_t *size) {
  const Elf64_Shdr *s = &o->sh[i];
  if (s->sh_type != SHT_STRTAB)
    return SEC_ERR(o, i, AZC_CORRUPT, "expected a string table, found type 0x%x", s->sh_type);
  if (s->sh_size == 0 || o->data[s->sh_offset + s->sh_size - 1] != 0)
    return SEC_ERR(o, i, AZC_CORRUPT, "string table of %" PRIu64 " bytes is not NUL-terminated",
                   s->sh_size);
  *out = (const char *)o->data + s->sh_offset;
  *size = s->sh_size;
  return NULL;
}

static azc_status_t parse_header(object_t *o, uint16_t machine, Elf64_Ehdr *eh) {
  if (o->size < sizeof(Elf64_Ehdr))
    return OBJ_ERR(o, AZC_CORRUPT, "%zu bytes is too small for an ELF header (%zu bytes)", o->size,
                   sizeof(Elf64_Ehdr));
  memcpy(eh, o->data, sizeof(*eh));
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
    return OBJ_ERR(o, AZC_CORRUPT, "%s", "not an ELF file (bad magic)");
  if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
    return OBJ_ERR(o, AZC_UNSUPPORTED,
                   "ELF class %u, data encoding %u: only 64-bit little-endian is supported",
                   eh->e_ident[EI_CLASS], eh->e_ident[EI_DATA]);
  if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
    return OBJ_ERR(o, AZC_CORRUPT, "ELF version %u/%u, expected 1", eh->e_ident[EI_VERSION],
                   eh->e_version);
  if (eh->e_type != ET_REL)
    return OBJ_ERR(o, AZC_UNSUPPORTED, "e_type %u is not a relocatable object (ET_REL = 1)",
                   eh->e_type);
  if (eh->e_machine != machine) {
    char a[32], b[32];
    return OBJ_ERR(o, AZC_UNSUPPORTED, "built for %s, but this loader targets %s",
                   azc_elf_machine_name(eh->e_machine, a, sizeof(a)),
                   azc_elf_machine_name(machine, b, sizeof(b)));
  }
  if (eh->e_shentsize != sizeof(Elf64_Shdr))
    return OBJ_ERR(o, AZC_CORRUPT, "section header size %u, expected %zu", eh->e_shentsize,
                   sizeof(Elf64_Shdr));
  if (eh->e_shnum == 0)
    return eh->e_shoff ? OBJ_ERR(o, AZC_UNSUPPORTED, "%s", "extended section numbering")
                       : OBJ_ERR(o, AZC_CORRUPT, "%s", "no section headers");
  if (eh->e_shstrndx == SHN_XINDEX)
    return OBJ_ERR(o, AZC_UNSUPPORTED, "%s", "extended section-name string table index");
  if (!in_bounds(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), o->size))
    return OBJ_ERR(o, AZC_CORRUPT,
                   "section header table (offset 0x%" PRIx64 ", %u entries) is past the end "
                   "(%zu bytes)",
                   eh->e_shoff, eh->e_shnum, o->size);
  if (eh->e_shstrndx >= eh->e_shnum)
    return OBJ_ERR(o, AZC_CORRUPT, "section-name table index %u, only %u sections", eh->e_shstrndx,
                   eh->e_shnum);
  return NULL;
}

static azc_status_t parse_symbols(object_t *o) {
  uint32_t t = o->symtab;
  const Elf64_Shdr *s = &o->sh[t];
  if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_size % sizeof(Elf64_Sym) != 0)
    return SEC_ERR(o, t, AZC_CORRUPT, "symbol table entry size %" PRIu64 ", total %" PRIu64,
                   s->sh_entsize, s->sh_size);
  if (s->sh_link == 0 || s->sh_link >= o->shnum)
    return SEC_ERR(o, t, AZC_CORRUPT, "string table index %u out of range", s->sh_link);
  AZC_RETURN_IF_ERROR(check_strtab(o, s->sh_link, &o->strtab, &o->strtab_size));
  o->nsyms = s->sh_size / sizeof(Elf64_Sym);
  o->sym_addr = calloc(o->nsyms ? o->nsyms : 1, sizeof(uint64_t));
  o->sym_state = calloc(o->nsyms ? o->nsyms : 1, 1);
  if (!o->sym_addr || !o->sym_state) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "symbol arrays");
  for (uint64_t i = 1; i < o->nsyms; i++) {
    Elf64_Sym y = sym_read(o, i);
    if (y.st_name >= o->strtab_size)
      return OBJ_ERR(o, AZC_CORRUPT, "symbol %" PRIu64 ": name offset %u past the string table", i,
                     y.st_name);
    const char *name = o->strtab + y.st_name;
    int type = ELF64_ST_TYPE(y.st_info), bind = ELF64_ST_BIND(y.st_info);
    if (type == STT_TLS || type == STT_GNU_IFUNC)
      return OBJ_ERR(o, AZC_UNSUPPORTED, "symbol %" PRIu64 " '%s': %s symbols are not supported", i,
                     name, type == STT_TLS ? "thread-local" : "IFUNC");
    if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
      return OBJ_ERR(o, AZC_UNSUPPORTED, "symbol %" PRIu64 " '%s': binding %d", i, name, bind);
    uint16_t x = y.st_shndx;
    if (x == SHN_UNDEF || x == SHN_ABS) continue;
    if (x == SHN_COMMON) {
      if (bind == STB_LOCAL || !is_pow2_or_zero(y.st_value) || y.st_value > 4096 ||
          y.st_size > MAX_IMAGE_BYTES)
        return OBJ_ERR(o, AZC_CORRUPT,
                       "symbol %" PRIu64 " '%s': bad common (alignment %" PRIu64 ", size %" PRIu64
                       ")",
                       i, name, y.st_value, y.st_size);
      continue;
    }
    if (x >= SHN_LORESERVE)
      return OBJ_ERR(o, AZC_UNSUPPORTED, "symbol %" PRIu64 " '%s': special section index 0x%x", i,
                     name, x);
    if (x >= o->shnum)
      return OBJ_ERR(o, AZC_CORRUPT, "symbol %" PRIu64 " '%s': section index %u, only %u sections",
                     i, name, x, o->shnum);
    if (y.st_value > o->sh[x].sh_size)
      return OBJ_ERR(o, AZC_CORRUPT,
                     "symbol %" PRIu64 " '%s': value 0x%" PRIx64 " is past the end of section %u "
                     "(%s, %" PRIu64 " bytes)",
                     i, name, y.st_value, x, sec_name(o, x), o->sh[x].sh_size);
  }
  return NULL;
}

static azc_status_t parse_object(object_t *o, uint16_t machine) {
  Elf64_Ehdr eh;
  AZC_RETURN_IF_ERROR(parse_header(o, machine, &eh));
  o->shnum = eh.e_shnum;
  o->sh = malloc(o->shnum * sizeof(Elf64_Shdr));
  o->region = malloc(o->shnum);
  o->offset = calloc(o->shnum, sizeof(uint64_t));
  if (!o->sh || !o->region || !o->offset) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "sections");
  memcpy(o->sh, o->data + eh.e_shoff, o->shnum * sizeof(Elf64_Shdr));
  memset(o->region, SEC_SKIP, o->shnum);
  for (uint32_t i = 1; i < o->shnum; i++) { /* offsets first: string tables depend on them */
    const Elf64_Shdr *s = &o->sh[i];
    if (s->sh_type != SHT_NOBITS && s->sh_type != SHT_NULL &&
        !in_bounds(s->sh_offset, s->sh_size, o->size))
      return AZC_ERR(AZC_CORRUPT,
                     "object %d: section %u: offset 0x%" PRIx64 " + size 0x%" PRIx64
                     " is past the end of the object (%zu bytes)",
                     o->index, i, s->sh_offset, s->sh_size, o->size);
  }
  if (eh.e_shstrndx != SHN_UNDEF)
    AZC_RETURN_IF_ERROR(check_strtab(o, eh.e_shstrndx, &o->shstrtab, &o->shstrtab_size));
  for (uint32_t i = 1; i < o->shnum; i++) {
    const Elf64_Shdr *s = &o->sh[i];
    if (o->shstrtab && s->sh_name >= o->shstrtab_size) {
      const char *keep = o->shstrtab;
      o->shstrtab = NULL; /* so that the message does not read the bad name */
      azc_status_t st = SEC_ERR(o, i, AZC_CORRUPT, "name offset %u past the name table (%zu bytes)",
                                s->sh_name, o->shstrtab_size);
      o->shstrtab = keep;
      return st;
    }
    if (!is_pow2_or_zero(s->sh_addralign))
      return SEC_ERR(o, i, AZC_CORRUPT, "alignment %" PRIu64 " is not a power of two",
                     s->sh_addralign);
    if (s->sh_type == SHT_SYMTAB) {
      if (o->symtab) return SEC_ERR(o, i, AZC_CORRUPT, "%s", "a second symbol table");
      o->symtab = i;
    }
  }
  if (o->symtab) AZC_RETURN_IF_ERROR(parse_symbols(o));
  return NULL;
}

/* ---- COMDAT groups ---- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211u;
  return h;
}

static azc_status_t apply_groups(loader_t *L) {
  size_t n_groups = 0;
  for (int k = 0; k < L->n; k++)
    for (uint32_t i = 1; i < L->objs[k].shnum; i++)
      n_groups += L->objs[k].sh[i].sh_type == SHT_GROUP;
  if (!n_groups) return NULL;
  size_t cap = 16;
  while (cap < 2 * n_groups) cap *= 2;
  const char **seen = calloc(cap, sizeof(*seen));
  if (!seen) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "COMDAT signatures");
  azc_status_t st = NULL;
  for (int k = 0; k < L->n && !st; k++) {
    object_t *o = &L->objs[k];
    for (uint32_t i = 1; i < o->shnum && !st; i++) {
      const Elf64_Shdr *s = &o->sh[i];
      if (s->sh_type != SHT_GROUP) continue;
      if (!o->symtab || s->sh_link != o->symtab || s->sh_info == 0 || s->sh_info >= o->nsyms ||
          s->sh_entsize != 4 || s->sh_size < 4 || s->sh_size % 4 != 0) {
        st = SEC_ERR(o, i, AZC_CORRUPT, "bad group header (link %u, info %u, size %" PRIu64 ")",
                     s->sh_link, s->sh_info, s->sh_size);
        break;
      }
      uint32_t word[1];
      memcpy(word, o->data + s->sh_offset, 4);
      if (!(word[0] & GRP_COMDAT)) continue; /* a plain group: everything is kept */
      Elf64_Sym sig_sym = sym_read(o, s->sh_info);
      const char *sig = sym_name(o, &sig_sym);
      size_t h = hash_str(sig) & (cap - 1);
      while (seen[h] && strcmp(seen[h], sig) != 0) h = (h + 1) & (cap - 1);
      bool discard = seen[h] != NULL;
      seen[h] = sig;
      for (uint64_t m = 1; m < s->sh_size / 4; m++) {
        uint32_t member;
        memcpy(&member, o->data + s->sh_offset + 4 * m, 4);
        if (member == 0 || member >= o->shnum || member == i) {
          st = SEC_ERR(o, i, AZC_CORRUPT, "group '%s' member %" PRIu64 " has section index %u", sig,
                       m, member);
          break;
        }
        if (discard) o->region[member] = SEC_DISCARDED;
      }
    }
  }
  free(seen);
  return st;
}

/* ---- sections and relocation scan ---- */

static azc_status_t classify_sections(loader_t *L, object_t *o) {
  for (uint32_t i = 1; i < o->shnum; i++) {
    const Elf64_Shdr *s = &o->sh[i];
    if (o->region[i] == SEC_DISCARDED || !(s->sh_flags & SHF_ALLOC)) continue;
    const char *name = sec_name(o, i);
    if (s->sh_type == SHT_NOTE || s->sh_type == SHT_X86_64_UNWIND || !strcmp(name, ".eh_frame"))
      continue; /* unwind tables and notes: never read by the code */
    if (s->sh_type == SHT_INIT_ARRAY || s->sh_type == SHT_FINI_ARRAY ||
        s->sh_type == SHT_PREINIT_ARRAY)
      return SEC_ERR(o, i, AZC_UNSUPPORTED, "%s", "constructors/destructors are not supported");
    if (s->sh_type != SHT_PROGBITS && s->sh_type != SHT_NOBITS)
      return SEC_ERR(o, i, AZC_UNSUPPORTED, "allocatable section of type 0x%x", s->sh_type);
    if (s->sh_flags & SHF_TLS)
      return SEC_ERR(o, i, AZC_UNSUPPORTED, "%s", "thread-local storage is not supported");
    if ((s->sh_flags & SHF_WRITE) && (s->sh_flags & SHF_EXECINSTR))
      return SEC_ERR(o, i, AZC_UNSUPPORTED, "%s", "writable and executable (W^X)");
    if (s->sh_addralign > L->page)
      return SEC_ERR(o, i, AZC_UNSUPPORTED, "alignment %" PRIu64 " exceeds the page size %" PRIu64,
                     s->sh_addralign, L->page);
    if (s->sh_size > MAX_IMAGE_BYTES)
      return SEC_ERR(o, i, AZC_OUT_OF_RANGE, "%" PRIu64 " bytes, more than the image limit",
                     s->sh_size);
    bool relro = !strncmp(name, ".data.rel.ro", 12); /* written only by relocation */
    o->region[i] = (s->sh_flags & SHF_EXECINSTR)         ? REGION_TEXT
                   : (s->sh_flags & SHF_WRITE) && !relro ? REGION_DATA
                                                         : REGION_RODATA;
  }
  return NULL;
}

/* The target of relocation section i, or 0 when its target is not loaded. */
static azc_status_t reloc_target(const object_t *o, uint32_t i, uint32_t *target) {
  const Elf64_Shdr *s = &o->sh[i];
  *target = 0;
  if (s->sh_type != SHT_RELA && s->sh_type != SHT_REL) return NULL;
  if (s->sh_info == 0 || s->sh_info >= o->shnum)
    return SEC_ERR(o, i, AZC_CORRUPT, "relocation target section %u out of range", s->sh_info);
  if (o->region[i] == SEC_DISCARDED || o->region[s->sh_info] >= N_REGIONS) return NULL;
  if (s->sh_type == SHT_REL)
    return SEC_ERR(o, i, AZC_UNSUPPORTED, "%s", "SHT_REL relocations (without addends)");
  if (!o->symtab || s->sh_link != o->symtab)
    return SEC_ERR(o, i, AZC_CORRUPT, "symbol table link %u, expected %u", s->sh_link, o->symtab);
  if (s->sh_entsize != sizeof(Elf64_Rela) || s->sh_size % sizeof(Elf64_Rela) != 0)
    return SEC_ERR(o, i, AZC_CORRUPT, "entry size %" PRIu64 ", total %" PRIu64, s->sh_entsize,
                   s->sh_size);
  if (o->sh[s->sh_info].sh_type == SHT_NOBITS)
    return SEC_ERR(o, i, AZC_CORRUPT, "relocates section %u, which has no bytes (NOBITS)",
                   s->sh_info);
  *target = s->sh_info;
  return NULL;
}

static Elf64_Rela rela_read(const object_t *o, uint32_t i, uint64_t k) {
  Elf64_Rela r;
  memcpy(&r, o->data + o->sh[i].sh_offset + k * sizeof(r), sizeof(r));
  return r;
}

static azc_status_t unsupported_reloc(const loader_t *L, const object_t *o, uint32_t i, uint64_t k,
                                      uint32_t type) {
  return SEC_ERR(o, i, AZC_UNSUPPORTED, "relocation %" PRIu64 " has type %u, not supported for %s",
                 k, type, L->machine == EM_X86_64 ? "x86_64" : "aarch64");
}

static azc_status_t scan_relocs(loader_t *L, const object_t *o) {
  for (uint32_t i = 1; i < o->shnum; i++) {
    uint32_t target;
    AZC_RETURN_IF_ERROR(reloc_target(o, i, &target));
    if (!target) continue;
    uint64_t n = o->sh[i].sh_size / sizeof(Elf64_Rela);
    for (uint64_t k = 0; k < n; k++) {
      uint32_t type = ELF64_R_TYPE(rela_read(o, i, k).r_info);
      switch (azc_elf_reloc_kind(L->machine, type)) {
      case AZC_ELF_RELOC_UNSUPPORTED: return unsupported_reloc(L, o, i, k, type);
      case AZC_ELF_RELOC_BRANCH: L->max_stubs++; break;
      case AZC_ELF_RELOC_GOT: L->max_got++; break;
      default: break;
      }
    }
  }
  return NULL;
}

/* ---- global symbols ---- */

static int gsym_cmp(const void *a, const void *b) {
  const gsym_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  if (x->obj != y->obj) return x->obj < y->obj ? -1 : 1;
  return x->sym < y->sym ? -1 : x->sym > y->sym;
}

static int gsym_rank(const gsym_t *g) { /* strong > common > weak */
  if (g->bind == STB_WEAK) return 0;
  return g->shndx == SHN_COMMON ? 1 : 2;
}

static azc_status_t build_globals(loader_t *L) {
  size_t n = 0;
  for (int k = 0; k < L->n; k++) n += L->objs[k].nsyms;
  L->globals = calloc(n ? n : 1, sizeof(gsym_t));
  if (!L->globals) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "symbol table");
  n = 0;
  for (int k = 0; k < L->n; k++) {
    const object_t *o = &L->objs[k];
    for (uint64_t i = 1; i < o->nsyms; i++) {
      Elf64_Sym y = sym_read(o, i);
      if (ELF64_ST_BIND(y.st_info) == STB_LOCAL || y.st_shndx == SHN_UNDEF) continue;
      if (y.st_shndx < o->shnum && o->region[y.st_shndx] >= N_REGIONS) continue; /* not loaded */
      L->globals[n++] = (gsym_t){.name = o->strtab + y.st_name,
                                 .obj = k,
                                 .sym = i,
                                 .bind = ELF64_ST_BIND(y.st_info),
                                 .shndx = y.st_shndx,
                                 .value = y.st_value,
                                 .size = y.st_size};
    }
  }
  qsort(L->globals, n, sizeof(gsym_t), gsym_cmp);
  size_t out = 0;
  for (size_t a = 0; a < n;) {
    size_t b = a + 1, best = a;
    uint64_t common_size = 0, common_align = 1;
    while (b < n && !strcmp(L->globals[b].name, L->globals[a].name)) b++;
    for (size_t j = a; j < b; j++) {
      const gsym_t *g = &L->globals[j];
      if (g->shndx == SHN_COMMON) {
        common_size = g->size > common_size ? g->size : common_size;
        common_align = g->value > common_align ? g->value : common_align;
      }
      if (j == best) continue;
      if (gsym_rank(g) == 2 && gsym_rank(&L->globals[best]) == 2)
        return AZC_ERR(AZC_CORRUPT, "symbol '%s' is defined in object %d and in object %d", g->name,
                       L->globals[best].obj, g->obj);
      if (gsym_rank(g) > gsym_rank(&L->globals[best])) best = j;
    }
    gsym_t w = L->globals[best];
    if (w.shndx == SHN_COMMON) w.size = common_size, w.value = common_align;
    L->globals[out++] = w;
    a = b;
  }
  L->n_globals = out;
  return NULL;
}

static const gsym_t *global_find(const loader_t *L, const char *name) {
  size_t lo = 0, hi = L->n_globals;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(name, L->globals[mid].name);
    if (!c) return &L->globals[mid];
    if (c < 0) hi = mid;
    if (c > 0) lo = mid + 1;
  }
  return NULL;
}

/* ---- layout ---- */

static azc_status_t grow(uint64_t *off, uint64_t align, uint64_t size, const char *what) {
  if (align > 1) *off = (*off + align - 1) & ~(align - 1);
  if (size > MAX_IMAGE_BYTES || *off + size > MAX_IMAGE_BYTES)
    return AZC_ERR(AZC_OUT_OF_RANGE, "%s: the image would exceed %" PRIu64 " bytes", what,
                   MAX_IMAGE_BYTES);
  *off += size;
  return NULL;
}

static azc_status_t layout(loader_t *L) {
  uint64_t off = 0;
  for (int r = 0; r < N_REGIONS; r++) {
    L->region_start[r] = off;
    for (int k = 0; k < L->n; k++) {
      object_t *o = &L->objs[k];
      for (uint32_t i = 1; i < o->shnum; i++) {
        if (o->region[i] != r) continue;
        AZC_RETURN_IF_ERROR(grow(&off, o->sh[i].sh_addralign, 0, "sections"));
        o->offset[i] = off;
        AZC_RETURN_IF_ERROR(grow(&off, 1, o->sh[i].sh_size, "sections"));
      }
    }
    if (r == REGION_TEXT) {
      AZC_RETURN_IF_ERROR(grow(&off, 16, 0, "stubs"));
      L->stub_off = off;
      AZC_RETURN_IF_ERROR(grow(&off, 1, L->max_stubs * AZC_ELF_STUB_SIZE, "stubs"));
    } else if (r == REGION_RODATA) {
      AZC_RETURN_IF_ERROR(grow(&off, 8, 0, "GOT"));
      L->got_off = off;
      AZC_RETURN_IF_ERROR(grow(&off, 1, L->max_got * 8, "GOT"));
    } else {
      for (size_t j = 0; j < L->n_globals; j++) {
        gsym_t *g = &L->globals[j];
        if (g->shndx != SHN_COMMON) continue;
        AZC_RETURN_IF_ERROR(grow(&off, g->value, 0, "common symbols"));
        g->address = off; /* an offset until the mapping exists */
        AZC_RETURN_IF_ERROR(grow(&off, 1, g->size, "common symbols"));
      }
    }
    L->region_end[r] = off;
    AZC_RETURN_IF_ERROR(grow(&off, L->page, 0, "page alignment"));
  }
  L->map_size = off ? off : L->page;
  return NULL;
}

static azc_status_t map_and_copy(loader_t *L) {
  void *m = mmap(NULL, L->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return AZC_ERR(AZC_OUT_OF_MEMORY, "mapping %zu bytes for code: %s", L->map_size,
                   strerror(errno));
  L->base = m;
  for (int k = 0; k < L->n; k++) {
    const object_t *o = &L->objs[k];
    for (uint32_t i = 1; i < o->shnum; i++)
      if (o->region[i] < N_REGIONS && o->sh[i].sh_type == SHT_PROGBITS && o->sh[i].sh_size)
        memcpy(L->base + o->offset[i], o->data + o->sh[i].sh_offset, o->sh[i].sh_size);
  }
  for (size_t j = 0; j < L->n_globals; j++) {
    gsym_t *g = &L->globals[j];
    const object_t *o = &L->objs[g->obj];
    uint64_t base = (uint64_t)(uintptr_t)L->base;
    switch (g->shndx) {
    case SHN_ABS: g->address = g->value; break;
    case SHN_COMMON: g->address += base; break; /* layout() stored the offset */
    default: g->address = base + o->offset[g->shndx] + g->value; break;
    }
  }
  return NULL;
}

/* ---- relocation ---- */

static azc_status_t map_init(addr_map_t *m, uint64_t max) {
  m->cap = 16;
  while (m->cap < 2 * max) m->cap *= 2;
  m->keys = calloc(m->cap, sizeof(uint64_t));
  m->slots = calloc(m->cap, sizeof(uint32_t));
  if (!m->keys || !m->slots) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "stub/GOT table");
  return NULL;
}

/* The slot for `key`, created on first use; *fresh tells which. */
static uint32_t map_slot(addr_map_t *m, uint64_t key, bool *fresh) {
  size_t h = (size_t)((key * 0x9e3779b97f4a7c15u) >> 20) & (m->cap - 1);
  while (m->slots[h] && m->keys[h] != key) h = (h + 1) & (m->cap - 1);
  *fresh = !m->slots[h];
  if (*fresh) {
    m->keys[h] = key;
    m->slots[h] = ++m->used;
  }
  return m->slots[h] - 1;
}

static uint64_t stub_for(loader_t *L, uint64_t target) {
  bool fresh;
  uint32_t s = map_slot(&L->stubs, target, &fresh);
  uint8_t *p = L->base + L->stub_off + (uint64_t)s * AZC_ELF_STUB_SIZE;
  if (fresh) azc_elf_stub_write(L->machine, p, target);
  return (uint64_t)(uintptr_t)p;
}

static uint64_t got_for(loader_t *L, uint64_t value) {
  bool fresh;
  uint32_t s = map_slot(&L->got, value, &fresh);
  uint8_t *p = L->base + L->got_off + (uint64_t)s * 8;
  if (fresh) memcpy(p, &value, 8);
  return (uint64_t)(uintptr_t)p;
}

/* The address of symbol i of object o; *external when it lies outside the image. */
static azc_status_t resolve_symbol(loader_t *L, object_t *o, uint64_t i, uint64_t *addr,
                                   bool *external) {
  *addr = 0;
  *external = false;
  if (i == 0) return NULL;
  if (o->sym_state[i] != SYM_PENDING) {
    *addr = o->sym_addr[i];
    *external = o->sym_state[i] == SYM_EXTERNAL;
    return NULL;
  }
  Elf64_Sym y = sym_read(o, i);
  const char *name = sym_name(o, &y);
  uint64_t a;
  bool ext = false;
  if (ELF64_ST_BIND(y.st_info) == STB_LOCAL) {
    if (y.st_shndx == SHN_ABS) {
      a = y.st_value;
    } else if (y.st_shndx == SHN_UNDEF || y.st_shndx >= o->shnum) {
      return OBJ_ERR(o, AZC_CORRUPT, "local symbol %" PRIu64 " '%s' is undefined", i, name);
    } else if (o->region[y.st_shndx] >= N_REGIONS) {
      return OBJ_ERR(o, AZC_CORRUPT,
                     "symbol %" PRIu64 " '%s' is in section %u (%s), which is not loaded%s", i,
                     name, y.st_shndx, sec_name(o, y.st_shndx),
                     o->region[y.st_shndx] == SEC_DISCARDED ? " (a discarded COMDAT copy)" : "");
    } else {
      a = (uint64_t)(uintptr_t)L->base + o->offset[y.st_shndx] + y.st_value;
    }
  } else {
    const gsym_t *g = global_find(L, name);
    if (g) {
      a = g->address;
    } else if (y.st_shndx == SHN_UNDEF && !strcmp(name, "_GLOBAL_OFFSET_TABLE_")) {
      a = (uint64_t)(uintptr_t)L->base + L->got_off; /* the large code model computes it */
    } else if (y.st_shndx != SHN_UNDEF) {
      return OBJ_ERR(o, AZC_CORRUPT,
                     "symbol %" PRIu64 " '%s' is defined in a section that is not loaded", i, name);
    } else {
      void *p = L->resolve(L->user, name);
      if (!p && ELF64_ST_BIND(y.st_info) != STB_WEAK)
        return OBJ_ERR(o, AZC_NOT_FOUND,
                       "undefined symbol '%s': no object defines it and the resolver does not "
                       "know it",
                       name);
      a = (uint64_t)(uintptr_t)p; /* an undefined weak symbol is 0 */
      ext = true;
    }
  }
  o->sym_addr[i] = a;
  o->sym_state[i] = ext ? SYM_EXTERNAL : SYM_INSIDE;
  *addr = a;
  *external = ext;
  return NULL;
}

static azc_status_t relocate_object(loader_t *L, object_t *o) {
  uint64_t base = (uint64_t)(uintptr_t)L->base;
  for (uint32_t i = 1; i < o->shnum; i++) {
    uint32_t t;
    AZC_RETURN_IF_ERROR(reloc_target(o, i, &t));
    if (!t) continue;
    uint64_t n = o->sh[i].sh_size / sizeof(Elf64_Rela), size = o->sh[t].sh_size;
    for (uint64_t k = 0; k < n; k++) {
      Elf64_Rela r = rela_read(o, i, k);
      uint32_t type = ELF64_R_TYPE(r.r_info);
      uint64_t si = ELF64_R_SYM(r.r_info);
      if (si >= o->nsyms)
        return SEC_ERR(o, i, AZC_CORRUPT,
                       "relocation %" PRIu64 ": symbol index %" PRIu64 ", only %" PRIu64 " symbols",
                       k, si, o->nsyms);
      if (r.r_offset >= size)
        return SEC_ERR(o, i, AZC_CORRUPT,
                       "relocation %" PRIu64 ": offset 0x%" PRIx64
                       " is past the end of section %u (%s, %" PRIu64 " bytes)",
                       k, r.r_offset, t, sec_name(o, t), size);
      azc_elf_reloc_kind_t kind = azc_elf_reloc_kind(L->machine, type);
      if (kind == AZC_ELF_RELOC_UNSUPPORTED) return unsupported_reloc(L, o, i, k, type);
      uint64_t S;
      bool external;
      AZC_RETURN_IF_ERROR_CTX(resolve_symbol(L, o, si, &S, &external),
                              "object %d: section %u (%s): relocation %" PRIu64, o->index, i,
                              sec_name(o, i), k);
      azc_elf_reloc_values_t v = {.place = base + o->offset[t] + r.r_offset,
                                  .symbol = S,
                                  .addend = r.r_addend,
                                  .got_base = base + L->got_off};
      if (kind == AZC_ELF_RELOC_BRANCH && external) v.symbol = stub_for(L, S);
      if (kind == AZC_ELF_RELOC_GOT)
        v.got_entry = got_for(L, L->machine == EM_X86_64 ? S : S + (uint64_t)r.r_addend);
      uint8_t *place = L->base + o->offset[t] + r.r_offset;
      azc_status_t st = azc_elf_reloc_apply(L->machine, type, place, size - r.r_offset, &v);
      if (st) {
        Elf64_Sym y = sym_read(o, si);
        return azc_status_wrap(
            st, "object %d: section %u (%s): relocation %" PRIu64 " at 0x%" PRIx64 " against '%s'",
            o->index, i, sec_name(o, i), k, r.r_offset, sym_name(o, &y));
      }
    }
  }
  return NULL;
}

static const char *const region_names[N_REGIONS] = {"code", "read-only", "data"};

static azc_status_t protect(loader_t *L) {
  for (int r = 0; r < N_REGIONS; r++) {
    uint64_t start = L->region_start[r], end = L->region_end[r];
    if (end == start) continue;
    end = (end + L->page - 1) & ~(L->page - 1);
    int prot = r == REGION_DATA ? PROT_READ | PROT_WRITE : PROT_READ;
    if (r == REGION_TEXT && !L->foreign) prot |= PROT_EXEC;
    if (mprotect(L->base + start, end - start, prot) != 0)
      return AZC_ERR(AZC_INTERNAL, "mprotect of the %s pages failed: %s", region_names[r],
                     strerror(errno));
  }
#if defined(__aarch64__)
  if (!L->foreign && L->region_end[REGION_TEXT] > L->region_start[REGION_TEXT])
    __builtin___clear_cache((char *)L->base, (char *)L->base + L->region_end[REGION_TEXT]);
#endif
  return NULL;
}

static int image_symbol_cmp(const void *a, const void *b) {
  return strcmp(((const image_symbol_t *)a)->name, ((const image_symbol_t *)b)->name);
}

static azc_status_t export_symbols(loader_t *L, azc_code_image_t *img) {
  size_t bytes = 0;
  for (size_t j = 0; j < L->n_globals; j++) bytes += strlen(L->globals[j].name) + 1;
  img->symbols = calloc(L->n_globals ? L->n_globals : 1, sizeof(image_symbol_t));
  img->names = malloc(bytes ? bytes : 1);
  if (!img->symbols || !img->names) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "symbol names");
  char *p = img->names;
  for (size_t j = 0; j < L->n_globals; j++) {
    size_t len = strlen(L->globals[j].name) + 1;
    memcpy(p, L->globals[j].name, len);
    img->symbols[j] = (image_symbol_t){p, (void *)(uintptr_t)L->globals[j].address};
    p += len;
  }
  img->n_symbols = L->n_globals; /* in name order, like L->globals */
  return NULL;
}

static void loader_free(loader_t *L) {
  for (int k = 0; k < L->n; k++) {
    object_t *o = &L->objs[k];
    free(o->sh);
    free(o->region);
    free(o->offset);
    free(o->sym_addr);
    free(o->sym_state);
  }
  free(L->objs);
  free(L->globals);
  free(L->stubs.keys);
  free(L->stubs.slots);
  free(L->got.keys);
  free(L->got.slots);
  if (L->base) munmap(L->base, L->map_size);
}

static azc_status_t load(loader_t *L, const void *const *objects, const size_t *sizes,
                         azc_code_image_t *img) {
  L->objs = calloc((size_t)L->n, sizeof(object_t));
  if (!L->objs) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "objects");
  for (int k = 0; k < L->n; k++) {
    if (!objects[k])
      return AZC_ERR(AZC_INVALID_ARGUMENT, "object %d: NULL pointer (%zu bytes)", k, sizes[k]);
    L->objs[k] = (object_t){.index = k, .data = objects[k], .size = sizes[k]};
    AZC_RETURN_IF_ERROR(parse_object(&L->objs[k], L->machine));
  }
  AZC_RETURN_IF_ERROR(apply_groups(L));
  for (int k = 0; k < L->n; k++) AZC_RETURN_IF_ERROR(classify_sections(L, &L->objs[k]));
  for (int k = 0; k < L->n; k++) AZC_RETURN_IF_ERROR(scan_relocs(L, &L->objs[k]));
  AZC_RETURN_IF_ERROR(build_globals(L));
  AZC_RETURN_IF_ERROR(layout(L));
  AZC_RETURN_IF_ERROR(map_init(&L->stubs, L->max_stubs));
  AZC_RETURN_IF_ERROR(map_init(&L->got, L->max_got));
  AZC_RETURN_IF_ERROR(map_and_copy(L));
  for (int k = 0; k < L->n; k++) AZC_RETURN_IF_ERROR(relocate_object(L, &L->objs[k]));
  AZC_RETURN_IF_ERROR(protect(L));
  return export_symbols(L, img);
}

azc_status_t azc_code_image_load_params(const void *const *objects, const size_t *sizes,
                                        int n_objects, const azc_code_image_params_t *params,
                                        azc_code_image_t **out) {
  if (out) *out = NULL;
  if (!out || !params || n_objects <= 0 || !objects || !sizes)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "loading code: %d objects, %s", n_objects,
                   "need at least one and non-NULL objects, sizes, params and out");
  uint16_t host = azc_elf_host_machine();
  uint16_t machine = params->machine ? params->machine : host;
  if (machine != EM_X86_64 && machine != EM_AARCH64) {
    char a[32];
    return AZC_ERR(AZC_UNSUPPORTED, "loading code for %s: only EM_X86_64 and EM_AARCH64",
                   azc_elf_machine_name(machine, a, sizeof(a)));
  }
  loader_t L = {.machine = machine,
                .foreign = machine != host,
                .resolve = params->resolve ? params->resolve : azc_elf_default_resolve,
                .user = params->user,
                .n = n_objects,
                .page = (uint64_t)sysconf(_SC_PAGESIZE)};
  azc_code_image_t *img = calloc(1, sizeof(*img));
  if (!img) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", "code image");
  azc_status_t st = load(&L, objects, sizes, img);
  if (st) {
    free(img->symbols);
    free(img->names);
    free(img);
    loader_free(&L);
    return azc_status_wrap(st, "loading code");
  }
  img->base = L.base;
  img->size = L.map_size;
  img->machine = machine;
  L.base = NULL; /* now owned by the image */
  loader_free(&L);
  *out = img;
  return NULL;
}

azc_status_t azc_code_image_load(const void *const *objects, const size_t *sizes, int n_objects,
                                 azc_elf_resolve_fn_t resolve, void *user, azc_code_image_t **out) {
  azc_code_image_params_t p = azc_code_image_params_default();
  p.resolve = resolve;
  p.user = user;
  return azc_code_image_load_params(objects, sizes, n_objects, &p, out);
}

void *azc_code_image_symbol(const azc_code_image_t *img, const char *name) {
  if (!img || !name) return NULL;
  image_symbol_t key = {name, NULL};
  image_symbol_t *s =
      bsearch(&key, img->symbols, img->n_symbols, sizeof(image_symbol_t), image_symbol_cmp);
  return s ? s->address : NULL;
}

const void *azc_code_image_base(const azc_code_image_t *img) { return img ? img->base : NULL; }
size_t azc_code_image_size(const azc_code_image_t *img) { return img ? img->size : 0; }

void azc_code_image_free(azc_code_image_t *img) {
  if (!img) return;
  if (img->base) munmap(img->base, img->size);
  free(img->symbols);
  free(img->names);
  free(img);
}

/* ---- the built-in resolver ---- */

typedef void (*any_fn_t)(void);
typedef struct builtin_symbol {
  const char *name;
  any_fn_t fn;
} builtin_symbol_t;

/* compiler-rt's x^n for llvm.powi with a run-time exponent (not in libm) */
static float powi_f32(float x, int n) {
  float r = 1;
  for (unsigned m = n < 0 ? 0u - (unsigned)n : (unsigned)n; m; m >>= 1, x *= x)
    if (m & 1) r *= x;
  return n < 0 ? 1 / r : r;
}
static double powi_f64(double x, int n) {
  double r = 1;
  for (unsigned m = n < 0 ? 0u - (unsigned)n : (unsigned)n; m; m >>= 1, x *= x)
    if (m & 1) r *= x;
  return n < 0 ? 1 / r : r;
}

#define B(f)                                                                                       \
  { #f, (any_fn_t)f }
static const builtin_symbol_t libc_symbols[] = {
    B(memcpy), B(memmove), B(memset), B(memcmp), B(bzero),  B(expf),       B(exp),    B(exp2f),
    B(exp2),   B(expm1f),  B(logf),   B(log),    B(log2f),  B(log2),       B(log10f), B(log10),
    B(log1pf), B(tanhf),   B(tanh),   B(sinf),   B(sin),    B(cosf),       B(cos),    B(sincosf),
    B(sincos), B(tanf),    B(atanf),  B(atan),   B(atan2f), B(atan2),      B(asinf),  B(acosf),
    B(sinhf),  B(coshf),   B(sqrtf),  B(sqrt),   B(cbrtf),  B(hypotf),     B(powf),   B(pow),
    B(fmaxf),  B(fmax),    B(fminf),  B(fmin),   B(floorf), B(floor),      B(ceilf),  B(ceil),
    B(roundf), B(round),   B(truncf), B(trunc),  B(rintf),  B(nearbyintf), B(fmodf),  B(fmod),
    B(fmaf),   B(fma),     B(fabsf),  B(ldexpf), B(ldexp),  B(erff),       B(erf),
};
#undef B
static const builtin_symbol_t compiler_rt_symbols[] = {
    {"__powisf2", (any_fn_t)powi_f32},
    {"__powidf2", (any_fn_t)powi_f64},
};

static void *table_find(const builtin_symbol_t *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(t[i].name, name) != 0) continue;
    void *p; /* function pointer -> object pointer: same size on every POSIX target */
    memcpy(&p, &t[i].fn, sizeof(p));
    return p;
  }
  return NULL;
}

void *azc_elf_default_resolve(void *user, const char *name) {
  (void)user;
  if (!name) return NULL;
  void *p = table_find(libc_symbols, sizeof(libc_symbols) / sizeof(libc_symbols[0]), name);
  if (!p) p = table_find(compiler_rt_symbols, 2, name);
  return p;
}
