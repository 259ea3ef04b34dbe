/* Token sampler (see sampler.h), in llama.cpp's default order: penalties
 * (repeat, frequency, presence), top-k, typical-p, top-p, min-p,
 * temperature, then one draw.
 *
 * Each call copies the logits into a candidate array of (logit, id) pairs that
 * was allocated at create time, so sampling allocates nothing. Candidates are
 * ordered by logit, then by lower id, which is a total order (NaN logits are
 * read as -inf), so every step is deterministic. Vocabularies are large
 * (32k-150k) and the kept set is usually small, so nothing is fully sorted
 * unless it must be: top-k keeps a heap of the k best (or a quickselect when k
 * is a sizable part of the vocabulary) and sorts only those k, and top-p
 * without top-k finds the nucleus with a quickselect steered by probability
 * mass, in expected linear time and without sorting. Top-p and min-p see
 * the temperature-1 probabilities (as in llama.cpp, temperature comes after
 * them). Probabilities are exp(logit - max) in double, with the maximum
 * itself counted as 1 so that +-inf logits never produce NaN. The generator
 * is xoshiro256** seeded through splitmix64: the same seed gives the same
 * tokens on every machine. Reset forgets the history and restarts the
 * generator from the seed. repeat_last_n = 0 turns the penalty off. */
#include "runtime/sampler.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_REPEAT_LAST_N = 1 << 20, HEAP_RATIO = 16 };

typedef struct cand {
  float logit;
  int32_t id;
  double w; /* a weight, exp((logit - max) / temperature), set by each step */
} cand_t;

struct azc_sampler {
  azc_sampler_params_t params;
  int32_t n_vocab;
  uint64_t seed;
  uint64_t rng[4];
  cand_t *cand;    /* n_vocab candidates, rebuilt on every call */
  uint32_t *mark;  /* per token: the penalty pass that last touched it */
  uint32_t *count; /* per token: occurrences in the window (frequency/presence penalties only) */
  uint32_t pass;   /* current penalty pass number */
  int32_t *recent; /* ring of the last repeat_last_n accepted tokens */
  int32_t n_recent, recent_head;
};

/* ---- random numbers: splitmix64 to seed, xoshiro256** to draw ---- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_seed(uint64_t state[4], uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static uint64_t seed_from_clock(const void *salt) {
  static atomic_uint_fast64_t counter;
  struct timespec rt, mono;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  uint64_t x = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
  x ^= rotl((uint64_t)mono.tv_nsec, 32) ^ (uint64_t)(uintptr_t)salt;
  x += atomic_fetch_add(&counter, 1) * 0x2545f4914f6cdd1dull;
  uint64_t seed = splitmix64(&x);
  return seed == AZC_SEED_RANDOM ? 0 : seed;
}

/* ---- parameters, life cycle, history ---- */

azc_sampler_params_t azc_sampler_params_default(void) {
  return (azc_sampler_params_t){.temperature = 0.8f,
                                .top_k = 50,
                                .top_p = 0.9f,
                                .min_p = 0.0f,
                                .repeat_penalty = 1.0f,
                                .repeat_last_n = 64,
                                .typical_p = 1.0f,
                                .presence_penalty = 0.0f,
                                .frequency_penalty = 0.0f,
                                .seed = AZC_SEED_RANDOM};
}

azc_status_t azc_sampler_create(const azc_sampler_params_t *params, int32_t n_vocab,
                                azc_sampler_t **out) {
  *out = NULL;
  if (n_vocab <= 0)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "sampler: vocabulary size %d, expected > 0", n_vocab);
  const azc_sampler_params_t *p = params;
  if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->typical_p))
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "sampler: temperature, top_p, min_p and typical_p must be numbers");
  if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "sampler: presence and frequency penalties must be finite numbers");
  if (!(p->repeat_penalty > 0) || isinf(p->repeat_penalty))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "sampler: repeat penalty %g, expected a number > 0",
                   (double)p->repeat_penalty);
  if (p->repeat_last_n < 0 || p->repeat_last_n > MAX_REPEAT_LAST_N)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "sampler: repeat_last_n %d, expected 0..%d",
                   p->repeat_last_n, MAX_REPEAT_LAST_N);
  azc_sampler_t *s = calloc(1, sizeof(*s));
  if (!s) return AZC_ERR(AZC_OUT_OF_MEMORY, "sampler: out of memory");
  s->params = *p;
  s->n_vocab = n_vocab;
  s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
  s->mark = calloc((size_t)n_vocab, sizeof(*s->mark));
  bool counts = p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f;
  s->count = counts ? calloc((size_t)n_vocab, sizeof(*s->count)) : NULL;
  s->recent = malloc((size_t)(p->repeat_last_n ? p->repeat_last_n : 1) * sizeof(*s->recent));
  if (!s->cand || !s->mark || !s->recent || (counts && !s->count)) {
    azc_sampler_destroy(s);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "sampler: out of memory for a vocabulary of %d", n_vocab);
  }
  s->seed = p->seed == AZC_SEED_RANDOM ? seed_from_clock(s) : p->seed;
  azc_sampler_reset(s);
  *out = s;
  return NULL;
}

void azc_sampler_destroy(azc_sampler_t *s) {
  if (!s) return;
  free(s->cand);
  free(s->mark);
  free(s->count);
  free(s->recent);
  free(s);
}

void azc_sampler_accept(azc_sampler_t *s, int32_t token) {
  int32_t cap = s->params.repeat_last_n;
  if (cap <= 0 || token < 0 || token >= s->n_vocab) return;
  s->recent[s->recent_head] = token;
  s->recent_head = (s->recent_head + 1) % cap;
  if (s->n_recent < cap) s->n_recent++;
}

void azc_sampler_reset(azc_sampler_t *s) {
  s->n_recent = s->recent_head = 0;
  rng_seed(s->rng, s->seed);
}

uint64_t azc_sampler_seed(const azc_sampler_t *s) { return s->seed; }

/* ---- candidate ordering and selection ---- */

/* a ranks before b: higher logit, then lower id (a total order). */
static int better(cand_t a, cand_t b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

static void swap_cand(cand_t *a, cand_t *b) {
  cand_t t = *a;
  *a = *b;
  *b = t;
}

/* Restores the heap below i in a heap whose root is the worst candidate. */
static void sift_down(cand_t *h, int32_t n, int32_t i) {
  for (;;) {
    int32_t worst = i, l = 2 * i + 1, r = l + 1;
    if (l < n && better(h[worst], h[l])) worst = l;
    if (r < n && better(h[worst], h[r])) worst = r;
    if (worst == i) return;
    swap_cand(&h[i], &h[worst]);
    i = worst;
  }
}

/* Keeps the k best of c[0..n) in c[0..k), sorted best first, with a heap of
 * k: a candidate that is not better than the worst kept costs one compare. */
static void top_k_heap(cand_t *c, int32_t n, int32_t k) {
  for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
  for (int32_t i = k; i < n; i++)
    if (better(c[i], c[0])) {
      c[0] = c[i];
      sift_down(c, k, 0);
    }
  for (int32_t end = k - 1; end > 0; end--) { /* heap sort: the worst goes last */
    swap_cand(&c[0], &c[end]);
    sift_down(c, end, 0);
  }
}

/* Moves the median of c[lo], c[mid], c[hi - 1] to hi - 1 (the pivot). */
static void pivot_median3(cand_t *c, int32_t lo, int32_t hi) {
  int32_t mid = lo + (hi - lo) / 2;
  if (better(c[mid], c[lo])) swap_cand(&c[mid], &c[lo]);
  if (better(c[hi - 1], c[lo])) swap_cand(&c[hi - 1], &c[lo]);
  if (better(c[mid], c[hi - 1])) swap_cand(&c[mid], &c[hi - 1]);
}

/* Reorders c[lo..hi) so that its m best candidates (unordered) come first. */
static void select_best(cand_t *c, int32_t lo, int32_t hi, int32_t m) {
  int32_t target = lo + m; /* c[lo..target) must end up holding the best */
  while (hi - lo > 1 && target > lo && target < hi) {
    pivot_median3(c, lo, hi);
    cand_t pivot = c[hi - 1];
    int32_t store = lo;
    for (int32_t i = lo; i < hi - 1; i++)
      if (better(c[i], pivot)) swap_cand(&c[i], &c[store++]);
    swap_cand(&c[store], &c[hi - 1]); /* c[lo..store) beat the pivot, now at store */
    if (store == target || store + 1 == target) return;
    if (store < target)
      lo = store + 1;
    else
      hi = store;
  }
}

/* Keeps the k best of c[0..n) in c[0..k), sorted best first. */
static void top_k_select(cand_t *c, int32_t n, int32_t k) {
  if ((int64_t)k * HEAP_RATIO <= n) {
    top_k_heap(c, n, k);
  } else {
    select_best(c, 0, n, k);
    top_k_heap(c, k, k); /* an in-place heap sort: no allocation, unlike qsort */
  }
}

/* exp((logit - max) / temperature), counting the maximum itself as 1 and a
 * logit infinitely below it as 0 (so +-inf logits give no NaN). */
static double weight(float logit, float max, double inv_temp) {
  if (logit == max) return 1.0;
  double d = (double)logit - (double)max;
  return d == -INFINITY ? 0.0 : exp(d * inv_temp);
}

static float max_logit(const cand_t *c, int32_t n) {
  float m = c[0].logit;
  for (int32_t i = 1; i < n; i++)
    if (c[i].logit > m) m = c[i].logit;
  return m;
}

/* Top-p over the best-first sorted c[0..n): returns the length of the
 * shortest prefix whose probability reaches p. */
static int32_t top_p_sorted(cand_t *c, int32_t n, float top_p) {
  double total = 0, cum = 0;
  for (int32_t i = 0; i < n; i++) total += c[i].w = weight(c[i].logit, c[0].logit, 1.0);
  double goal = (double)top_p * total;
  for (int32_t i = 0; i < n; i++) {
    cum += c[i].w;
    if (cum >= goal) return i + 1;
  }
  return n; /* rounding kept the sum below the goal */
}

/* Top-p over the unsorted c[0..n), without sorting: a quickselect whose
 * pivot steps are decided by probability mass. Moves the nucleus (the best
 * candidates up to the one whose running sum reaches p) to the front,
 * unordered, and returns its size. Expected time O(n). */
static int32_t top_p_unsorted(cand_t *c, int32_t n, float top_p) {
  float max = max_logit(c, n);
  double total = 0;
  for (int32_t i = 0; i < n; i++) total += c[i].w = weight(c[i].logit, max, 1.0);
  double goal = (double)top_p * total, before = 0; /* before: the mass of c[0..lo) */
  int32_t lo = 0, hi = n;
  while (lo < hi) {
    cand_t pivot = c[hi - 1];
    if (hi - lo >= 3) {
      pivot_median3(c, lo, hi);
      pivot = c[hi - 1];
    }
    int32_t store = lo;
    double mass = 0; /* of the candidates that beat the pivot */
    for (int32_t i = lo; i < hi - 1; i++)
      if (better(c[i], pivot)) {
        mass += c[i].w;
        swap_cand(&c[i], &c[store++]);
      }
    swap_cand(&c[store], &c[hi - 1]);
    if (before + mass >= goal) { /* the sum reaches p among those that beat the pivot */
      hi = store;
      continue;
    }
    before += mass + pivot.w;
    if (before >= goal) return store + 1;
    lo = store + 1;
  }
  /* rounding: the sums of the parts fell short of their whole; include c[lo] */
  return lo < n ? lo + 1 : n;
}

/* Min-p over c[0..n): keeps the candidates whose probability is at least
 * min_p times the largest (in order); returns the number kept (>= 1). */
static int32_t min_p_cut(cand_t *c, int32_t n, float min_p) {
  float max = max_logit(c, n);
  int32_t kept = 0;
  for (int32_t i = 0; i < n; i++)
    if (c[i].logit == max || weight(c[i].logit, max, 1.0) >= (double)min_p) c[kept++] = c[i];
  return kept;
}

/* ---- sampling ---- */

/* Applies the penalties, once per distinct recent token, to c (where
 * c[i].id == i still holds), as llama.cpp does: the repeat penalty divides a
 * positive logit (multiplies a negative one), then count * frequency +
 * presence is subtracted. */
static void apply_penalty(azc_sampler_t *s, cand_t *c) {
  float penalty = s->params.repeat_penalty, freq = s->params.frequency_penalty,
        presence = s->params.presence_penalty;
  if ((penalty == 1.0f && !s->count) || s->n_recent == 0) return;
  if (++s->pass == 0) { /* the pass counter wrapped: forget all marks */
    memset(s->mark, 0, (size_t)s->n_vocab * sizeof(*s->mark));
    s->pass = 1;
  }
  if (s->count) /* count each token's occurrences; the first sight resets its count */
    for (int32_t i = 0; i < s->n_recent; i++) {
      int32_t t = s->recent[i];
      s->count[t] = s->mark[t] == s->pass ? s->count[t] + 1 : 1;
      s->mark[t] = s->pass;
    }
  if (s->count && ++s->pass == 0) {
    memset(s->mark, 0, (size_t)s->n_vocab * sizeof(*s->mark));
    s->pass = 1;
  }
  for (int32_t i = 0; i < s->n_recent; i++) {
    int32_t t = s->recent[i];
    if (s->mark[t] == s->pass) continue;
    s->mark[t] = s->pass;
    if (penalty != 1.0f) c[t].logit = c[t].logit > 0 ? c[t].logit / penalty : c[t].logit * penalty;
    if (s->count) c[t].logit -= (float)s->count[t] * freq + presence;
  }
}

/* Orders c[0..n) by w ascending, ties by rank (a total order), in place. */
static bool w_before(cand_t a, cand_t b) { return a.w < b.w || (a.w == b.w && better(a, b)); }

static void sift_down_w(cand_t *h, int32_t n, int32_t i) {
  for (;;) {
    int32_t top = i, l = 2 * i + 1, r = l + 1;
    if (l < n && w_before(h[top], h[l])) top = l;
    if (r < n && w_before(h[top], h[r])) top = r;
    if (top == i) return;
    swap_cand(&h[i], &h[top]);
    i = top;
  }
}

/* Locally typical sampling (llama.cpp's typical-p): with p_i the
 * temperature-1 probabilities and H their entropy, keeps the candidates whose
 * |-log p_i - H| is smallest until their probabilities sum past typical_p.
 * Returns the number kept; c[0..kept) is left best-first. */
static int32_t typical_cut(cand_t *c, int32_t n, float typical_p) {
  float max = max_logit(c, n);
  double total = 0, entropy = 0;
  for (int32_t i = 0; i < n; i++) total += c[i].w = weight(c[i].logit, max, 1.0);
  for (int32_t i = 0; i < n; i++) {
    double p = c[i].w / total;
    if (p > 0) entropy -= p * log(p);
  }
  for (int32_t i = 0; i < n; i++) {
    double p = c[i].w / total;
    c[i].w = p > 0 ? fabs(-log(p) - entropy) : INFINITY;
  }
  for (int32_t i = n / 2 - 1; i >= 0; i--) sift_down_w(c, n, i); /* heap sort by shift */
  for (int32_t end = n - 1; end > 0; end--) {
    swap_cand(&c[0], &c[end]);
    sift_down_w(c, end, 0);
  }
  double cum = 0;
  int32_t kept = n;
  for (int32_t i = 0; i < n; i++) {
    cum += weight(c[i].logit, max, 1.0) / total;
    if (cum > (double)typical_p) {
      kept = i + 1;
      break;
    }
  }
  top_k_heap(c, kept, kept); /* back to best-first */
  return kept;
}

/* Builds the distribution a draw comes from: c[0..*n) with weights c[i].w
 * summing to *total (temperature applied). Greedy: returns the argmax (the
 * lowest id among equal maxima), else -1. */
static int32_t prepare(azc_sampler_t *s, const float *logits, int32_t *n_out, double *total_out) {
  const azc_sampler_params_t *p = &s->params;
  cand_t *c = s->cand;
  int32_t n = s->n_vocab;
  for (int32_t i = 0; i < n; i++) {
    float l = logits[i];
    c[i].logit = isnan(l) ? -INFINITY : l;
    c[i].id = i;
  }
  apply_penalty(s, c);

  if (p->temperature <= 0) { /* greedy: the first maximum is the lowest id */
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
      if (c[i].logit > c[best].logit) best = i;
    return best;
  }

  bool sorted = false; /* c[0..n) is in best-first order */
  if (p->top_k > 0 && p->top_k < n) {
    top_k_select(c, n, p->top_k);
    n = p->top_k;
    sorted = true;
  }
  if (p->typical_p < 1.0f) {
    n = typical_cut(c, n, p->typical_p);
    sorted = true;
  }
  if (p->top_p < 1.0f) n = sorted ? top_p_sorted(c, n, p->top_p) : top_p_unsorted(c, n, p->top_p);
  if (p->min_p > 0.0f) n = min_p_cut(c, n, p->min_p); /* keeps the order */

  /* temperature: the softmax of what is left */
  float max = sorted ? c[0].logit : max_logit(c, n);
  double inv_temp = 1.0 / (double)p->temperature, total = 0;
  for (int32_t i = 0; i < n; i++) total += c[i].w = weight(c[i].logit, max, inv_temp);
  *n_out = n;
  *total_out = total;
  return -1;
}

/* One draw from c[0..n) by the weights c[i].w, which sum to total. */
static int32_t draw(azc_sampler_t *s, const cand_t *c, int32_t n, double total) {
  double goal = rng_uniform(s->rng) * total, cum = 0;
  for (int32_t i = 0; i < n; i++) {
    cum += c[i].w;
    if (goal < cum) return c[i].id;
  }
  /* rounding left the goal at the total: the last candidate with any weight */
  for (int32_t i = n - 1; i > 0; i--)
    if (c[i].w > 0) return c[i].id;
  return c[0].id;
}

int32_t azc_sampler_sample(azc_sampler_t *s, const float *logits) {
  int32_t n = 0;
  double total = 0;
  int32_t greedy = prepare(s, logits, &n, &total);
  return greedy >= 0 ? greedy : draw(s, s->cand, n, total);
}

int32_t azc_sampler_verify(azc_sampler_t *s, const float *logits, int32_t draft,
                           const float *draft_probs, bool *accepted) {
  int32_t n = 0;
  double total = 0;
  int32_t greedy = prepare(s, logits, &n, &total);
  if (greedy >= 0) {
    *accepted = greedy == draft;
    return greedy;
  }
  cand_t *c = s->cand;
  double p_draft = 0; /* p(draft): 0 when the filters dropped it */
  for (int32_t i = 0; i < n; i++)
    if (c[i].id == draft) p_draft = c[i].w / total;
  double q_draft = 1.0;
  if (draft_probs) q_draft = draft >= 0 && draft < s->n_vocab ? (double)draft_probs[draft] : 0.0;
  /* accept with probability min(1, p / q); a draft q gave no mass is kept by p alone */
  double u = rng_uniform(s->rng);
  if (p_draft > 0 && (q_draft <= 0 || u * q_draft < p_draft)) {
    *accepted = true;
    return draft;
  }
  *accepted = false;
  /* rejected: draw from max(0, p - q), normalized */
  double residual = 0;
  for (int32_t i = 0; i < n; i++) {
    double p = c[i].w / total;
    double q = draft_probs ? (double)draft_probs[c[i].id] : (c[i].id == draft ? 1.0 : 0.0);
    c[i].w = p > q ? p - q : 0.0;
    residual += c[i].w;
  }
  if (!(residual > 0)) { /* p == q up to rounding: any draw from p is right */
    for (int32_t i = 0; i < n; i++) c[i].w = 1.0; /* unreachable in exact arithmetic */
    residual = (double)n;
  }
  return draw(s, c, n, residual);
}
