/* runtime/sampler: greedy and ties, the repeat penalty formula, seeding, and
 * the distribution of draws. A straightforward reference (full sort, double
 * precision) computes the probability every token should have after top-k,
 * top-p, min-p and temperature; a chi-square statistic over many seeded draws
 * must stay below the critical value for that reference and exceed it for a
 * plainly wrong distribution, so the check can fail. Large vocabularies take
 * the heap, quickselect and chunked top-p paths; their draws must stay inside
 * the reference's kept set. */
#include <float.h>
#include <stdint.h>

#include "runtime/base/util.h"
#include "runtime/sampler.h"
#include "tests/test.h"

/* ---- helpers: a test-side generator and the reference distribution ---- */

static uint64_t test_rand_state = 12345;
static double test_uniform(void) { /* 64-bit LCG, top 53 bits */
  test_rand_state = test_rand_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(test_rand_state >> 11) * 0x1.0p-53;
}

static void random_logits(float *l, int n, double scale) {
  for (int i = 0; i < n; i++) l[i] = (float)((test_uniform() * 2 - 1) * scale);
}

static azc_sampler_params_t params_plain(void) {
  azc_sampler_params_t p = azc_sampler_params_default();
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = 1234;
  return p;
}

static const float *ref_sort_logits;
static int ref_cmp(const void *a, const void *b) {
  int i = *(const int *)a, j = *(const int *)b;
  double li = ref_sort_logits[i], lj = ref_sort_logits[j];
  if (li != lj) return li > lj ? -1 : 1;
  return i - j;
}

/* probs[0..n) = the probability the sampler should give each token, with
 * `hist` (nh tokens, oldest first) as the accepted history. Returns the number
 * of tokens kept. *cut_margin = the distance of the top-p running sum from p
 * at the cut (so fixtures can stay clear of rounding). */
static int ref_probs(const float *logits, int n, const azc_sampler_params_t *p, const int *hist,
                     int nh, double *probs, double *cut_margin) {
  float *l = malloc((size_t)n * sizeof(float));
  int *order = malloc((size_t)n * sizeof(int));
  memcpy(l, logits, (size_t)n * sizeof(float));
  int first = p->repeat_last_n < nh ? nh - p->repeat_last_n : 0;
  for (int t = 0; t < n; t++) { /* each distinct recent token once */
    int seen = 0;
    for (int h = first; h < nh; h++) seen |= hist[h] == t;
    if (seen && p->repeat_penalty != 1.0f)
      l[t] = l[t] > 0 ? l[t] / p->repeat_penalty : l[t] * p->repeat_penalty;
  }
  for (int i = 0; i < n; i++) order[i] = i;
  ref_sort_logits = l;
  qsort(order, (size_t)n, sizeof(int), ref_cmp);
  int kept = n;
  if (p->top_k > 0 && p->top_k < kept) kept = p->top_k;
  double lmax = l[order[0]];
  if (cut_margin) *cut_margin = 1;
  if (p->top_p < 1.0f) {
    double total = 0, cum = 0;
    for (int i = 0; i < kept; i++) total += exp(l[order[i]] - lmax);
    for (int i = 0; i < kept; i++) {
      cum += exp(l[order[i]] - lmax) / total;
      if (cum >= p->top_p) {
        if (cut_margin) *cut_margin = cum - p->top_p;
        if (cut_margin && i > 0)
          *cut_margin = fmin(*cut_margin, p->top_p - (cum - exp(l[order[i]] - lmax) / total));
        kept = i + 1;
        break;
      }
    }
  }
  if (p->min_p > 0) {
    int k = 1;
    while (k < kept && exp(l[order[k]] - lmax) >= p->min_p) k++;
    kept = k;
  }
  double total = 0;
  for (int i = 0; i < n; i++) probs[i] = 0;
  for (int i = 0; i < kept; i++) total += exp((l[order[i]] - lmax) / p->temperature);
  for (int i = 0; i < kept; i++)
    probs[order[i]] = exp((l[order[i]] - lmax) / p->temperature) / total;
  free(l);
  free(order);
  return kept;
}

/* Chi-square of counts (N draws) against probs; *impossible counts draws of
 * tokens whose probability is 0; *df = categories - 1. */
static double chi_square(const long *counts, const double *probs, int n, long N, int *df,
                         long *impossible) {
  double chi = 0;
  int cats = 0;
  *impossible = 0;
  for (int i = 0; i < n; i++) {
    if (probs[i] <= 0) {
      *impossible += counts[i];
      continue;
    }
    double e = probs[i] * (double)N;
    chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
    cats++;
  }
  *df = cats > 1 ? cats - 1 : 1;
  return chi;
}

/* Upper critical value of chi-square with df degrees of freedom at about
 * p = 3e-5 (Wilson-Hilferty, z = 4). */
static double chi_critical(int df) {
  double k = df, z = 4.0, t = 1 - 2 / (9 * k) + z * sqrt(2 / (9 * k));
  return k * t * t * t;
}

/* Draws N tokens from fresh samplers' view of `logits` (history `hist`). */
static azc_status_t draw_counts(const azc_sampler_params_t *p, const float *logits, int n,
                                const int *hist, int nh, long N, long *counts) {
  azc_sampler_t *s;
  AZC_RETURN_IF_ERROR(azc_sampler_create(p, n, &s));
  for (int h = 0; h < nh; h++) azc_sampler_accept(s, hist[h]);
  memset(counts, 0, (size_t)n * sizeof(long));
  azc_status_t st = NULL;
  for (long d = 0; d < N; d++) {
    int32_t t = azc_sampler_sample(s, logits);
    if (t < 0 || t >= n) {
      st = AZC_ERR(AZC_INTERNAL, "token %d out of range", t);
      break;
    }
    counts[t]++;
  }
  azc_sampler_destroy(s);
  return st;
}

/* ---- greedy ---- */

static void test_defaults(void) {
  azc_sampler_params_t p = azc_sampler_params_default();
  ASSERT_NEAR(p.temperature, 0.8, 1e-7);
  ASSERT_EQ_INT(p.top_k, 50);
  ASSERT_NEAR(p.top_p, 0.9, 1e-7);
  ASSERT_NEAR(p.min_p, 0.0, 0);
  ASSERT_NEAR(p.repeat_penalty, 1.0, 0);
  ASSERT_EQ_INT(p.repeat_last_n, 64);
  ASSERT(p.seed == AZC_SEED_RANDOM);
}

static void test_greedy_argmax(void) {
  enum { N = 1000 };
  float l[N];
  azc_sampler_params_t p = azc_sampler_params_default();
  for (int round = 0; round < 50; round++) {
    random_logits(l, N, 10);
    int best = 0;
    for (int i = 1; i < N; i++)
      if (l[i] > l[best]) best = i;
    p.temperature = round % 2 ? 0.0f : -1.0f;
    p.top_k = round % 3 ? 0 : 5; /* greedy ignores the truncations */
    p.min_p = 0.5f;
    azc_sampler_t *s;
    ASSERT_OK(azc_sampler_create(&p, N, &s));
    int32_t got = azc_sampler_sample(s, l);
    int32_t again = azc_sampler_sample(s, l);
    azc_sampler_destroy(s);
    ASSERT_EQ_INT(got, best);
    ASSERT_EQ_INT(again, best);
  }
}

static void test_greedy_ties(void) {
  azc_sampler_params_t p = params_plain();
  p.temperature = 0;
  float l[6] = {1, 3, 2, 3, 3, -1};
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&p, 6, &s));
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 1);
  l[1] = 0;
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 3);
  float eq[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  ASSERT_EQ_INT(azc_sampler_sample(s, eq), 0);
  azc_sampler_destroy(s);
}

static void test_top_k_1_is_greedy(void) {
  enum { N = 3000 };
  float l[N];
  const float temps[] = {0.05f, 0.8f, 1.0f, 5.0f, 1000.0f};
  for (size_t ti = 0; ti < AZC_ARRAY_SIZE(temps); ti++) {
    azc_sampler_params_t p = params_plain(), g = params_plain();
    p.top_k = 1;
    p.temperature = temps[ti];
    p.seed = 77 + ti;
    g.temperature = 0;
    azc_sampler_t *s, *gs;
    ASSERT_OK(azc_sampler_create(&p, N, &s));
    ASSERT_OK(azc_sampler_create(&g, N, &gs));
    for (int round = 0; round < 40; round++) {
      random_logits(l, N, 3);
      if (round % 4 == 0) l[N - 1] = l[7] = 100; /* a tie at the top: the lower id */
      ASSERT_EQ_INT(azc_sampler_sample(s, l), azc_sampler_sample(gs, l));
    }
    azc_sampler_destroy(s);
    azc_sampler_destroy(gs);
  }
}

/* ---- repeat penalty ---- */

static void test_repeat_penalty(void) {
  azc_sampler_params_t p = params_plain();
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 2;
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&p, 5, &s));
  /* positive logit: divided. 2.0 / 1.5 = 1.33 < 1.5 */
  float pos[5] = {2.0f, 1.5f, 0.0f, -1.0f, -2.0f};
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 0);
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 1);
  /* applied once however often the token repeats: 2.0 / 1.5 > 1.2 */
  float once[5] = {2.0f, 1.2f, 0.0f, -1.0f, -2.0f};
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, once), 0);
  /* negative logit: multiplied. -1.0 * 1.5 = -1.5 < -1.2 */
  float neg[5] = {-1.0f, -1.2f, -5.0f, -6.0f, -7.0f};
  ASSERT_EQ_INT(azc_sampler_sample(s, neg), 1);
  /* -1.0 * 1.5 = -1.5 > -1.6: the penalty keeps it on top */
  neg[1] = -1.6f;
  ASSERT_EQ_INT(azc_sampler_sample(s, neg), 0);
  /* only the last repeat_last_n = 2 tokens count */
  azc_sampler_accept(s, 3);
  azc_sampler_accept(s, 4);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 0);
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 1);
  /* out-of-range tokens are ignored, reset forgets the history */
  azc_sampler_accept(s, -1);
  azc_sampler_accept(s, 5);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 1);
  azc_sampler_reset(s);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 0);
  azc_sampler_destroy(s);

  /* a penalty below 1 boosts: 1.0 / 0.5 = 2.0 > 1.5 */
  p.repeat_penalty = 0.5f;
  p.repeat_last_n = 64;
  ASSERT_OK(azc_sampler_create(&p, 5, &s));
  float boost[5] = {1.5f, 1.0f, 0.0f, 0.0f, 0.0f};
  azc_sampler_accept(s, 1);
  ASSERT_EQ_INT(azc_sampler_sample(s, boost), 1);
  azc_sampler_destroy(s);

  /* repeat_last_n = 0 turns it off */
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 0;
  ASSERT_OK(azc_sampler_create(&p, 5, &s));
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, pos), 0);
  azc_sampler_destroy(s);
}

/* frequency and presence penalties, after the repeat penalty, as llama.cpp
 * applies them: logit -= count * frequency + presence */
static void test_presence_frequency(void) {
  azc_sampler_params_t p = params_plain();
  p.temperature = 0;
  p.frequency_penalty = 0.3f;
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&p, 4, &s));
  float l[4] = {3.0f, 2.5f, 0.0f, 0.0f};
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 0); /* 3 - 0.3 = 2.7 */
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 1); /* 3 - 0.6 = 2.4 */
  azc_sampler_destroy(s);
  p.frequency_penalty = 0;
  p.presence_penalty = 0.6f;
  ASSERT_OK(azc_sampler_create(&p, 4, &s));
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 1); /* 3 - 0.6 = 2.4, once */
  azc_sampler_accept(s, 1);
  azc_sampler_accept(s, 1);
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 0); /* 2.5 - 0.6 = 1.9 < 2.4 */
  azc_sampler_destroy(s);
  p.presence_penalty = 0.1f;
  p.repeat_penalty = 1.2f;
  ASSERT_OK(azc_sampler_create(&p, 4, &s));
  azc_sampler_accept(s, 0);
  ASSERT_EQ_INT(azc_sampler_sample(s, l), 1); /* 3 / 1.2 - 0.1 = 2.4 */
  azc_sampler_destroy(s);
  p.presence_penalty = INFINITY;
  ASSERT_ERR(azc_sampler_create(&p, 4, &s), AZC_INVALID_ARGUMENT, "finite");
}

/* typical-p: probabilities 0.5, 0.3, 0.2 have entropy 1.0297; the shifts
 * |-log p - H| are 0.337, 0.174, 0.580, so the most typical token is 1 */
static void test_typical(void) {
  azc_sampler_params_t p = params_plain();
  float l[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
  int counts[3] = {0};
  p.typical_p = 0.01f;
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&p, 3, &s));
  for (int i = 0; i < 500; i++) counts[azc_sampler_sample(s, l)]++;
  azc_sampler_destroy(s);
  ASSERT_EQ_INT(counts[1], 500);
  p.typical_p = 0.5f; /* 0.3 is not past 0.5; 0.3 + 0.5 is: tokens 1 and 0 stay */
  memset(counts, 0, sizeof(counts));
  ASSERT_OK(azc_sampler_create(&p, 3, &s));
  for (int i = 0; i < 4000; i++) counts[azc_sampler_sample(s, l)]++;
  azc_sampler_destroy(s);
  ASSERT_EQ_INT(counts[2], 0);
  ASSERT_NEAR((double)counts[0] / 4000, 0.625, 0.03); /* 0.5 / 0.8 */
  p.typical_p = 1.0f;                                 /* off */
  memset(counts, 0, sizeof(counts));
  ASSERT_OK(azc_sampler_create(&p, 3, &s));
  for (int i = 0; i < 4000; i++) counts[azc_sampler_sample(s, l)]++;
  azc_sampler_destroy(s);
  ASSERT(counts[2] > 600);
}

/* ---- distributions ---- */

typedef struct combo {
  const char *name;
  float temperature;
  int32_t top_k;
  float top_p, min_p, penalty;
} combo_t;

static void test_distributions(void) {
  /* logits in a scrambled id order so that ids and ranks differ */
  const float l[10] = {0.3f, 2.0f, -1.0f, 1.2f, 0.0f, -3.0f, 1.5f, 0.5f, 1.0f, -0.5f};
  const int hist[3] = {1, 6, 1}; /* used when a penalty is set */
  const combo_t combos[] = {
      {"plain", 1.0f, 0, 1.0f, 0.0f, 1.0f},
      {"temperature 0.5", 0.5f, 0, 1.0f, 0.0f, 1.0f},
      {"temperature 2", 2.0f, 0, 1.0f, 0.0f, 1.0f},
      {"top-k 3", 1.0f, 3, 1.0f, 0.0f, 1.0f},
      {"top-p 0.7", 1.0f, 0, 0.7f, 0.0f, 1.0f},
      {"top-p 0.5 T 1.7", 1.7f, 0, 0.5f, 0.0f, 1.0f},
      {"min-p 0.2", 1.0f, 0, 1.0f, 0.2f, 1.0f},
      {"min-p 0.3 T 0.6", 0.6f, 0, 1.0f, 0.3f, 1.0f},
      {"top-k 6 top-p 0.8", 1.0f, 6, 0.8f, 0.0f, 1.0f},
      {"top-k 7 top-p 0.9 min-p 0.1 T 0.7", 0.7f, 7, 0.9f, 0.1f, 1.0f},
      {"penalty 1.3 top-k 5 T 1.2", 1.2f, 5, 1.0f, 0.0f, 1.3f},
      {"defaults with penalty", 0.8f, 50, 0.9f, 0.0f, 1.1f},
  };
  enum { V = 10 };
  const long N = 60000;
  long counts[V];
  double probs[V], wrong[V];
  for (size_t ci = 0; ci < AZC_ARRAY_SIZE(combos); ci++) {
    const combo_t *c = &combos[ci];
    azc_sampler_params_t p = params_plain();
    p.temperature = c->temperature;
    p.top_k = c->top_k;
    p.top_p = c->top_p;
    p.min_p = c->min_p;
    p.repeat_penalty = c->penalty;
    p.seed = 1000 + ci;
    double margin;
    int kept = ref_probs(l, V, &p, hist, 3, probs, &margin);
    ASSERT_MSG(margin > 1e-3, "%s: fixture too close to the top-p edge", c->name);
    ASSERT_OK(draw_counts(&p, l, V, hist, 3, N, counts));
    int df;
    long impossible;
    double chi = chi_square(counts, probs, V, N, &df, &impossible);
    fprintf(stderr, "  %-36s kept %2d  chi2 %6.2f (df %d, critical %.1f)\n", c->name, kept, chi, df,
            chi_critical(df));
    ASSERT_MSG(impossible == 0, "%s: %ld draws of excluded tokens", c->name, impossible);
    ASSERT_MSG(chi < chi_critical(df), "%s: chi2 %g >= %g", c->name, chi, chi_critical(df));

    /* the same draws against a wrong distribution (every step left out) fail */
    azc_sampler_params_t w = params_plain();
    ref_probs(l, V, &w, hist, 0, wrong, NULL);
    if (c->temperature == 1.0f && c->top_k == 0 && c->top_p >= 1 && c->min_p <= 0 &&
        c->penalty == 1.0f)
      continue; /* "plain" is that distribution */
    double wchi = chi_square(counts, wrong, V, N, &df, &impossible);
    ASSERT_MSG(impossible > 0 || wchi > 10 * chi_critical(df),
               "%s: the draws also fit the untruncated distribution (chi2 %g)", c->name, wchi);
  }
}

/* Exercises the large-vocabulary paths: the heap (small k), quickselect
 * (large k) and chunked top-p (no k). Every draw must be in the reference's
 * kept set, and the mass of the better half of that set must match. */
static void check_large(int n, azc_sampler_params_t p, double scale, long draws) {
  float *l = malloc((size_t)n * sizeof(float));
  double *probs = malloc((size_t)n * sizeof(double));
  long *counts = malloc((size_t)n * sizeof(long));
  int *order = malloc((size_t)n * sizeof(int));
  random_logits(l, n, scale);
  double margin;
  int kept = ref_probs(l, n, &p, NULL, 0, probs, &margin);
  azc_status_t st = draw_counts(&p, l, n, NULL, 0, draws, counts);
  long impossible = 0;
  for (int i = 0; i < n; i++)
    if (probs[i] <= 0) impossible += counts[i];
  /* the kept set ordered by rank: the top half's expected vs observed mass */
  for (int i = 0; i < n; i++) order[i] = i;
  ref_sort_logits = l;
  qsort(order, (size_t)n, sizeof(int), ref_cmp);
  double top_mass = 0;
  long top_count = 0;
  for (int i = 0; i < kept / 2; i++) {
    top_mass += probs[order[i]];
    top_count += counts[order[i]];
  }
  double sd = sqrt((double)draws * top_mass * (1 - top_mass)) + 1e-9;
  double z = ((double)top_count - (double)draws * top_mass) / sd;
  free(l);
  free(probs);
  free(counts);
  free(order);
  fprintf(stderr, "  n %d top-k %d top-p %.2f: kept %d (margin %.2g), top-half z %.2f\n", n,
          p.top_k, (double)p.top_p, kept, margin, z);
  ASSERT_OK(st);
  ASSERT_EQ_INT(impossible, 0);
  ASSERT(margin > 1e-9);
  ASSERT_MSG(kept < 2 || fabs(z) < 5, "top-half mass z = %g", z);
}

static void test_large_vocab_paths(void) {
  azc_sampler_params_t p = params_plain();
  p.top_k = 40; /* heap */
  check_large(20000, p, 4, 2000);
  if (test_current_failed) return;
  p.top_k = 2400; /* quickselect: k is more than 1/16 of the vocabulary */
  check_large(3000, p, 1, 1500);
  if (test_current_failed) return;
  p.top_k = 0;
  p.top_p = 0.9f; /* chunked top-p: a nucleus of thousands */
  check_large(20000, p, 3, 2000);
  if (test_current_failed) return;
  p.top_p = 0.5f; /* a small nucleus */
  check_large(20000, p, 12, 2000);
  if (test_current_failed) return;
  p.top_k = 5000; /* quickselect, then top-p and min-p on the sorted set */
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.temperature = 0.7f;
  check_large(6000, p, 3, 1500);
}

/* The kept set is exactly the reference's: at a high temperature the kept
 * tokens are nearly equally likely, so enough draws hit every kept token and
 * none other. The best tokens are placed at the edges (ids 0, k - 1, k, n - 1)
 * where off-by-one mistakes in the heap or the selections would show. */
static void test_kept_set_exact(void) {
  enum { V = 200 };
  float l[V];
  double probs[V];
  long counts[V];
  const int32_t ks[] = {1, 2, 3, 5, 8, 12, 13, 40, 150, 199};
  const float ps[] = {0.05f, 0.3f, 0.6f, 0.95f};
  for (int round = 0; round < 40; round++) {
    azc_sampler_params_t p = params_plain();
    p.temperature = 50;
    p.seed = 500 + round;
    int mode = round % 4;
    if (mode < 2) {
      p.top_k = ks[round / 4];
    } else {
      p.top_p = ps[round % 8 / 2];
      p.min_p = mode == 3 ? 0.02f : 0.0f;
    }
    random_logits(l, V, 4);
    int k = p.top_k ? p.top_k : 3;
    const int edges[] = {0, k - 1, k, V - 1};
    for (int e = 0; e < 4; e++) l[edges[e]] = 10.0f + (float)((round + e) % 4); /* the best */
    double margin;
    int kept = ref_probs(l, V, &p, NULL, 0, probs, &margin);
    ASSERT(margin > 1e-9);
    ASSERT_OK(draw_counts(&p, l, V, NULL, 0, 60L * kept, counts));
    for (int i = 0; i < V; i++)
      ASSERT_MSG((probs[i] > 0) == (counts[i] > 0),
                 "round %d (top-k %d, top-p %.2f): token %d kept %d, drawn %ld times", round,
                 p.top_k, (double)p.top_p, i, probs[i] > 0, counts[i]);
  }
}

static void test_speed_150k(void) {
  enum { V = 151936, STEPS = 50 };
  float *l = malloc(V * sizeof(float));
  random_logits(l, V, 8);
  azc_sampler_params_t p = azc_sampler_params_default();
  p.seed = 9;
  p.repeat_penalty = 1.1f;
  const int32_t ks[] = {50, 0};
  for (size_t ki = 0; ki < AZC_ARRAY_SIZE(ks); ki++) {
    p.top_k = ks[ki];
    azc_sampler_t *s;
    azc_status_t st = azc_sampler_create(&p, V, &s);
    if (st) free(l);
    ASSERT_OK(st);
    double t0 = azc_time_ms();
    int bad = 0;
    for (int i = 0; i < STEPS; i++) {
      int32_t t = azc_sampler_sample(s, l);
      bad |= t < 0 || t >= V;
      azc_sampler_accept(s, t);
    }
    double ms = (azc_time_ms() - t0) / STEPS;
    azc_sampler_destroy(s);
    fprintf(stderr, "  vocab %d, top-k %d, top-p 0.9: %.3f ms per token\n", V, p.top_k, ms);
    if (bad) free(l);
    ASSERT(!bad);
  }
  free(l);
}

/* ---- seeds ---- */

static azc_status_t sequence(uint64_t seed, int32_t *out, int n) {
  azc_sampler_params_t p = params_plain();
  p.seed = seed;
  p.top_k = 20;
  azc_sampler_t *s;
  AZC_RETURN_IF_ERROR(azc_sampler_create(&p, 64, &s));
  float l[64];
  for (int i = 0; i < 64; i++) l[i] = (float)sin(i * 0.37);
  for (int i = 0; i < n; i++) {
    l[i % 64] += 0.01f; /* a slowly changing distribution */
    out[i] = azc_sampler_sample(s, l);
  }
  if (azc_sampler_seed(s) != seed) {
    azc_sampler_destroy(s);
    return AZC_ERR(AZC_INTERNAL, "seed %llu reported as %llu", (unsigned long long)seed,
                   (unsigned long long)azc_sampler_seed(s));
  }
  azc_sampler_destroy(s);
  return NULL;
}

static void test_seeds(void) {
  enum { N = 500 };
  int32_t a[N], b[N], c[N];
  ASSERT_OK(sequence(42, a, N));
  ASSERT_OK(sequence(42, b, N));
  ASSERT_OK(sequence(43, c, N));
  ASSERT(memcmp(a, b, sizeof(a)) == 0);
  int same = 0;
  for (int i = 0; i < N; i++) same += a[i] == c[i];
  ASSERT_MSG(same < N / 2, "seeds 42 and 43 agree on %d of %d draws", same, N);

  /* reset restarts the generator from the seed */
  azc_sampler_params_t p = params_plain();
  p.seed = 5;
  azc_sampler_t *s;
  ASSERT_OK(azc_sampler_create(&p, 32, &s));
  float l[32] = {0};
  int32_t first[50];
  for (int i = 0; i < 50; i++) first[i] = azc_sampler_sample(s, l);
  azc_sampler_reset(s);
  for (int i = 0; i < 50; i++) ASSERT_EQ_INT(azc_sampler_sample(s, l), first[i]);
  azc_sampler_destroy(s);

  /* AZC_SEED_RANDOM resolves to a real seed, different for two samplers */
  p.seed = AZC_SEED_RANDOM;
  azc_sampler_t *r1, *r2;
  ASSERT_OK(azc_sampler_create(&p, 32, &r1));
  ASSERT_OK(azc_sampler_create(&p, 32, &r2));
  uint64_t s1 = azc_sampler_seed(r1), s2 = azc_sampler_seed(r2);
  azc_sampler_destroy(r1);
  azc_sampler_destroy(r2);
  ASSERT(s1 != AZC_SEED_RANDOM && s2 != AZC_SEED_RANDOM);
  ASSERT(s1 != s2);
}

/* ---- extreme inputs ---- */

static void test_extremes(void) {
  enum { V = 16 };
  float l[V];
  azc_sampler_params_t configs[4];
  for (int c = 0; c < 4; c++) configs[c] = params_plain();
  configs[1].top_k = 3;
  configs[2].top_p = 0.5f;
  configs[2].min_p = 0.5f;
  configs[3] = azc_sampler_params_default();
  configs[3].seed = 3;
  configs[3].repeat_penalty = 1.3f;
  const float temps[] = {0.0f, 0.001f, 1.0f, 1e6f};
  for (int c = 0; c < 4; c++)
    for (size_t ti = 0; ti < AZC_ARRAY_SIZE(temps); ti++) {
      azc_sampler_params_t p = configs[c];
      p.temperature = temps[ti];
      azc_sampler_t *s;
      ASSERT_OK(azc_sampler_create(&p, V, &s));
      azc_sampler_accept(s, 2);
      azc_sampler_accept(s, 5);
      for (int round = 0; round < 200; round++) {
        /* all equal */
        for (int i = 0; i < V; i++) l[i] = 1.0f;
        int32_t t = azc_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
        /* -inf everywhere but two tokens: never an -inf one */
        for (int i = 0; i < V; i++) l[i] = -INFINITY;
        l[9] = -1000.0f;
        l[11] = -1001.0f;
        t = azc_sampler_sample(s, l);
        ASSERT_MSG(t == 9 || t == 11, "config %d T %g: picked %d", c, (double)p.temperature, t);
        /* all -inf: some token, no crash */
        l[9] = l[11] = -INFINITY;
        t = azc_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
        /* huge magnitudes */
        for (int i = 0; i < V; i++) l[i] = i % 2 ? FLT_MAX : -FLT_MAX;
        l[4] = 1e30f;
        t = azc_sampler_sample(s, l);
        ASSERT(t >= 0 && t < V);
        if (p.temperature <= 1.0f && p.temperature > 0) ASSERT(t % 2 == 1);
        /* one +inf wins whatever the temperature */
        for (int i = 0; i < V; i++) l[i] = (float)i;
        l[13] = INFINITY;
        ASSERT_EQ_INT(azc_sampler_sample(s, l), 13);
      }
      azc_sampler_destroy(s);
    }

  /* all-equal logits with top-k 3: only the three lowest ids, about evenly */
  azc_sampler_params_t p = params_plain();
  p.top_k = 3;
  long counts[V];
  for (int i = 0; i < V; i++) l[i] = 0.25f;
  ASSERT_OK(draw_counts(&p, l, V, NULL, 0, 30000, counts));
  for (int i = 0; i < 3; i++) ASSERT(counts[i] > 9000 && counts[i] < 11000);
  for (int i = 3; i < V; i++) ASSERT_EQ_INT(counts[i], 0);
}

static void test_vocab_of_one(void) {
  float l[1] = {-INFINITY};
  azc_sampler_params_t p = azc_sampler_params_default();
  p.repeat_penalty = 2.0f;
  for (int c = 0; c < 3; c++) {
    p.temperature = c == 0 ? 0.0f : c == 1 ? 0.8f : 5.0f;
    p.top_k = c == 2 ? 1 : 50;
    p.min_p = c == 2 ? 0.9f : 0.0f;
    azc_sampler_t *s;
    ASSERT_OK(azc_sampler_create(&p, 1, &s));
    for (int i = 0; i < 10; i++) {
      l[0] = i % 2 ? 3.0f : -INFINITY;
      ASSERT_EQ_INT(azc_sampler_sample(s, l), 0);
      azc_sampler_accept(s, 0);
    }
    azc_sampler_destroy(s);
  }
}

static void test_bad_params(void) {
  azc_sampler_params_t p = azc_sampler_params_default();
  azc_sampler_t *s = (azc_sampler_t *)&p;
  ASSERT_ERR(azc_sampler_create(&p, 0, &s), AZC_INVALID_ARGUMENT, "vocabulary size 0");
  ASSERT(s == NULL);
  ASSERT_ERR(azc_sampler_create(&p, -5, &s), AZC_INVALID_ARGUMENT, "vocabulary");
  p.repeat_penalty = 0;
  ASSERT_ERR(azc_sampler_create(&p, 10, &s), AZC_INVALID_ARGUMENT, "repeat penalty");
  p.repeat_penalty = NAN;
  ASSERT_ERR(azc_sampler_create(&p, 10, &s), AZC_INVALID_ARGUMENT, "repeat penalty");
  p = azc_sampler_params_default();
  p.repeat_last_n = -1;
  ASSERT_ERR(azc_sampler_create(&p, 10, &s), AZC_INVALID_ARGUMENT, "repeat_last_n");
  p = azc_sampler_params_default();
  p.temperature = NAN;
  ASSERT_ERR(azc_sampler_create(&p, 10, &s), AZC_INVALID_ARGUMENT, "temperature");
}

int main(void) {
  RUN(test_defaults);
  RUN(test_greedy_argmax);
  RUN(test_greedy_ties);
  RUN(test_top_k_1_is_greedy);
  RUN(test_repeat_penalty);
  RUN(test_presence_frequency);
  RUN(test_typical);
  RUN(test_distributions);
  RUN(test_large_vocab_paths);
  RUN(test_kept_set_exact);
  RUN(test_speed_150k);
  RUN(test_seeds);
  RUN(test_extremes);
  RUN(test_vocab_of_one);
  RUN(test_bad_params);
  return test_summary();
}
