/*
 * obscall.c - the per-call path of the observation mode and its bounded trace.
 *
 * What it does: the counting stubs (observe.S) count every call and send only some to
 * cm_obs_call() (SAMPLING in obs_int.h: every call of a function slower than CM_OBS_FULL_NS,
 * about one in CM_OBS_SAMPLE_EVERY of a cheaper one, picked by random gaps). cm_obs_call() keys the
 * call (by the tool's plan: scalar registers and stack words at their declared width, string and
 * buffer contents; else every argument register), calls the original through cm_call_original
 * (which passes the caller's exact registers and stack words), counts it and appends (function, key
 * hash) to this thread's trace. The time is measured (cycle counter around the call) for the first
 * CM_OBS_TIME_ALL calls of each function and then for one call in CM_OBS_TIME_EVERY, picked at
 * random: reading the counter costs more than the rest of the observation on some virtual machines
 * (75 ns per rdtsc was measured on the CI's), and the mean of a random sample estimates the total
 * as well.
 *
 * The trace is bounded (TRACE_CHUNKS chunks of CHUNK_RECS records, 1 MiB each; a thread gets
 * one chunk beyond that if it has none). When it is full the sampling threshold halves
 * (spatial sampling by key hash, SHARDS: a key is traced in every call or in none) and the
 * thread compacts its own chunks to the records still below it; the other threads' records are
 * filtered when the file is written. Distinct counts and reuse distances are then scaled by the
 * sampling rate ((threshold + 1) / 2^48). A thread's later chunks are mapped with MAP_POPULATE:
 * one system call instead of 256 page faults per chunk (a fault costs microseconds in a virtual
 * machine); its first is not (most threads fill a few pages of it).
 *
 * What it does not do: no cache, no lock, no allocation on the call path (a new chunk is one
 * mmap every 65534 traced calls); it never changes the arguments, the result or errno.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xxhash.h>

#include "base/base.h"
#include "obs_int.h"

#define CHUNK_BYTES (1u << 20)
#define TRACE_CHUNKS 64 /* 64 MiB of trace, 4 M records, before sampling */

struct chunk {
    struct chunk *next;  /* every chunk (global list, pushed with CAS) */
    struct chunk *tnext; /* the owner thread's chunks, oldest first */
    uint64_t pad[2];
    struct cm_obs_trace rec[];
};

#define CHUNK_RECS ((CHUNK_BYTES - sizeof(struct chunk)) / sizeof(struct cm_obs_trace))

union cm_obs_slot cm_obs_fns[CM_OBS_MAX];
uint64_t cm_obs_tick_bias;

static struct chunk *all_chunks;
static int nchunks;
static uint64_t threshold = CM_OBS_HASH_MASK;

static __thread struct cm_obs_trace *tr_pos __attribute__((tls_model("initial-exec")));
static __thread struct cm_obs_trace *tr_end __attribute__((tls_model("initial-exec")));
static __thread struct chunk *tr_first __attribute__((tls_model("initial-exec")));
static __thread struct chunk *tr_cur __attribute__((tls_model("initial-exec")));

/* populate: map every page now (a thread's later chunks: it traces much) or on first touch (its
 * first chunk: most threads trace a few pages' worth, and populating 1 MiB costs ~0.3 ms) */
static struct chunk *chunk_new(int populate)
{
    void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct chunk *c = p;
    c->next = __atomic_load_n(&all_chunks, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&all_chunks, &c->next, c, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
        ;
    __atomic_add_fetch(&nchunks, 1, __ATOMIC_RELAXED);
    return c;
}

static void zero(struct cm_obs_trace *p, struct cm_obs_trace *e)
{
    for (; p < e; p++)
        *p = (struct cm_obs_trace){0};
}

/* Keep only this thread's records with hash <= thr; the write position follows them. */
static void compact_mine(uint64_t thr)
{
    struct chunk *wc = tr_first;
    size_t wi = 0;
    for (struct chunk *c = tr_first; c; c = c->tnext)
        for (size_t i = 0; i < CHUNK_RECS && c->rec[i].word; i++) {
            struct cm_obs_trace t = c->rec[i];
            if (CM_OBS_TRACE_HASH(t.word) > thr)
                continue;
            if (wi == CHUNK_RECS) {
                wc = wc->tnext;
                wi = 0;
            }
            wc->rec[wi++] = t;
        }
    tr_cur = wc;
    tr_pos = wc->rec + wi;
    tr_end = wc->rec + CHUNK_RECS;
    zero(tr_pos, tr_end);
    for (struct chunk *c = wc->tnext; c; c = c->tnext)
        zero(c->rec, c->rec + CHUNK_RECS);
}

/* The current chunk is full (or there is none yet): move on. Leaves tr_pos NULL on failure. */
static void trace_more(void)
{
    int saved = errno;
    if (tr_cur && tr_cur->tnext) { /* a chunk freed by an earlier compaction */
        tr_cur = tr_cur->tnext;
        tr_pos = tr_cur->rec;
        tr_end = tr_pos + CHUNK_RECS;
        goto out;
    }
    if (!tr_first || __atomic_load_n(&nchunks, __ATOMIC_RELAXED) < TRACE_CHUNKS) {
        struct chunk *c = chunk_new(tr_first != NULL);
        if (!c) {
            tr_pos = tr_end = NULL;
            goto out;
        }
        if (tr_cur)
            tr_cur->tnext = c;
        else
            tr_first = c;
        tr_cur = c;
        tr_pos = c->rec;
        tr_end = tr_pos + CHUNK_RECS;
        goto out;
    }
    size_t mine = 0;
    for (struct chunk *c = tr_first; c; c = c->tnext)
        mine += CHUNK_RECS;
    for (int round = 0; round < 64; round++) {
        uint64_t thr = __atomic_load_n(&threshold, __ATOMIC_RELAXED) / 2;
        __atomic_store_n(&threshold, thr, __ATOMIC_RELAXED);
        compact_mine(thr);
        size_t used = 0;
        for (struct chunk *c = tr_first; c != tr_cur; c = c->tnext)
            used += CHUNK_RECS;
        used += (size_t)(tr_pos - tr_cur->rec);
        if (used < mine - mine / 4)
            break;
    }
out:
    errno = saved;
}

static uint64_t hash_str(const char *s)
{
    if (!s)
        return 0x6e756c6cu; /* NULL differs from "" */
    return XXH3_64bits(s, strnlen(s, CM_OBS_STR_MAX)) ^ 1;
}

__attribute__((flatten)) static uint64_t key_of(const struct cm_obs_fn *o, const struct cm_frame *f)
{
    uint64_t w[CM_OBS_KEY_MAX > 14 ? CM_OBS_KEY_MAX : 14];
    if (!__atomic_load_n(&o->planned, __ATOMIC_ACQUIRE)) {
        memcpy(w, f->gpr, sizeof(f->gpr));
        for (int i = 0; i < 8; i++)
            memcpy(&w[6 + i], f->xmm[i], 8);
        return XXH3_64bits(w, 14 * sizeof(uint64_t));
    }
    for (int i = 0; i < o->nkey; i++) {
        const struct cm_obs_item *k = &o->key[i];
        uint64_t v = 0;
        switch (k->kind) {
        case OBS_K_GPR:
            v = f->gpr[k->pos];
            break;
        case OBS_K_XMM:
            memcpy(&v, f->xmm[k->pos], 8);
            break;
        case OBS_K_STACK:
            v = f->stack[k->pos];
            break;
        case OBS_K_STR:
            v = hash_str((const char *)f->gpr[k->pos]);
            break;
        case OBS_K_STRSTACK:
            v = hash_str((const char *)f->stack[k->pos]);
            break;
        case OBS_K_MEM: {
            const void *b = (const void *)f->gpr[k->pos];
            uint64_t len = f->gpr[k->width] * (k->pad ? k->pad : 1);
            if (len > CM_OBS_BUF_MAX)
                len = CM_OBS_BUF_MAX;
            v = b ? XXH3_64bits_withSeed(b, (size_t)len, f->gpr[k->width]) : 0x6e756c6cu;
            w[i] = v;
            continue;
        }
        }
        if (k->width && k->width < 8)
            v &= (1ull << (8 * k->width)) - 1;
        w[i] = v;
    }
    return XXH3_64bits(w, (size_t)o->nkey * sizeof(uint64_t));
}

static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

/* xorshift64: which calls are timed (never 0 once seeded) */
static inline uint64_t next_rand(void)
{
    uint64_t x = rng;
    if (!x)
        x = (uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ull | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng = x;
    return x;
}

#define RELAXED_ADD(field, n)                                                                      \
    __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

/* How many calls the counting stub lets by before the next full one (SAMPLING in obs_int.h). */
static uint64_t full_ticks; /* CM_OBS_FULL_NS in ticks, converted at the first timed call */

static uint64_t full_ticks_now(void)
{
    uint64_t ft = __atomic_load_n(&full_ticks, __ATOMIC_RELAXED);
    if (!ft) {
        ft = cm_ns_to_ticks(CM_OBS_FULL_NS);
        ft = ft ? ft : 1;
        __atomic_store_n(&full_ticks, ft, __ATOMIC_RELAXED);
    }
    return ft;
}

int cm_obs_every_call;

static int64_t next_gap(const struct cm_obs_fn *o, uint64_t keyed)
{
    if (keyed < CM_OBS_FULL_FIRST || cm_obs_every_call)
        return 0;
    /* the median decides (a preempted call must not make a cheap function look slow) */
    uint64_t timed = __atomic_load_n(&o->timed, __ATOMIC_RELAXED);
    uint64_t slow = __atomic_load_n(&o->slow, __ATOMIC_RELAXED);
    if (timed && 2 * slow >= timed)
        return 0;
    /* uniform in [0, 2 x EVERY - 2]: mean EVERY - 1 calls by, one in EVERY full */
    return (int64_t)(next_rand() % (2 * CM_OBS_SAMPLE_EVERY - 1));
}

void cm_obs_call(struct cm_frame *f)
{
    struct cm_obs_fn *o = (struct cm_obs_fn *)(void *)f->fn;
    if (cm_guard) { /* cloudm's own call (counted by the stub all the same) */
        __atomic_store_n(&o->left, 0, __ATOMIC_RELAXED);
        cm_call_original(f);
        return;
    }
    uint64_t h = key_of(o, f) >> 16;
    uint64_t keyed = __atomic_load_n(&o->keyed, __ATOMIC_RELAXED);
    __atomic_store_n(&o->keyed, keyed + 1, __ATOMIC_RELAXED);
    /* a sampled call (the function was found cheap) is timed one time in CM_OBS_TIME_SAMPLED,
     * a full one one time in CM_OBS_TIME_EVERY, after the first CM_OBS_TIME_ALL */
    int sampled = __atomic_load_n(&o->calls, __ATOMIC_RELAXED) > keyed + 1;
    uint64_t every = sampled ? CM_OBS_TIME_SAMPLED : CM_OBS_TIME_EVERY;
    if (keyed < CM_OBS_TIME_ALL || (next_rand() & (every - 1)) == 0) {
        uint64_t t0 = cm_ticks();
        cm_call_original(f);
        uint64_t dt = cm_ticks() - t0;
        dt = dt > cm_obs_tick_bias ? dt - cm_obs_tick_bias : 0; /* the clock's own cost */
        RELAXED_ADD(o->ticks, dt);
        RELAXED_ADD(o->timed, 1);
        if (dt >= full_ticks_now())
            RELAXED_ADD(o->slow, 1);
    } else {
        cm_call_original(f);
    }
    __atomic_store_n(&o->left, next_gap(o, keyed + 1), __ATOMIC_RELAXED);
    if (h > __atomic_load_n(&threshold, __ATOMIC_RELAXED))
        return;
    if (tr_pos == tr_end) {
        trace_more();
        if (!tr_pos)
            return;
    }
    __atomic_store_n(&tr_pos->word, CM_OBS_TRACE(o->id + 1, h), __ATOMIC_RELEASE);
    tr_pos++;
}

/* What cm_obs_entry_keep saves besides the frame (the layout of keep.c's cm_keep_area). */
struct obs_keep {
    uint64_t gpr[8]; /* rdi rsi rdx rcx r8 r9 rax r10 */
    _Alignas(16) uint8_t xmm[16][16];
};
_Static_assert(sizeof(struct obs_keep) == CMK_SIZE, "keep area size (frame.h CMK_SIZE)");
_Static_assert(offsetof(struct obs_keep, xmm) == CMK_XMM, "keep area xmm (frame.h CMK_XMM)");

void cm_obs_call_keep(struct cm_frame *f, struct obs_keep *k);

void cm_obs_call_keep(struct cm_frame *f, struct obs_keep *k)
{
    cm_obs_call(f);
    /* every register the original may have returned in: what it left there (an untouched one
     * still holds the caller's value, which the frame passed in) */
    k->gpr[6] = f->ret_rax;
    k->gpr[2] = f->ret_rdx;
    memcpy(k->xmm[0], f->ret_xmm0, 16);
    memcpy(k->xmm[1], f->ret_xmm1, 16);
}

void cm_obs_calibrate(void)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 16; i++) { /* the least of 16: rdtsc may cost ~75 ns in a VM */
        uint64_t t0 = cm_ticks();
        uint64_t t1 = cm_ticks();
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    cm_obs_tick_bias = best == UINT64_MAX ? 0 : best;
}

uint64_t cm_obs_trace_foreach(void (*each)(const struct cm_obs_trace *t, void *ctx), void *ctx)
{
    uint64_t thr = __atomic_load_n(&threshold, __ATOMIC_RELAXED);
    /* oldest chunk first: the list is newest first, and a thread's chunks were created in the
     * order it fills them */
    int n = 0;
    for (struct chunk *c = __atomic_load_n(&all_chunks, __ATOMIC_ACQUIRE); c; c = c->next)
        n++;
    struct chunk **v = malloc((size_t)(n ? n : 1) * sizeof(*v));
    if (!v)
        return thr;
    int k = n;
    for (struct chunk *c = __atomic_load_n(&all_chunks, __ATOMIC_ACQUIRE); c && k > 0; c = c->next)
        v[--k] = c;
    for (int j = k; j < n; j++) {
        struct chunk *c = v[j];
        for (size_t i = 0; i < CHUNK_RECS; i++) {
            struct cm_obs_trace t;
            t.word = __atomic_load_n(&c->rec[i].word, __ATOMIC_ACQUIRE);
            if (!t.word)
                break;
            if (CM_OBS_TRACE_HASH(t.word) <= thr)
                each(&t, ctx);
        }
    }
    free(v);
    return thr;
}

void cm_obs_after_fork(void)
{
    for (int i = 0; i < CM_OBS_MAX; i++) { /* GOT and inline records alike */
        cm_obs_fns[i].fn.calls = 0;
        cm_obs_fns[i].fn.left = 0;
        cm_obs_fns[i].fn.ticks = 0;
        cm_obs_fns[i].fn.timed = 0;
        cm_obs_fns[i].fn.keyed = 0;
    }
    all_chunks = NULL; /* the parent's chunks stay mapped, unused (copy-on-write) */
    nchunks = 0;
    threshold = CM_OBS_HASH_MASK;
    tr_pos = tr_end = NULL;
    tr_first = tr_cur = NULL;
}
