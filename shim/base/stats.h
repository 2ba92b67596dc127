/*
 * stats.h - per-variant call counters, kept per thread so the hit path never executes a locked
 * instruction.
 *
 * DESIGN: each thread owns one block (one struct cm_stat per variant), obtained on its first
 * hooked call (mmap, async-signal-safe) and registered in a global list. Only the owner writes
 * its block, with relaxed atomic load+store pairs (plain mov/add, no lock prefix); readers
 * (the report) sum all blocks with relaxed loads. When a thread exits its block is released, not
 * freed, and the next new thread adopts it and keeps adding: sums stay right and memory stays
 * bounded by the peak number of threads. In a fork child all counts are reset to zero.
 */
#ifndef CM_STATS_H
#define CM_STATS_H

#include <stdint.h>

#include "frame.h"

/* Every counted call increments exactly one outcome; `calls` is only ever computed as their sum
 * (one store per call instead of two). */
struct cm_stat {
    uint64_t calls, hit_mem, hit_shared, hit_remote, misses, errors, bypassed, miss_ticks;
};

struct cm_tstats {
    struct cm_tstats *next;  /* global list, append-only */
    int in_use;              /* atomic: 1 while a thread owns it */
    struct cm_stat s[CM_MAX_VARIANTS];
};

extern __thread struct cm_tstats *cm_stats_mine __attribute__((tls_model("initial-exec")));
struct cm_tstats *cm_stats_create(void);

/* This thread's block, creating it on first use; NULL if that failed (then nothing is counted). */
static inline struct cm_tstats *cm_stats_self(void)
{
    struct cm_tstats *ts = cm_stats_mine;
    return ts ? ts : cm_stats_create();
}

#define CM_STAT_ADD(ts, id, field, n)                                                              \
    __atomic_store_n(&(ts)->s[(id)].field,                                                         \
                     __atomic_load_n(&(ts)->s[(id)].field, __ATOMIC_RELAXED) + (n),                \
                     __ATOMIC_RELAXED)

/* Sum of every block for variant `id`. */
void cm_stats_sum(uint32_t id, struct cm_stat *out);

/* fork child: zero every block, keep only the calling thread's. */
void cm_stats_after_fork(void);

/* profile mode: record key hash `h` for variant `id`; returns 1 if it was new. The set is
 * bounded; once full, cm_stats_distinct_overflow() is true and distinct counts are unknown. */
int cm_stats_distinct_add(uint32_t id, uint64_t h);
int cm_stats_distinct_overflow(void);

#endif
