/* The bundle reader: the container (runtime/bundle.c), then everything
 * azc_bundle_model_open reads from it: meta, cpu.target and defaults records,
 * the plan (runtime/plan.c), the tokenizer blob, the chat section, the
 * kernels' ELF objects through the runtime's own loader (runtime/elf_loader.c,
 * elf_reloc.c) and the weights' bounds. Two targets from this source:
 *
 *   fuzz_bundle         plain mutation: the section checksums refuse almost
 *                       every mutant, so this fuzzes the container checks;
 *   fuzz_bundle_sealed  every input is re-sealed before it is opened (file
 *                       size, section, entry and header checksums recomputed
 *                       where the table lets them be found), and a custom
 *                       mutator mutates one section at a time in place, so
 *                       mutants reach the plan, tokenizer and ELF readers.
 *
 * A bundle either opens, and then holds what model_bundle.h promises (every
 * plan kernel resolved in the loaded code, every weight inside the weights
 * section, a tokenizer that encodes and decodes), or is refused with a status
 * of an input code (CORRUPT, UNSUPPORTED, NOT_FOUND, IO, OUT_OF_RANGE,
 * INVALID_ARGUMENT) and a one-line message. The loaded code is never run: a
 * forged bundle with valid checksums may hold any machine code (checksums
 * find damage, they are not signatures; docs/bundle-format.md).
 *
 * Seed (tests/fuzz/seeds.c): a bundle compiled by azc from a one-layer
 * synthetic gpt2 model, with a chat section. */
#include <xxhash.h>

#include "runtime/bundle.h"
#include "runtime/cuda_code.h"
#include "runtime/model_bundle.h"
#include "tests/fuzz/fuzz.h"

#ifdef AZC_FUZZ_MODE_SEALED
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* the section table as far as it lies inside the file: n entries at table */
static size_t table_entries(const uint8_t *data, size_t size, uint64_t *table) {
  if (size < AZC_BUNDLE_HEADER_SIZE || memcmp(data, AZC_BUNDLE_MAGIC, 8)) return 0;
  uint64_t n = get_u32(data + 32), t = get_u64(data + 40);
  if (n > AZC_BUNDLE_MAX_SECTIONS || t > size) return 0;
  uint64_t fit = (size - t) / AZC_BUNDLE_ENTRY_SIZE;
  *table = t;
  return (size_t)(n < fit ? n : fit);
}

/* Recomputes what the checksums cover: section checksums, then the entries',
 * then the file size and the header's (docs/bundle-format.md, "Checksums"). */
static void reseal(uint8_t *data, size_t size) {
  uint64_t table;
  size_t n = table_entries(data, size, &table);
  for (size_t i = 0; i < n; i++) {
    uint8_t *e = data + table + AZC_BUNDLE_ENTRY_SIZE * i;
    uint64_t off = get_u64(e + 24), len = get_u64(e + 32);
    if (off <= size && len <= size - off) put_u64(e + 48, XXH3_64bits(data + off, (size_t)len));
    put_u64(e + 56, XXH3_64bits(e, 56));
  }
  if (size >= AZC_BUNDLE_HEADER_SIZE && !memcmp(data, AZC_BUNDLE_MAGIC, 8)) {
    put_u64(data + 48, size);
    put_u64(data + 56, XXH3_64bits(data, 56));
  }
}

/* One mutation in four over the whole file; otherwise in place inside one
 * section other than the weights (whose bytes no reader interprets). */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  uint64_t table;
  size_t n = table_entries(data, size, &table);
  size_t pick[AZC_BUNDLE_MAX_SECTIONS], k = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *e = data + table + AZC_BUNDLE_ENTRY_SIZE * i;
    uint64_t off = get_u64(e + 24), len = get_u64(e + 32);
    if (off <= size && len && len <= size - off && strncmp((const char *)e, "weights", 24))
      pick[k++] = i;
  }
  if (k == 0 || seed % 4 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const uint8_t *e = data + table + AZC_BUNDLE_ENTRY_SIZE * pick[(seed / 4) % k];
  uint64_t off = get_u64(e + 24), len = get_u64(e + 32);
  LLVMFuzzerMutate(data + off, (size_t)len, (size_t)len); /* in place: the offsets stay */
  return size;
}
#endif

static void use_model(azc_bundle_model_t *m) {
  const azc_plan_t *p = m->plan;
  FUZZ_CHECK(p && m->code && m->kernels && m->weights && m->tokenizer);
  for (int32_t k = 0; k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CPU) { /* its code is its device's section */
      FUZZ_CHECK(!m->kernels[k] && m->device_code[p->kernels[k].device]);
      continue;
    }
    FUZZ_CHECK(m->kernels[k] && azc_code_image_symbol(m->code, p->kernels[k].symbol));
    const uint8_t *f = (const uint8_t *)(uintptr_t)m->kernels[k];
    const uint8_t *base = azc_code_image_base(m->code);
    FUZZ_CHECK(f >= base && f < base + azc_code_image_size(m->code));
  }
  const void *wdata;
  uint64_t wsize;
  FUZZ_CHECK(!azc_bundle_section_unverified(m->bundle, AZC_SECTION_WEIGHTS, &wdata, &wsize));
  for (int32_t i = 0; i < p->n_weights; i++) {
    const uint8_t *w = m->weights[i];
    FUZZ_CHECK(w >= (const uint8_t *)wdata && p->weights[i].nbytes <= wsize &&
               w + p->weights[i].nbytes <= (const uint8_t *)wdata + wsize);
  }
  for (int32_t s = 0; s < p->n_steps; s++) {
    const azc_plan_step_t *st = &p->steps[s];
    FUZZ_CHECK(st->op == AZC_STEP_COPY ? st->kernel == -1
                                       : st->kernel >= 0 && st->kernel < p->n_kernels);
    FUZZ_CHECK(st->n_in >= 0 && st->n_in <= AZK_MAX_IN);
    FUZZ_CHECK(st->layer >= -1 && st->layer < p->n_layer);
    for (int32_t i = 0; i < st->n_in; i++)
      if (st->in[i].kind == AZC_VAL_WEIGHT)
        FUZZ_CHECK(st->in[i].index >= 0 && st->in[i].index < p->n_weights);
  }
  static const char text[] = "Salam, d\xc3\xbcnya! 123";
  int32_t *ids = NULL;
  size_t n = 0;
  if (!fuzz_failed(
          azc_tokenizer_encode(m->tokenizer, text, sizeof(text) - 1, true, false, &ids, &n),
          FUZZ_CODE(AZC_UNSUPPORTED))) {
    char *out = NULL;
    FUZZ_CHECK(!azc_tokenizer_decode(m->tokenizer, ids, n, &out, NULL));
    free(out);
    free(ids);
  }
}

/* The cuda.code section (runtime/cuda_code.c): read, checked against the
 * plan, and the plan re-placed for one GPU layer; or refused. */
static void use_cuda_code(azc_bundle_t *b) {
  const unsigned refused = FUZZ_CODE(AZC_CORRUPT) | FUZZ_CODE(AZC_UNSUPPORTED);
  const void *d, *pd;
  uint64_t n, pn;
  if (!azc_bundle_has_section(b, AZC_SECTION_CUDA_CODE) ||
      azc_bundle_section(b, AZC_SECTION_CUDA_CODE, &d, &n))
    return;
  azc_cuda_code_t *cc = NULL;
  azc_plan_t *p = NULL, *q = NULL;
  if (!fuzz_failed(azc_cuda_code_read(d, (size_t)n, &cc), refused)) {
    for (int i = 0; i < cc->n_images; i++)
      FUZZ_CHECK(cc->images[i].data >= (const uint8_t *)d &&
                 cc->images[i].data + cc->images[i].size <= (const uint8_t *)d + n);
    FUZZ_CHECK(cc->source[cc->source_size] == 0);
    (void)azc_cuda_code_pick_image(cc, 90);
    if (!azc_bundle_section(b, AZC_SECTION_PLAN, &pd, &pn) &&
        !fuzz_failed(azc_plan_deserialize(pd, (size_t)pn, &p),
                     refused | FUZZ_CODE(AZC_OUT_OF_MEMORY)) &&
        !fuzz_failed(azc_cuda_code_check_plan(cc, p), refused) &&
        !fuzz_failed(azc_cuda_code_place(p, cc, 1, &q), refused | FUZZ_CODE(AZC_OUT_OF_MEMORY))) {
      for (int32_t i = 0; i < q->n_steps; i++)
        FUZZ_CHECK(q->steps[i].op == AZC_STEP_COPY ||
                   q->kernels[q->steps[i].kernel].device == q->steps[i].device);
    }
  }
  azc_plan_free(q);
  azc_plan_free(p);
  azc_cuda_code_free(cc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef AZC_FUZZ_MODE_SEALED
  static uint8_t *copy;
  static size_t cap;
  if (size > cap) { /* grown only: a fresh large buffer per input costs page faults */
    free(copy);
    cap = size;
    copy = malloc(cap);
    FUZZ_CHECK(copy);
  }
  if (size) memcpy(copy, data, size);
  reseal(copy, size);
  data = copy;
#endif
  const unsigned refused = FUZZ_CODE(AZC_CORRUPT) | FUZZ_CODE(AZC_UNSUPPORTED) |
                           FUZZ_CODE(AZC_NOT_FOUND) | FUZZ_CODE(AZC_IO) |
                           FUZZ_CODE(AZC_OUT_OF_RANGE) | FUZZ_CODE(AZC_INVALID_ARGUMENT);
  const char *path = fuzz_as_file(data, size);
  /* the container alone: every section's info and bytes */
  azc_bundle_t *b = NULL;
  if (!fuzz_failed(azc_bundle_open(path, 0, &b), refused)) {
    for (size_t i = 0; i < azc_bundle_section_count(b); i++) {
      azc_bundle_section_info_t info;
      FUZZ_CHECK(!azc_bundle_section_info(b, i, &info));
      FUZZ_CHECK(azc_bundle_name_valid(info.name) && info.verified);
      FUZZ_CHECK(info.offset <= size && info.size <= size - info.offset);
      const void *bytes;
      uint64_t n;
      FUZZ_CHECK(!azc_bundle_section(b, info.name, &bytes, &n) && n == info.size);
    }
    use_cuda_code(b);
    azc_bundle_close(b);
  }
  azc_bundle_model_t *m = NULL;
  if (!fuzz_failed(azc_bundle_model_open(path, AZC_BUNDLE_MODEL_VERIFY_NOW, &m), refused)) {
    use_model(m);
    FUZZ_CHECK(!fuzz_failed(azc_bundle_model_wait_verified(m), refused));
    azc_bundle_model_close(m);
  }
  return 0;
}
