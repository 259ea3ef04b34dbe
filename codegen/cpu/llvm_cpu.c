/* Kernel compilation with the LLVM C API (see llvm_cpu.h). One LLVM context
 * per call, so kernels can be compiled on several threads at once. */
#include "codegen/cpu/llvm_cpu.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cpu/kernels/azk_dot.h"
#include "runtime/base/hash.h"

/* embedded by the build (codegen/CMakeLists.txt): one bitcode per variant */
typedef struct azc_bitcode {
  const char *variant;
  const unsigned char *data;
  size_t size;
} azc_bitcode_t;
extern const azc_bitcode_t azc_kernel_bitcode[];
extern const int azc_kernel_bitcode_count;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_targets(void) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeAArch64TargetInfo();
  LLVMInitializeAArch64Target();
  LLVMInitializeAArch64TargetMC();
  LLVMInitializeAArch64AsmPrinter();
}

static const azc_bitcode_t *find_bitcode(const char *variant) {
  for (int i = 0; i < azc_kernel_bitcode_count; i++)
    if (!strcmp(azc_kernel_bitcode[i].variant, variant)) return &azc_kernel_bitcode[i];
  return NULL;
}

uint64_t azc_cpu_library_hash(const char *variant) {
  const azc_bitcode_t *b = find_bitcode(variant);
  return b ? azc_hash64(b->data, b->size) : 0;
}

const char *azc_cpu_llvm_version(void) {
  static char buf[32];
  unsigned major, minor, patch;
  LLVMGetVersion(&major, &minor, &patch);
  snprintf(buf, sizeof(buf), "llvm %u.%u.%u", major, minor, patch);
  return buf;
}

static void set_string_attr(LLVMContextRef ctx, LLVMValueRef f, const char *key,
                            const char *value) {
  LLVMRemoveStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, key, (unsigned)strlen(key));
  if (value && value[0])
    LLVMAddAttributeAtIndex(
        f, LLVMAttributeFunctionIndex,
        LLVMCreateStringAttribute(ctx, key, (unsigned)strlen(key), value, (unsigned)strlen(value)));
}

static void set_enum_attr(LLVMContextRef ctx, LLVMValueRef f, const char *name, bool on) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMRemoveEnumAttributeAtIndex(f, LLVMAttributeFunctionIndex, kind);
  if (on)
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, kind, 0));
}

/* The per-type dot products the kernels call out of line (see build):
 * returns the weight type a function is for, or -1. The float tiles
 * (azk_dot_tile_f32/f16/bf16) count too: left in, a quantized matmul kernel
 * carried all three (11k of the 37k instructions of a QKV kernel). */
static int per_type_function(const char *name) {
  static const struct {
    const char *suffix;
    int type;
  } types[] = {{"q4_k_u", AZK_WTYPE_Q4_K_U},   {"q5_k_u", AZK_WTYPE_Q5_K_U},
               {"q4_0_x8", AZK_WTYPE_Q4_0_X8}, {"q8_0_x8", AZK_WTYPE_Q8_0_X8},
               {"q4_k_x8", AZK_WTYPE_Q4_K_X8}, {"q5_0_x8", AZK_WTYPE_Q5_0_X8},
               {"q8_1", AZC_DTYPE_Q8_1},       {"q8_k", AZC_DTYPE_Q8_K},
               {"f32", AZC_DTYPE_F32},         {"f16", AZC_DTYPE_F16},
               {"bf16", AZC_DTYPE_BF16},       {"q4_0", AZC_DTYPE_Q4_0},
               {"q4_1", AZC_DTYPE_Q4_1},       {"q5_0", AZC_DTYPE_Q5_0},
               {"q5_1", AZC_DTYPE_Q5_1},       {"q8_0", AZC_DTYPE_Q8_0},
               {"q2_k", AZC_DTYPE_Q2_K},       {"q3_k", AZC_DTYPE_Q3_K},
               {"q4_k", AZC_DTYPE_Q4_K},       {"q5_k", AZC_DTYPE_Q5_K},
               {"q6_k", AZC_DTYPE_Q6_K}};
  const char *rest = NULL;
  if (!strncmp(name, "azk_dot_rows_", 13))
    rest = name + 13;
  else if (!strncmp(name, "azk_dot_pair_", 13))
    rest = name + 13;
  else if (!strncmp(name, "azk_dot_tile_", 13))
    rest = name + 13;
  else if (!strncmp(name, "azk_dot_", 8))
    rest = name + 8;
  else if (!strncmp(name, "decode_", 7))
    rest = name + 7; /* runtime/quant_dequantize.c */
  else if (!strcmp(name, "f16_to_f32_row"))
    rest = "f16";
  else if (!strcmp(name, "bf16_to_f32_row"))
    rest = "bf16";
  else
    return -1;
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (!strcmp(rest, types[i].suffix)) return types[i].type;
  return -1;
}

/* Whether the kernel can reach the code for weight type `type`. */
static bool spec_uses_type(const azc_kernel_spec_t *spec, int type) {
  if (spec->kind == AZK_KIND_GET_ROWS) return spec->p.get_rows.table_type == type;
  /* flash attention's scores: K rows (f32 or f16, the KV type is chosen at run time) as the
   * weight rows of the float dot products */
  if (spec->kind == AZK_KIND_FLASH_ATTN) return type == AZC_DTYPE_F32 || type == AZC_DTYPE_F16;
  if (spec->kind != AZK_KIND_MATMUL) return false;
  for (int s = 0; s < spec->p.mm.n_seg; s++)
    if (azk_wtype_for(spec->p.mm.wtype[s], spec->p.mm.wlayout[s]) == type) return true;
  return false;
}

/* Replaces a function's body by `unreachable`: for per-type code this kernel
 * never calls, so the optimizer does not spend time on it. */
static void stub_out(LLVMContextRef ctx, LLVMValueRef f) {
  LLVMBasicBlockRef bb;
  while ((bb = LLVMGetFirstBasicBlock(f))) LLVMDeleteBasicBlock(bb);
  LLVMBasicBlockRef only = LLVMAppendBasicBlockInContext(ctx, f, "unused");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, only);
  LLVMBuildUnreachable(b);
  LLVMDisposeBuilder(b);
}

static azc_status_t build(LLVMContextRef ctx, const azc_cpu_target_t *t,
                          const azc_kernel_spec_t *spec, const char *symbol,
                          LLVMModuleRef *out_mod) {
  const azc_bitcode_t *bc = find_bitcode(t->variant);
  if (!bc)
    return AZC_ERR(AZC_UNSUPPORTED, "the kernel library for variant %s was not built into this azc",
                   t->variant);
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRange((const char *)bc->data, bc->size, "azk_kernels", 0);
  LLVMModuleRef mod = NULL;
  LLVMBool bad = LLVMParseBitcodeInContext2(ctx, buf, &mod);
  LLVMDisposeMemoryBuffer(buf);
  if (bad || !mod) return AZC_ERR(AZC_INTERNAL, "cannot parse the %s kernel library", t->variant);
  *out_mod = mod;

  const char *entry_name = azc_kernel_spec_entry(spec);
  LLVMValueRef entry = LLVMGetNamedFunction(mod, entry_name);
  if (!entry) return AZC_ERR(AZC_INTERNAL, "kernel library lacks %s", entry_name);

  /* the parameter block: a private constant byte array */
  uint8_t bytes[AZC_KERNEL_SPEC_MAX_BYTES];
  size_t n = azc_kernel_spec_bytes(spec, bytes);
  const size_t header = 12; /* tag + kind */
  LLVMValueRef init =
      LLVMConstStringInContext(ctx, (const char *)bytes + header, (unsigned)(n - header), 1);
  char gname[96];
  snprintf(gname, sizeof(gname), "%s.params", symbol);
  LLVMValueRef params = LLVMAddGlobal(mod, LLVMTypeOf(init), gname);
  LLVMSetInitializer(params, init);
  LLVMSetGlobalConstant(params, 1);
  LLVMSetLinkage(params, LLVMPrivateLinkage);
  LLVMSetAlignment(params, 16);

  /* the wrapper */
  LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), i32 = LLVMInt32TypeInContext(ctx);
  LLVMTypeRef wargs[3] = {ptr, i32, i32};
  LLVMTypeRef wty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), wargs, 3, 0);
  LLVMValueRef wrapper = LLVMAddFunction(mod, symbol, wty);
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(ctx, wrapper, "entry");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, bb);
  LLVMValueRef args[4] = {LLVMGetParam(wrapper, 0), LLVMGetParam(wrapper, 1),
                          LLVMGetParam(wrapper, 2), params};
  LLVMTypeRef ety = LLVMGlobalGetValueType(entry);
  LLVMBuildCall2(b, ety, entry, args, 4, "");
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);

  /* Everything but the wrapper becomes internal (unused functions are then
   * dropped). The template is inlined into the wrapper, so its parameter
   * loads fold to constants; the per-type dot products and row decoders
   * stay out of line: one optimized copy per type that the kernel uses,
   * called once per weight row. Inlining them into every call site before
   * the type switches fold would multiply the code the optimizer sees by
   * the number of types and turn seconds of compile time into minutes. */
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f)) continue;
    if (f != wrapper) LLVMSetLinkage(f, LLVMInternalLinkage);
    if (f == entry || !strcmp(LLVMGetValueName(f), "azc_dequantize_row"))
      set_enum_attr(ctx, f, "alwaysinline", true);
    const char *fname = LLVMGetValueName(f);
    int type = per_type_function(fname);
    if (type >= 0) {
      if (strncmp(fname, "decode_", 7)) {
        set_enum_attr(ctx, f, "alwaysinline", false);
        set_enum_attr(ctx, f, "noinline", true);
      }
      if (!spec_uses_type(spec, type)) {
        stub_out(ctx, f);
        continue;
      }
    }
    set_string_attr(ctx, f, "target-cpu", t->cpu);
    set_string_attr(ctx, f, "target-features", t->features);
    set_string_attr(ctx, f, "tune-cpu", NULL);
  }
  for (LLVMValueRef g = LLVMGetFirstGlobal(mod); g; g = LLVMGetNextGlobal(g))
    if (!LLVMIsDeclaration(g) && LLVMGetLinkage(g) == LLVMExternalLinkage)
      LLVMSetLinkage(g, LLVMInternalLinkage);
#ifndef NDEBUG
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    azc_status_t st = AZC_ERR(AZC_INTERNAL, "kernel %s: invalid LLVM module: %s", symbol, msg);
    LLVMDisposeMessage(msg);
    return st;
  }
  LLVMDisposeMessage(msg);
#endif
  return NULL;
}

azc_status_t azc_cpu_compile_kernel(const azc_cpu_target_t *t, const azc_kernel_spec_t *spec,
                                    const char *symbol, uint8_t **obj, size_t *obj_size) {
  *obj = NULL;
  *obj_size = 0;
  pthread_once(&init_once, init_targets);
  char *err = NULL;
  LLVMTargetRef target;
  if (LLVMGetTargetFromTriple(t->triple, &target, &err)) {
    azc_status_t st = AZC_ERR(AZC_UNSUPPORTED, "target %s: %s", t->triple, err ? err : "?");
    LLVMDisposeMessage(err);
    return st;
  }
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                              LLVMRelocPIC, LLVMCodeModelSmall);
  if (!tm)
    return AZC_ERR(AZC_INTERNAL, "cannot create a target machine for %s/%s", t->triple, t->cpu);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  azc_status_t st = build(ctx, t, spec, symbol, &mod);
  if (!st) {
    LLVMSetTarget(mod, t->triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    /* The kernel library is written with explicit SIMD on every variant, so
     * the loop and SLP vectorizers find nothing to do: the objects are
     * byte-identical without them (checked for every kernel of TinyLlama
     * Q4_K_M, stories260K, gpt2 Q8_0, llama F16 and Q4_0 --no-fuse, for
     * avx512, haswell, x86-64 and aarch64), and they were ~12% of the O3
     * time (-time-passes: SLP 0.50 s, loop vectorize 0.22 s of ~6 s). */
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 0);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 0);
    /* drop the other kernel kinds' templates before optimizing */
    LLVMErrorRef e = LLVMRunPasses(mod, "globaldce,default<O3>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
      char *m = LLVMGetErrorMessage(e);
      st = AZC_ERR(AZC_INTERNAL, "kernel %s: optimization failed: %s", symbol, m);
      LLVMDisposeErrorMessage(m);
    }
  }
  if (!st) {
    LLVMMemoryBufferRef out = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &err, &out)) {
      st = AZC_ERR(AZC_INTERNAL, "kernel %s: code emission failed: %s", symbol, err ? err : "?");
      LLVMDisposeMessage(err);
    } else {
      size_t n = LLVMGetBufferSize(out);
      *obj = malloc(n ? n : 1);
      if (!*obj)
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "kernel object");
      else {
        memcpy(*obj, LLVMGetBufferStart(out), n);
        *obj_size = n;
      }
      LLVMDisposeMemoryBuffer(out);
    }
  }
  if (mod) LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return st;
}
