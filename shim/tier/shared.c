/*
 * shared.c - the shared tier as the dispatcher uses it (see shared.h).
 *
 * What it does: opens the segment at start-up (expanding %u in shared_path to the uid; any
 * refusal or failure is one message and the run goes on with the memory tier only), builds
 * full keys (the 16-byte XXH3-128 digest of the variant's identity prefix followed by the
 * canonical argument bytes, hashed with XXH3-128), looks up and stores values, applies the
 * single-flight policy, and pushes the process's counters into the segment's live statistics.
 *
 * What it does not do: the segment's layout, locking or eviction (seg.c); deciding when a call
 * is cacheable (dispatch.c).
 *
 * Statistics: the hot path only touches per-thread counters (stats.c). Misses (every one),
 * shared and remote hits (every 8th of a thread) and memory-tier hits (every 64th of a thread and
 * function, cm_shared_stats_tick) read the coarse monotonic clock (vDSO, no system call) and, at
 * most once a second, add what changed since the last push to the segment with relaxed atomics
 * (one thread at a time; a busy flag makes the others skip). So a process killed with SIGKILL
 * loses about its last second of counts (of a thread that keeps calling: at most 7 shared hits or
 * 63 memory hits more); the exit path forces a last push.
 *
 * Single-flight claims and abandoned calls (issue 16): a memoized function left by longjmp() or
 * a C++ exception never reaches cm_shared_flight_end(). Each thread keeps a small stack of the
 * claims it holds, with the entry frame address of the call that took each one; a claim whose
 * frame lies at or below a new call's frame (the stack grows down: the new call is not nested
 * inside it) belongs to a call that was abandoned, and is released then. Ending a claim also
 * releases those taken above it. A claim released that way (or dropped because the stack is
 * full) is never released twice.
 *
 * No thread: an earlier version started a thread to prefault the memory tier after 64
 * shared-tier events; product rule 2 (and seccomp filters without clone) forbid threads in the
 * host, so the first writes to the memory tier's pages are simply paid by the calls (bench/).
 * Reads are another matter: a process answered by the segment looks each key up in the memory
 * tier first, and every untouched page of the memory tier's index costs a page fault just to
 * find it empty (a fresh process reading 20,000 keys once took ~4,000 such faults, more than the
 * hits themselves). While the memory tier has stored nothing (a fresh process reading keys
 * once: cm_shared_fill_wanted), lookups probe a one-line stand-in instead (memtier.c, "Empty
 * tier"): no fault, no miss. Once it holds entries, every 256th shared hit of a thread checks,
 * and the first such hit after the first store (once per process) maps the whole index to the
 * zero page with one madvise (cm_mem_map_index, ~0.5 ms, no memory): the one system call a hit
 * makes, once, in processes that both store in the memory tier and read many entries from the
 * segment; never in a sandbox.
 *
 * Identity changes: cm_shared_identity_changed() (the hook layer's setuid-family wrappers)
 * withdraws the segment, replaces its mapping with anonymous memory (a lookup running in
 * another thread meanwhile reads zeros: a miss; no thread can reach the old user's file
 * afterwards) and opens the segment of the new identity (shared_path re-expanded), if allowed.
 */
#include "tier.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/base.h"

#define AUTO_THRESHOLD_NS 1000000ull /* singleflight = auto: calls of at least 1 ms */
#define OPEN_MAX 16                  /* claims one thread can hold at once (nested calls) */

struct cm_seg *cm_shared_seg;
static const struct cm_config *shared_cfg; /* for reopening after an identity change */
static uint64_t last_flush_ns;
static int flushing;
/* This process's tag in the segment's profile table (nonzero): calls recorded under another tag
 * were made by an earlier run (or another process). */
static uint16_t prof_run;

/* The claims this thread holds, oldest first (see the header comment). */
struct open_claim {
    uintptr_t frame; /* entry frame of the call that holds it */
    uint32_t ticket;
    struct cm_seg *seg; /* the segment it lives in */
};
static __thread struct open_claim open_claims[OPEN_MAX] __attribute__((tls_model("initial-exec")));
static __thread int nopen __attribute__((tls_model("initial-exec")));

/* Shared hits of this thread, and whether the memory tier's index was mapped (see above). */
#define MAP_INDEX_AFTER 256u
static __thread uint32_t shared_hits __attribute__((tls_model("initial-exec")));
static int index_mapped;

static void release_above(int keep)
{
    while (nopen > keep) {
        struct open_claim *c = &open_claims[--nopen];
        cm_seg_flight_done(c->seg, c->ticket);
    }
}

/* Release the claims of calls that can no longer be running: those whose frame is at or below
 * `frame` (not an ancestor of the call entered there). */
static void release_abandoned(uintptr_t frame)
{
    int keep = nopen;
    while (keep > 0 && open_claims[keep - 1].frame <= frame)
        keep--;
    release_above(keep);
}

/* Open the configured segment as the current identity; 0 or -1 (said why, once). */
static int shared_open(const struct cm_config *cfg)
{
    char path[CM_PATH_MAX], err[512] = "";
    if (cm_path_expand(cfg->shared_path[0] ? cfg->shared_path : "/dev/shm/cloudm-%u", path,
                       sizeof(path)) < 0) {
        cm_log("shared tier off: shared_path too long");
        return -1;
    }
    struct cm_seg_opts o = {.path = path,
                            .size = cfg->shared_size ? cfg->shared_size : 256ull << 20,
                            .max_entry = cfg->shared_max_entry,
                            .blob_size = cfg->shared_blob_size,
                            .create = 1};
    struct cm_seg *seg = NULL;
    int rc = cm_seg_open(&o, &seg, err, sizeof(err));
    if (rc < 0) {
        cm_log("shared tier off: %s", err[0] ? err : strerror(-rc));
        return -1;
    }
    __atomic_store_n(&cm_shared_seg, seg, __ATOMIC_RELEASE);
    return 0;
}

void cm_shared_init(const struct cm_config *cfg)
{
    if (!(cfg->tiers & CM_TIER_SHARED))
        return;
    shared_cfg = cfg;
    uint64_t seed[2] = {(uint64_t)getpid(), cm_clock_ns()};
    prof_run = (uint16_t)(XXH3_64bits(seed, sizeof(seed)) | 1);
    shared_open(cfg);
}

void cm_shared_identity_changed(void)
{
    if (!shared_cfg || cm_sandbox == CM_SANDBOX_STRICT)
        return;
    /* Keep the flusher out while slots change segment (bounded: it never blocks). */
    for (int i = 0; i < 1 << 20 && __atomic_exchange_n(&flushing, 1, __ATOMIC_ACQUIRE); i++)
        ;
    struct cm_seg *old = __atomic_exchange_n(&cm_shared_seg, NULL, __ATOMIC_ACQ_REL);
    if (old)
        cm_seg_withdraw(old);
    if (shared_open(shared_cfg) == 0) {
        uint32_t n = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
        for (uint32_t i = 0; i < n; i++) {
            struct cm_fn *fn = &cm_fns[i].fn;
            fn->seg_slot = cm_seg_fn_slot(cm_shared_seg, fn->seed, fn->cfg->name);
        }
    }
    __atomic_store_n(&flushing, 0, __ATOMIC_RELEASE);
}

void cm_shared_sandbox(int level)
{
    if (level <= cm_sandbox)
        return;
    __atomic_store_n(&cm_sandbox, level, __ATOMIC_RELAXED);
    struct cm_seg *seg = __atomic_load_n(&cm_shared_seg, __ATOMIC_ACQUIRE);
    if (seg)
        cm_seg_sandboxed(seg); /* no more open(): ring growth and blob files stop */
    if (level == CM_SANDBOX_STRICT) {
        /* Only read, write, exit and sigreturn from now on: the segment stays mapped (munmap is
         * not allowed either) but unused, and the TSC is off. */
        __atomic_store_n(&cm_shared_seg, NULL, __ATOMIC_RELEASE);
        cm_clock_sandbox(1);
    }
}

int cm_shared_prof_note(uint64_t h)
{
    if (!cm_shared_seg)
        return -1;
    return cm_seg_prof_note(cm_shared_seg, h, prof_run);
}

void cm_shared_bind(struct cm_fn *fn)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(fn->prefix, fn->prefix_len));
    memcpy(fn->ident, c.digest, 16);
    fn->seg_slot = cm_shared_seg ? cm_seg_fn_slot(cm_shared_seg, fn->seed, fn->cfg->name) : -1;
}

int cm_shared_key(const struct cm_fn *fn, const uint8_t *args, uint32_t alen, uint8_t *buf,
                  uint32_t cap, struct cm_fullkey *fk)
{
    uint32_t total = 16 + alen;
    uint8_t *p = total <= cap ? buf : cm_tls_scratch(CM_SCRATCH_FULL, total);
    if (!p)
        return -1;
    memcpy(p, fn->ident, 16);
    memcpy(p + 16, args, alen);
    XXH128_canonical_t c;
    fk->sensitive = fn->sensitive;
    if (fn->sensitive) { /* the segment sees a keyed digest, never the argument bytes */
        cm_sens_digest(p, total, fk->sk);
        XXH128_canonicalFromHash(&c, XXH3_128bits(fk->sk, sizeof(fk->sk)));
    } else {
        XXH128_canonicalFromHash(&c, XXH3_128bits(p, total));
    }
    memcpy(fk->h, c.digest, 16);
    fk->k = p;
    fk->len = total;
    return 0;
}

/* Every 256th shared hit of a thread: map the memory tier's index once it is in use (header
 * comment). */
__attribute__((noinline, cold)) static void map_index(void)
{
    if (!cm_tier_memory || cm_sandbox != CM_SANDBOX_NONE ||
        __atomic_load_n(&index_mapped, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&index_mapped, 1, __ATOMIC_RELAXED))
        return;
    if (!cm_mem_map_index()) /* still empty: lookups probe the stand-in; ask again later */
        __atomic_store_n(&index_mapped, 0, __ATOMIC_RELAXED);
}

static inline void count_hit(void)
{
    if (__builtin_expect((++shared_hits & (MAP_INDEX_AFTER - 1)) == 0, 0))
        map_index();
}

/* flatten: the library's XXH3-128 is inlined here, and with the commonest length (one 8-byte
 * word after the identity) known, its length dispatch folds away. */
__attribute__((flatten)) long cm_shared_get_words(const struct cm_fn *fn, const uint64_t kw[5],
                                                  uint64_t vw[5], uint8_t h[16])
{
    /* ident || each keyed word at its declared width: the bytes cm_key_write writes for
     * scalars (key.c), so this and cm_shared_key find the same entries. Everything up to the
     * lookup's memory access is the critical path of a cold hit: widths precomputed (bind.c),
     * the digest's words passed in registers. */
    uint8_t key[16 + 5 * 8 + 8] __attribute__((aligned(8)));
    __builtin_memcpy(key, fn->ident, 16);
    uint8_t *p = key + 16;
    for (int i = 5 - fn->fast_n; i < 5; i++) {
        __builtin_memcpy(p, &kw[i], 8);
        p += fn->fast_kb[i];
    }
    uint32_t klen = (uint32_t)(p - key);
    XXH128_hash_t d = klen == 24 ? XXH3_128bits(key, 24) : XXH3_128bits(key, klen);
    /* the canonical digest (XXH128_canonicalFromHash: big-endian high, then low) as the two
     * little-endian words the segment compares */
    uint64_t h0 = __builtin_bswap64(d.high64), h1 = __builtin_bswap64(d.low64);
    long n = cm_seg_lookup_small(cm_shared_seg, h0, h1, fn->seed, key, klen, vw);
    if (n < 0) /* a miss, or CM_SEG_QUARANTINED */
        return n;
    __builtin_memcpy(h, &h0, 8);
    __builtin_memcpy(h + 8, &h1, 8);
    count_hit();
    return n;
}

long cm_shared_get(const struct cm_fullkey *fk, struct cm_seg_view *view, int defer)
{
    view->defer_verify = defer && !fk->sensitive;
    uint32_t need = 0, cap = 4096;
    const uint8_t *k = fk->sensitive ? fk->sk : fk->k;
    uint32_t klen = fk->sensitive ? sizeof(fk->sk) : fk->len;
    uint8_t *b = cm_tls_scratch(CM_SCRATCH_SHV, cap);
    if (!b)
        return -1;
    long n = cm_seg_lookup(cm_shared_seg, fk->h, k, klen, b, cap, &need, view);
    if (n == -2) {
        cap = need;
        if (!(b = cm_tls_scratch(CM_SCRATCH_SHV, cap)))
            return -1;
        n = cm_seg_lookup(cm_shared_seg, fk->h, k, klen, b, cap, &need, view);
    }
    if (n < 0)
        return -1;
    count_hit();
    if (fk->sensitive) { /* sealed: open into a private buffer */
        uint8_t *pt = n >= CM_SEAL_OVERHEAD ? cm_tls_scratch(CM_SCRATCH_SEAL, (size_t)n) : NULL;
        int ok = pt && cm_sens_open(fk->sk, view->v, (uint32_t)n, pt) == 0;
        cm_seg_view_done(view);
        if (!ok)
            return -1;
        n -= CM_SEAL_OVERHEAD;
        view->v = pt;
        view->len = (uint64_t)n;
    }
    return n;
}

void cm_shared_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen)
{
    if (fk->sensitive) {
        uint8_t *ct = cm_tls_scratch(CM_SCRATCH_SEAL, (size_t)vlen + CM_SEAL_OVERHEAD);
        if (ct && cm_sens_seal(fk->sk, v, vlen, ct) == 0)
            cm_seg_put(cm_shared_seg, fk->h, fn->seed, fk->sk, sizeof(fk->sk), ct,
                       vlen + CM_SEAL_OVERHEAD);
        return;
    }
    cm_seg_put(cm_shared_seg, fk->h, fn->seed, fk->k, fk->len, v, vlen);
}

void cm_shared_note_miss(struct cm_fn *fn, uint64_t ns)
{
    uint64_t cur = __atomic_load_n(&fn->max_miss_ns, __ATOMIC_RELAXED);
    while (ns > cur && !__atomic_compare_exchange_n(&fn->max_miss_ns, &cur, ns, 1, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
        ;
}

/* How long a call of fn takes, as far as anyone knows: the longest miss this process saw, or the
 * mean over every process in the segment's statistics (read again every 64th miss), so that
 * processes starting together coordinate on a function another run has already timed. */
static uint64_t known_cost(struct cm_fn *fn)
{
    uint64_t longest = __atomic_load_n(&fn->max_miss_ns, __ATOMIC_RELAXED);
    if (longest >= AUTO_THRESHOLD_NS)
        return longest;
    uint32_t age = __atomic_fetch_add(&fn->seg_mean_age, 1, __ATOMIC_RELAXED);
    if ((age & 63) == 0)
        __atomic_store_n(&fn->seg_mean_ns, cm_shared_mean_miss_ns(fn), __ATOMIC_RELAXED);
    uint64_t mean = __atomic_load_n(&fn->seg_mean_ns, __ATOMIC_RELAXED);
    return mean > longest ? mean : longest;
}

/* Take a claim for the call entered at `frame` and remember it: cm_seg_flight_claim's answer (1
 * taken, 0 someone live computes it, -1 no slot: compute without coordinating). */
static int claim(struct cm_seg *seg, const struct cm_fullkey *fk, uint32_t *ticket, uintptr_t frame)
{
    if (nopen == OPEN_MAX) /* 16 nested claims: compute this one without coordinating */
        return -1;
    int r = cm_seg_flight_claim(seg, fk->h, ticket);
    if (r == 1)
        open_claims[nopen++] = (struct open_claim){.frame = frame, .ticket = *ticket, .seg = seg};
    return r;
}

int cm_shared_flight_begin(struct cm_fn *fn, const struct cm_fullkey *fk, uint32_t *ticket,
                           const void *frame)
{
    struct cm_seg *seg = __atomic_load_n(&cm_shared_seg, __ATOMIC_ACQUIRE);
    if (nopen)
        release_abandoned((uintptr_t)frame);
    uint64_t longest = known_cost(fn);
    if (!seg || cm_sandbox || fn->cfg->singleflight == CM_SF_NO ||
        (fn->cfg->singleflight == CM_SF_AUTO && longest < AUTO_THRESHOLD_NS))
        return CM_FLIGHT_COMPUTE; /* (under a seccomp filter: waiting makes system calls) */
    int r = claim(seg, fk, ticket, (uintptr_t)frame);
    if (r == 1)
        return CM_FLIGHT_COMPUTE_DONE;
    if (r < 0)
        return CM_FLIGHT_COMPUTE;
    /* Someone computes it: wait a bounded time, 4x the longest call seen, 1 s to 60 s. */
    uint64_t timeout = 4 * longest;
    if (timeout < 1000000000ull)
        timeout = 1000000000ull;
    if (timeout > 60000000000ull)
        timeout = 60000000000ull;
    if (cm_seg_flight_wait(seg, fk->h, timeout) == 1)
        return CM_FLIGHT_LOOK_AGAIN;
    return claim(seg, fk, ticket, (uintptr_t)frame) == 1 ? CM_FLIGHT_COMPUTE_DONE
                                                         : CM_FLIGHT_COMPUTE;
}

void cm_shared_flight_end(uint32_t ticket)
{
    for (int i = nopen - 1; i >= 0; i--)
        if (open_claims[i].ticket == ticket) {
            release_above(i + 1); /* nested calls abandoned inside this one */
            release_above(i);
            return;
        }
    /* not held any more: released as abandoned already */
}

static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void push_stats(int force);

void cm_shared_stats_tick(void)
{
    if (cm_shared_seg)
        push_stats(0);
}

__thread unsigned cm_shared_hit_events __attribute__((tls_model("initial-exec")));

/* CM_FLUSH_HIT: called by cm_shared_flush_hit() on every 8th hit of a thread (it counts). */
void cm_shared_flush_stats(int when)
{
    if (!cm_shared_seg)
        return;
    push_stats(when == CM_FLUSH_EXIT);
}

static void push_stats(int force)
{
    uint64_t now = coarse_ns();
    if (!force && now - __atomic_load_n(&last_flush_ns, __ATOMIC_RELAXED) < 1000000000ull)
        return;
    if (__atomic_exchange_n(&flushing, 1, __ATOMIC_ACQUIRE))
        return;
    __atomic_store_n(&last_flush_ns, now, __ATOMIC_RELAXED);
    int saved = errno;
    uint32_t n = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        struct cm_fn *fn = &cm_fns[i].fn;
        if (fn->seg_slot < 0)
            continue;
        struct cm_stat s;
        cm_stats_sum(i, &s);
        uint64_t cur[8] = {s.calls,  s.hit_mem, s.hit_shared, s.hit_remote,
                           s.misses, s.errors,  s.bypassed,   s.miss_ticks};
        struct cm_seg_fnstat d = {
            .calls = cur[0] - fn->flushed[0],
            .hit_mem = cur[1] - fn->flushed[1],
            .hit_shared = cur[2] - fn->flushed[2],
            .hit_remote = cur[3] - fn->flushed[3],
            .misses = cur[4] - fn->flushed[4],
            .errors = cur[5] - fn->flushed[5] + (cur[6] - fn->flushed[6]),
            .miss_ns = cm_ticks_to_ns(cur[7] - fn->flushed[7]),
        };
        memcpy(fn->flushed, cur, sizeof(cur));
        if (d.calls)
            cm_seg_fn_add(cm_shared_seg, fn->seg_slot, &d);
    }
    errno = saved;
    __atomic_store_n(&flushing, 0, __ATOMIC_RELEASE);
}

struct mean_ctx {
    uint64_t ident, misses, miss_ns;
};

static void mean_cb(void *ctx, const char *name, uint64_t fn_ident, const struct cm_seg_fnstat *st)
{
    struct mean_ctx *m = ctx;
    (void)name;
    if (fn_ident == m->ident) {
        m->misses += st->misses;
        m->miss_ns += st->miss_ns;
    }
}

uint64_t cm_shared_mean_miss_ns(const struct cm_fn *fn)
{
    if (!cm_shared_seg || fn->seg_slot < 0)
        return 0;
    struct mean_ctx m = {.ident = fn->seed};
    cm_seg_fn_foreach(cm_shared_seg, mean_cb, &m);
    return m.misses ? m.miss_ns / m.misses : 0;
}
