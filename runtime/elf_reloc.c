/* Relocation arithmetic for the ELF object loader (see elf_loader.h).
 *
 * One pure function per machine turns (type, P, S, A, GOT) into the bytes of
 * the patched field, exactly as the x86_64 and AArch64 ELF psABIs define each
 * type, including their overflow checks: a value that does not fit its field is
 * an error, never truncated (the _NC "no check" types excepted, by definition).
 * Nothing here touches memory other than the field itself, so the aarch64 code
 * is tested on x86_64 hosts (and vice versa) with hand-computed encodings.
 * Fields are written little-endian byte by byte: the place may be unaligned. */
#include <elf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/elf_loader.h"

typedef struct reloc_info {
  uint32_t type;
  const char *name;
  azc_elf_reloc_kind_t kind;
} reloc_info_t;

#define R(t, k)                                                                                    \
  { t, #t, AZC_ELF_RELOC_##k }
static const reloc_info_t x86_64_relocs[] = {
    R(R_X86_64_NONE, NONE),         R(R_X86_64_64, DIRECT),      R(R_X86_64_PC32, DIRECT),
    R(R_X86_64_PLT32, BRANCH),      R(R_X86_64_32, DIRECT),      R(R_X86_64_32S, DIRECT),
    R(R_X86_64_PC64, DIRECT),       R(R_X86_64_GOTPCREL, GOT),   R(R_X86_64_GOTPCRELX, GOT),
    R(R_X86_64_REX_GOTPCRELX, GOT), R(R_X86_64_GOTPC32, DIRECT), R(R_X86_64_GOTPC64, DIRECT),
    R(R_X86_64_GOTOFF64, DIRECT),   R(R_X86_64_GOT64, GOT),      R(R_X86_64_PLTOFF64, BRANCH),
};
static const reloc_info_t aarch64_relocs[] = {
    R(R_AARCH64_NONE, NONE),
    R(R_AARCH64_ABS64, DIRECT),
    R(R_AARCH64_ABS32, DIRECT),
    R(R_AARCH64_ABS16, DIRECT),
    R(R_AARCH64_PREL64, DIRECT),
    R(R_AARCH64_PREL32, DIRECT),
    R(R_AARCH64_PREL16, DIRECT),
    R(R_AARCH64_MOVW_UABS_G0, DIRECT),
    R(R_AARCH64_MOVW_UABS_G0_NC, DIRECT),
    R(R_AARCH64_MOVW_UABS_G1, DIRECT),
    R(R_AARCH64_MOVW_UABS_G1_NC, DIRECT),
    R(R_AARCH64_MOVW_UABS_G2, DIRECT),
    R(R_AARCH64_MOVW_UABS_G2_NC, DIRECT),
    R(R_AARCH64_MOVW_UABS_G3, DIRECT),
    R(R_AARCH64_LD_PREL_LO19, DIRECT),
    R(R_AARCH64_ADR_PREL_LO21, DIRECT),
    R(R_AARCH64_ADR_PREL_PG_HI21, DIRECT),
    R(R_AARCH64_ADR_PREL_PG_HI21_NC, DIRECT),
    R(R_AARCH64_ADD_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_LDST8_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_LDST16_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_LDST32_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_LDST64_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_LDST128_ABS_LO12_NC, DIRECT),
    R(R_AARCH64_TSTBR14, DIRECT),
    R(R_AARCH64_CONDBR19, DIRECT),
    R(R_AARCH64_JUMP26, BRANCH),
    R(R_AARCH64_CALL26, BRANCH),
    R(R_AARCH64_ADR_GOT_PAGE, GOT),
    R(R_AARCH64_LD64_GOT_LO12_NC, GOT),
    R(R_AARCH64_GOT_LD_PREL19, GOT),
};
#undef R

static const reloc_info_t *reloc_find(uint16_t machine, uint32_t type) {
  const reloc_info_t *t = NULL;
  size_t n = 0;
  if (machine == EM_X86_64) {
    t = x86_64_relocs;
    n = sizeof(x86_64_relocs) / sizeof(x86_64_relocs[0]);
  } else if (machine == EM_AARCH64) {
    t = aarch64_relocs;
    n = sizeof(aarch64_relocs) / sizeof(aarch64_relocs[0]);
  }
  for (size_t i = 0; i < n; i++)
    if (t[i].type == type) return &t[i];
  return NULL;
}

azc_elf_reloc_kind_t azc_elf_reloc_kind(uint16_t machine, uint32_t type) {
  const reloc_info_t *r = reloc_find(machine, type);
  return r ? r->kind : AZC_ELF_RELOC_UNSUPPORTED;
}

const char *azc_elf_reloc_name(uint16_t machine, uint32_t type) {
  const reloc_info_t *r = reloc_find(machine, type);
  return r ? r->name : NULL;
}

static void store_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t load_le(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Two's-complement reinterpretation (defined for every value, unlike a cast). */
static int64_t as_signed(uint64_t v) {
  int64_t s;
  memcpy(&s, &v, sizeof(s));
  return s;
}

/* The context every message starts with: "R_X86_64_PC32 (2)". */
static azc_status_t reloc_error(azc_code_t code, const reloc_info_t *r, const char *what,
                                uint64_t value) {
  return AZC_ERR(code, "%s (%u): %s (value 0x%" PRIx64 ", %" PRId64 ")", r->name, r->type, what,
                 value, as_signed(value));
}

/* lo <= value < hi, value read as signed. */
static bool fits(uint64_t value, int64_t lo, int64_t hi) {
  int64_t s = as_signed(value);
  return s >= lo && s < hi;
}

#define POW2(n) ((int64_t)1 << (n))

static azc_status_t apply_x86_64(const reloc_info_t *r, uint8_t *p,
                                 const azc_elf_reloc_values_t *v) {
  uint64_t S = v->symbol, A = (uint64_t)v->addend, P = v->place, GOT = v->got_base;
  uint64_t x;
  int width = 4;
  enum { ANY, SIGNED32, UNSIGNED32 } check = ANY;
  switch (r->type) {
  case R_X86_64_64: x = S + A, width = 8; break;
  case R_X86_64_PC64: x = S + A - P, width = 8; break;
  case R_X86_64_PC32:
  case R_X86_64_PLT32: x = S + A - P, check = SIGNED32; break;
  case R_X86_64_32: x = S + A, check = UNSIGNED32; break;
  case R_X86_64_32S: x = S + A, check = SIGNED32; break;
  case R_X86_64_GOTPCREL:
  case R_X86_64_GOTPCRELX:
  case R_X86_64_REX_GOTPCRELX: x = v->got_entry + A - P, check = SIGNED32; break;
  case R_X86_64_GOTPC32: x = GOT + A - P, check = SIGNED32; break;
  case R_X86_64_GOTPC64: x = GOT + A - P, width = 8; break;
  case R_X86_64_GOTOFF64: x = S + A - GOT, width = 8; break;
  case R_X86_64_GOT64: x = v->got_entry - GOT + A, width = 8; break;
  case R_X86_64_PLTOFF64: x = S + A - GOT, width = 8; break;
  default: return reloc_error(AZC_UNSUPPORTED, r, "no arithmetic for this type", 0);
  }
  if (check == SIGNED32 && !fits(x, -POW2(31), POW2(31)))
    return reloc_error(AZC_OUT_OF_RANGE, r, "does not fit in a signed 32-bit field", x);
  if (check == UNSIGNED32 && x > UINT32_MAX)
    return reloc_error(AZC_OUT_OF_RANGE, r, "does not fit in an unsigned 32-bit field", x);
  store_le(p, x, width);
  return NULL;
}

/* Bits [lo, lo + n) of an AArch64 instruction replaced by `field`. */
static uint32_t insert(uint32_t insn, int lo, int n, uint64_t field) {
  uint32_t mask = (uint32_t)((((uint64_t)1 << n) - 1) << lo);
  return (insn & ~mask) | ((uint32_t)(field << lo) & mask);
}

/* ADR/ADRP: 21-bit immediate split into immlo (bits 29-30) and immhi (5-23). */
static uint32_t insert_adr_imm(uint32_t insn, uint64_t imm21) {
  insn = insert(insn, 29, 2, imm21 & 3);
  return insert(insn, 5, 19, (imm21 >> 2) & 0x7ffff);
}

static uint64_t page(uint64_t x) { return x & ~(uint64_t)0xfff; }

static azc_status_t apply_aarch64(const reloc_info_t *r, uint8_t *p,
                                  const azc_elf_reloc_values_t *v) {
  uint64_t S = v->symbol, A = (uint64_t)v->addend, P = v->place, G = v->got_entry;
  uint64_t x;
  switch (r->type) { /* data fields */
  case R_AARCH64_ABS64: store_le(p, S + A, 8); return NULL;
  case R_AARCH64_PREL64: store_le(p, S + A - P, 8); return NULL;
  case R_AARCH64_ABS32:
  case R_AARCH64_PREL32:
  case R_AARCH64_ABS16:
  case R_AARCH64_PREL16: {
    bool rel = r->type == R_AARCH64_PREL32 || r->type == R_AARCH64_PREL16;
    int bits = r->type == R_AARCH64_ABS32 || r->type == R_AARCH64_PREL32 ? 32 : 16;
    x = S + A - (rel ? P : 0);
    if (!fits(x, -POW2(bits - 1), POW2(bits)))
      return reloc_error(AZC_OUT_OF_RANGE, r, "does not fit the data field", x);
    store_le(p, x, bits / 8);
    return NULL;
  }
  default: break;
  }
  /* instruction fields */
  uint32_t insn = (uint32_t)load_le(p, 4);
  switch (r->type) {
  case R_AARCH64_MOVW_UABS_G0:
  case R_AARCH64_MOVW_UABS_G0_NC:
  case R_AARCH64_MOVW_UABS_G1:
  case R_AARCH64_MOVW_UABS_G1_NC:
  case R_AARCH64_MOVW_UABS_G2:
  case R_AARCH64_MOVW_UABS_G2_NC:
  case R_AARCH64_MOVW_UABS_G3: {
    int group = (r->type - R_AARCH64_MOVW_UABS_G0) / 2; /* G0, G0_NC, G1, ... G3 */
    bool nc = r->type == R_AARCH64_MOVW_UABS_G0_NC || r->type == R_AARCH64_MOVW_UABS_G1_NC ||
              r->type == R_AARCH64_MOVW_UABS_G2_NC;
    x = S + A;
    if (!nc && group < 3 && (x >> (16 * (group + 1))) != 0)
      return reloc_error(AZC_OUT_OF_RANGE, r, "does not fit below the next 16-bit group", x);
    insn = insert(insn, 5, 16, (x >> (16 * group)) & 0xffff);
    break;
  }
  case R_AARCH64_ADR_PREL_LO21:
    x = S + A - P;
    if (!fits(x, -POW2(20), POW2(20)))
      return reloc_error(AZC_OUT_OF_RANGE, r, "ADR target is more than 1 MiB away", x);
    insn = insert_adr_imm(insn, x);
    break;
  case R_AARCH64_ADR_PREL_PG_HI21:
  case R_AARCH64_ADR_PREL_PG_HI21_NC:
  case R_AARCH64_ADR_GOT_PAGE:
    x = page(r->type == R_AARCH64_ADR_GOT_PAGE ? G : S + A) - page(P);
    if (r->type != R_AARCH64_ADR_PREL_PG_HI21_NC && !fits(x, -POW2(32), POW2(32)))
      return reloc_error(AZC_OUT_OF_RANGE, r, "ADRP page is more than 4 GiB away", x);
    insn = insert_adr_imm(insn, as_signed(x) >> 12);
    break;
  case R_AARCH64_ADD_ABS_LO12_NC: insn = insert(insn, 10, 12, (S + A) & 0xfff); break;
  case R_AARCH64_LDST8_ABS_LO12_NC:
  case R_AARCH64_LDST16_ABS_LO12_NC:
  case R_AARCH64_LDST32_ABS_LO12_NC:
  case R_AARCH64_LDST64_ABS_LO12_NC:
  case R_AARCH64_LDST128_ABS_LO12_NC:
  case R_AARCH64_LD64_GOT_LO12_NC: {
    int shift = r->type == R_AARCH64_LDST8_ABS_LO12_NC     ? 0
                : r->type == R_AARCH64_LDST16_ABS_LO12_NC  ? 1
                : r->type == R_AARCH64_LDST32_ABS_LO12_NC  ? 2
                : r->type == R_AARCH64_LDST128_ABS_LO12_NC ? 4
                                                           : 3;
    x = (r->type == R_AARCH64_LD64_GOT_LO12_NC ? G : S + A) & 0xfff;
    /* the scaled immediate cannot express a misaligned offset */
    if (x & ((1u << shift) - 1))
      return reloc_error(AZC_CORRUPT, r, "low 12 bits are not aligned to the access size", x);
    insn = insert(insn, 10, 12, x >> shift);
    break;
  }
  case R_AARCH64_JUMP26:
  case R_AARCH64_CALL26:
  case R_AARCH64_CONDBR19:
  case R_AARCH64_LD_PREL_LO19:
  case R_AARCH64_GOT_LD_PREL19:
  case R_AARCH64_TSTBR14: {
    int bits = r->type == R_AARCH64_JUMP26 || r->type == R_AARCH64_CALL26 ? 26
               : r->type == R_AARCH64_TSTBR14                             ? 14
                                                                          : 19;
    int lo = bits == 26 ? 0 : 5;
    x = (r->type == R_AARCH64_GOT_LD_PREL19 ? G : S + A) - P;
    if (x & 3) return reloc_error(AZC_CORRUPT, r, "target is not 4-byte aligned", x);
    if (!fits(x, -POW2(bits + 1), POW2(bits + 1)))
      return reloc_error(AZC_OUT_OF_RANGE, r, "target is out of the instruction's reach", x);
    insn = insert(insn, lo, bits, (uint64_t)(as_signed(x) >> 2));
    break;
  }
  default: return reloc_error(AZC_UNSUPPORTED, r, "no arithmetic for this type", 0);
  }
  store_le(p, insn, 4);
  return NULL;
}

/* Bytes a relocation writes. */
static size_t reloc_width(uint16_t machine, uint32_t type) {
  if (machine == EM_X86_64) {
    switch (type) {
    case R_X86_64_NONE: return 0;
    case R_X86_64_64:
    case R_X86_64_PC64:
    case R_X86_64_GOTPC64:
    case R_X86_64_GOTOFF64:
    case R_X86_64_GOT64:
    case R_X86_64_PLTOFF64: return 8;
    default: return 4;
    }
  }
  switch (type) {
  case R_AARCH64_NONE: return 0;
  case R_AARCH64_ABS64:
  case R_AARCH64_PREL64: return 8;
  case R_AARCH64_ABS16:
  case R_AARCH64_PREL16: return 2;
  default: return 4;
  }
}

azc_status_t azc_elf_reloc_apply(uint16_t machine, uint32_t type, uint8_t *bytes, size_t room,
                                 const azc_elf_reloc_values_t *values) {
  if (!bytes || !values) return AZC_ERR(AZC_INVALID_ARGUMENT, "relocation %u: no place", type);
  const reloc_info_t *r = reloc_find(machine, type);
  if (!r) {
    if (machine != EM_X86_64 && machine != EM_AARCH64)
      return AZC_ERR(AZC_UNSUPPORTED, "relocations for ELF machine %u are not supported",
                     (unsigned)machine);
    return AZC_ERR(AZC_UNSUPPORTED, "relocation type %u is not supported for %s", type,
                   machine == EM_X86_64 ? "x86_64" : "aarch64");
  }
  size_t width = reloc_width(machine, type);
  if (width == 0) return NULL;
  if (room < width)
    return AZC_ERR(AZC_CORRUPT, "%s (%u) patches %zu bytes but only %zu remain in the section",
                   r->name, type, width, room);
  return machine == EM_X86_64 ? apply_x86_64(r, bytes, values) : apply_aarch64(r, bytes, values);
}

void azc_elf_stub_write(uint16_t machine, uint8_t *bytes, uint64_t target) {
  if (machine == EM_AARCH64) {
    store_le(bytes, 0x58000050u, 4);     /* ldr x16, #8 (the literal below) */
    store_le(bytes + 4, 0xd61f0200u, 4); /* br x16 */
    store_le(bytes + 8, target, 8);
    return;
  }
  static const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp *0(%rip) */
  memcpy(bytes, jmp, sizeof(jmp));
  store_le(bytes + 6, target, 8);
  bytes[14] = bytes[15] = 0xcc; /* int3 padding */
}
