/*
 * disc_analyze.c - from an observation run to a ranking (`cloudm discover`).
 *
 * What it does: for every observed function, the distinct keys of its traced calls (scaled by
 * the trace's sampling rate: SHARDS samples keys, not calls), the time a cache would have
 * saved within this run ((calls - distinct) x mean time) and across runs (calls whose key an
 * earlier run also had: the key digests kept in the shared segment's profile table, as `cloudm
 * profile` keeps its own there); ranks the
 * functions by the saving within the run; marks those worth a config section (>= 1 % of the run
 * and >= 1 us per call); and computes, for the best ones, the miss-ratio curve of an LRU memory
 * tier: hits as a function of the entries it holds, from the reuse distance of every traced
 * call (Mattson's stack distances with a Fenwick tree; on a sampled trace the distances and
 * hits are scaled by 1 / rate, as SHARDS does).
 *
 * A cheap function's calls are only sampled by the shim (include/cloudm_discover.h `keyed`):
 * its distinct keys are then estimated with the bias-corrected Chao1 estimator (f1 keys seen
 * once and f2 seen twice in the sample: d + f1 (f1 - 1) / (2 (f2 + 1))), and it gets no curve.
 *
 * Across runs: each distinct traced key's digest (of function, object and key: never equal to
 * a `cloudm profile` digest, which hashes a canonical key) is noted in the segment's profile
 * table (shim/seg/seg_prof.c) under this run's tag; the table says whether an earlier run noted
 * it. No segment (d->seg NULL): no earlier run is known. `cloudm profile --reset` forgets them.
 *
 * What it does not do: no output (disc_out.c, disc_html.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "cm_config.h"
#include "cloudm_discover.h"
#include "disc.h"
#include "seg/seg.h"

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t fn_seed(const struct disc_fn *f)
{
    char buf[400];
    int k = snprintf(buf, sizeof(buf), "%s%c%s", f->name, 0, f->object);
    return XXH3_64bits(buf, (size_t)(k > 0 ? k : 0));
}

/* ---- reuse distances ------------------------------------------------------------------------ */

struct slot {
    uint64_t key;
    size_t last; /* position + 1; 0 = empty */
};

static void bit_add(int64_t *bit, size_t n, size_t i, int64_t v)
{
    for (i++; i <= n; i += i & (~i + 1))
        bit[i - 1] += v;
}

static int64_t bit_sum(const int64_t *bit, size_t i) /* sum of [0, i) */
{
    int64_t s = 0;
    for (; i > 0; i -= i & (~i + 1))
        s += bit[i - 1];
    return s;
}

/* Stack distances of keys[0..n) (SIZE_MAX for a first access), into dist. 0 or -ENOMEM. */
static int distances(const uint64_t *keys, size_t n, size_t *dist)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    struct slot *tab = calloc(cap, sizeof(*tab));
    int64_t *bit = calloc(n ? n : 1, sizeof(*bit));
    if (!tab || !bit) {
        free(tab);
        free(bit);
        return -ENOMEM;
    }
    for (size_t t = 0; t < n; t++) {
        size_t b = (size_t)(keys[t] * 0x9e3779b97f4a7c15ull >> 7) & (cap - 1);
        while (tab[b].last && tab[b].key != keys[t])
            b = (b + 1) & (cap - 1);
        if (tab[b].last) {
            size_t p = tab[b].last - 1;
            dist[t] = (size_t)(bit_sum(bit, t) - bit_sum(bit, p + 1));
            bit_add(bit, n, p, -1);
        } else {
            dist[t] = SIZE_MAX;
            tab[b].key = keys[t];
        }
        tab[b].last = t + 1;
        bit_add(bit, n, t, 1);
    }
    free(tab);
    free(bit);
    return 0;
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void curve(struct disc_fn *f, double rate)
{
    size_t n = f->nkeys;
    size_t *dist = malloc((n ? n : 1) * sizeof(*dist));
    if (!dist || distances(f->keys, n, dist) != 0) {
        free(dist);
        return;
    }
    qsort(dist, n, sizeof(*dist), size_cmp);
    double scale = f->calls && n ? (double)f->calls / (double)n : 1.0;
    double maxd = f->distinct > 1 ? f->distinct * 2 : 2;
    int k = 0;
    for (double c = 1; k < DISC_MRC_POINTS; c *= 2) {
        /* a tier of c entries (scaled back to the sampled trace) hits every access whose
         * distance is below it */
        double cs = c * rate;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if ((double)dist[mid] < cs)
                lo = mid + 1;
            else
                hi = mid;
        }
        f->mrc_entries[k] = c;
        f->mrc_hits[k] = (double)lo * scale;
        k++;
        if (c >= maxd)
            break;
    }
    f->nmrc = k;
    free(dist);
}

/* ---- ranking -------------------------------------------------------------------------------- */

static int rank_cmp(const void *a, const void *b)
{
    const struct disc_fn *x = a, *y = b;
    if (x->saved_within != y->saved_within)
        return x->saved_within < y->saved_within ? 1 : -1;
    if (x->ns != y->ns)
        return x->ns < y->ns ? 1 : -1;
    return strcmp(x->name, y->name);
}

void disc_analyze(struct disc *d, int top)
{
    d->rate =
        d->threshold >= CM_OBS_HASH_MASK ? 1.0 : ((double)d->threshold + 1.0) / 281474976710656.0;
    for (int i = 0; i < d->n; i++) {
        struct disc_fn *f = &d->fns[i];
        size_t m = 0; /* keep only keys every process traced */
        for (size_t j = 0; j < f->nkeys; j++)
            if (f->keys[j] <= d->threshold)
                f->keys[m++] = f->keys[j];
        f->nkeys = m;
        double mean = f->calls ? (double)f->ns / (double)f->calls : 0;
        if (!f->calls || !m) {
            f->distinct = (double)f->calls;
            continue;
        }
        uint64_t *s = malloc(m * sizeof(*s));
        if (!s) {
            f->distinct = (double)f->calls;
            continue;
        }
        memcpy(s, f->keys, m * sizeof(*s));
        qsort(s, m, sizeof(*s), u64_cmp);
        uint64_t seed = fn_seed(f);
        size_t uniq = 0, uniq_new = 0, seen = 0, f1 = 0, f2 = 0, run = 0;
        bool old = false;
        for (size_t j = 0; j < m; j++) {
            if (j == 0 || s[j] != s[j - 1]) {
                uint64_t dg = XXH3_64bits_withSeed(&s[j], 8, seed);
                old = d->seg && cm_seg_prof_note(d->seg, dg, d->run_tag) == 1;
                uniq++;
                uniq_new += !old;
                run = 0;
            }
            seen += old;
            run++;
            if (j + 1 == m || s[j + 1] != s[j]) { /* the last call of this key */
                f1 += run == 1;
                f2 += run == 2;
            }
        }
        free(s);
        double scale = (double)f->calls / (double)m;
        if (f->keyed && f->keyed < f->calls) {
            /* a random sample of the calls (the function was cheap): distinct keys by the
             * bias-corrected Chao1 estimator, then scaled by the key-sampling rate */
            double chao =
                (double)uniq + (double)f1 * (double)(f1 ? f1 - 1 : 0) / (2.0 * (double)(f2 + 1));
            f->distinct = chao / d->rate;
            f->sampled = true;
        } else {
            f->distinct = (double)uniq * scale;
        }
        if (f->distinct > (double)f->calls)
            f->distinct = (double)f->calls;
        f->seen_before = (double)seen * scale;
        f->saved_within = ((double)f->calls - f->distinct) * mean;
        double dnew = uniq ? f->distinct * (double)uniq_new / (double)uniq : 0;
        f->saved_across = ((double)f->calls - dnew) * mean;
    }

    qsort(d->fns, (size_t)d->n, sizeof(*d->fns), rank_cmp);
    int kept = 0; /* bound but never called: not a candidate */
    for (int i = 0; i < d->n; i++) {
        if (d->fns[i].calls) {
            struct disc_fn t = d->fns[i];
            d->fns[i] = d->fns[kept];
            d->fns[kept++] = t;
        }
    }
    for (int i = kept; i < d->n; i++)
        free(d->fns[i].keys);
    d->n = kept;
    for (int i = 0; i < d->n; i++) {
        struct disc_fn *f = &d->fns[i];
        double mean = f->calls ? (double)f->ns / (double)f->calls : 0;
        f->worth = !cm_never_memoizable(f->name, f->object) && f->calls > 1 &&
                   f->saved_within >= 0.01 * (double)d->run_ns && mean >= 1000.0;
        if (i < top && f->calls > 1 && !f->sampled) /* a call sample has no reuse distances */
            curve(f, d->rate);
    }
}
