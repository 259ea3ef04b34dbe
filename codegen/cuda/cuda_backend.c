/* The CUDA code generator behind the back-end interface (codegen/backend.h).
 *
 * A kernel's code is what codegen/cuda/cuda_gen.c makes of its spec: its
 * launch records (azc_cuda_kernel_info_t) followed by its CUDA C text, so
 * the kernel cache holds it under the spec's key like a CPU object. The
 * text does not depend on the arch list; the module does. link then builds
 * one module per model (the kernel library, then every CUDA kernel of the
 * plan in plan order), looks its images up in the cache under XXH3-128 of
 * the module text and the NVRTC salt (version, archs, options), compiles
 * it with NVRTC once when they are not there (a cubin per arch and the PTX
 * of the lowest) and writes the bundle's cuda.code section
 * (runtime/cuda_code.h). Compiled into every azc; registered in the back-end
 * registry only when NVRTC is built in (codegen/backend.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/backend.h"
#include "codegen/cache.h"
#include "codegen/cuda/cuda_gen.h"
#include "codegen/cuda/nvrtc.h"
#include "runtime/base/hash.h"
#include "runtime/base/util.h"
#include "runtime/cuda_code.h"

/* the options nvrtc.c passes besides -arch (they decide the images too) */
#define NVRTC_OPTIONS "--std=c++17 -default-device --fmad=false"

struct azc_codegen_target {
  int32_t sms[AZC_CUDA_MAX_ARCHS];
  int n_sms;
  char archs[96]; /* "sm_80,sm_90" */
};

static azc_status_t cuda_target_resolve(const azc_target_request_t *r, azc_codegen_target_t **out) {
  *out = NULL;
  azc_codegen_target_t *t = calloc(1, sizeof(*t));
  if (!t) return AZC_ERR(AZC_OUT_OF_MEMORY, "cuda target");
  azc_status_t st = azc_cuda_parse_archs(r->gpu_arch, t->sms, &t->n_sms);
  if (!st && t->n_sms == 0)
    st = AZC_ERR(AZC_INVALID_ARGUMENT, "--gpu-arch '%s': no arch listed", r->gpu_arch);
  if (st) {
    free(t);
    return st;
  }
  size_t k = 0;
  for (int i = 0; i < t->n_sms && k < sizeof(t->archs); i++)
    k += (size_t)snprintf(t->archs + k, sizeof(t->archs) - k, "%ssm_%d", i ? "," : "", t->sms[i]);
  *out = t;
  return NULL;
}

static void cuda_target_free(azc_codegen_target_t *t) { free(t); }

static void cuda_target_describe(const azc_codegen_target_t *t, char *buf, size_t cap) {
  snprintf(buf, cap, "cuda %s (cubins) + PTX sm_%d, NVRTC %s", t->archs, t->sms[0],
           azc_nvrtc_version());
}

/* the archs are in the cuda.code images: no cuda.target record */
static size_t cuda_target_record(const azc_codegen_target_t *t, void *buf, size_t cap) {
  (void)t, (void)buf, (void)cap;
  return 0;
}

/* the CUDA kernels read GGUF's own layout */
static uint32_t cuda_layouts(const azc_codegen_target_t *t) {
  (void)t;
  return 0;
}

/* device scratch is in each kernel's launch records (scratch_per_row) */
static void cuda_scratch(const azc_codegen_target_t *t, const azc_kernel_spec_t *s, int64_t M,
                         int64_t *shared, int64_t *per_thread) {
  (void)t, (void)s, (void)M;
  *shared = 0;
  *per_thread = 0;
}

static azc_status_t cuda_compile_kernel(const azc_codegen_target_t *t, const azc_kernel_spec_t *s,
                                        const char *symbol, uint8_t **code, size_t *size) {
  (void)t;
  *code = NULL;
  *size = 0;
  azc_buf_t b = {0};
  azc_cuda_kernel_info_t info;
  azc_buf_put(&b, (const char *)&(azc_cuda_kernel_info_t){0}, sizeof(info)); /* room for info */
  azc_status_t st = azc_cuda_gen_kernel(s, symbol, &b, &info);
  char *text = NULL;
  size_t len = 0;
  if (!st) st = azc_buf_take(&b, "CUDA kernel", &text, &len);
  azc_buf_free(&b);
  if (st) {
    char desc[128];
    azc_kernel_spec_describe(s, desc, sizeof(desc));
    return azc_status_wrap(st, "CUDA kernel %s (%s)", symbol, desc);
  }
  memcpy(text, &info, sizeof(info));
  *code = (uint8_t *)text;
  *size = len;
  return NULL;
}

static uint64_t library_hash(void) {
  size_t len;
  const char *lib = azc_cuda_library(&len);
  return azc_hash64(lib, len);
}

static size_t cuda_key_salt(const azc_codegen_target_t *t, char *buf, size_t cap) {
  (void)t; /* the text of a kernel is the same for every arch */
  int k = snprintf(buf, cap, "|cuda|abi%d|azc %s|lib %016llx", AZC_CUDA_ABI_VERSION,
                   AZC_VERSION_STRING, (unsigned long long)library_hash());
  return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

/* ---- link: one module, one NVRTC program per arch list ---- */

/* The images as a cache payload: u32 n, then per image i32 sm, i32 is_ptx,
 * u64 size, the bytes. */
static azc_status_t images_pack(const azc_cuda_images_t *im, void **out, size_t *size) {
  size_t n = 4;
  for (int i = 0; i < im->n; i++) n += 16 + im->img[i].size;
  uint8_t *d = malloc(n);
  if (!d) return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA images");
  uint32_t count = (uint32_t)im->n;
  memcpy(d, &count, 4);
  size_t at = 4;
  for (int i = 0; i < im->n; i++) {
    uint64_t sz = im->img[i].size;
    memcpy(d + at, &im->img[i].sm, 4);
    memcpy(d + at + 4, &im->img[i].is_ptx, 4);
    memcpy(d + at + 8, &sz, 8);
    memcpy(d + at + 16, im->img[i].data, im->img[i].size);
    at += 16 + im->img[i].size;
  }
  *out = d;
  *size = n;
  return NULL;
}

/* a cache payload back into images (borrowing its bytes); false if it is
 * not one */
static bool images_unpack(const uint8_t *d, size_t size, azc_cuda_code_image_t *img, int *n) {
  uint32_t count;
  if (size < 4) return false;
  memcpy(&count, d, 4);
  if (count < 2 || count > AZC_CUDA_MAX_ARCHS + 1) return false;
  size_t at = 4;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t sz;
    if (size - at < 16) return false;
    memcpy(&img[i].sm, d + at, 4);
    memcpy(&img[i].is_ptx, d + at + 4, 4);
    memcpy(&sz, d + at + 8, 8);
    if (sz > size - at - 16) return false;
    img[i].data = d + at + 16;
    img[i].size = (size_t)sz;
    at += 16 + (size_t)sz;
  }
  *n = (int)count;
  return at == size;
}

static azc_status_t cuda_link(const azc_codegen_target_t *t, const azc_codegen_link_input_t *in,
                              azc_codegen_link_output_t *out) {
  memset(out, 0, sizeof(*out));
  double t0 = azc_time_ms();
  const azc_plan_t *p = in->plan;
  int32_t n_k = 0;
  for (int32_t k = 0; k < p->n_kernels; k++) n_k += p->kernels[k].device == AZC_DEVICE_CUDA;
  azc_cuda_code_kernel_t *recs = calloc((size_t)n_k + 1, sizeof(*recs));
  if (!recs) return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA kernel records");
  azc_buf_t src = {0};
  azc_cuda_module_begin(&src);
  azc_status_t st = NULL;
  int32_t r = 0;
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CUDA) continue;
    if (!in->code[k] || in->code_sizes[k] <= sizeof(azc_cuda_kernel_info_t)) {
      st = AZC_ERR(AZC_INTERNAL, "CUDA kernel %s has no code", p->kernels[k].symbol);
      break;
    }
    azc_cuda_code_kernel_t *rec = &recs[r++];
    rec->plan_kernel = k;
    rec->cpu_kernel = in->twin ? in->twin[k] : -1;
    snprintf(rec->symbol, sizeof(rec->symbol), "%s", p->kernels[k].symbol);
    memcpy(&rec->info, in->code[k], sizeof(rec->info));
    azc_buf_put(&src, (const char *)in->code[k] + sizeof(rec->info),
                in->code_sizes[k] - sizeof(rec->info));
  }
  char *text = NULL;
  size_t len = 0;
  if (!st) st = azc_buf_take(&src, "CUDA module", &text, &len);
  azc_buf_free(&src);

  /* the module key: its text and everything else NVRTC's output depends on */
  azc_hash128_t key = {0, 0};
  char salt[256];
  int sl = snprintf(salt, sizeof(salt), "|nvrtc %s|%s|%s|abi%d", azc_nvrtc_version(), t->archs,
                    NVRTC_OPTIONS, AZC_CUDA_ABI_VERSION);
  if (!st) {
    size_t n = len + (size_t)sl;
    char *keyed = malloc(n);
    if (!keyed) {
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA module key");
    } else {
      memcpy(keyed, text, len);
      memcpy(keyed + len, salt, (size_t)sl);
      key = azc_hash128(keyed, n);
      free(keyed);
    }
  }
  azc_cache_t *cache = NULL;
  if (!st && in->use_cache) {
    azc_status_t cst = azc_cache_open(in->cache_dir, &cache);
    if (cst) st = azc_status_wrap(cst, "kernel cache");
  }
  void *payload = NULL;
  size_t payload_size = 0;
  azc_cuda_code_image_t img[AZC_CUDA_MAX_ARCHS + 1];
  int n_img = 0;
  if (!st && cache) {
    azc_status_t gst = azc_cache_get(cache, key, &payload, &payload_size);
    if (!gst) {
      out->cache_hit = images_unpack(payload, payload_size, img, &n_img);
      if (!out->cache_hit) { /* not images: compile again and replace it */
        free(payload);
        payload = NULL;
      }
    }
    azc_status_free(gst);
  }
  if (!st && !out->cache_hit) {
    azc_cuda_images_t ims;
    st = azc_nvrtc_compile(text, "azc_module.cu", t->sms, t->n_sms, &ims);
    if (!st) {
      st = images_pack(&ims, &payload, &payload_size);
      azc_cuda_images_free(&ims);
    }
    if (!st && !images_unpack(payload, payload_size, img, &n_img))
      st = AZC_ERR(AZC_INTERNAL, "CUDA images do not read back");
    if (!st && cache) {
      char desc[160];
      snprintf(desc, sizeof(desc), "cuda module: %d kernels, %s + PTX sm_%d", n_k, t->archs,
               t->sms[0]);
      azc_status_free(azc_cache_put(cache, key, payload, payload_size, desc));
    }
  }
  azc_cache_close(cache);
  /* cuda.code's order: the cubins by ascending arch, then the PTX */
  for (int i = 1; !st && i < n_img; i++)
    for (int j = i; j > 0 && img[j - 1].is_ptx && !img[j].is_ptx; j--) {
      azc_cuda_code_image_t x = img[j];
      img[j] = img[j - 1];
      img[j - 1] = x;
    }
  uint8_t key_bytes[16];
  memcpy(key_bytes, &key.lo, 8);
  memcpy(key_bytes + 8, &key.hi, 8);
  if (!st)
    st = azc_cuda_code_write(img, n_img, recs, n_k, in->groups, in->n_groups,
                             in->n_layer > 0 ? in->n_layer : 1, text, len, key_bytes,
                             azc_nvrtc_version(), &out->section, &out->section_size);
  if (!st) {
    size_t cubins = 0, ptx = 0;
    for (int i = 0; i < n_img; i++) *(img[i].is_ptx ? &ptx : &cubins) += img[i].size;
    char hex[33];
    azc_hash128_hex(key, hex);
    snprintf(out->summary, sizeof(out->summary),
             "CUDA module: %d kernels, %zu bytes of CUDA C, %s cubins %zu bytes + PTX sm_%d %zu "
             "bytes (%s, key %.16s)",
             n_k, len, t->archs, cubins, t->sms[0], ptx,
             out->cache_hit ? "from the cache" : "NVRTC", hex);
  }
  free(payload);
  free(text);
  free(recs);
  out->ms = azc_time_ms() - t0;
  return st;
}

const azc_codegen_backend_t azc_codegen_cuda_backend = {
    .name = "cuda",
    .device = AZC_DEVICE_CUDA,
    .target_resolve = cuda_target_resolve,
    .target_free = cuda_target_free,
    .target_describe = cuda_target_describe,
    .target_record = cuda_target_record,
    .layouts = cuda_layouts,
    .scratch = cuda_scratch,
    .compile_kernel = cuda_compile_kernel,
    .key_salt = cuda_key_salt,
    .link = cuda_link,
};
