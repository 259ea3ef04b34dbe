/* runtime/cuda_code: the cuda.code section round-trips through its writer
 * and reader, every malformed field and every truncation is refused by name
 * (never a crash: this runs under ASan), the image for a GPU is the right
 * one, and azc_cuda_code_place re-places a plan's layers with the copy
 * steps exactly at the layer boundary. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda_code.h"
#include "runtime/plan.h"
#include "tests/test.h"

static azc_plan_value_t arena(int64_t offset) {
  return (azc_plan_value_t){AZC_VAL_ARENA, 0, offset};
}

/* two layers of two steps each: A = k0(tokens); B = k1(A) (layer 0);
 * C = k2(B); logits = k3(C) (layer 1). Kernels 0-3 on the CPU, 4-7 their
 * CUDA twins; every step starts on the CPU. */
static azc_plan_t *two_layers(void) {
  azc_plan_t *p;
  if (azc_plan_alloc(2, 4, 8, 1, &p)) return NULL;
  p->n_vocab = 8;
  p->kv_heads[0] = p->kv_head_dim[0] = p->kv_heads[1] = p->kv_head_dim[1] = 1;
  p->arena_bytes = 256;
  p->plan_T = p->plan_O = 1;
  p->logits = arena(192);
  snprintf(p->weights[0].name, sizeof(p->weights[0].name), "blk.0.w");
  p->weights[0].rank = 1;
  p->weights[0].shape[0] = 8;
  p->weights[0].nbytes = 32;
  for (int i = 0; i < 4; i++) {
    azc_plan_step_t *s = &p->steps[i];
    s->op = AZC_STEP_KERNEL;
    s->device = s->from_device = AZC_DEVICE_CPU;
    s->kernel = i;
    s->node = i;
    s->layer = -1;
    s->out = arena(64 * i);
    s->out_row_bytes = 32;
    s->n_in = 2;
    s->in[0] = i ? arena(64 * (i - 1)) : (azc_plan_value_t){AZC_VAL_INPUT, 0, 0};
    s->in[1] = (azc_plan_value_t){AZC_VAL_WEIGHT, 0, 0};
  }
  for (int k = 0; k < 8; k++) {
    p->kernels[k].device = k < 4 ? AZC_DEVICE_CPU : AZC_DEVICE_CUDA;
    snprintf(p->kernels[k].symbol, sizeof(p->kernels[k].symbol), "azk_%d", k);
  }
  return p;
}

static const char source[] = "extern \"C\" __global__ void azk_4_mv(azk_gpu_args_t a) {}\n";
static const uint8_t cubin80[40] = {0x7f, 'E', 'L', 'F', 80},
                     cubin90[48] = {0x7f, 'E', 'L', 'F', 90};
static const char ptx[] = ".version 9.0\n.target sm_80\n";

static azc_status_t write_section(uint8_t **out, size_t *size) {
  azc_cuda_code_image_t img[3] = {{80, 0, cubin80, sizeof(cubin80)},
                                  {90, 0, cubin90, sizeof(cubin90)},
                                  {80, 1, (const uint8_t *)ptx, sizeof(ptx)}};
  azc_cuda_code_kernel_t k[4];
  memset(k, 0, sizeof(k));
  for (int i = 0; i < 4; i++) {
    k[i].plan_kernel = 4 + i;
    k[i].cpu_kernel = i;
    snprintf(k[i].symbol, sizeof(k[i].symbol), "azk_%d", 4 + i);
    k[i].info.n_launch = 1;
    k[i].info.scratch_per_row = 16;
    k[i].info.launch[0] = (azc_cuda_launch_t){"_mv", AZC_CUDA_WHEN_ALWAYS, 128, 4, 1, 0};
  }
  const int32_t groups[4] = {0, 0, 1, 1};
  const uint8_t key[16] = {1, 2, 3};
  return azc_cuda_code_write(img, 3, k, 4, groups, 4, 2, source, strlen(source), key, "13.0", out,
                             size);
}

static void test_round_trip(void) {
  uint8_t *d;
  size_t size;
  ASSERT_OK(write_section(&d, &size));
  azc_cuda_code_t *cc;
  ASSERT_OK(azc_cuda_code_read(d, size, &cc));
  ASSERT_EQ_INT(cc->n_images, 3);
  ASSERT_EQ_INT(cc->images[1].sm, 90);
  ASSERT_EQ_INT(cc->images[1].size, sizeof(cubin90));
  ASSERT(!memcmp(cc->images[1].data, cubin90, sizeof(cubin90)));
  ASSERT_EQ_INT((uintptr_t)(cc->images[0].data - d) % 16, 0);
  ASSERT_EQ_INT(cc->images[2].is_ptx, 1);
  ASSERT(!strcmp((const char *)cc->images[2].data, ptx));
  ASSERT_EQ_INT(cc->n_kernels, 4);
  ASSERT(!strcmp(cc->kernels[2].symbol, "azk_6"));
  ASSERT_EQ_INT(cc->kernels[2].info.launch[0].block, 128);
  ASSERT_EQ_INT(cc->n_groups, 4);
  ASSERT_EQ_INT(cc->groups[3], 1);
  ASSERT(!strcmp(cc->source, source));
  ASSERT(!strcmp(cc->header.nvrtc_version, "13.0"));
  ASSERT_EQ_INT(cc->header.module_key[1], 2);
  /* images: an sm_86 GPU takes the sm_80 cubin, sm_90 its own, sm_120 the PTX, sm_75 nothing */
  ASSERT(azc_cuda_code_pick_image(cc, 86) == &cc->images[0]);
  ASSERT(azc_cuda_code_pick_image(cc, 90) == &cc->images[1]);
  ASSERT(azc_cuda_code_pick_image(cc, 120) == &cc->images[2]);
  ASSERT(azc_cuda_code_pick_image(cc, 75) == NULL);
  azc_plan_t *p = two_layers();
  ASSERT(p);
  ASSERT_OK(azc_cuda_code_check_plan(cc, p));
  azc_cuda_code_free(cc);
  azc_plan_free(p);
  free(d);
}

/* every field the reader checks, planted wrong, is refused with a message */
static void test_malformed(void) {
  uint8_t *d;
  size_t size;
  ASSERT_OK(write_section(&d, &size));
  azc_cuda_code_header_t h;
  memcpy(&h, d, sizeof(h));
  uint8_t *bad = malloc(size);
  ASSERT(bad);
  struct {
    size_t at;
    uint64_t value;
    int width;
    const char *expect;
  } cases[] = {
      {0, 'X', 1, "bad magic"},
      {offsetof(azc_cuda_code_header_t, abi_version), 99, 4, "ABI"},
      {offsetof(azc_cuda_code_header_t, n_images), 10, 4, "out of range"},
      {offsetof(azc_cuda_code_header_t, n_images), 1, 4, "out of range"},
      {offsetof(azc_cuda_code_header_t, n_kernels), 1u << 21, 4, "out of range"},
      {offsetof(azc_cuda_code_header_t, n_kernels), 1u << 19, 4, "kernel table"},
      {offsetof(azc_cuda_code_header_t, n_groups), 1u << 20, 4, "layer table"},
      {offsetof(azc_cuda_code_header_t, n_layer), 1, 4, "follows layer 1 of 1"},
      {offsetof(azc_cuda_code_header_t, images_offset), (uint64_t)size - 8, 8, "image table"},
      {offsetof(azc_cuda_code_header_t, images_offset), UINT64_MAX - 4, 8, "image table"},
      {offsetof(azc_cuda_code_header_t, kernels_offset), (uint64_t)size, 8, "kernel table"},
      {offsetof(azc_cuda_code_header_t, groups_offset), (uint64_t)size - 4, 8, "layer table"},
      {offsetof(azc_cuda_code_header_t, source_offset), (uint64_t)size, 8, "source"},
      {offsetof(azc_cuda_code_header_t, source_size), (uint64_t)size, 8, "source"},
      {offsetof(azc_cuda_code_header_t, source_size), UINT64_MAX, 8, "source"},
      {offsetof(azc_cuda_code_header_t, source_size), 3, 8, "source"},
      /* image 1: offset past the end, arch below sm_75, a cubin order swap */
      {h.images_offset + 24 + 8, (uint64_t)size - 4, 8, "image 1 lies outside"},
      {h.images_offset + 24 + 16, UINT64_MAX, 8, "image 1 lies outside"},
      {h.images_offset + 24, 70, 4, "sm_70"},
      {h.images_offset + 24, 80, 4, "ascending"},
      {h.images_offset + 48 + 4, 0, 4, "then one PTX"},
      {h.images_offset + 48, 90, 4, "lowest arch"},
      {h.images_offset + 48 + 16, sizeof(ptx) - 1, 8, "NUL-terminated"},
      /* kernel 1: its symbol, launch count, block, rows per block */
      {h.kernels_offset + 200 + 8, 0, 1, "no symbol"},
      {h.kernels_offset + 200 + 56, 5, 4, "5 launches"},
      {h.kernels_offset + 200 + 56, 0, 4, "0 launches"},
      {h.kernels_offset + 200 + 72 + 16, 100, 4, "block 100"},
      {h.kernels_offset + 200 + 72 + 24, 0, 4, "0 rows per block"},
      {h.kernels_offset + 200 + 72 + 12, 7, 4, "when 7"},
      {h.kernels_offset + 200 + 64, UINT64_MAX, 8, "scratch"},
      {h.groups_offset + 8, 2, 4, "follows layer 2 of 2"},
      {h.groups_offset + 8, UINT32_MAX, 4, "follows layer -1"},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    memcpy(bad, d, size);
    memcpy(bad + cases[c].at, &cases[c].value, (size_t)cases[c].width);
    azc_cuda_code_t *cc = NULL;
    azc_status_t st = azc_cuda_code_read(bad, size, &cc);
    ASSERT_MSG(st != NULL, "case %zu (%s) was accepted", c, cases[c].expect);
    ASSERT_MSG(strstr(azc_status_message(st), cases[c].expect), "case %zu: '%s' lacks '%s'", c,
               azc_status_message(st), cases[c].expect);
    ASSERT(cc == NULL);
    azc_status_free(st);
  }
  /* every truncation, and every single byte flipped, is either refused or
   * read without touching memory outside the section (ASan) */
  for (size_t n = 0; n < size; n++) {
    uint8_t *cut = malloc(n ? n : 1);
    ASSERT(cut);
    memcpy(cut, d, n);
    azc_cuda_code_t *cc = NULL;
    azc_status_t st = azc_cuda_code_read(cut, n, &cc);
    ASSERT_MSG(st != NULL, "a section cut to %zu of %zu bytes was accepted", n, size);
    azc_status_free(st);
    free(cut);
  }
  for (size_t at = 0; at < size; at++) {
    memcpy(bad, d, size);
    bad[at] ^= 0xA5;
    azc_cuda_code_t *cc = NULL;
    azc_status_t st = azc_cuda_code_read(bad, size, &cc);
    azc_status_free(st);
    azc_cuda_code_free(cc);
  }
  free(bad);
  free(d);
}

static void test_check_plan(void) {
  uint8_t *d;
  size_t size;
  ASSERT_OK(write_section(&d, &size));
  azc_cuda_code_t *cc;
  ASSERT_OK(azc_cuda_code_read(d, size, &cc));
  azc_plan_t *p = two_layers();
  ASSERT(p);
  p->kernels[5].device = AZC_DEVICE_CPU; /* a CUDA record for a CPU kernel */
  azc_status_t st = azc_cuda_code_check_plan(cc, p);
  ASSERT(st &&
         strstr(azc_status_message(st), "plan kernel 6 (azk_6) runs on CUDA but has no record"));
  azc_status_free(st);
  p->kernels[5].device = AZC_DEVICE_CUDA;
  cc->kernels[1].cpu_kernel = 6; /* a twin that is not a CPU kernel */
  st = azc_cuda_code_check_plan(cc, p);
  ASSERT(st && strstr(azc_status_message(st), "CPU twin 6"));
  azc_status_free(st);
  cc->kernels[1].cpu_kernel = 1;
  p->n_steps = 3; /* a group per kernel step */
  st = azc_cuda_code_check_plan(cc, p);
  ASSERT(st && strstr(azc_status_message(st), "places 4 kernel steps; the plan has 3"));
  azc_status_free(st);
  azc_cuda_code_free(cc);
  azc_plan_free(p);
  free(d);
}

static void expect_placement(const azc_plan_t *q, const int32_t *ops, const int32_t *dev, int n) {
  ASSERT_EQ_INT(q->n_steps, n);
  for (int i = 0; i < n; i++) {
    ASSERT_EQ_INT(q->steps[i].op, ops[i]);
    ASSERT_EQ_INT(q->steps[i].device, dev[i]);
    if (ops[i] == AZC_STEP_KERNEL) ASSERT_EQ_INT(q->kernels[q->steps[i].kernel].device, dev[i]);
  }
}

static void test_place(void) {
  uint8_t *d;
  size_t size;
  ASSERT_OK(write_section(&d, &size));
  azc_cuda_code_t *cc;
  ASSERT_OK(azc_cuda_code_read(d, size, &cc));
  azc_plan_t *p = two_layers(), *q, *r;
  ASSERT(p);
  const int K = AZC_STEP_KERNEL, C = AZC_STEP_COPY, G = AZC_DEVICE_CUDA, H = AZC_DEVICE_CPU;
  /* -ngl 1: layer 0 on the GPU, B comes down once before layer 1 */
  ASSERT_OK(azc_cuda_code_place(p, cc, 1, &q));
  expect_placement(q, (const int32_t[]){K, K, C, K, K}, (const int32_t[]){G, G, H, H, H}, 5);
  ASSERT_EQ_INT(q->steps[2].from_device, G);
  ASSERT_EQ_INT(q->steps[2].in[0].offset, 64);
  ASSERT_EQ_INT(q->steps[0].kernel, 4);
  ASSERT_EQ_INT(q->steps[3].kernel, 2);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(q, cc), 1);
  ASSERT_OK(azc_cuda_code_check_plan(cc, q));
  int64_t bytes[AZC_DEVICE_COUNT];
  azc_plan_device_weight_bytes(q, bytes);
  ASSERT_EQ_INT(bytes[H], 32);
  ASSERT_EQ_INT(bytes[G], 32);
  /* re-placing a placed plan: all on the GPU (99), the logits come down at the end */
  ASSERT_OK(azc_cuda_code_place(q, cc, 99, &r));
  expect_placement(r, (const int32_t[]){K, K, K, K, C}, (const int32_t[]){G, G, G, G, H}, 5);
  ASSERT_EQ_INT(r->steps[4].in[0].offset, 192);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(r, cc), 2);
  azc_plan_device_weight_bytes(r, bytes);
  ASSERT_EQ_INT(bytes[H], 0);
  azc_plan_free(q);
  /* and back to the CPU: no copies, the CPU kernels */
  ASSERT_OK(azc_cuda_code_place(r, cc, 0, &q));
  expect_placement(q, (const int32_t[]){K, K, K, K}, (const int32_t[]){H, H, H, H}, 4);
  ASSERT_EQ_INT(q->steps[3].kernel, 3);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(q, cc), 0);
  azc_plan_free(q);
  azc_plan_free(r);
  /* no CUDA code: only 0 layers; 'auto' must be decided first */
  azc_status_t st = azc_cuda_code_place(p, NULL, 1, &q);
  ASSERT(st && strstr(azc_status_message(st), "no CUDA code"));
  azc_status_free(st);
  st = azc_cuda_code_place(p, cc, -1, &q);
  ASSERT(st && strstr(azc_status_message(st), "auto"));
  azc_status_free(st);
  ASSERT_OK(azc_cuda_code_place(p, NULL, 0, &q));
  ASSERT_EQ_INT(q->n_steps, 4);
  azc_plan_free(q);
  azc_cuda_code_free(cc);
  azc_plan_free(p);
  free(d);
}

/* A GPU-only plan (an azc without a CPU back end): CUDA kernels 0-3 whose
 * records name no CPU twin (-1), every step on CUDA. It passes the check and
 * places with every layer on the GPU; any layer on the CPU is refused, and a
 * -1 twin is never taken for a kernel index. */
static void test_gpu_only(void) {
  azc_plan_t *p = two_layers(), *q = NULL;
  ASSERT(p);
  p->n_kernels = 4;
  for (int i = 0; i < 4; i++) {
    p->kernels[i].device = AZC_DEVICE_CUDA;
    p->steps[i].device = p->steps[i].from_device = AZC_DEVICE_CUDA;
  }
  ASSERT_OK(azc_plan_insert_copies(p));
  azc_cuda_code_image_t img[2] = {{90, 0, cubin90, sizeof(cubin90)},
                                  {90, 1, (const uint8_t *)ptx, sizeof(ptx)}};
  azc_cuda_code_kernel_t k[4];
  memset(k, 0, sizeof(k));
  for (int i = 0; i < 4; i++) {
    k[i].plan_kernel = i;
    k[i].cpu_kernel = -1;
    snprintf(k[i].symbol, sizeof(k[i].symbol), "azk_%d", i);
    k[i].info.n_launch = 1;
    k[i].info.launch[0] = (azc_cuda_launch_t){"_mv", AZC_CUDA_WHEN_ALWAYS, 128, 4, 1, 0};
  }
  const int32_t groups[4] = {0, 0, 1, 1};
  const uint8_t key[16] = {4};
  uint8_t *d;
  size_t size;
  ASSERT_OK(azc_cuda_code_write(img, 2, k, 4, groups, 4, 2, source, strlen(source), key, "13.0",
                                &d, &size));
  azc_cuda_code_t *cc;
  ASSERT_OK(azc_cuda_code_read(d, size, &cc));
  ASSERT_OK(azc_cuda_code_check_plan(cc, p));
  const int K = AZC_STEP_KERNEL, C = AZC_STEP_COPY, G = AZC_DEVICE_CUDA, H = AZC_DEVICE_CPU;
  ASSERT_OK(azc_cuda_code_place(p, cc, 99, &q));
  expect_placement(q, (const int32_t[]){K, K, K, K, C}, (const int32_t[]){G, G, G, G, H}, 5);
  ASSERT_EQ_INT(q->steps[3].kernel, 3);
  ASSERT_EQ_INT(azc_cuda_code_gpu_layers(q, cc), 2);
  azc_plan_free(q);
  for (int n = 0; n < 2; n++) {
    q = NULL;
    azc_status_t st = azc_cuda_code_place(p, cc, n, &q);
    ASSERT_MSG(st && strstr(azc_status_message(st), "on the CPU: the bundle has no CPU code"),
               "-ngl %d of a GPU-only plan: %s", n, st ? azc_status_message(st) : "placed");
    ASSERT(!q);
    azc_status_free(st);
  }
  cc->kernels[2].cpu_kernel = -2; /* below -1: corrupt */
  azc_status_t st = azc_cuda_code_check_plan(cc, p);
  ASSERT(st && strstr(azc_status_message(st), "CPU twin -2"));
  azc_status_free(st);
  st = azc_cuda_code_place(p, cc, 99, &q);
  ASSERT(st && strstr(azc_status_message(st), "no place in the plan"));
  azc_status_free(st);
  azc_cuda_code_free(cc);
  azc_plan_free(p);
  free(d);
}

int main(void) {
  RUN(test_round_trip);
  RUN(test_malformed);
  RUN(test_check_plan);
  RUN(test_place);
  RUN(test_gpu_only);
  return test_summary();
}
