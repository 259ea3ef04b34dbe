/* Opening a bundle for execution (see model_bundle.h). */
#include "runtime/model_bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/base/util.h"
#include "runtime/cpu_features.h"
#include "runtime/exec_factory.h"

/* the record sizes docs/bundle-format.md gives */
_Static_assert(sizeof(azc_bundle_meta_t) == 472, "meta layout");
_Static_assert(sizeof(azc_bundle_cpu_target_t) == 2744, "cpu.target layout");
_Static_assert(sizeof(azc_bundle_defaults_t) == 72, "defaults layout");
_Static_assert(sizeof(azc_bundle_code_header_t) == 16, "cpu.code header layout");

static azc_status_t get_record(azc_bundle_t *b, const char *name, void *dst, size_t size,
                               const char *magic) {
  const void *data;
  uint64_t n;
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, name, &data, &n));
  if (n != size)
    return AZC_ERR(AZC_CORRUPT, "section '%s' has %llu bytes, expected %zu", name,
                   (unsigned long long)n, size);
  memcpy(dst, data, size);
  if (memcmp(dst, magic, 8)) return AZC_ERR(AZC_CORRUPT, "section '%s' has a bad magic", name);
  return NULL;
}

static void terminate(char *s, size_t n) { s[n - 1] = 0; }

static azc_status_t check_target(azc_bundle_model_t *m) {
  azc_bundle_cpu_target_t *t = &m->target;
  terminate(t->triple, sizeof(t->triple));
  terminate(t->arch, sizeof(t->arch));
  terminate(t->cpu, sizeof(t->cpu));
  terminate(t->variant, sizeof(t->variant));
  terminate(t->required, sizeof(t->required));
  terminate(t->features, sizeof(t->features));
  if (strcmp(t->arch, azc_host_arch()))
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the bundle's code is for %s (%s, cpu %s); this machine is %s: recompile it "
                   "with azc compile here",
                   t->arch, t->triple, t->cpu, azc_host_arch());
  char missing[512];
  if (!azc_host_has_features(t->required, missing, sizeof(missing)))
    return AZC_ERR(AZC_UNSUPPORTED,
                   "the bundle was compiled for cpu %s and needs CPU features this machine "
                   "lacks: %s (recompile with --target-cpu for this CPU)",
                   t->cpu, missing);
  return NULL;
}

/* The CPU kernels: section "cpu.code" holds one object per plan kernel that
 * runs on the CPU, in plan order. */
static azc_status_t load_cpu_code(azc_bundle_model_t *m) {
  const azc_plan_t *p = m->plan;
  const uint8_t *data;
  uint64_t size;
  AZC_RETURN_IF_ERROR(
      azc_bundle_section(m->bundle, AZC_SECTION_CPU_CODE, (const void **)&data, &size));
  azc_bundle_code_header_t h;
  if (size < sizeof(h)) return AZC_ERR(AZC_CORRUPT, "section 'cpu.code' is too small");
  memcpy(&h, data, sizeof(h));
  if (memcmp(h.magic, "AZCCODE1", 8))
    return AZC_ERR(AZC_CORRUPT, "section 'cpu.code' has a bad magic");
  if (h.abi_version != AZK_ABI_VERSION)
    return AZC_ERR(AZC_UNSUPPORTED, "kernel ABI %u; this runtime speaks %d: recompile the model",
                   h.abi_version, AZK_ABI_VERSION);
  uint32_t n_cpu = 0;
  for (int32_t k = 0; k < p->n_kernels; k++) n_cpu += p->kernels[k].device == AZC_DEVICE_CPU;
  if (h.n_objects != n_cpu || sizeof(h) + 16ull * h.n_objects > size)
    return AZC_ERR(AZC_CORRUPT, "section 'cpu.code' lists %u objects; the plan has %u CPU kernels",
                   h.n_objects, n_cpu);
  const void **objs = calloc((size_t)p->n_kernels + 1, sizeof(void *));
  size_t *sizes = calloc((size_t)p->n_kernels + 1, sizeof(size_t));
  azc_status_t st = NULL;
  if (!objs || !sizes) st = AZC_ERR(AZC_OUT_OF_MEMORY, "code table");
  for (int32_t k = 0, i = 0; !st && k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CPU) continue;
    uint64_t off = azc_load_u64le(data + sizeof(h) + 16 * (size_t)i);
    uint64_t n = azc_load_u64le(data + sizeof(h) + 16 * (size_t)i + 8);
    if (off > size || n > size - off) {
      st = AZC_ERR(AZC_CORRUPT, "section 'cpu.code': object %d lies outside the section", i);
      break;
    }
    objs[k] = data + off;
    sizes[k] = (size_t)n;
    i++;
  }
  double t0 = azc_time_ms();
  if (!st) st = azc_cpu_kernels_load(p, objs, sizes, &m->code, &m->kernels);
  m->load_code_ms = azc_time_ms() - t0;
  free(objs);
  free(sizes);
  return azc_status_wrap(st, "loading the bundle's kernels");
}

/* Every device's code: the CPU's loaded here; another device's code section
 * is handed to its executor as it is. */
static azc_status_t load_code(azc_bundle_model_t *m) {
  uint32_t devices = 0;
  for (int32_t k = 0; k < m->plan->n_kernels; k++) devices |= 1u << m->plan->kernels[k].device;
  if (devices & (1u << AZC_DEVICE_CPU)) {
    AZC_RETURN_IF_ERROR(
        get_record(m->bundle, AZC_SECTION_CPU_TARGET, &m->target, sizeof(m->target), "AZCCPU01"));
    AZC_RETURN_IF_ERROR(check_target(m));
    AZC_RETURN_IF_ERROR(load_cpu_code(m));
  } else {
    m->kernels = calloc((size_t)m->plan->n_kernels + 1, sizeof(azk_fn_t));
    if (!m->kernels) return AZC_ERR(AZC_OUT_OF_MEMORY, "kernel table");
  }
  for (int32_t d = 0; d < AZC_DEVICE_COUNT; d++) {
    if (d == AZC_DEVICE_CPU || !(devices & (1u << d))) continue;
    char name[32];
    snprintf(name, sizeof(name), "%s.code", azc_device_name(d));
    if (!azc_bundle_has_section(m->bundle, name))
      return AZC_ERR(AZC_CORRUPT, "the plan has %s kernels but the bundle has no section '%s'",
                     azc_device_name(d), name);
    AZC_RETURN_IF_ERROR(
        azc_bundle_section(m->bundle, name, &m->device_code[d], &m->device_code_size[d]));
  }
  return NULL;
}

static void *verify_weights(void *arg) {
  azc_bundle_model_t *m = arg;
  m->verify_status = azc_bundle_verify_section(m->bundle, AZC_SECTION_WEIGHTS);
  return NULL;
}

azc_status_t azc_bundle_model_wait_verified(azc_bundle_model_t *m) {
  if (m->verifier_running) {
    pthread_join(m->verifier, NULL);
    m->verifier_running = false;
  }
  azc_status_t st = m->verify_status;
  m->verify_status = NULL;
  if (st) return azc_status_wrap(st, "%s", azc_bundle_path(m->bundle));
  return NULL;
}

static int by_address(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

/* With AZC_PERF_MAP set, writes /tmp/perf-<pid>.map so that `perf report`
 * names the kernels (each kernel's range runs to the next kernel's start). */
static void write_perf_map(const azc_bundle_model_t *m) {
  const azc_plan_t *p = m->plan;
  uintptr_t *addr = malloc(sizeof(uintptr_t) * 2 * (size_t)(p->n_kernels + 1));
  if (!addr) return;
  int32_t n = 0; /* the CPU kernels */
  for (int32_t k = 0; k < p->n_kernels; k++) {
    if (!m->kernels[k]) continue;
    addr[2 * n] = (uintptr_t)m->kernels[k];
    addr[2 * n++ + 1] = (uintptr_t)k;
  }
  qsort(addr, (size_t)n, 2 * sizeof(uintptr_t), by_address);
  char path[64];
  snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
  FILE *f = fopen(path, "w");
  uintptr_t end = (uintptr_t)azc_code_image_base(m->code) + azc_code_image_size(m->code);
  for (int32_t i = 0; f && i < n; i++) {
    uintptr_t next = i + 1 < n ? addr[2 * (i + 1)] : end;
    fprintf(f, "%lx %lx %s\n", (unsigned long)addr[2 * i], (unsigned long)(next - addr[2 * i]),
            p->kernels[addr[2 * i + 1]].desc);
  }
  if (f) fclose(f);
  free(addr);
}

/* Maps the weights' pages now (MADV_POPULATE_READ, Linux 5.14; else a
 * read-ahead hint): faulting 4 KiB pages one at a time during the first
 * forward pass cost it ~0.7 s on a 640 MiB model, where populating them in
 * one call costs a fraction of that and belongs to loading, as llama.cpp's
 * warm-up run does. Failure only loses the speed-up. */
static void populate(const void *data, uint64_t size) {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || !size) return;
  uintptr_t a = (uintptr_t)data & ~((uintptr_t)page - 1);
  size_t len = (size_t)((uintptr_t)data + size - a);
  if (madvise((void *)a, len, MADV_POPULATE_READ) != 0) madvise((void *)a, len, MADV_WILLNEED);
}

static azc_status_t open_model(azc_bundle_model_t *m, const char *path, uint32_t flags) {
  double t0 = azc_time_ms();
  AZC_RETURN_IF_ERROR(azc_bundle_open(path, AZC_BUNDLE_LAZY_VERIFY, &m->bundle));
  azc_bundle_t *b = m->bundle;
  AZC_RETURN_IF_ERROR(get_record(b, AZC_SECTION_META, &m->meta, sizeof(m->meta), "AZCMETA1"));
  terminate(m->meta.arch, sizeof(m->meta.arch));
  terminate(m->meta.name, sizeof(m->meta.name));
  terminate(m->meta.source, sizeof(m->meta.source));
  AZC_RETURN_IF_ERROR(
      get_record(b, AZC_SECTION_DEFAULTS, &m->defaults, sizeof(m->defaults), "AZCDEF02"));
  const void *data;
  uint64_t size;
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, AZC_SECTION_PLAN, &data, &size));
  AZC_RETURN_IF_ERROR_CTX(azc_plan_deserialize(data, (size_t)size, &m->plan), "section 'plan'");
  AZC_RETURN_IF_ERROR(azc_bundle_section(b, AZC_SECTION_TOKENIZER, &data, &size));
  AZC_RETURN_IF_ERROR_CTX(azc_tokenizer_deserialize(data, (size_t)size, &m->tokenizer),
                          "section 'tokenizer'");
  if (azc_bundle_has_section(b, AZC_SECTION_CHAT)) {
    AZC_RETURN_IF_ERROR(azc_bundle_section(b, AZC_SECTION_CHAT, &data, &size));
    AZC_RETURN_IF_ERROR(azc_chat_info_parse(data, (size_t)size, &m->chat));
  }
  AZC_RETURN_IF_ERROR(load_code(m));
  if (getenv("AZC_PERF_MAP") && m->code) write_perf_map(m);
  if (flags & AZC_BUNDLE_MODEL_VERIFY_NOW) {
    AZC_RETURN_IF_ERROR(azc_bundle_verify_section(b, AZC_SECTION_WEIGHTS));
  } else if (pthread_create(&m->verifier, NULL, verify_weights, m) == 0) {
    m->verifier_running = true;
  } else {
    AZC_RETURN_IF_ERROR(azc_bundle_verify_section(b, AZC_SECTION_WEIGHTS));
  }
  AZC_RETURN_IF_ERROR(azc_bundle_section_unverified(b, AZC_SECTION_WEIGHTS, &data, &size));
  populate(data, size);
  m->weights = calloc((size_t)m->plan->n_weights + 1, sizeof(void *));
  if (!m->weights) return AZC_ERR(AZC_OUT_OF_MEMORY, "weight table");
  for (int32_t i = 0; i < m->plan->n_weights; i++) {
    const azc_plan_weight_t *w = &m->plan->weights[i];
    if (w->offset > size || w->nbytes > size - w->offset)
      return AZC_ERR(AZC_CORRUPT, "weight %s lies outside section 'weights'", w->name);
    m->weights[i] = (const uint8_t *)data + w->offset;
  }
  if (m->plan->n_vocab != azc_tokenizer_n_vocab(m->tokenizer) &&
      m->plan->n_vocab < azc_tokenizer_n_vocab(m->tokenizer))
    return AZC_ERR(AZC_CORRUPT, "plan has %d logits but the tokenizer %d tokens", m->plan->n_vocab,
                   azc_tokenizer_n_vocab(m->tokenizer));
  m->open_ms = azc_time_ms() - t0;
  return NULL;
}

azc_status_t azc_bundle_model_open(const char *path, uint32_t flags, azc_bundle_model_t **out) {
  *out = NULL;
  azc_bundle_model_t *m = calloc(1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s", path);
  azc_status_t st = open_model(m, path, flags);
  if (st) {
    azc_bundle_model_close(m);
    return azc_status_wrap(st, "%s", path);
  }
  *out = m;
  return NULL;
}

void azc_bundle_model_close(azc_bundle_model_t *m) {
  if (!m) return;
  azc_status_free(azc_bundle_model_wait_verified(m));
  azc_tokenizer_destroy(m->tokenizer);
  azc_chat_info_destroy(m->chat);
  free(m->kernels);
  free(m->weights);
  azc_code_image_free(m->code);
  azc_plan_free(m->plan);
  azc_bundle_close(m->bundle);
  free(m);
}

azc_status_t azc_bundle_model_executor(const azc_bundle_model_t *m,
                                       const azc_executor_params_t *params, azc_executor_t **out) {
  azc_plan_code_t code = {.plan = m->plan, .weights = m->weights, .cpu_kernels = m->kernels};
  for (int32_t d = 0; d < AZC_DEVICE_COUNT; d++) {
    code.code[d] = m->device_code[d];
    code.code_size[d] = (size_t)m->device_code_size[d];
  }
  return azc_executor_create_for_plan(&code, params, out);
}
