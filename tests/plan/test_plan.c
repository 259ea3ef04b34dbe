/* runtime/plan and runtime/exec_factory: device-aware plans. Copy steps go
 * exactly where an activation crosses devices (and nowhere with one device),
 * survive the serialized form, malformed ones are refused, and the executor
 * factory and the CPU executor refuse what they cannot run by name. */
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_exec.h"
#include "runtime/exec_factory.h"
#include "runtime/plan.h"
#include "tests/test.h"

static azc_plan_value_t arena(int64_t offset) {
  return (azc_plan_value_t){AZC_VAL_ARENA, 0, offset};
}

/* four kernel steps over values A (0), B (64), C (128) and the logits (192):
 * A = k0(tokens); B = k1(A); C = k2(B); logits = k3(C, A) */
static azc_plan_t *four_steps(int32_t d0, int32_t d1, int32_t d2, int32_t d3) {
  azc_plan_t *p;
  if (azc_plan_alloc(1, 4, 4, 0, &p)) return NULL;
  const int32_t dev[4] = {d0, d1, d2, d3};
  p->n_vocab = 8;
  p->kv_heads[0] = p->kv_head_dim[0] = 1;
  p->arena_bytes = 256;
  p->plan_T = p->plan_O = 1;
  p->logits = arena(192);
  for (int i = 0; i < 4; i++) {
    azc_plan_step_t *s = &p->steps[i];
    s->op = AZC_STEP_KERNEL;
    s->device = s->from_device = dev[i];
    s->kernel = i;
    s->node = i;
    s->layer = -1;
    s->out = arena(64 * i);
    s->out_row_bytes = 32;
    s->n_in = 1;
    s->in[0] = i ? arena(64 * (i - 1)) : (azc_plan_value_t){AZC_VAL_INPUT, 0, 0};
    p->kernels[i].device = dev[i];
    snprintf(p->kernels[i].symbol, sizeof(p->kernels[i].symbol), "k%d", i);
  }
  p->steps[3].n_in = 2;
  p->steps[3].in[1] = arena(0);
  return p;
}

static void test_one_device_no_copies(void) {
  azc_plan_t *p = four_steps(AZC_DEVICE_CPU, AZC_DEVICE_CPU, AZC_DEVICE_CPU, AZC_DEVICE_CPU);
  ASSERT(p);
  ASSERT_OK(azc_plan_insert_copies(p));
  ASSERT_EQ_INT(p->n_steps, 4);
  for (int i = 0; i < 4; i++) ASSERT_EQ_INT(p->steps[i].op, AZC_STEP_KERNEL);
  ASSERT_EQ_INT(azc_plan_devices(p), 1u << AZC_DEVICE_CPU);
  azc_plan_free(p);
}

static void test_copies_where_values_cross(void) {
  /* steps 1 and 2 on the GPU: A goes up, C comes down, B stays there */
  azc_plan_t *p = four_steps(AZC_DEVICE_CPU, AZC_DEVICE_CUDA, AZC_DEVICE_CUDA, AZC_DEVICE_CPU);
  ASSERT(p);
  ASSERT_OK(azc_plan_insert_copies(p));
  ASSERT_EQ_INT(p->n_steps, 6);
  const int32_t ops[6] = {AZC_STEP_KERNEL, AZC_STEP_COPY, AZC_STEP_KERNEL,
                          AZC_STEP_KERNEL, AZC_STEP_COPY, AZC_STEP_KERNEL};
  for (int i = 0; i < 6; i++) ASSERT_EQ_INT(p->steps[i].op, ops[i]);
  const azc_plan_step_t *up = &p->steps[1], *down = &p->steps[4];
  ASSERT_EQ_INT(up->from_device, AZC_DEVICE_CPU);
  ASSERT_EQ_INT(up->device, AZC_DEVICE_CUDA);
  ASSERT_EQ_INT(up->in[0].offset, 0);
  ASSERT_EQ_INT(up->out_row_bytes, 32);
  ASSERT_EQ_INT(down->from_device, AZC_DEVICE_CUDA);
  ASSERT_EQ_INT(down->device, AZC_DEVICE_CPU);
  ASSERT_EQ_INT(down->in[0].offset, 128);
  /* the serialized form keeps them, and the reader accepts them */
  uint8_t *blob;
  size_t size;
  ASSERT_OK(azc_plan_serialize(p, &blob, &size));
  azc_plan_t *q;
  ASSERT_OK(azc_plan_deserialize(blob, size, &q));
  ASSERT_EQ_INT(q->n_steps, 6);
  ASSERT_EQ_INT(q->steps[4].op, AZC_STEP_COPY);
  ASSERT_EQ_INT(q->steps[4].from_device, AZC_DEVICE_CUDA);
  /* a copy that names a kernel, or a kernel step on another device than its kernel, is refused */
  uint8_t *bad = malloc(size);
  memcpy(bad, blob, size);
  azc_plan_free(q);
  size_t step0 = 96 + 2 * sizeof(int32_t); /* header, one layer's KV geometry */
  azc_plan_step_t s;
  memcpy(&s, bad + step0 + sizeof(s) * 1, sizeof(s));
  s.kernel = 0;
  memcpy(bad + step0 + sizeof(s) * 1, &s, sizeof(s));
  ASSERT_ERR(azc_plan_deserialize(bad, size, &q), AZC_CORRUPT, "copy");
  memcpy(bad, blob, size);
  memcpy(&s, bad + step0, sizeof(s));
  s.device = s.from_device = AZC_DEVICE_CUDA; /* kernel 0 is a CPU kernel */
  memcpy(bad + step0, &s, sizeof(s));
  ASSERT_ERR(azc_plan_deserialize(bad, size, &q), AZC_CORRUPT, "kernel step");
  free(bad);
  free(blob);
  /* the factory hands a plan with CUDA steps to the CUDA executor, which
   * needs the bundle's cuda.code section: without one it is refused by name */
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 4;
  azc_plan_code_t code = {.plan = p};
  azc_executor_t *ex;
  ASSERT_ERR(azc_executor_create_for_plan(&code, &ep, &ex), AZC_CORRUPT, "no CUDA code");
  /* and the CPU executor refuses a plan with steps it cannot run */
  azk_fn_t fns[4] = {0};
  ASSERT_ERR(azc_cpu_exec_create(p, fns, NULL, &ep, &ex), AZC_UNSUPPORTED, "CPU kernels only");
  azc_plan_free(p);
}

static void test_logits_come_back(void) {
  azc_plan_t *p = four_steps(AZC_DEVICE_CUDA, AZC_DEVICE_CUDA, AZC_DEVICE_CUDA, AZC_DEVICE_CUDA);
  ASSERT(p);
  ASSERT_OK(azc_plan_insert_copies(p));
  ASSERT_EQ_INT(p->n_steps, 5);
  ASSERT_EQ_INT(p->steps[4].op, AZC_STEP_COPY);
  ASSERT_EQ_INT(p->steps[4].device, AZC_DEVICE_CPU);
  ASSERT_EQ_INT(p->steps[4].in[0].offset, 192);
  azc_plan_free(p);
  /* a value without a fixed row size cannot cross */
  p = four_steps(AZC_DEVICE_CPU, AZC_DEVICE_CUDA, AZC_DEVICE_CUDA, AZC_DEVICE_CPU);
  ASSERT(p);
  p->steps[0].out_row_bytes = 0;
  ASSERT_ERR(azc_plan_insert_copies(p), AZC_UNSUPPORTED, "no fixed row size");
  ASSERT_EQ_INT(p->n_steps, 4); /* unchanged */
  azc_plan_free(p);
}

int main(void) {
  RUN(test_one_device_no_copies);
  RUN(test_copies_where_values_cross);
  RUN(test_logits_come_back);
  return test_summary();
}
