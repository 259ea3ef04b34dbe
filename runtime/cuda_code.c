/* The cuda.code section (see cuda_code.h): a reader that checks every field
 * before anything uses it (the fuzzers feed it bundles), and the run-time
 * re-placement of a plan's layers. */
#include "runtime/cuda_code.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/util.h"

/* [offset, offset + size) inside a section of `total` bytes */
static bool inside(uint64_t offset, uint64_t size, size_t total) {
  return offset <= total && size <= total - offset;
}

static bool has_nul(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

static azc_status_t check_launch(const azc_cuda_code_kernel_t *k, int32_t i) {
  const azc_cuda_kernel_info_t *info = &k->info;
  if (info->n_launch < 1 || info->n_launch > AZC_CUDA_MAX_LAUNCH)
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel %d (%.48s) has %d launches", i,
                   k->symbol, info->n_launch);
  if (info->scratch_per_row < 0 || info->scratch_per_row > ((int64_t)1 << 32))
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel %d needs %lld scratch bytes per row",
                   i, (long long)info->scratch_per_row);
  for (int32_t l = 0; l < info->n_launch; l++) {
    const azc_cuda_launch_t *x = &info->launch[l];
    if (!has_nul(x->suffix, sizeof(x->suffix)) || x->when < AZC_CUDA_WHEN_ALWAYS ||
        x->when > AZC_CUDA_WHEN_MANY_ROWS || x->block < 32 || x->block > 1024 || x->block % 32 ||
        x->grid_x < 1 || x->rows_per_block < 1 || x->smem < 0 || x->smem > 228 * 1024)
      return AZC_ERR(AZC_CORRUPT,
                     "section 'cuda.code': kernel %d (%.48s) launch %d: when %d, block %d, grid "
                     "%d, %d rows per block, %d bytes of shared memory",
                     i, k->symbol, l, x->when, x->block, x->grid_x, x->rows_per_block, x->smem);
  }
  return NULL;
}

void azc_cuda_code_free(azc_cuda_code_t *cc) {
  if (!cc) return;
  free(cc->kernels);
  free(cc->groups);
  free(cc);
}

static azc_status_t read_tables(const uint8_t *d, size_t size, azc_cuda_code_t *cc) {
  const azc_cuda_code_header_t *h = &cc->header;
  uint64_t img_bytes = (uint64_t)h->n_images * sizeof(azc_cuda_code_image_rec_t);
  if (!inside(h->images_offset, img_bytes, size))
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': the image table lies outside the section");
  int32_t prev_sm = 0;
  for (uint32_t i = 0; i < h->n_images; i++) {
    azc_cuda_code_image_rec_t r;
    memcpy(&r, d + h->images_offset + i * sizeof(r), sizeof(r));
    if (!inside(r.offset, r.size, size) || r.size == 0)
      return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': image %u lies outside the section", i);
    if (r.sm < 75 || r.sm > 1000 || (r.is_ptx != 0 && r.is_ptx != 1))
      return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': image %u is for sm_%d (ptx %d)", i, r.sm,
                     r.is_ptx);
    bool last = i + 1 == h->n_images;
    if (r.is_ptx != last || (!last && r.sm <= prev_sm))
      return AZC_ERR(AZC_CORRUPT,
                     "section 'cuda.code': image %u (sm_%d): expected cubins by ascending arch, "
                     "then one PTX",
                     i, r.sm);
    if (r.is_ptx && (r.sm != cc->images[0].sm || d[r.offset + r.size - 1] != 0))
      return AZC_ERR(AZC_CORRUPT,
                     "section 'cuda.code': the PTX (sm_%d) is not NUL-terminated text of the "
                     "lowest arch",
                     r.sm);
    prev_sm = r.sm;
    cc->images[i] = (azc_cuda_code_image_t){r.sm, r.is_ptx, d + r.offset, (size_t)r.size};
  }
  cc->n_images = (int)h->n_images;

  uint64_t k_bytes = (uint64_t)h->n_kernels * sizeof(azc_cuda_code_kernel_t);
  if (!inside(h->kernels_offset, k_bytes, size))
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': the kernel table lies outside the section");
  cc->kernels = malloc(k_bytes ? (size_t)k_bytes : 1);
  if (!cc->kernels) return AZC_ERR(AZC_OUT_OF_MEMORY, "cuda.code kernel table");
  memcpy(cc->kernels, d + h->kernels_offset, (size_t)k_bytes);
  cc->n_kernels = (int32_t)h->n_kernels;
  for (int32_t i = 0; i < cc->n_kernels; i++) {
    const azc_cuda_code_kernel_t *k = &cc->kernels[i];
    if (!has_nul(k->symbol, sizeof(k->symbol)) || !k->symbol[0])
      return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel %d has no symbol", i);
    AZC_RETURN_IF_ERROR(check_launch(k, i));
  }

  uint64_t g_bytes = (uint64_t)h->n_groups * sizeof(int32_t);
  if (!inside(h->groups_offset, g_bytes, size))
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': the layer table lies outside the section");
  cc->groups = malloc(g_bytes ? (size_t)g_bytes : 1);
  if (!cc->groups) return AZC_ERR(AZC_OUT_OF_MEMORY, "cuda.code layer table");
  memcpy(cc->groups, d + h->groups_offset, (size_t)g_bytes);
  cc->n_groups = (int32_t)h->n_groups;
  cc->n_layer = (int32_t)h->n_layer;
  for (int32_t i = 0; i < cc->n_groups; i++)
    if (cc->groups[i] < 0 || cc->groups[i] >= cc->n_layer)
      return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel step %d follows layer %d of %d", i,
                     cc->groups[i], cc->n_layer);

  if (h->source_size == UINT64_MAX || !inside(h->source_offset, h->source_size + 1, size) ||
      d[h->source_offset + h->source_size] != 0 ||
      memchr(d + h->source_offset, 0, (size_t)h->source_size))
    return AZC_ERR(AZC_CORRUPT,
                   "section 'cuda.code': the CUDA source is not NUL-terminated text inside the "
                   "section");
  cc->source = (const char *)d + h->source_offset;
  cc->source_size = (size_t)h->source_size;
  return NULL;
}

azc_status_t azc_cuda_code_read(const void *data, size_t size, azc_cuda_code_t **out) {
  *out = NULL;
  const uint8_t *d = data;
  azc_cuda_code_t *cc = calloc(1, sizeof(*cc));
  if (!cc) return AZC_ERR(AZC_OUT_OF_MEMORY, "cuda.code");
  azc_cuda_code_header_t *h = &cc->header;
  azc_status_t st = NULL;
  if (size < sizeof(*h)) {
    st = AZC_ERR(AZC_CORRUPT, "section 'cuda.code' is too small (%zu bytes)", size);
  } else {
    memcpy(h, d, sizeof(*h));
    if (memcmp(h->magic, AZC_CUDA_CODE_MAGIC, 8))
      st = AZC_ERR(AZC_CORRUPT, "section 'cuda.code' has a bad magic (expected %s)",
                   AZC_CUDA_CODE_MAGIC);
    else if (h->abi_version != AZC_CUDA_ABI_VERSION)
      st = AZC_ERR(AZC_UNSUPPORTED,
                   "section 'cuda.code': CUDA kernel ABI %u, this runtime has %d: recompile the "
                   "model with this azc",
                   h->abi_version, AZC_CUDA_ABI_VERSION);
    else if (h->n_images < 2 || h->n_images > 9 || h->n_kernels > (1u << 20) ||
             h->n_groups > (1u << 22) || h->n_layer < 1 || h->n_layer > 65536 ||
             !has_nul(h->nvrtc_version, sizeof(h->nvrtc_version)))
      st = AZC_ERR(AZC_CORRUPT,
                   "section 'cuda.code': %u images, %u kernels, %u steps, %u layers out of range",
                   h->n_images, h->n_kernels, h->n_groups, h->n_layer);
    else
      st = read_tables(d, size, cc);
  }
  if (st) {
    azc_cuda_code_free(cc);
    return st;
  }
  *out = cc;
  return NULL;
}

azc_status_t azc_cuda_code_check_plan(const azc_cuda_code_t *cc, const azc_plan_t *p) {
  int32_t k = 0, steps = 0;
  for (int32_t i = 0; i < p->n_kernels; i++) {
    if (p->kernels[i].device != AZC_DEVICE_CUDA) continue;
    if (k >= cc->n_kernels || cc->kernels[k].plan_kernel != i)
      return AZC_ERR(AZC_CORRUPT,
                     "section 'cuda.code': plan kernel %d (%s) runs on CUDA but has no record "
                     "there",
                     i, p->kernels[i].symbol);
    int32_t twin = cc->kernels[k].cpu_kernel; /* -1: none (a GPU-only bundle) */
    if (twin < -1 || twin >= p->n_kernels || (twin >= 0 && p->kernels[twin].device != AZC_DEVICE_CPU))
      return AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel %d names CPU twin %d", k, twin);
    k++;
  }
  if (k != cc->n_kernels)
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code' lists %d kernels; the plan has %d CUDA ones",
                   cc->n_kernels, k);
  for (int32_t i = 0; i < p->n_steps; i++) steps += p->steps[i].op == AZC_STEP_KERNEL;
  if (steps != cc->n_groups)
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code' places %d kernel steps; the plan has %d",
                   cc->n_groups, steps);
  if (p->n_layer && cc->n_layer != p->n_layer)
    return AZC_ERR(AZC_CORRUPT, "section 'cuda.code' places %d layers; the plan has %d",
                   cc->n_layer, p->n_layer);
  return NULL;
}

const azc_cuda_code_image_t *azc_cuda_code_pick_image(const azc_cuda_code_t *cc, int32_t sm) {
  const azc_cuda_code_image_t *best = NULL;
  for (int i = 0; i < cc->n_images; i++) {
    const azc_cuda_code_image_t *im = &cc->images[i];
    if (!im->is_ptx && im->sm <= sm && im->sm / 10 == sm / 10) best = im;
  }
  if (best) return best;
  for (int i = 0; i < cc->n_images; i++)
    if (cc->images[i].is_ptx && cc->images[i].sm <= sm) return &cc->images[i];
  return NULL;
}

static azc_status_t plan_copy(const azc_plan_t *plan, azc_plan_t **out) {
  uint8_t *blob;
  size_t size;
  AZC_RETURN_IF_ERROR(azc_plan_serialize(plan, &blob, &size));
  azc_status_t st = azc_plan_deserialize(blob, size, out);
  free(blob);
  return st;
}

azc_status_t azc_cuda_code_place(const azc_plan_t *plan, const azc_cuda_code_t *cc,
                                 int32_t n_gpu_layers, azc_plan_t **out) {
  *out = NULL;
  if (n_gpu_layers < 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "placing %d GPU layers: decide 'auto' first",
                   n_gpu_layers);
  if (n_gpu_layers > 0 && !cc)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "placing %d layers on the GPU: the bundle has no CUDA code (compile it with "
                   "--gpu-arch or -ngl)",
                   n_gpu_layers);
  /* each CPU kernel's CUDA twin, and each CUDA kernel's CPU twin */
  int32_t *to_cuda = malloc(sizeof(int32_t) * (size_t)(plan->n_kernels + 1));
  int32_t *to_cpu = malloc(sizeof(int32_t) * (size_t)(plan->n_kernels + 1));
  azc_plan_t *p = NULL;
  azc_status_t st = !to_cuda || !to_cpu ? AZC_ERR(AZC_OUT_OF_MEMORY, "placement") : NULL;
  for (int32_t i = 0; !st && i < plan->n_kernels; i++) to_cuda[i] = to_cpu[i] = i;
  for (int32_t i = 0; !st && cc && i < cc->n_kernels; i++) {
    const azc_cuda_code_kernel_t *k = &cc->kernels[i];
    if (k->plan_kernel < 0 || k->plan_kernel >= plan->n_kernels || k->cpu_kernel < -1 ||
        k->cpu_kernel >= plan->n_kernels) {
      st = AZC_ERR(AZC_CORRUPT, "section 'cuda.code': kernel %d has no place in the plan", i);
      break;
    }
    if (k->cpu_kernel < 0) continue; /* no CPU twin: it stays on CUDA or cannot be placed */
    to_cpu[k->plan_kernel] = k->cpu_kernel;
    to_cuda[k->cpu_kernel] = k->plan_kernel;
  }
  if (!st) st = plan_copy(plan, &p);
  int32_t n = 0, j = 0;
  for (int32_t i = 0; !st && i < p->n_steps; i++) {
    azc_plan_step_t s = p->steps[i];
    if (s.op == AZC_STEP_COPY) continue;
    int32_t group = cc && j < cc->n_groups ? cc->groups[j] : 0;
    j++;
    int32_t cpu = to_cpu[s.kernel];
    bool gpu = n_gpu_layers > 0 && group < n_gpu_layers;
    int32_t kernel = gpu ? to_cuda[cpu] : cpu;
    if (p->kernels[kernel].device != (gpu ? AZC_DEVICE_CUDA : AZC_DEVICE_CPU)) {
      st = AZC_ERR(AZC_UNSUPPORTED,
                   "placing plan step %d (%s) on %s: the bundle has no %s code "
                   "for it",
                   i, p->kernels[cpu].desc, gpu ? "CUDA" : "the CPU", gpu ? "CUDA" : "CPU");
      break;
    }
    s.kernel = kernel;
    s.device = s.from_device = p->kernels[kernel].device;
    p->steps[n++] = s;
  }
  if (!st && cc && j != cc->n_groups)
    st = AZC_ERR(AZC_CORRUPT, "section 'cuda.code' places %d kernel steps; the plan has %d",
                 cc->n_groups, j);
  if (!st) {
    p->n_steps = n;
    st = azc_plan_insert_copies(p);
  }
  free(to_cuda);
  free(to_cpu);
  if (st) {
    azc_plan_free(p);
    return st;
  }
  *out = p;
  return NULL;
}

int32_t azc_cuda_code_gpu_layers(const azc_plan_t *plan, const azc_cuda_code_t *cc) {
  if (!cc) return 0;
  int32_t first_cpu = cc->n_layer, j = 0;
  for (int32_t i = 0; i < plan->n_steps; i++) {
    const azc_plan_step_t *s = &plan->steps[i];
    if (s->op == AZC_STEP_COPY) continue;
    int32_t g = j < cc->n_groups ? cc->groups[j] : 0;
    j++;
    if (s->device != AZC_DEVICE_CUDA && g < first_cpu) first_cpu = g;
  }
  return first_cpu;
}

void azc_plan_device_weight_bytes(const azc_plan_t *plan, int64_t bytes[AZC_DEVICE_COUNT]) {
  for (int d = 0; d < AZC_DEVICE_COUNT; d++) bytes[d] = 0;
  uint8_t *seen = calloc((size_t)plan->n_weights + 1, 1); /* bit per device */
  if (!seen) return;
  for (int32_t i = 0; i < plan->n_steps; i++) {
    const azc_plan_step_t *s = &plan->steps[i];
    if (s->op != AZC_STEP_KERNEL || s->device < 0 || s->device >= AZC_DEVICE_COUNT) continue;
    for (int32_t k = 0; k < s->n_in && k < AZK_MAX_IN; k++) {
      const azc_plan_value_t *v = &s->in[k];
      if (v->kind != AZC_VAL_WEIGHT || v->index < 0 || v->index >= plan->n_weights) continue;
      if (seen[v->index] & (1u << s->device)) continue;
      seen[v->index] |= (uint8_t)(1u << s->device);
      bytes[s->device] += (int64_t)plan->weights[v->index].nbytes;
    }
  }
  free(seen);
}

azc_status_t azc_cuda_code_write(const azc_cuda_code_image_t *images, int n_images,
                                 const azc_cuda_code_kernel_t *kernels, int32_t n_kernels,
                                 const int32_t *groups, int32_t n_groups, int32_t n_layer,
                                 const char *source, size_t source_size,
                                 const uint8_t module_key[16], const char *nvrtc_version,
                                 uint8_t **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  if (n_images < 2 || n_images > 9 || n_kernels < 0 || n_groups < 0 || n_layer < 1)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "cuda.code: %d images, %d kernels, %d steps, %d layers",
                   n_images, n_kernels, n_groups, n_layer);
  azc_cuda_code_header_t h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, AZC_CUDA_CODE_MAGIC, 8);
  h.abi_version = AZC_CUDA_ABI_VERSION;
  h.n_images = (uint32_t)n_images;
  h.n_kernels = (uint32_t)n_kernels;
  h.n_groups = (uint32_t)n_groups;
  h.n_layer = (uint32_t)n_layer;
  memcpy(h.module_key, module_key, 16);
  snprintf(h.nvrtc_version, sizeof(h.nvrtc_version), "%s", nvrtc_version ? nvrtc_version : "");
  size_t at = sizeof(h);
  h.images_offset = at;
  at += sizeof(azc_cuda_code_image_rec_t) * (size_t)n_images;
  h.kernels_offset = at = azc_align_up(at, 8);
  at += sizeof(azc_cuda_code_kernel_t) * (size_t)n_kernels;
  h.groups_offset = at;
  at += sizeof(int32_t) * (size_t)n_groups;
  uint64_t img_at[9];
  for (int i = 0; i < n_images; i++) {
    at = azc_align_up(at, 16);
    img_at[i] = at;
    at += images[i].size;
  }
  h.source_offset = at;
  h.source_size = source_size;
  at += source_size + 1;
  uint8_t *d = calloc(1, at);
  if (!d) return AZC_ERR(AZC_OUT_OF_MEMORY, "cuda.code section of %zu bytes", at);
  memcpy(d, &h, sizeof(h));
  for (int i = 0; i < n_images; i++) {
    azc_cuda_code_image_rec_t r = {images[i].sm, images[i].is_ptx, img_at[i], images[i].size};
    memcpy(d + h.images_offset + sizeof(r) * (size_t)i, &r, sizeof(r));
    memcpy(d + img_at[i], images[i].data, images[i].size);
  }
  if (n_kernels)
    memcpy(d + h.kernels_offset, kernels, sizeof(azc_cuda_code_kernel_t) * (size_t)n_kernels);
  if (n_groups) memcpy(d + h.groups_offset, groups, sizeof(int32_t) * (size_t)n_groups);
  memcpy(d + h.source_offset, source, source_size);
  *out = d;
  *out_size = at;
  return NULL;
}
