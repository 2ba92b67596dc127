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
 * Prefault: in a fresh process every shared hit lands in a new part of the memory tier's index
 * (it fills the tier), and the first touch of each 4 KiB page there costs two page faults (the
 * probe maps the zero page, the fill copies it): ~2.5 us each on the test VM, so the first
 * thousands of hits cost ~5 us instead of ~0.6. Once a thread has made PREFAULT_AFTER
 * shared-tier lookups or stores (the process evidently answers from the segment), one
 * short-lived background thread commits the memory tier's index (at most PREFAULT_MAX bytes,
 * MADV_POPULATE_WRITE: never changes a byte) and ends: ~6 ms of the other core for the default
 * 16 MiB index. It is started from that slow path (one clone, once per process), not at
 * start-up, because committed pages would cost every process 16 MiB of RSS and ~1 ms at exit
 * (page-table teardown); short runs never start it. It blocks every signal, runs with the recursion
 * guard set (nothing it calls is memoized), touches no byte of the host's or of the tier's, and
 * dies with exec (a forked child inherits the started flag, not the thread). Prefaulting the
 * segment's index as well was measured and dropped: fault-around already maps 64 KiB per fault
 * there, and the gain was within noise while the teardown cost at exit was not.
 */
#include "tier.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/base.h"

#define AUTO_THRESHOLD_NS 1000000ull /* singleflight = auto: calls of at least 1 ms */
#define PREFAULT_AFTER 64u           /* shared-tier events of one thread before prefaulting */
#define PREFAULT_CHUNK (1ull << 20)  /* bytes committed per madvise */
#define PREFAULT_MAX (64ull << 20)   /* bytes committed at most (a 256 MiB memory_size) */

struct cm_seg *cm_shared_seg;
static uint64_t last_flush_ns;
static int flushing;
static int prefault_started; /* set once, by the thread that starts the prefault thread */
/* This process's tag in the segment's profile table (nonzero): calls recorded under another tag
 * were made by an earlier run (or another process). */
static uint16_t prof_run;

/* Commits the memory tier's index a chunk at a time, then ends (see the header comment). */
static void *prefault_main(void *arg)
{
    (void)arg;
    cm_guard = 1;
    uint64_t at = 0;
    while (at < PREFAULT_MAX && cm_mem_prefault(&at, PREFAULT_CHUNK) > 0)
        ;
    return NULL;
}

static void prefault_start(void)
{
    if (__atomic_exchange_n(&prefault_started, 1, __ATOMIC_RELAXED))
        return;
    pthread_attr_t a;
    pthread_t t;
    sigset_t all, old;
    int saved = errno;
    if (pthread_attr_init(&a) != 0)
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    sigfillset(&all); /* the thread starts with every signal blocked: it never runs a handler */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_create(&t, &a, prefault_main, NULL); /* best effort: no thread, no prefault */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    errno = saved;
}

void cm_shared_init(const struct cm_config *cfg)
{
    if (!(cfg->tiers & CM_TIER_SHARED))
        return;
    char path[CM_PATH_MAX], err[512] = "";
    if (cm_path_expand(cfg->shared_path[0] ? cfg->shared_path : "/dev/shm/cloudm-%u", path,
                       sizeof(path)) < 0) {
        cm_log("shared tier off: shared_path too long");
        return;
    }
    struct cm_seg_opts o = {.path = path,
                            .size = cfg->shared_size ? cfg->shared_size : 256ull << 20,
                            .max_entry = cfg->shared_max_entry ? cfg->shared_max_entry
                                                               : (cfg->shared_size ? cfg->shared_size
                                                                                   : 256ull << 20) /
                                                                     16,
                            .create = 1};
    int rc = cm_seg_open(&o, &cm_shared_seg, err, sizeof(err));
    if (rc < 0) {
        cm_log("shared tier off: %s", err[0] ? err : strerror(-rc));
        cm_shared_seg = NULL;
    }
    uint64_t seed[2] = {(uint64_t)getpid(), cm_clock_ns()};
    prof_run = (uint16_t)(XXH3_64bits(seed, sizeof(seed)) | 1);
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
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, total));
    memcpy(fk->h, c.digest, 16);
    fk->k = p;
    fk->len = total;
    return 0;
}

long cm_shared_get(const struct cm_fullkey *fk, const uint8_t **v)
{
    uint32_t need = 0, cap = 4096;
    uint8_t *b = cm_tls_scratch(CM_SCRATCH_SHV, cap);
    if (!b)
        return -1;
    long n = cm_seg_get(cm_shared_seg, fk->h, fk->k, fk->len, b, cap, &need);
    if (n == -2) {
        cap = need;
        if (!(b = cm_tls_scratch(CM_SCRATCH_SHV, cap)))
            return -1;
        n = cm_seg_get(cm_shared_seg, fk->h, fk->k, fk->len, b, cap, &need);
    }
    if (n < 0)
        return -1;
    *v = b;
    return n;
}

void cm_shared_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen)
{
    cm_seg_put(cm_shared_seg, fk->h, fn->seed, fk->k, fk->len, v, vlen);
}

void cm_shared_note_miss(struct cm_fn *fn, uint64_t ns)
{
    uint64_t cur = __atomic_load_n(&fn->max_miss_ns, __ATOMIC_RELAXED);
    while (ns > cur && !__atomic_compare_exchange_n(&fn->max_miss_ns, &cur, ns, 1,
                                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
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

int cm_shared_flight_begin(struct cm_fn *fn, const struct cm_fullkey *fk, uint32_t *ticket)
{
    uint64_t longest = known_cost(fn);
    if (fn->cfg->singleflight == CM_SF_NO ||
        (fn->cfg->singleflight == CM_SF_AUTO && longest < AUTO_THRESHOLD_NS))
        return CM_FLIGHT_COMPUTE;
    int r = cm_seg_flight_claim(cm_shared_seg, fk->h, ticket);
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
    if (cm_seg_flight_wait(cm_shared_seg, fk->h, timeout) == 1)
        return CM_FLIGHT_LOOK_AGAIN;
    return cm_seg_flight_claim(cm_shared_seg, fk->h, ticket) == 1 ? CM_FLIGHT_COMPUTE_DONE
                                                                   : CM_FLIGHT_COMPUTE;
}

void cm_shared_flight_end(uint32_t ticket)
{
    cm_seg_flight_done(cm_shared_seg, ticket);
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

void cm_shared_flush_stats(int when)
{
    static __thread unsigned events __attribute__((tls_model("initial-exec")));
    if (!cm_shared_seg)
        return;
    if (when == CM_FLUSH_EXIT) {
        push_stats(1);
        return;
    }
    ++events;
    if (cm_tier_memory && events >= PREFAULT_AFTER &&
        !__atomic_load_n(&prefault_started, __ATOMIC_RELAXED))
        prefault_start();
    if (when == CM_FLUSH_MISS || (events & 7) == 0)
        push_stats(0);
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
