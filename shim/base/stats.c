/*
 * stats.c - per-thread counters and the profile-mode distinct-argument set (see stats.h).
 *
 * What it does not do: formatting (report.c), timing (dispatch.c).
 *
 * DESIGN (distinct set): one open-addressed table of 64-bit values (key hash mixed with the
 * variant id, never 0), inserted with compare-and-swap, linear probing bounded to 64 probes.
 * Allocated on first use (profile mode only), 2^20 entries; when more than 3/4 full, or a probe
 * sequence runs out, counting stops and the report prints distinct as null: better unknown than
 * wrong.
 */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

static struct cm_tstats *stats_head;
__thread struct cm_tstats *cm_stats_mine __attribute__((tls_model("initial-exec")));
static pthread_key_t stats_key;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

static void stats_release(void *p)
{
    struct cm_tstats *ts = p;
    __atomic_store_n(&ts->in_use, 0, __ATOMIC_RELEASE);
}

static void stats_key_init(void)
{
    pthread_key_create(&stats_key, stats_release);
}

struct cm_tstats *cm_stats_create(void)
{
    struct cm_tstats *ts;
    int saved_errno = errno;
    cm_stack_guard_init(); /* this thread's first hooked call */
    pthread_once(&stats_once, stats_key_init);
    for (ts = __atomic_load_n(&stats_head, __ATOMIC_ACQUIRE); ts; ts = ts->next) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&ts->in_use, &zero, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
    }
    if (!ts && cm_sandbox == CM_SANDBOX_STRICT)
        return NULL; /* seccomp strict mode: mmap would kill the process; nothing is counted */
    if (!ts) {
        void *p =
            mmap(NULL, sizeof(*ts), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            errno = saved_errno;
            return NULL;
        }
        ts = p;
        ts->in_use = 1;
        struct cm_tstats *head = __atomic_load_n(&stats_head, __ATOMIC_RELAXED);
        do {
            ts->next = head;
        } while (!__atomic_compare_exchange_n(&stats_head, &head, ts, 1, __ATOMIC_RELEASE,
                                              __ATOMIC_RELAXED));
    }
    cm_stats_mine = ts;
    pthread_setspecific(stats_key, ts);
    errno = saved_errno;
    return ts;
}

void cm_stats_sum(uint32_t id, struct cm_stat *out)
{
    memset(out, 0, sizeof(*out));
    for (struct cm_tstats *ts = __atomic_load_n(&stats_head, __ATOMIC_ACQUIRE); ts; ts = ts->next) {
        const struct cm_stat *s = &ts->s[id];
        out->hit_mem += __atomic_load_n(&s->hit_mem, __ATOMIC_RELAXED);
        out->hit_shared += __atomic_load_n(&s->hit_shared, __ATOMIC_RELAXED);
        out->hit_remote += __atomic_load_n(&s->hit_remote, __ATOMIC_RELAXED);
        out->misses += __atomic_load_n(&s->misses, __ATOMIC_RELAXED);
        out->errors += __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
        out->bypassed += __atomic_load_n(&s->bypassed, __ATOMIC_RELAXED);
        out->miss_ticks += __atomic_load_n(&s->miss_ticks, __ATOMIC_RELAXED);
    }
    out->calls = out->hit_mem + out->hit_shared + out->hit_remote + out->misses + out->errors +
                 out->bypassed;
}

#define DISTINCT_BITS 20
#define DISTINCT_SIZE (1u << DISTINCT_BITS)
static uint64_t *distinct_tab;
static uint32_t distinct_used;
static int distinct_full;

void cm_stats_after_fork(void)
{
    for (struct cm_tstats *ts = stats_head; ts; ts = ts->next) {
        memset(ts->s, 0, sizeof(ts->s));
        ts->in_use = ts == cm_stats_mine;
    }
    for (uint32_t i = 0; i < CM_MAX_VARIANTS; i++) {
        cm_fns[i].fn.distinct = 0;
        memset(cm_fns[i].fn.flushed, 0, sizeof(cm_fns[i].fn.flushed));
        memset(cm_fns[i].fn.why, 0, sizeof(cm_fns[i].fn.why));
    }
    if (distinct_tab)
        memset(distinct_tab, 0, DISTINCT_SIZE * sizeof(uint64_t));
    distinct_used = 0;
    distinct_full = 0;
}

int cm_stats_distinct_overflow(void)
{
    return __atomic_load_n(&distinct_full, __ATOMIC_RELAXED);
}

int cm_stats_distinct_add(uint32_t id, uint64_t h)
{
    uint64_t *tab = __atomic_load_n(&distinct_tab, __ATOMIC_ACQUIRE);
    if (!tab) {
        void *p = mmap(NULL, DISTINCT_SIZE * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            __atomic_store_n(&distinct_full, 1, __ATOMIC_RELAXED);
            return 0;
        }
        uint64_t *expect = NULL;
        if (__atomic_compare_exchange_n(&distinct_tab, &expect, p, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            tab = p;
        else {
            munmap(p, DISTINCT_SIZE * sizeof(uint64_t));
            tab = expect;
        }
    }
    if (__atomic_load_n(&distinct_full, __ATOMIC_RELAXED))
        return 0;
    uint64_t v = (h ^ ((uint64_t)(id + 1) * 0x9E3779B97F4A7C15ull)) | 1;
    uint32_t i = (uint32_t)(v >> (64 - DISTINCT_BITS));
    for (int probe = 0; probe < 64; probe++, i = (i + 1) & (DISTINCT_SIZE - 1)) {
        uint64_t cur = __atomic_load_n(&tab[i], __ATOMIC_RELAXED);
        if (cur == v)
            return 0;
        if (cur == 0) {
            if (__atomic_compare_exchange_n(&tab[i], &cur, v, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
                if (__atomic_add_fetch(&distinct_used, 1, __ATOMIC_RELAXED) > DISTINCT_SIZE / 4 * 3)
                    __atomic_store_n(&distinct_full, 1, __ATOMIC_RELAXED);
                return 1;
            }
            if (cur == v)
                return 0;
        }
    }
    __atomic_store_n(&distinct_full, 1, __ATOMIC_RELAXED);
    return 0;
}
