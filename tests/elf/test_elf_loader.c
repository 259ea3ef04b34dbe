/* runtime/elf_loader: relocation arithmetic for x86_64 and aarch64 with
 * hand-computed encodings (cross-checked with llvm-mc), loading and running
 * real clang-19 objects (tests/elf/objs, embedded at build time), cross-object
 * symbols, COMDAT, weak symbols, page protections, aarch64 images loaded for
 * inspection on any host (ADRP/ADD/LDR/BL/MOVZ immediates decoded back to the
 * symbols they must reach), and damaged objects, which must give a status and
 * never crash. The objects are always built (clang-19 is required): a missing
 * one is a failure. */
#include <elf.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/elf_loader.h"
#include "tests/test.h"

typedef struct test_object {
  const char *name;
  const unsigned char *bytes;
  size_t size;
} test_object_t;

#include "test_objects.inc"

/* "kern.x86_64" for kern on x86_64 ... NULL when not built */
static const test_object_t *object_find(const char *base, const char *arch) {
  char name[128];
  snprintf(name, sizeof(name), "%s.%s", base, arch);
  for (size_t i = 0; i < sizeof(test_objects) / sizeof(test_objects[0]); i++)
    if (test_objects[i].bytes && !strcmp(test_objects[i].name, name)) return &test_objects[i];
  return NULL;
}

static const char *host_arch(void) {
  return azc_elf_host_machine() == EM_AARCH64 ? "aarch64" : "x86_64";
}

#define NEED_OBJECT(var, base, arch)                                                               \
  const test_object_t *var = object_find(base, arch);                                              \
  ASSERT_MSG(var != NULL, "test object %s.%s is not embedded (tests/CMakeLists.txt)", base, arch)

static azc_status_t load_objects(const test_object_t *const *objs, int n, azc_code_image_t **img) {
  const void *p[8];
  size_t s[8];
  for (int i = 0; i < n; i++) p[i] = objs[i]->bytes, s[i] = objs[i]->size;
  return azc_code_image_load(p, s, n, NULL, NULL, img);
}

static azc_status_t load_bytes(const uint8_t *bytes, size_t size, azc_code_image_t **img) {
  const void *p = bytes;
  return azc_code_image_load(&p, &size, 1, NULL, NULL, img);
}

/* A function pointer from a symbol (object pointer -> function pointer). */
#define FN(ret, args, img, name, var)                                                              \
  ret(*var) args;                                                                                  \
  do {                                                                                             \
    void *p_ = azc_code_image_symbol(img, name);                                                   \
    ASSERT_MSG(p_ != NULL, "symbol %s missing", name);                                             \
    memcpy(&var, &p_, sizeof(p_));                                                                 \
  } while (0)

/* ---- relocation arithmetic ---- */

static uint32_t rd32(const uint8_t *p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Applies one relocation to a field that starts as `insn` (4 bytes, or zeros
 * for 8-byte fields) inside guard bytes; the guards must survive. */
static azc_status_t apply(uint16_t m, uint32_t type, uint32_t insn, uint64_t P, uint64_t S,
                          int64_t A, uint64_t got_entry, uint64_t got_base, uint64_t *result) {
  uint8_t buf[16];
  memset(buf, 0xa5, sizeof(buf));
  memset(buf + 4, 0, 8);
  wr32(buf + 4, insn);
  azc_elf_reloc_values_t v = {P, S, A, got_entry, got_base};
  azc_status_t st = azc_elf_reloc_apply(m, type, buf + 4, 8, &v);
  *result = rd64(buf + 4);
  for (int i = 0; i < 4; i++)
    if (buf[i] != 0xa5 || buf[12 + i] != 0xa5) {
      azc_status_free(st);
      return AZC_ERR(AZC_INTERNAL, "guard bytes overwritten");
    }
  return st;
}

#define X86(type, P, S, A, G, GB, expect)                                                          \
  do {                                                                                             \
    uint64_t r_;                                                                                   \
    ASSERT_OK(apply(EM_X86_64, type, 0, P, S, A, G, GB, &r_));                                     \
    ASSERT_MSG(r_ == (uint64_t)(expect), "%s: 0x%" PRIx64 " != 0x%" PRIx64, #type, r_,             \
               (uint64_t)(expect));                                                                \
  } while (0)
#define A64(type, insn, P, S, A, G, expect)                                                        \
  do {                                                                                             \
    uint64_t r_;                                                                                   \
    ASSERT_OK(apply(EM_AARCH64, type, insn, P, S, A, G, 0, &r_));                                  \
    ASSERT_MSG(r_ == (uint64_t)(expect), "%s: 0x%" PRIx64 " != 0x%" PRIx64, #type, r_,             \
               (uint64_t)(expect));                                                                \
  } while (0)
#define BAD(m, type, insn, P, S, A, G, code, needle)                                               \
  do {                                                                                             \
    uint64_t r_;                                                                                   \
    ASSERT_ERR(apply(m, type, insn, P, S, A, G, 0, &r_), code, needle);                            \
  } while (0)

static void test_reloc_x86_64(void) {
  const uint64_t M32 = 0xffffffffu;
  X86(R_X86_64_NONE, 0x1000, 0x2000, 0, 0, 0, 0);
  X86(R_X86_64_64, 0x1000, 0x1122334455667788u, 8, 0, 0, 0x1122334455667790u);
  X86(R_X86_64_PC32, 0x1000, 0x2000, -4, 0, 0, 0xffc);
  X86(R_X86_64_PC32, 0x2000, 0x1000, -4, 0, 0, 0xffffeffc); /* -0x1004, 32 bits */
  X86(R_X86_64_PLT32, 0x7f0000001000u, 0x7f0000001010u, -4, 0, 0, 0xc);
  /* the edges of the signed 32-bit range: P + 2^31 - 1 fits, P + 2^31 does not */
  X86(R_X86_64_PC32, 0x100000000u, 0x100000000u + 0x7fffffffu + 4, -4, 0, 0, 0x7fffffff);
  X86(R_X86_64_PC32, 0x100000000u, 0x100000000u - 0x80000000u + 4, -4, 0, 0, 0x80000000u);
  BAD(EM_X86_64, R_X86_64_PC32, 0, 0x100000000u, 0x100000000u + 0x80000000u + 4, -4, 0,
      AZC_OUT_OF_RANGE, "R_X86_64_PC32");
  BAD(EM_X86_64, R_X86_64_PLT32, 0, 0x100000000u, 0x100000000u - 0x80000001u + 4, -4, 0,
      AZC_OUT_OF_RANGE, "signed 32-bit");
  BAD(EM_X86_64, R_X86_64_PLT32, 0, 0x7fff00000000u, 0x7f0000000000u, 0, 0, AZC_OUT_OF_RANGE,
      NULL); /* libc 4 GiB away: why calls go through stubs */
  X86(R_X86_64_32, 0, 0xfffffff0u, 0xf, 0, 0, M32);
  BAD(EM_X86_64, R_X86_64_32, 0, 0, 0xfffffff0u, 0x10, 0, AZC_OUT_OF_RANGE, "unsigned 32");
  BAD(EM_X86_64, R_X86_64_32, 0, 0, 0, -1, 0, AZC_OUT_OF_RANGE, NULL);
  X86(R_X86_64_32S, 0, 0x7fffffff, 0, 0, 0, 0x7fffffff);
  X86(R_X86_64_32S, 0, 0xffffffff80000000u, 0, 0, 0, 0x80000000u);
  BAD(EM_X86_64, R_X86_64_32S, 0, 0, 0x80000000u, 0, 0, AZC_OUT_OF_RANGE, NULL);
  BAD(EM_X86_64, R_X86_64_32S, 0, 0, 0xffffffff7fffffffu, 0, 0, AZC_OUT_OF_RANGE, NULL);
  X86(R_X86_64_PC64, 0x20, 0x10, 0, 0, 0, 0xfffffffffffffff0u);
  X86(R_X86_64_GOTPCREL, 0x1003, 0xdead, -4, 0x5000, 0, 0x3ff9); /* slot + A - P, not S */
  X86(R_X86_64_GOTPCRELX, 0x1003, 0xdead, -4, 0x5000, 0, 0x3ff9);
  X86(R_X86_64_REX_GOTPCRELX, 0x5003, 0xdead, -4, 0x1000, 0, 0xffffbff9);
  BAD(EM_X86_64, R_X86_64_REX_GOTPCRELX, 0, 0, 0, 0, 0x80000004u, AZC_OUT_OF_RANGE, NULL);
  X86(R_X86_64_GOTPC32, 0x1000, 0, 2, 0, 0x9000, 0x8002);
  X86(R_X86_64_GOTPC64, 0x1000, 0, 9, 0, 0x9000, 0x8009);
  X86(R_X86_64_GOTOFF64, 0, 0x9100, 8, 0, 0x9000, 0x108);
  X86(R_X86_64_GOTOFF64, 0, 0x8000, 0, 0, 0x9000, 0xfffffffffffff000u);
  X86(R_X86_64_GOT64, 0, 0xdead, 4, 0x9018, 0x9000, 0x1c);
  X86(R_X86_64_PLTOFF64, 0, 0x9100, 0, 0, 0x9000, 0x100);
  BAD(EM_X86_64, 23 /* R_X86_64_TPOFF32 */, 0, 0, 0, 0, 0, AZC_UNSUPPORTED, "type 23");
  BAD(EM_X86_64, 250, 0, 0, 0, 0, 0, AZC_UNSUPPORTED, "250");
  BAD(77, R_X86_64_64, 0, 0, 0, 0, 0, AZC_UNSUPPORTED, "machine 77");
  /* the field must fit in what is left of the section */
  uint8_t b[8] = {0};
  azc_elf_reloc_values_t v = {0x1000, 0x2000, 0, 0, 0};
  ASSERT_ERR(azc_elf_reloc_apply(EM_X86_64, R_X86_64_PC32, b, 3, &v), AZC_CORRUPT, "4 bytes");
  ASSERT_ERR(azc_elf_reloc_apply(EM_X86_64, R_X86_64_64, b, 7, &v), AZC_CORRUPT, "only 7");
  ASSERT_OK(azc_elf_reloc_apply(EM_X86_64, R_X86_64_PC32, b, 4, &v));
  ASSERT_EQ_INT(rd32(b), 0x1000);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_X86_64, R_X86_64_PLT32), AZC_ELF_RELOC_BRANCH);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_X86_64, R_X86_64_GOTPCRELX), AZC_ELF_RELOC_GOT);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_X86_64, R_X86_64_PC32), AZC_ELF_RELOC_DIRECT);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_X86_64, R_X86_64_TPOFF64), AZC_ELF_RELOC_UNSUPPORTED);
  ASSERT_STREQ(azc_elf_reloc_name(EM_X86_64, R_X86_64_REX_GOTPCRELX), "R_X86_64_REX_GOTPCRELX");
}

/* Expected words were computed by hand and disassembled with llvm-mc-19. */
static void test_reloc_aarch64(void) {
  const uint64_t S = 0x12345678, P = 0x10000;
  /* adrp x8, #0 -> adrp x8, 0x12335000 (Page(S) - Page(P), immlo = 1, immhi = 0x48cd) */
  A64(R_AARCH64_ADR_PREL_PG_HI21, 0x90000008, P, S, 0, 0, 0xb00919a8);
  A64(R_AARCH64_ADR_PREL_PG_HI21, 0x90000008, P + 0xffc, S - 0x678, 0x678, 0, 0xb00919a8);
  /* backwards: Page(0x10000) - Page(0x12345678) = -0x12335000 -> imm21 = 0x1edccb */
  A64(R_AARCH64_ADR_PREL_PG_HI21, 0x90000008, S, P, 0, 0, 0xf0f6e648);
  BAD(EM_AARCH64, R_AARCH64_ADR_PREL_PG_HI21, 0x90000008, 0, 0x100000000u, 0, 0, AZC_OUT_OF_RANGE,
      "4 GiB");
  A64(R_AARCH64_ADR_PREL_PG_HI21, 0x90000008, 0, 0xfffff000u, 0, 0,
      0xf07fffe8); /* +0xfffff pages */
  A64(R_AARCH64_ADR_PREL_PG_HI21_NC, 0x90000008, 0, 0x200000000u, 0, 0, 0x90000008); /* wraps */
  /* add x8, x8, #0x678 */
  A64(R_AARCH64_ADD_ABS_LO12_NC, 0x91000108, P, S, 0, 0, 0x9119e108);
  A64(R_AARCH64_ADD_ABS_LO12_NC, 0x91000108, P, S - 8, 8, 0, 0x9119e108);
  /* ldrb / ldrh / ldr w / ldr x / ldr q, [x8, #lo12] */
  A64(R_AARCH64_LDST8_ABS_LO12_NC, 0x39400100, P, S, 0, 0, 0x3959e100);
  A64(R_AARCH64_LDST16_ABS_LO12_NC, 0x79400100, P, S, 0, 0, 0x794cf100);
  A64(R_AARCH64_LDST32_ABS_LO12_NC, 0xb9400100, P, S, 0, 0, 0xb9467900);
  A64(R_AARCH64_LDST64_ABS_LO12_NC, 0xf9400100, P, S, 0, 0, 0xf9433d00);
  A64(R_AARCH64_LDST128_ABS_LO12_NC, 0x3dc00100, P, S - 8, 0, 0, 0x3dc19d00);
  BAD(EM_AARCH64, R_AARCH64_LDST16_ABS_LO12_NC, 0x79400100, P, S + 1, 0, 0, AZC_CORRUPT, "aligned");
  BAD(EM_AARCH64, R_AARCH64_LDST64_ABS_LO12_NC, 0xf9400100, P, S + 4, 0, 0, AZC_CORRUPT, NULL);
  BAD(EM_AARCH64, R_AARCH64_LDST128_ABS_LO12_NC, 0x3dc00100, P, S, 0, 0, AZC_CORRUPT, NULL);
  /* bl / b: +-128 MiB, imm26 = X >> 2 */
  A64(R_AARCH64_CALL26, 0x94000000, 0x1000, 0x2000, 0, 0, 0x94000400);
  A64(R_AARCH64_CALL26, 0x94000000, 0x1000, 0, 0, 0, 0x97fffc00);
  A64(R_AARCH64_CALL26, 0x94000000, 0x8000000, 0, 0, 0, 0x96000000); /* exactly -2^27 */
  A64(R_AARCH64_JUMP26, 0x14000000, 0x1000, 0x1ff0, 0x10, 0, 0x14000400);
  BAD(EM_AARCH64, R_AARCH64_CALL26, 0x94000000, 0, 0x8000000, 0, 0, AZC_OUT_OF_RANGE, "reach");
  BAD(EM_AARCH64, R_AARCH64_JUMP26, 0x14000000, 0x8000004, 0, 0, 0, AZC_OUT_OF_RANGE, NULL);
  BAD(EM_AARCH64, R_AARCH64_CALL26, 0x94000000, 0, 2, 0, 0, AZC_CORRUPT, "4-byte");
  /* GOT: the slot's page and offset; A is already in the slot (GDAT(S + A)) */
  A64(R_AARCH64_ADR_GOT_PAGE, 0x90000008, P + 4, 0xdead, 0x10, 0x12345ff8, 0xb00919a8);
  A64(R_AARCH64_LD64_GOT_LO12_NC, 0xf9400108, P, 0xdead, 0x10, 0x12345ff8, 0xf947fd08);
  BAD(EM_AARCH64, R_AARCH64_LD64_GOT_LO12_NC, 0xf9400108, P, 0, 0, 0x12345ffc, AZC_CORRUPT, NULL);
  BAD(EM_AARCH64, R_AARCH64_ADR_GOT_PAGE, 0x90000008, 0, 0, 0, 0x200000000u, AZC_OUT_OF_RANGE,
      NULL);
  /* adr x0, #5 and its +-1 MiB range */
  A64(R_AARCH64_ADR_PREL_LO21, 0x10000000, 0x1000, 0x1005, 0, 0, 0x30000020);
  A64(R_AARCH64_ADR_PREL_LO21, 0x10000000, 0x100000, 0, 0, 0, 0x10800000); /* -2^20 */
  BAD(EM_AARCH64, R_AARCH64_ADR_PREL_LO21, 0x10000000, 0, 0x100000, 0, 0, AZC_OUT_OF_RANGE,
      "1 MiB");
  /* movz x0 / movk x0, lsl 16/32/48 building 0x1122334455667788 */
  const uint64_t big = 0x1122334455667788u;
  A64(R_AARCH64_MOVW_UABS_G0_NC, 0xd2800000, 0, big, 0, 0, 0xd28ef100);
  A64(R_AARCH64_MOVW_UABS_G1_NC, 0xf2a00000, 0, big, 0, 0, 0xf2aaacc0);
  A64(R_AARCH64_MOVW_UABS_G2_NC, 0xf2c00000, 0, big, 0, 0, 0xf2c66880);
  A64(R_AARCH64_MOVW_UABS_G3, 0xf2e00000, 0, big - 8, 8, 0, 0xf2e22440);
  A64(R_AARCH64_MOVW_UABS_G0, 0xd2800000, 0, 0x7788, 0, 0, 0xd28ef100);
  A64(R_AARCH64_MOVW_UABS_G1, 0xf2a00000, 0, 0x55667788, 0, 0, 0xf2aaacc0);
  A64(R_AARCH64_MOVW_UABS_G2, 0xf2c00000, 0, 0x334455667788u, 0, 0, 0xf2c66880);
  BAD(EM_AARCH64, R_AARCH64_MOVW_UABS_G0, 0xd2800000, 0, 0x10000, 0, 0, AZC_OUT_OF_RANGE, NULL);
  BAD(EM_AARCH64, R_AARCH64_MOVW_UABS_G1, 0xf2a00000, 0, 0x100000000u, 0, 0, AZC_OUT_OF_RANGE,
      NULL);
  BAD(EM_AARCH64, R_AARCH64_MOVW_UABS_G2, 0xf2c00000, 0, 1ull << 48, 0, 0, AZC_OUT_OF_RANGE, NULL);
  /* b.eq / tbz / ldr literal, +0x100 */
  A64(R_AARCH64_CONDBR19, 0x54000000, 0x1000, 0x1100, 0, 0, 0x54000800);
  A64(R_AARCH64_TSTBR14, 0x36000000, 0x1000, 0x1100, 0, 0, 0x36000800);
  A64(R_AARCH64_LD_PREL_LO19, 0x58000000, 0x1000, 0x1100, 0, 0, 0x58000800);
  A64(R_AARCH64_GOT_LD_PREL19, 0x58000000, 0x1000, 0xdead, 0, 0x1100, 0x58000800);
  BAD(EM_AARCH64, R_AARCH64_CONDBR19, 0x54000000, 0, 0x100000, 0, 0, AZC_OUT_OF_RANGE, NULL);
  BAD(EM_AARCH64, R_AARCH64_TSTBR14, 0x36000000, 0, 0x8000, 0, 0, AZC_OUT_OF_RANGE, NULL);
  A64(R_AARCH64_TSTBR14, 0x36000000, 0x8000, 0, 0, 0, 0x36040000); /* -2^15 */
  /* data: 64 bits, and 32/16 bits in [-2^(n-1), 2^n) */
  A64(R_AARCH64_ABS64, 0, 0, big, 1, 0, big + 1);
  A64(R_AARCH64_PREL64, 0, 0x20, 0x10, 0, 0, 0xfffffffffffffff0u);
  A64(R_AARCH64_ABS32, 0, 0, 0xffffffffu, 0, 0, 0xffffffffu);
  A64(R_AARCH64_ABS32, 0, 0, 0xffffffff80000000u, 0, 0, 0x80000000u);
  BAD(EM_AARCH64, R_AARCH64_ABS32, 0, 0, 0x100000000u, 0, 0, AZC_OUT_OF_RANGE, "R_AARCH64_ABS32");
  BAD(EM_AARCH64, R_AARCH64_ABS32, 0, 0, 0xffffffff7fffffffu, 0, 0, AZC_OUT_OF_RANGE, NULL);
  A64(R_AARCH64_PREL32, 0, 0x2000, 0x1000, 0, 0, 0xfffff000u);
  BAD(EM_AARCH64, R_AARCH64_PREL32, 0, 0x7f0000000000u, 0x100000, 0, 0, AZC_OUT_OF_RANGE, NULL);
  A64(R_AARCH64_ABS16, 0xaaaaaaaa, 0, 0xffff, 0, 0, 0xaaaaffff); /* writes 2 bytes only */
  BAD(EM_AARCH64, R_AARCH64_ABS16, 0, 0, 0x10000, 0, 0, AZC_OUT_OF_RANGE, NULL);
  A64(R_AARCH64_PREL16, 0, 0x1000, 0x800, 0, 0, 0xf800);
  A64(R_AARCH64_NONE, 0x12345678, 0, 0, 0, 0, 0x12345678);
  BAD(EM_AARCH64, 0x207 /* R_AARCH64_TLSLE_ADD_TPREL_HI12 */, 0, 0, 0, 0, 0, AZC_UNSUPPORTED,
      "type 519");
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_AARCH64, R_AARCH64_CALL26), AZC_ELF_RELOC_BRANCH);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_AARCH64, R_AARCH64_ADR_GOT_PAGE), AZC_ELF_RELOC_GOT);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_AARCH64, R_AARCH64_ABS64), AZC_ELF_RELOC_DIRECT);
  ASSERT_EQ_INT(azc_elf_reloc_kind(EM_AARCH64, R_X86_64_PC32), AZC_ELF_RELOC_UNSUPPORTED);
  ASSERT(azc_elf_reloc_name(EM_AARCH64, 2) == NULL);
}

static void test_stubs(void) {
  uint8_t s[AZC_ELF_STUB_SIZE];
  azc_elf_stub_write(EM_X86_64, s, 0x1122334455667788u);
  static const uint8_t x86[] = {0xff, 0x25, 0,    0,    0,    0,    0x88,
                                0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
  ASSERT(memcmp(s, x86, sizeof(x86)) == 0);
  azc_elf_stub_write(EM_AARCH64, s, 0x1122334455667788u);
  ASSERT_EQ_INT(rd32(s), 0x58000050);     /* ldr x16, #8 */
  ASSERT_EQ_INT(rd32(s + 4), 0xd61f0200); /* br x16 */
  ASSERT(rd64(s + 8) == 0x1122334455667788u);
}

/* ---- loading and running native objects ---- */

/* On a failed ASSERT the image leaks: the test has failed anyway. */
static void check_kernels(const char *variant) {
  NEED_OBJECT(obj, variant, host_arch());
  azc_code_image_t *img;
  ASSERT_OK(load_objects(&obj, 1, &img));
  FN(float, (int), img, "kern_lookup", lookup);
  static const float table[8] = {1.5f, -2, 3, 0.25f, 5, 6, 7, 8};
  for (int i = 0; i < 10; i++) ASSERT(lookup(i) == table[i & 7]);
  /* .data and .bss, and a second call that sees the first one's writes */
  FN(int, (int), img, "kern_bump", bump);
  FN(float, (int), img, "kern_accum", accum);
  int *counter = azc_code_image_symbol(img, "counter");
  int *bss_counter = azc_code_image_symbol(img, "bss_counter");
  ASSERT(counter && bss_counter);
  ASSERT_EQ_INT(*counter, 5);
  ASSERT_EQ_INT(*bss_counter, 0);
  ASSERT_EQ_INT(bump(3), 8006);
  ASSERT_EQ_INT(bump(4), 12014);
  ASSERT_EQ_INT(*counter, 12);
  ASSERT_EQ_INT(*bss_counter, 14);
  *counter = 100; /* the code sees writes from outside */
  ASSERT_EQ_INT(bump(1), 101016);
  ASSERT(accum(3) == 1 && accum(4) == 1 && accum(1) == 1 && accum(2) == 0);
  /* libc and libm, through stubs or the GOT */
  FN(void, (float *, int), img, "kern_zero", zero);
  FN(void, (float *, const float *, int), img, "kern_copy", copy);
  FN(float, (float), img, "kern_act", act);
  float a[40], b[40];
  for (int i = 0; i < 40; i++) a[i] = (float)i, b[i] = -1;
  copy(b, a, 33);
  for (int i = 0; i < 40; i++) ASSERT(b[i] == (i < 33 ? (float)i : -1));
  zero(b + 1, 20);
  for (int i = 0; i < 40; i++) ASSERT(b[i] == (i >= 1 && i < 21 ? 0 : i < 33 ? (float)i : -1));
  for (float x = -2; x <= 2; x += 0.5f) ASSERT_NEAR(act(x), expf(x) + tanhf(x), 1e-6);
  /* hidden globals: double, u8, u16, a 16-byte vector */
  FN(double, (double), img, "kern_scaled", scaled);
  FN(void, (double, unsigned char, unsigned short), img, "kern_set_scaled", set_scaled);
  FN(float, (void), img, "kern_vsum", vsum);
  ASSERT(scaled(2.0) == 308.0);
  set_scaled(0.25, 9, 1000);
  ASSERT(scaled(4.0) == 1010.0);
  ASSERT(*(unsigned short *)azc_code_image_symbol(img, "g_u16") == 1000);
  ASSERT(vsum() == 30.0f);
  /* a local call, a table of function pointers, weak symbols */
  FN(int, (int), img, "kern_twice", twice);
  FN(float, (int, float), img, "kern_apply", apply_op);
  FN(int, (void), img, "kern_call_weak", call_weak);
  FN(int, (void), img, "kern_has_optional", has_optional);
  ASSERT_EQ_INT(twice(3), 27);
  ASSERT(apply_op(0, 2) == 3 && apply_op(1, 2) == 4 && apply_op(2, 2) == -2);
  ASSERT_EQ_INT(call_weak(), 10);
  ASSERT_EQ_INT(has_optional(), -1); /* undefined weak: 0 */
  /* exported: globals, hidden ones too; not exported: statics, externals */
  ASSERT(azc_code_image_symbol(img, "kern_table") != NULL);
  ASSERT(azc_code_image_symbol(img, "helper") == NULL);
  ASSERT(azc_code_image_symbol(img, "accum") == NULL);
  ASSERT(azc_code_image_symbol(img, "kern_optional") == NULL);
  ASSERT(azc_code_image_symbol(img, "memset") == NULL);
  ASSERT(azc_code_image_symbol(img, NULL) == NULL);
  const uint8_t *base = azc_code_image_base(img), *c = (const uint8_t *)counter;
  ASSERT(c > base && c < base + azc_code_image_size(img));
  ASSERT(azc_code_image_size(img) % (size_t)sysconf(_SC_PAGESIZE) == 0);
  azc_code_image_free(img);
}

static void test_run_plain(void) { check_kernels("kern"); }
static void test_run_function_sections(void) { check_kernels("kern_fs"); }
static void test_run_no_plt(void) { check_kernels("kern_noplt"); }
static void test_run_large_code_model(void) { check_kernels("kern_large"); }

static void test_two_objects(void) {
  NEED_OBJECT(k1, "kern", host_arch());
  NEED_OBJECT(k2, "kern2", host_arch());
  for (int order = 0; order < 2; order++) {
    const test_object_t *objs[2] = {order ? k2 : k1, order ? k1 : k2};
    azc_code_image_t *img;
    ASSERT_OK(load_objects(objs, 2, &img));
    FN(int, (void), img, "kern_call_weak", call_weak);
    FN(int, (void), img, "kern_has_optional", has_optional);
    FN(int, (void), img, "kern_weak_value", weak_value);
    FN(int, (int), img, "kern2_total", total);
    ASSERT_EQ_INT(call_weak(), 20); /* kern2's strong definition wins */
    ASSERT_EQ_INT(weak_value(), 2);
    ASSERT_EQ_INT(has_optional(), 42);   /* the weak reference is defined now */
    ASSERT_EQ_INT(total(5), 10010 + 10); /* kern_bump in the other object, then counter */
    ASSERT_EQ_INT(*(int *)azc_code_image_symbol(img, "counter"), 10);
    azc_code_image_free(img);
  }
}

static void test_vector_kernels(void) {
  NEED_OBJECT(obj, "kern_vec", host_arch());
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    TEST_SKIP("this CPU lacks AVX2/FMA, which kern_vec.x86_64 is built for");
#endif
  azc_code_image_t *img;
  ASSERT_OK(load_objects(&obj, 1, &img));
  FN(void, (float, const float *, float *, int), img, "kern_saxpy", saxpy);
  FN(int, (const int *, const int *, int), img, "kern_dot_i32", dot);
  FN(void, (float *, int), img, "kern_relu_half", relu);
  float x[103], y[103], want[103];
  int xi[103], yi[103], s = 0;
  for (int i = 0; i < 103; i++) {
    x[i] = (float)(i % 17) * 0.25f - 1;
    y[i] = want[i] = (float)(i % 5);
    xi[i] = i - 50, yi[i] = 3 * i + 1;
    s += xi[i] * yi[i];
  }
  saxpy(0.5f, x, y, 103);
  for (int i = 0; i < 103; i++) ASSERT_NEAR(y[i], want[i] + 0.5f * x[i], 1e-6);
  ASSERT_EQ_INT(dot(xi, yi, 103), s);
  relu(x, 103);
  for (int i = 0; i < 103; i++) {
    float v = (float)(i % 17) * 0.25f - 1;
    ASSERT(x[i] == (v > 0.25f ? v * 0.5f : 0.125f));
  }
  azc_code_image_free(img);
}

static void test_comdat(void) {
  NEED_OBJECT(a, "comdat_a", host_arch());
  NEED_OBJECT(b, "comdat_b", host_arch());
  azc_code_image_t *img;
  ASSERT_OK(load_objects(&a, 1, &img));
  size_t size_a = azc_code_image_size(img);
  azc_code_image_free(img);
  ASSERT_OK(load_objects(&b, 1, &img));
  size_t size_b = azc_code_image_size(img);
  azc_code_image_free(img);
  const test_object_t *both[2] = {a, b};
  ASSERT_OK(load_objects(both, 2, &img));
  /* each object holds a 64 KiB COMDAT blob: loaded once, not twice */
  ASSERT_MSG(azc_code_image_size(img) + 60000 < size_a + size_b, "sizes %zu, %zu, %zu",
             azc_code_image_size(img), size_a, size_b);
  FN(int, (int), img, "comdat_a", fa);
  FN(int, (int), img, "comdat_b", fb);
  ASSERT_EQ_INT(fa(2), 7 + 3);              /* comdat_shared: 102 */
  ASSERT_EQ_INT(fb(2), 7 * 1000 + 102 + 3); /* one comdat_shared for both objects */
  ASSERT_EQ_INT(*(int *)azc_code_image_symbol(img, "comdat_shared"), 102);
  azc_code_image_free(img);
}

/* The permissions ("r-xp") of the /proc/self/maps line holding addr. */
static int maps_perms(const void *addr, char perms[5]) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[512];
  int found = 0;
  uintptr_t a = (uintptr_t)addr;
  while (!found && fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi) found = 1;
  }
  fclose(f);
  return found;
}

/* No page of [base, base + size) is both writable and executable. */
static int maps_wx_free(const void *base, size_t size) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[512], perms[5];
  int ok = 1;
  uintptr_t b = (uintptr_t)base, e = b + size;
  while (fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo < e && hi > b && perms[1] == 'w' &&
        perms[2] == 'x')
      ok = 0;
  }
  fclose(f);
  return ok;
}

/* How this system reports a read-only page that follows a code page: "r--p",
 * except under qemu-user, which shows it as "r-xp". */
static void readonly_perms(char perms[5]) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  strcpy(perms, "r--p");
  uint8_t *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  p[0] = p[page] = 1;
  if (mprotect(p, page, PROT_READ | PROT_EXEC) == 0 && mprotect(p + page, page, PROT_READ) == 0 &&
      !maps_perms(p + page, perms))
    strcpy(perms, "r--p");
  munmap(p, 2 * page);
}

static void test_protection(void) {
  NEED_OBJECT(obj, "kern_fs", host_arch());
  FILE *probe = fopen("/proc/self/maps", "r");
  ASSERT_MSG(probe != NULL, "/proc/self/maps is not readable (is /proc mounted?)");
  fclose(probe);
  azc_code_image_t *img;
  ASSERT_OK(load_objects(&obj, 1, &img));
  char perms[5];
  ASSERT(maps_perms(azc_code_image_symbol(img, "kern_bump"), perms));
  ASSERT_STREQ(perms, "r-xp");
  char readonly[5];
  readonly_perms(readonly);
  if (strcmp(readonly, "r--p")) fprintf(stderr, "  read-only pages show as %s here\n", readonly);
  ASSERT(maps_perms(azc_code_image_symbol(img, "kern_table"), perms));
  ASSERT_STREQ(perms, readonly);
  ASSERT(maps_perms(azc_code_image_symbol(img, "counter"), perms));
  ASSERT_STREQ(perms, "rw-p");
  ASSERT(maps_perms(azc_code_image_symbol(img, "bss_counter"), perms));
  ASSERT_STREQ(perms, "rw-p");
  ASSERT(maps_wx_free(azc_code_image_base(img), azc_code_image_size(img)));
  azc_code_image_free(img);
}

static void test_default_resolver(void) {
  static const char *names[] = {"memcpy", "memmove", "memset", "memcmp", "expf",     "exp",
                                "logf",   "log",     "tanhf",  "sinf",   "cosf",     "sincosf",
                                "sqrtf",  "powf",    "pow",    "fmaxf",  "fminf",    "floorf",
                                "roundf", "erff",    "bzero",  "sincos", "__powisf2"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    ASSERT_MSG(azc_elf_default_resolve(NULL, names[i]) != NULL, "%s", names[i]);
  float (*e)(float) = expf;
  void *pe;
  memcpy(&pe, &e, sizeof(pe));
  ASSERT(azc_elf_default_resolve(NULL, "expf") == pe);
  float (*powi)(float, int);
  void *pp = azc_elf_default_resolve(NULL, "__powisf2");
  memcpy(&powi, &pp, sizeof(pp));
  ASSERT(powi(2, 10) == 1024 && powi(2, -2) == 0.25f && powi(-3, 3) == -27 && powi(5, 0) == 1);
  ASSERT(azc_elf_default_resolve(NULL, "system") == NULL);
  ASSERT(azc_elf_default_resolve(NULL, "") == NULL);
  ASSERT(azc_elf_default_resolve(NULL, NULL) == NULL);
}

/* Knows everything the default resolver knows, except tanhf. */
static void *resolve_without_tanhf(void *user, const char *name) {
  ++*(int *)user;
  return strcmp(name, "tanhf") ? azc_elf_default_resolve(NULL, name) : NULL;
}

static void test_unknown_symbol(void) {
  NEED_OBJECT(obj, "kern", host_arch());
  int calls = 0;
  const void *p = obj->bytes;
  azc_code_image_t *img = (azc_code_image_t *)&calls;
  ASSERT_ERR(azc_code_image_load(&p, &obj->size, 1, resolve_without_tanhf, &calls, &img),
             AZC_NOT_FOUND, "undefined symbol 'tanhf'");
  ASSERT(img == NULL);
  ASSERT(calls > 0);
}

static void test_wrong_machine(void) {
  const char *other = azc_elf_host_machine() == EM_X86_64 ? "aarch64" : "x86_64";
  NEED_OBJECT(obj, "kern", other);
  azc_code_image_t *img;
  azc_status_t st = load_objects(&obj, 1, &img);
  ASSERT(st != NULL);
  const char *msg = azc_status_message(st);
  int ok = azc_status_code(st) == AZC_UNSUPPORTED && strstr(msg, "EM_AARCH64 (183)") &&
           strstr(msg, "EM_X86_64 (62)") && strstr(msg, "object 0");
  if (!ok) fprintf(stderr, "message: %s\n", msg);
  azc_status_free(st);
  ASSERT(ok);
}

/* ---- aarch64 images, inspected (never run) on any host ---- */

typedef struct a64_refs {
  uint64_t data[64]; /* addresses formed by ADRP+ADD/LDR/STR, ADR, LDR literal, MOVZ/MOVK */
  int n_data;
  uint64_t calls[16]; /* BL/B targets */
  int n_calls;
} a64_refs_t;

static int64_t sext(uint64_t v, int bits) {
  uint64_t m = 1ull << (bits - 1);
  return (int64_t)((v ^ m) - m);
}

static void refs_add(a64_refs_t *r, uint64_t a) {
  if (r->n_data < 64) r->data[r->n_data++] = a;
}

/* Decodes the function at `code` up to its first RET or B (at most 64
 * instructions, never past `end`), following the address-forming idioms. */
static void a64_decode(const uint8_t *code, const uint8_t *end, a64_refs_t *r) {
  uint64_t reg[32];
  int valid[32] = {0};
  memset(r, 0, sizeof(*r));
  for (int k = 0; k < 64 && code + 4 * k + 4 <= end; k++) {
    uint64_t pc = (uint64_t)(uintptr_t)(code + 4 * k);
    uint32_t w = rd32(code + 4 * k);
    int rd = w & 31, rn = (w >> 5) & 31;
    uint64_t adr_imm = ((w >> 29) & 3) | (uint64_t)((w >> 5) & 0x7ffff) << 2;
    if ((w & 0x9f000000) == 0x90000000) { /* adrp */
      reg[rd] = (pc & ~0xfffull) + (uint64_t)(sext(adr_imm, 21) * 4096), valid[rd] = 1;
    } else if ((w & 0x9f000000) == 0x10000000) { /* adr */
      reg[rd] = pc + (uint64_t)sext(adr_imm, 21), valid[rd] = 1;
      refs_add(r, reg[rd]);
    } else if ((w & 0xffc00000) == 0x91000000 && valid[rn]) { /* add xd, xn, #imm12 */
      reg[rd] = reg[rn] + ((w >> 10) & 0xfff), valid[rd] = 1;
      refs_add(r, reg[rd]);
    } else if ((w & 0x3b000000) == 0x39000000 && valid[rn]) { /* ldr/str [xn, #imm] */
      int size = w >> 30, vec = (w >> 26) & 1, opc = (w >> 22) & 3;
      int scale = vec && opc >= 2 ? 4 : size;
      refs_add(r, reg[rn] + (((w >> 10) & 0xfff) << scale));
      if (!vec && opc != 0) valid[rd] = 0;       /* a load overwrites the register */
    } else if ((w & 0x3b000000) == 0x18000000) { /* ldr literal */
      refs_add(r, pc + (uint64_t)(sext((w >> 5) & 0x7ffff, 19) * 4));
      valid[rd] = 0;
    } else if ((w & 0xff800000) == 0xd2800000) { /* movz xd */
      int sh = 16 * ((w >> 21) & 3);
      reg[rd] = (uint64_t)((w >> 5) & 0xffff) << sh, valid[rd] = 1;
    } else if ((w & 0xff800000) == 0xf2800000 && valid[rd]) { /* movk xd */
      int sh = 16 * ((w >> 21) & 3);
      reg[rd] = (reg[rd] & ~(0xffffull << sh)) | (uint64_t)((w >> 5) & 0xffff) << sh;
      refs_add(r, reg[rd]);
    } else if ((w & 0x7c000000) == 0x14000000) { /* bl / b */
      if (r->n_calls < 16) r->calls[r->n_calls++] = pc + (uint64_t)(sext(w & 0x3ffffff, 26) * 4);
      if (!(w & 0x80000000)) break; /* b: a tail call ends the function */
    } else if (w == 0xd65f03c0) {   /* ret */
      break;
    }
  }
}

static int in_image(const azc_code_image_t *img, uint64_t a, size_t n) {
  uint64_t b = (uint64_t)(uintptr_t)azc_code_image_base(img);
  return a >= b && a + n <= b + azc_code_image_size(img);
}

/* The function reads `target` directly or through a GOT slot in the image. */
static int refers_to(const azc_code_image_t *img, const a64_refs_t *r, uint64_t target) {
  for (int i = 0; i < r->n_data; i++) {
    if (r->data[i] == target) return 1;
    if (in_image(img, r->data[i], 8) && r->data[i] % 8 == 0 &&
        rd64((const uint8_t *)(uintptr_t)r->data[i]) == target)
      return 1;
  }
  return 0;
}

/* The function calls `target` directly, through a stub in the image, or
 * loads it from a GOT slot (-fno-plt). */
static int calls_to(const azc_code_image_t *img, const a64_refs_t *r, uint64_t target) {
  for (int i = 0; i < r->n_calls; i++) {
    uint64_t c = r->calls[i];
    if (c == target) return 1;
    const uint8_t *s = (const uint8_t *)(uintptr_t)c;
    if (in_image(img, c, AZC_ELF_STUB_SIZE) && rd32(s) == 0x58000050 && rd32(s + 4) == 0xd61f0200 &&
        rd64(s + 8) == target)
      return 1;
  }
  return refers_to(img, r, target);
}

static uint64_t fake_address(const char *name) {
  uint64_t h = 1469598103934665603u;
  for (; *name; name++) h = (h ^ (uint8_t)*name) * 1099511628211u;
  return 0x7e0000000000u + ((h & 0xffffff) << 4); /* far from any mapping of this test */
}

/* Every external gets a fake far address, except the weak kern_optional. */
static void *fake_resolve(void *user, const char *name) {
  (void)user;
  if (!strncmp(name, "kern", 4)) return NULL;
  return (void *)(uintptr_t)fake_address(name);
}

static azc_status_t load_aarch64(const test_object_t *obj, azc_code_image_t **img) {
  azc_code_image_params_t p = azc_code_image_params_default();
  p.resolve = fake_resolve;
  p.machine = EM_AARCH64;
  const void *bytes = obj->bytes;
  return azc_code_image_load_params(&bytes, &obj->size, 1, &p, img);
}

static uint64_t sym(const azc_code_image_t *img, const char *name) {
  return (uint64_t)(uintptr_t)azc_code_image_symbol(img, name);
}

static void decode_fn(const azc_code_image_t *img, const char *name, a64_refs_t *r) {
  const uint8_t *base = azc_code_image_base(img);
  const uint8_t *f = azc_code_image_symbol(img, name);
  if (f)
    a64_decode(f, base + azc_code_image_size(img), r);
  else
    memset(r, 0, sizeof(*r));
}

static void check_aarch64(const char *variant) {
  NEED_OBJECT(obj, variant, "aarch64");
  azc_code_image_t *img;
  ASSERT_OK(load_aarch64(obj, &img));
  a64_refs_t r;
  decode_fn(img, "kern_lookup", &r); /* ADRP + ADD, ADR (tiny), MOVZ/MOVK (large) */
  ASSERT(sym(img, "kern_table") && refers_to(img, &r, sym(img, "kern_table")));
  decode_fn(img, "kern_bump", &r); /* through the GOT (small, tiny) or absolute (large) */
  ASSERT(refers_to(img, &r, sym(img, "counter")));
  ASSERT(refers_to(img, &r, sym(img, "bss_counter")));
  decode_fn(img, "kern_act", &r); /* BL to stubs, or GOT loads with -fno-plt */
  ASSERT(calls_to(img, &r, fake_address("expf")));
  ASSERT(calls_to(img, &r, fake_address("tanhf")));
  ASSERT(!calls_to(img, &r, fake_address("sinf")));
  decode_fn(img, "kern_call_weak", &r); /* a defined symbol: a direct BL */
  ASSERT(calls_to(img, &r, sym(img, "kern_weak_value")));
  if (strcmp(variant, "kern_large") && strcmp(variant, "kern_tiny")) {
    decode_fn(img, "kern_scaled", &r); /* LDST64, LDST8, LDST16 */
    ASSERT(refers_to(img, &r, sym(img, "g_f64")));
    ASSERT(refers_to(img, &r, sym(img, "g_u8")));
    ASSERT(refers_to(img, &r, sym(img, "g_u16")));
    decode_fn(img, "kern_vsum", &r); /* LDST128 */
    ASSERT(refers_to(img, &r, sym(img, "g_v4")));
    decode_fn(img, "kern_has_optional", &r); /* undefined weak: a GOT slot holding 0 */
    ASSERT(refers_to(img, &r, 0));
  }
  /* kern_apply's table: three R_AARCH64_ABS64 pointers into the text; op_neg
   * is "fneg s0, s0; ret" */
  decode_fn(img, "kern_apply", &r);
  int table_found = 0;
  for (int i = 0; i < r.n_data && !table_found; i++) {
    uint64_t t = r.data[i];
    if (!in_image(img, t, 24) || t % 8) continue;
    const uint8_t *p = (const uint8_t *)(uintptr_t)t;
    const uint8_t *neg = (const uint8_t *)(uintptr_t)rd64(p + 16);
    table_found = in_image(img, rd64(p), 4) && in_image(img, rd64(p + 8), 4) &&
                  in_image(img, rd64(p + 16), 8) && rd32(neg) == 0x1e214000 &&
                  rd32(neg + 4) == 0xd65f03c0;
  }
  ASSERT(table_found);
  /* foreign code is never executable */
  char perms[5];
  if (maps_perms(azc_code_image_symbol(img, "kern_act"), perms))
    ASSERT_STREQ(perms, azc_elf_host_machine() == EM_AARCH64 ? "r-xp" : "r--p");
  azc_code_image_free(img);
}

static void test_aarch64_small(void) { check_aarch64("kern"); }
static void test_aarch64_function_sections(void) { check_aarch64("kern_fs"); }
static void test_aarch64_no_plt(void) { check_aarch64("kern_noplt"); }
static void test_aarch64_tiny(void) { check_aarch64("kern_tiny"); }
static void test_aarch64_large(void) { check_aarch64("kern_large"); }

static void test_aarch64_two_objects(void) {
  NEED_OBJECT(k1, "kern", "aarch64");
  NEED_OBJECT(k2, "kern2", "aarch64");
  azc_code_image_params_t p = azc_code_image_params_default();
  p.resolve = fake_resolve;
  p.machine = EM_AARCH64;
  const void *bytes[2] = {k2->bytes, k1->bytes};
  size_t sizes[2] = {k2->size, k1->size};
  azc_code_image_t *img;
  ASSERT_OK(azc_code_image_load_params(bytes, sizes, 2, &p, &img));
  a64_refs_t r;
  decode_fn(img, "kern2_total", &r);
  ASSERT(calls_to(img, &r, sym(img, "kern_bump"))); /* across objects: direct */
  ASSERT(refers_to(img, &r, sym(img, "counter")));
  decode_fn(img, "kern_has_optional", &r);
  ASSERT(refers_to(img, &r, sym(img, "kern_optional")));
  ASSERT(sym(img, "kern_optional") != 0);
  azc_code_image_free(img);
}

/* ---- damaged objects ---- */

typedef struct elf_view {
  uint8_t *p;
  size_t size;
  Elf64_Ehdr eh;
} elf_view_t;

static Elf64_Shdr shdr_get(const elf_view_t *v, int i) {
  Elf64_Shdr s;
  memcpy(&s, v->p + v->eh.e_shoff + (size_t)i * sizeof(s), sizeof(s));
  return s;
}
static void shdr_put(elf_view_t *v, int i, const Elf64_Shdr *s) {
  memcpy(v->p + v->eh.e_shoff + (size_t)i * sizeof(*s), s, sizeof(*s));
}
static const char *shdr_name(const elf_view_t *v, int i) {
  Elf64_Shdr names = shdr_get(v, v->eh.e_shstrndx);
  return (const char *)v->p + names.sh_offset + shdr_get(v, i).sh_name;
}
static int section_find(const elf_view_t *v, const char *name) {
  for (int i = 1; i < v->eh.e_shnum; i++)
    if (!strcmp(shdr_name(v, i), name)) return i;
  return -1;
}
static int section_of_type(const elf_view_t *v, uint32_t type) {
  for (int i = 1; i < v->eh.e_shnum; i++)
    if (shdr_get(v, i).sh_type == type) return i;
  return -1;
}

/* A private, writable copy of a test object. */
static void view_open(elf_view_t *v, const test_object_t *obj) {
  v->size = obj->size;
  v->p = malloc(obj->size);
  memcpy(v->p, obj->bytes, obj->size);
  memcpy(&v->eh, v->p, sizeof(v->eh));
}
static void view_reset(elf_view_t *v, const test_object_t *obj) {
  memcpy(v->p, obj->bytes, obj->size);
}

/* Loads a damaged copy; success is allowed (a flip may leave a valid object),
 * a crash or a sanitizer report is not. Returns 1 when it failed. */
static int load_damaged(const uint8_t *p, size_t size) {
  azc_code_image_t *img = NULL;
  azc_status_t st = load_bytes(p, size, &img);
  if (!st) {
    azc_code_image_free(img);
    return 0;
  }
  int failed = img == NULL && azc_status_message(st)[0] != 0;
  azc_status_free(st);
  return failed;
}

static void test_truncated(void) {
  NEED_OBJECT(obj, "kern", host_arch());
  elf_view_t v;
  view_open(&v, obj);
  /* clang puts the section header table last, so every truncation breaks it */
  ASSERT(v.eh.e_shoff + v.eh.e_shnum * sizeof(Elf64_Shdr) == v.size);
  int tried = 0, failed = 0;
  for (size_t len = 0; len < v.size; len += len < 128 ? 1 : 7) {
    uint8_t *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees any overread */
    memcpy(copy, v.p, len);
    failed += load_damaged(copy, len);
    tried++;
    free(copy);
  }
  free(v.p);
  ASSERT_EQ_INT(failed, tried);
  fprintf(stderr, "  %d truncations, all refused\n", tried);
}

static void flip_range(elf_view_t *v, const test_object_t *obj, size_t from, size_t to,
                       size_t stride, int *tried, int *failed) {
  for (size_t off = from; off < to && off < v->size; off += stride) {
    view_reset(v, obj);
    v->p[off] ^= 0xff;
    *failed += load_damaged(v->p, v->size);
    ++*tried;
  }
}

static void test_flipped_bytes(void) {
  NEED_OBJECT(obj, "kern_fs", host_arch());
  elf_view_t v;
  view_open(&v, obj);
  int tried = 0, failed = 0;
  flip_range(&v, obj, 0, sizeof(Elf64_Ehdr), 1, &tried, &failed);
  size_t shdrs = v.eh.e_shoff;
  flip_range(&v, obj, shdrs, shdrs + v.eh.e_shnum * sizeof(Elf64_Shdr), 3, &tried, &failed);
  Elf64_Shdr symtab = shdr_get(&v, section_of_type(&v, SHT_SYMTAB));
  flip_range(&v, obj, symtab.sh_offset, symtab.sh_offset + symtab.sh_size, 5, &tried, &failed);
  for (int i = 1; i < v.eh.e_shnum; i++) {
    Elf64_Shdr s = shdr_get(&v, i);
    if (s.sh_type == SHT_RELA || s.sh_type == SHT_GROUP || s.sh_type == SHT_STRTAB)
      flip_range(&v, obj, s.sh_offset, s.sh_offset + s.sh_size, s.sh_type == SHT_RELA ? 2 : 11,
                 &tried, &failed);
  }
  free(v.p);
  fprintf(stderr, "  %d byte flips, %d refused, %d still loadable\n", tried, failed,
          tried - failed);
  ASSERT(tried > 500 && failed > tried / 4);
}

static Elf64_Rela rela_get(const elf_view_t *v, int sec, int k) {
  Elf64_Rela r;
  memcpy(&r, v->p + shdr_get(v, sec).sh_offset + (size_t)k * sizeof(r), sizeof(r));
  return r;
}
static void rela_put(elf_view_t *v, int sec, int k, const Elf64_Rela *r) {
  memcpy(v->p + shdr_get(v, sec).sh_offset + (size_t)k * sizeof(*r), r, sizeof(*r));
}

/* Symbol `name` of the symbol table: index, or -1. */
static int symbol_find(const elf_view_t *v, const char *name, Elf64_Sym *out) {
  int t = section_of_type(v, SHT_SYMTAB);
  Elf64_Shdr st = shdr_get(v, t), str = shdr_get(v, (int)st.sh_link);
  for (size_t i = 1; i < st.sh_size / sizeof(Elf64_Sym); i++) {
    memcpy(out, v->p + st.sh_offset + i * sizeof(*out), sizeof(*out));
    if (!strcmp((const char *)v->p + str.sh_offset + out->st_name, name)) return (int)i;
  }
  return -1;
}
static void symbol_put(elf_view_t *v, int i, const Elf64_Sym *s) {
  Elf64_Shdr st = shdr_get(v, section_of_type(v, SHT_SYMTAB));
  memcpy(v->p + st.sh_offset + (size_t)i * sizeof(*s), s, sizeof(*s));
}

#define DAMAGED(code, needle)                                                                      \
  do {                                                                                             \
    azc_code_image_t *img_ = NULL;                                                                 \
    ASSERT_ERR(load_bytes(v.p, v.size, &img_), code, needle);                                      \
    ASSERT(img_ == NULL);                                                                          \
    view_reset(&v, obj);                                                                           \
  } while (0)

static void test_damaged_fields(void) {
  NEED_OBJECT(obj, "kern", host_arch());
  elf_view_t v;
  view_open(&v, obj);
  Elf64_Ehdr eh = v.eh;
  eh.e_machine = EM_RISCV;
  memcpy(v.p, &eh, sizeof(eh));
  DAMAGED(AZC_UNSUPPORTED, "EM_RISCV (243)");
  eh = v.eh, eh.e_type = ET_DYN;
  memcpy(v.p, &eh, sizeof(eh));
  DAMAGED(AZC_UNSUPPORTED, "e_type 3");
  eh = v.eh, eh.e_shoff = v.size - 10;
  memcpy(v.p, &eh, sizeof(eh));
  DAMAGED(AZC_CORRUPT, "section header table");
  eh = v.eh, eh.e_shoff = UINT64_MAX - 8;
  memcpy(v.p, &eh, sizeof(eh));
  DAMAGED(AZC_CORRUPT, "section header table");
  eh = v.eh, eh.e_shstrndx = (uint16_t)(v.eh.e_shnum + 1);
  memcpy(v.p, &eh, sizeof(eh));
  DAMAGED(AZC_CORRUPT, "section-name table index");
  v.p[EI_CLASS] = ELFCLASS32;
  DAMAGED(AZC_UNSUPPORTED, "64-bit");
  v.p[1] = 'X';
  DAMAGED(AZC_CORRUPT, "magic");

  int text = section_find(&v, ".text");
  ASSERT(text > 0);
  Elf64_Shdr s = shdr_get(&v, text);
  s.sh_offset = v.size + 100;
  shdr_put(&v, text, &s);
  char needle[64];
  snprintf(needle, sizeof(needle), "section %d: offset", text);
  DAMAGED(AZC_CORRUPT, needle);
  s = shdr_get(&v, text), s.sh_size = UINT64_MAX - 4;
  shdr_put(&v, text, &s);
  DAMAGED(AZC_CORRUPT, "past the end of the object");
  s = shdr_get(&v, text), s.sh_addralign = 24;
  shdr_put(&v, text, &s);
  DAMAGED(AZC_CORRUPT, "not a power of two");
  s = shdr_get(&v, text), s.sh_name = 0xfffffff;
  shdr_put(&v, text, &s);
  DAMAGED(AZC_CORRUPT, "name offset");

  /* relocations of .text: symbol index, offset, type */
  int rela = section_find(&v, ".rela.text");
  ASSERT(rela > 0);
  Elf64_Shdr rs = shdr_get(&v, rela), symtab = shdr_get(&v, section_of_type(&v, SHT_SYMTAB));
  uint64_t nsyms = symtab.sh_size / sizeof(Elf64_Sym);
  Elf64_Rela r = rela_get(&v, rela, 0);
  r.r_info = ELF64_R_INFO(nsyms + 5, ELF64_R_TYPE(r.r_info));
  rela_put(&v, rela, 0, &r);
  DAMAGED(AZC_CORRUPT, "symbol index");
  r = rela_get(&v, rela, 1), r.r_offset = s.sh_size + 4;
  rela_put(&v, rela, 1, &r);
  DAMAGED(AZC_CORRUPT, "past the end of section");
  r = rela_get(&v, rela, 1), r.r_offset = s.sh_size - 2; /* a 4-byte field over the end */
  rela_put(&v, rela, 1, &r);
  DAMAGED(AZC_CORRUPT, "remain in the section");
  r = rela_get(&v, rela, 0), r.r_info = ELF64_R_INFO(ELF64_R_SYM(r.r_info), 23);
  rela_put(&v, rela, 0, &r);
  DAMAGED(AZC_UNSUPPORTED, "type 23");
  rs.sh_entsize = 16;
  shdr_put(&v, rela, &rs);
  DAMAGED(AZC_CORRUPT, "entry size");
  rs = shdr_get(&v, rela), rs.sh_info = 999;
  shdr_put(&v, rela, &rs);
  DAMAGED(AZC_CORRUPT, "relocation target section 999");
  /* a PC-relative reference rewritten as a 32-bit absolute one: the mapping
   * lies above 4 GiB, so the value must be refused, not truncated */
  int k_pc32 = -1;
  for (int k = 0; k < (int)(rs.sh_size / sizeof(Elf64_Rela)) && k_pc32 < 0; k++)
    if (ELF64_R_TYPE(rela_get(&v, rela, k).r_info) == R_X86_64_PC32) k_pc32 = k;
  if (azc_elf_host_machine() == EM_X86_64) {
    ASSERT(k_pc32 >= 0);
    r = rela_get(&v, rela, k_pc32), r.r_info = ELF64_R_INFO(ELF64_R_SYM(r.r_info), R_X86_64_32);
    rela_put(&v, rela, k_pc32, &r);
    DAMAGED(AZC_OUT_OF_RANGE, "R_X86_64_32 (10)");
  }

  /* symbols */
  Elf64_Sym y;
  int bump = symbol_find(&v, "kern_bump", &y);
  ASSERT(bump > 0);
  y.st_shndx = (uint16_t)(v.eh.e_shnum + 3);
  symbol_put(&v, bump, &y);
  DAMAGED(AZC_CORRUPT, "'kern_bump': section index");
  symbol_find(&v, "kern_bump", &y);
  y.st_value = 1u << 20;
  symbol_put(&v, bump, &y);
  DAMAGED(AZC_CORRUPT, "past the end of section");
  symbol_find(&v, "kern_bump", &y);
  y.st_name = 0x7fffffff;
  symbol_put(&v, bump, &y);
  DAMAGED(AZC_CORRUPT, "name offset");
  symbol_find(&v, "kern_bump", &y);
  y.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_TLS);
  symbol_put(&v, bump, &y);
  DAMAGED(AZC_UNSUPPORTED, "thread-local");
  free(v.p);
}

static void test_duplicate_and_arguments(void) {
  NEED_OBJECT(obj, "kern", host_arch());
  const test_object_t *twice[2] = {obj, obj};
  azc_code_image_t *img = NULL;
  ASSERT_ERR(load_objects(twice, 2, &img), AZC_CORRUPT, "is defined in object 0 and in object 1");
  ASSERT_ERR(load_objects(twice, 0, &img), AZC_INVALID_ARGUMENT, NULL);
  const void *p[2] = {obj->bytes, NULL};
  size_t s[2] = {obj->size, 10};
  ASSERT_ERR(azc_code_image_load(p, s, 2, NULL, NULL, &img), AZC_INVALID_ARGUMENT, "object 1");
  ASSERT(img == NULL);
  azc_code_image_params_t params = azc_code_image_params_default();
  params.machine = EM_RISCV;
  ASSERT_ERR(azc_code_image_load_params(p, s, 1, &params, &img), AZC_UNSUPPORTED, "EM_RISCV");
  azc_code_image_free(NULL);
  ASSERT(azc_code_image_size(NULL) == 0);
}

int main(void) {
  RUN(test_reloc_x86_64);
  RUN(test_reloc_aarch64);
  RUN(test_stubs);
  RUN(test_default_resolver);
  RUN(test_run_plain);
  RUN(test_run_function_sections);
  RUN(test_run_no_plt);
  RUN(test_run_large_code_model);
  RUN(test_two_objects);
  RUN(test_vector_kernels);
  RUN(test_comdat);
  RUN(test_protection);
  RUN(test_unknown_symbol);
  RUN(test_wrong_machine);
  RUN(test_aarch64_small);
  RUN(test_aarch64_function_sections);
  RUN(test_aarch64_no_plt);
  RUN(test_aarch64_tiny);
  RUN(test_aarch64_large);
  RUN(test_aarch64_two_objects);
  RUN(test_truncated);
  RUN(test_flipped_bytes);
  RUN(test_damaged_fields);
  RUN(test_duplicate_and_arguments);
  return test_summary();
}
