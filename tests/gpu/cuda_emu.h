/* The CUDA execution model on the CPU, for running generated CUDA source.
 *
 * Included (-include) before a module written by codegen/cuda, which is then
 * compiled as C++ by clang++-19 into a shared object the tests load. It
 * defines the device helpers the kernel library keeps behind names
 * (azk_tid, azk_sync, azk_shfl_xor, azk_dp4a, azk_h2f, ...), so the very
 * text NVRTC compiles runs here:
 *   - every thread of a block is a fiber on its own stack (a register and
 *     stack-pointer switch on x86-64, ucontext elsewhere);
 *   - azk_sync (__syncthreads) is a barrier over the block's fibers;
 *   - a warp shuffle is a barrier over the warp's 32 fibers: each lane
 *     deposits its value, and when all 32 have arrived every lane gets the
 *     value of the lane it asked for;
 *   - dynamic shared memory is one buffer per block, filled with NaN (all
 *     bits set) before the block starts;
 *   - blocks run one after another, and inside a block the next fiber to run
 *     is drawn at random among those that can run (seeded), each running
 *     until it reaches a barrier, so a missing barrier lets a thread read
 *     shared memory its neighbours have not written yet: NaN.
 * A barrier that not all threads reach, a shuffle with lanes missing, or
 * lanes of one warp at different kinds of barrier is an error the launch
 * reports (no hang). Fiber switches are announced to AddressSanitizer
 * (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), so
 * the harness runs under the suite's ASan. */
#ifndef AZC_TESTS_GPU_CUDA_EMU_H
#define AZC_TESTS_GPU_CUDA_EMU_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "runtime/base/half.h"
#include "runtime/cuda_abi.h"

#if defined(__SANITIZE_ADDRESS__)
#define AZK_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AZK_EMU_ASAN 1
#endif
#endif
#ifdef AZK_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define AZK_EMU 1
#define __device__
#define __global__
#define __forceinline__ inline
#define AZK_DEV static inline
#define AZK_DEV_SPEC inline
#define AZK_GLOBAL extern "C"

namespace azk_emu {

enum { READY, AT_SYNC, AT_WARP, DONE };
enum { OP_XOR, OP_IDX };
/* small stacks: ASan clears a stack's shadow at every swapcontext into it */
enum { STACK_BYTES = 48 * 1024, MAX_THREADS = 1024 };

/* A fiber switch. On x86-64 a few instructions save the callee-saved
 * registers and swap stack pointers: no system call (swapcontext and
 * getcontext each make one, rt_sigprocmask) and no ASan interceptor (which
 * clears the shadow of the whole target stack at every swapcontext); the
 * stack is unpoisoned once when a fiber starts instead. Elsewhere, ucontext. */
#if defined(__x86_64__)
#define AZK_EMU_FAST_SWITCH 1
extern "C" void azk_emu_switch(void **save_sp, void *load_sp);
asm(".text\n"
    ".p2align 4\n"
    ".type azk_emu_switch,@function\n"
    "azk_emu_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size azk_emu_switch, .-azk_emu_switch\n");
#endif

struct fiber {
#ifdef AZK_EMU_FAST_SWITCH
  void *sp;
#else
  ucontext_t ctx;
#endif
  char *stack;
  int state, tid, op, arg;
  float val, res;
  void *fake_stack;
};

struct emu {
  fiber fibers[MAX_THREADS];
  int n_stacks;
#ifdef AZK_EMU_FAST_SWITCH
  void *sched_sp;
#else
  ucontext_t sched;
#endif
  const void *sched_bottom;
  size_t sched_size;
  fiber *cur;
  int block, bx, by;
  unsigned char *smem;
  size_t smem_cap;
  void (*fn)(azk_gpu_args);
  const azk_gpu_args *args;
  uint64_t rng;
  char err[256];
};

static emu g;

static inline uint64_t next_random() {
  g.rng ^= g.rng << 13;
  g.rng ^= g.rng >> 7;
  g.rng ^= g.rng << 17;
  return g.rng;
}

/* from the running fiber back to the scheduler */
static inline void yield_to_scheduler(bool dying) {
  fiber *f = g.cur;
#ifdef AZK_EMU_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, g.sched_bottom, g.sched_size);
#endif
#ifdef AZK_EMU_FAST_SWITCH
  azk_emu_switch(&f->sp, g.sched_sp);
#else
  swapcontext(&f->ctx, &g.sched);
#endif
#ifdef AZK_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &g.sched_bottom, &g.sched_size);
#endif
}

static void fiber_main() {
#ifdef AZK_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &g.sched_bottom, &g.sched_size);
#endif
  g.fn(*g.args);
  g.cur->state = DONE;
  yield_to_scheduler(true);
}

static inline void run_fiber(fiber *f) {
  g.cur = f;
#ifdef AZK_EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f->stack, STACK_BYTES);
#endif
#ifdef AZK_EMU_FAST_SWITCH
  azk_emu_switch(&g.sched_sp, f->sp);
#else
  swapcontext(&g.sched, &f->ctx);
#endif
#ifdef AZK_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  g.cur = nullptr;
}

/* Completes the shuffles of warps whose 32 lanes have all arrived. Returns
 * how many fibers it released; sets g.err on a broken shuffle. */
static int release_warps() {
  int released = 0;
  for (int w0 = 0; w0 < g.block; w0 += 32) {
    fiber *l = &g.fibers[w0];
    int at = 0, done = 0;
    for (int i = 0; i < 32; i++) at += l[i].state == AT_WARP, done += l[i].state == DONE;
    if (at == 0 || at + done < 32) continue;
    if (done) {
      snprintf(g.err, sizeof(g.err), "block (%d,%d) warp %d: shuffle with %d exited lanes", g.bx,
               g.by, w0 / 32, done);
      return -1;
    }
    if (at < 32) continue;
    for (int i = 0; i < 32; i++) {
      if (l[i].op != l[0].op) {
        snprintf(g.err, sizeof(g.err), "block (%d,%d) warp %d: lanes at different shuffles", g.bx,
                 g.by, w0 / 32);
        return -1;
      }
      const int src = l[i].op == OP_XOR ? (i ^ l[i].arg) : l[i].arg;
      if (src < 0 || src > 31) {
        snprintf(g.err, sizeof(g.err), "block (%d,%d) warp %d lane %d: shuffle from lane %d", g.bx,
                 g.by, w0 / 32, i, src);
        return -1;
      }
      l[i].res = l[src].val;
    }
    for (int i = 0; i < 32; i++) l[i].state = READY;
    released += 32;
  }
  return released;
}

static int run_block() {
  const int n = g.block;
  for (int t = 0; t < n; t++) {
    fiber *f = &g.fibers[t];
#ifdef AZK_EMU_FAST_SWITCH
    /* a fresh stack: the frames a finished fiber left behind keep their
     * redzones poisoned, so clear the shadow once, then lay out what
     * azk_emu_switch pops: six registers, then fiber_main as the return
     * address, entered with the stack aligned as after a call */
#ifdef AZK_EMU_ASAN
    __asan_unpoison_memory_region(f->stack, STACK_BYTES);
#endif
    uintptr_t top = ((uintptr_t)f->stack + STACK_BYTES) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                      /* fiber_main's return address: never used */
    *--sp = (void *)(uintptr_t)&fiber_main;
    for (int r = 0; r < 6; r++) *--sp = nullptr;
    f->sp = sp;
#else
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = STACK_BYTES;
    f->ctx.uc_link = nullptr;
    makecontext(&f->ctx, fiber_main, 0);
#endif
    f->state = READY;
    f->tid = t;
  }
  memset(g.smem, 0xff, g.smem_cap); /* NaN everywhere */
  /* The runnable fibers; one runs until it blocks, then leaves the list.
   * When none is left, the barriers that everyone reached are released. */
  int ready[MAX_THREADS], nr = 0;
  for (;;) {
    if (nr == 0) {
      int at_sync = 0, done = 0;
      for (int t = 0; t < n; t++) {
        const int s = g.fibers[t].state;
        if (s == READY) ready[nr++] = t;
        at_sync += s == AT_SYNC;
        done += s == DONE;
      }
      if (nr) continue;
      if (done == n) return 0;
      int r = release_warps();
      if (r < 0) return -1;
      if (r == 0) {
        if (at_sync + done != n) {
          snprintf(g.err, sizeof(g.err),
                   "block (%d,%d): deadlock: %d threads at __syncthreads, the others at shuffles",
                   g.bx, g.by, at_sync);
          return -1;
        }
        if (done) {
          snprintf(g.err, sizeof(g.err),
                   "block (%d,%d): __syncthreads reached by %d threads, %d have exited", g.bx, g.by,
                   at_sync, done);
          return -1;
        }
        for (int t = 0; t < n; t++) g.fibers[t].state = READY;
      }
      for (int t = 0; t < n; t++)
        if (g.fibers[t].state == READY) ready[nr++] = t;
      continue;
    }
    const int k = (int)(next_random() % (uint64_t)nr);
    const int t = ready[k];
    ready[k] = ready[--nr];
    run_fiber(&g.fibers[t]);
  }
}

/* the module is dlclose'd and rebuilt by the tests: give its memory back */
__attribute__((destructor)) static void release_memory() {
  for (int i = 0; i < g.n_stacks; i++) free(g.fibers[i].stack);
  g.n_stacks = 0;
  free(g.smem);
  g.smem = nullptr;
}

} // namespace azk_emu

/* ---- the device helpers of codegen/cuda/azk_cuda.cu ---- */
AZK_DEV int azk_tid() { return azk_emu::g.cur->tid; }
AZK_DEV int azk_nthreads() { return azk_emu::g.block; }
AZK_DEV int azk_bid_x() { return azk_emu::g.bx; }
AZK_DEV int azk_bid_y() { return azk_emu::g.by; }
AZK_DEV void azk_sync() {
  azk_emu::g.cur->state = azk_emu::AT_SYNC;
  azk_emu::yield_to_scheduler(false);
}
AZK_DEV float azk_emu_shuffle(float v, int op, int arg) {
  azk_emu::fiber *f = azk_emu::g.cur;
  f->val = v;
  f->op = op;
  f->arg = arg;
  f->state = azk_emu::AT_WARP;
  azk_emu::yield_to_scheduler(false);
  return f->res;
}
AZK_DEV float azk_shfl_xor(float v, int mask) { return azk_emu_shuffle(v, azk_emu::OP_XOR, mask); }
AZK_DEV int azk_dp4a(int a, int b, int c) {
  for (int k = 0; k < 4; k++)
    c += (int)(signed char)(a >> (8 * k)) * (int)(signed char)(b >> (8 * k));
  return c;
}
AZK_DEV unsigned char *azk_smem() { return azk_emu::g.smem; }
AZK_DEV float azk_h2f(unsigned short h) { return azc_fp16_to_f32(h); }
AZK_DEV unsigned short azk_f2h(float f) { return azc_f32_to_fp16(f); }
AZK_DEV float azk_rint(float x) { return rintf(x); }
/* cvt.rni.s32.f32: NaN gives 0, out-of-range values saturate */
AZK_DEV int azk_f2i_rn(float x) {
  if (x != x) return 0;
  if (x >= 2147483647.0f) return 2147483647;
  if (x <= -2147483648.0f) return (-2147483647 - 1);
  return (int)rintf(x);
}
AZK_DEV float azk_sqrt_rn(double x) { return (float)sqrt(x); }
AZK_DEV double azk_pow(double a, double b) { return pow(a, b); }
AZK_DEV double azk_cos(double x) { return cos(x); }
AZK_DEV double azk_sin(double x) { return sin(x); }
AZK_DEV float azk_bits_f(unsigned int b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
AZK_DEV unsigned int azk_f_bits(float f) {
  unsigned int b;
  memcpy(&b, &f, 4);
  return b;
}

/* Runs fn over a grid of gx * gy blocks of `block` threads with `smem`
 * bytes of shared memory each. Returns 0, or -1 with a message in err. */
extern "C" __attribute__((visibility("default"))) int
azk_emu_launch(void (*fn)(azk_gpu_args), int gx, int gy, int block, int smem,
               const azk_gpu_args *args, uint64_t seed, char *err, int err_cap) {
  using namespace azk_emu;
  if (block <= 0 || block > MAX_THREADS || block % 32 || gx <= 0 || gy <= 0 || smem < 0) {
    snprintf(err, (size_t)err_cap, "launch of %d x %d blocks of %d threads", gx, gy, block);
    return -1;
  }
  for (; g.n_stacks < block; g.n_stacks++) {
    g.fibers[g.n_stacks].stack = (char *)malloc(STACK_BYTES);
    if (!g.fibers[g.n_stacks].stack) {
      snprintf(err, (size_t)err_cap, "out of memory for fiber stacks");
      return -1;
    }
  }
  /* exactly the bytes asked for, so that ASan sees a kernel reading past them */
  free(g.smem);
  g.smem_cap = (size_t)(smem > 0 ? smem : 16);
  g.smem = (unsigned char *)malloc(g.smem_cap);
  {
    if (!g.smem) {
      g.smem_cap = 0;
      snprintf(err, (size_t)err_cap, "out of memory for shared memory");
      return -1;
    }
  }
  g.block = block;
  g.fn = fn;
  g.args = args;
  g.rng = seed ? seed : 0x9e3779b97f4a7c15ull;
  g.err[0] = 0;
  for (int y = 0; y < gy; y++)
    for (int x = 0; x < gx; x++) {
      g.bx = x;
      g.by = y;
      if (run_block()) {
        snprintf(err, (size_t)err_cap, "%s", g.err);
        return -1;
      }
    }
  return 0;
}

#endif
