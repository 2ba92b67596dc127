/*
 * dispatch.c - what happens on every hooked call: guard, key, lookup, hit restore or miss call
 * and store, counters.
 *
 * What it does: cm_dispatch() is called by the entry code with the saved register frame. It
 * sends calls made from inside cloudm straight to the original (recursion guard), builds the
 * call's key, answers from the memory tier when it can, and otherwise calls the original
 * (clearing the guard while it runs, so nested memoized calls are memoized too), records the
 * result and counts what happened. The host's errno is preserved: it is untouched on a hit
 * (unless the function is configured with `errno = yes`, then it is the recorded value) and on
 * a miss it is what the original left.
 *
 * A sampled fraction of hits (verify = RATE) runs the original too and compares (verify.c); in
 * probe mode (`cloudm probe`) every call runs the original under the probe's checks
 * (probecall.c).
 *
 * What it does not do: hooking (got.c), variant set-up (bind.c), key encoding (key.c), storage
 * (memtier.c, shared.c, remote_tier.c), formatting (report.c).
 *
 * Tier order: memory, then shared, then remote; a hit in a later tier fills the earlier ones (not
 * in readonly mode). A miss everywhere runs the original and stores its result in every tier
 * (the remote one through its background writer).
 *
 * Hot path budget (a memory hit): no lock, no allocation once this thread's buffers exist, no
 * system call, no call into a hooked libc function; counters are per-thread plain stores.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "base/base.h"
#include "frame.h"
#include "key.h"
#include "probe/probe.h"
#include "probecall.h"
#include "tier/tier.h"
#include "verify.h"

_Static_assert(offsetof(struct cm_frame, gpr) == CMF_GPR, "frame layout");
_Static_assert(offsetof(struct cm_frame, rax) == CMF_RAX, "frame layout");
_Static_assert(offsetof(struct cm_frame, r10) == CMF_R10, "frame layout");
_Static_assert(offsetof(struct cm_frame, stack) == CMF_STACK, "frame layout");
_Static_assert(offsetof(struct cm_frame, fn) == CMF_FN, "frame layout");
_Static_assert(offsetof(struct cm_frame, ret_rax) == CMF_RET_RAX, "frame layout");
_Static_assert(offsetof(struct cm_frame, ret_rdx) == CMF_RET_RDX, "frame layout");
_Static_assert(offsetof(struct cm_frame, xmm) == CMF_XMM, "frame layout");
_Static_assert(offsetof(struct cm_frame, ret_xmm0) == CMF_RET_XMM0, "frame layout");
_Static_assert(offsetof(struct cm_frame, ret_xmm1) == CMF_RET_XMM1, "frame layout");
_Static_assert(sizeof(struct cm_frame) == CMF_SIZE, "frame layout");
_Static_assert(offsetof(struct cm_fn, orig) == CM_FN_ORIG, "descriptor layout");
_Static_assert(offsetof(struct cm_fn, flags) == CM_FN_FLAGS, "descriptor layout");
_Static_assert(offsetof(struct cm_fn, nstack) == CM_FN_NSTACK, "descriptor layout");
_Static_assert(sizeof(struct cm_fn) <= CM_FN_SIZE, "descriptor too large");
_Static_assert(sizeof(union cm_fn_slot) == CM_FN_SIZE, "descriptor slot size");

void cm_dispatch(struct cm_frame *f);

#define STACK_BUF 256 /* keys and values up to this size never touch the scratch buffers */

/* Run the original with the guard cleared; returns elapsed ticks and errno after it. */
static uint64_t run_original(struct cm_frame *f, int *err)
{
    uint64_t t0 = cm_ticks();
    cm_guard = 0;
    cm_call_original(f);
    *err = errno;
    cm_guard = 1;
    return cm_ticks() - t0;
}

/* Look the key up; returns 0 on a hit (frame and outputs restored), -1 otherwise. */
static int lookup(struct cm_fn *fn, struct cm_frame *f, struct cm_callinfo *ci, uint64_t h,
                  const uint8_t *k, uint32_t klen)
{
    uint8_t vstack[STACK_BUF] __attribute__((aligned(8)));
    uint8_t *v = vstack, *raw = NULL;
    uint32_t vcap = sizeof(vstack), scap = 0, need = 0;
    long n = cm_mem_get(fn->id, h, k, klen, v, vcap, raw, scap, &need);
    if (n == -2) {
        v = cm_tls_scratch(CM_SCRATCH_VAL, need);
        raw = cm_tls_scratch(CM_SCRATCH_RAW, (size_t)need + klen + 64);
        if (!v || !raw)
            return -1;
        n = cm_mem_get(fn->id, h, k, klen, v, need, raw, need + klen + 64, &need);
    }
    if (n < 0)
        return -1;
    if (cm_verify_sample(fn)) {
        cm_verify_hit(fn, f, ci, v, (uint32_t)n);
        return 0;
    }
    return cm_value_restore(fn, f, ci, v, (uint32_t)n);
}

/*
 * The scalar fast path, for functions whose parameters and return value are all scalars and
 * whose key and value fit one inline slot (bind.c decides). Its memory-tier key is one word per
 * keyed parameter, masked to the declared width: the memory tier never leaves the process, so
 * it need not use the canonical byte layout (docs/keys.md), and whole words make building,
 * hashing and comparing it a handful of instructions. Both the hit and the miss below use it,
 * so the two always agree.
 */
static inline uint64_t fast_word(const struct cm_fn *fn, const struct cm_frame *f, int i)
{
    int src = fn->fast_src[i];
    uint64_t v = src >= 0 ? *(const uint64_t *)((const char *)f + src) : f->stack[-1 - src];
    return v & fn->fast_mask[i];
}

/* A hit for a key of exactly n words (n constant in each instantiation): build the key into
 * kw[5-n .. 4] (the slot positions), hash it, probe both ways of its set. *hp receives the hash
 * for the miss path. */
static inline __attribute__((always_inline)) int fast_hit_n(struct cm_fn *fn, struct cm_frame *f,
                                                            const int n, const int verify,
                                                            uint64_t *kw, uint64_t *hp);

/* Value words: the raw return register (none for void), then `writes` globals, then errno: the
 * canonical value layout (docs/keys.md), so the shared tier can hold the same bytes. */
static inline void fast_restore(const struct cm_fn *fn, struct cm_frame *f, const uint64_t *vw)
{
    const uint8_t *q = (const uint8_t *)vw;
    if (fn->fast_ret_sse)
        __builtin_memcpy(f->ret_xmm0, &vw[0], 8), q += 8;
    else if (!fn->fast_ret_void)
        f->ret_rax = vw[0], q += 8;
    if (!fn->fast_side)
        return;
    const struct cm_function *c = fn->cfg;
    for (int g = 0; g < c->nwrites; g++) {
        uint8_t *dst = fn->writes_addr[g];
        uint32_t n = c->writes[g].size;
        if (n == 4)
            __builtin_memcpy(dst, q, 4);
        else if (n == 8)
            __builtin_memcpy(dst, q, 8);
        else
            for (uint32_t b = 0; b < n; b++)
                dst[b] = q[b];
        q += n;
    }
    if (c->save_errno) {
        int e;
        __builtin_memcpy(&e, q, 4);
        errno = e;
    }
}

static inline __attribute__((always_inline)) int fast_hit_n(struct cm_fn *fn, struct cm_frame *f,
                                                            const int n, const int verify,
                                                            uint64_t *kw, uint64_t *hp)
{
    uint64_t h = fn->seed, vw[5];
    for (int i = 5 - n; i < 5; i++) {
        kw[i] = fast_word(fn, f, i);
        h = (((h << 32) | (h >> 32)) ^ kw[i]) * 0x9E3779B97F4A7C15ull;
    }
    *hp = h;
    struct cm_slot *set = cm_mem_set(h);
    uint32_t fn1 = fn->id + 1;
    long r = cm_mem_slot_get_n(&set[0], fn1, h, kw, n, vw);
    if (r < 0)
        r = cm_mem_slot_get_n(&set[1], fn1, h, kw, n, vw);
    if (r != fn->fast_vlen)
        return 0;
    /* verify is a compile-time constant here: functions without it pay nothing, the others
     * one per-thread decrement (cm_verify_sample without its test of verify_every) */
    if (verify && --cm_verify_left <= 0) {
        cm_verify_left = fn->verify_every;
        cm_verify_words(fn, f, vw);
        return 1;
    }
    fast_restore(fn, f, vw);
    return 1;
}

/* How a call's result goes into the memory tier: under the fast path's word key, or under the
 * canonical argument bytes. */
struct memkey {
    const uint64_t *kw; /* word key (fast path), or NULL */
    uint64_t h;
    const uint8_t *k; /* argument bytes (general path) */
    uint32_t klen;
};

static void mem_store(struct cm_fn *fn, const struct memkey *mk, const uint8_t *v, uint32_t vlen)
{
    if (!cm_tier_memory)
        return;
    if (mk->kw) {
        uint64_t vw[5] = {0, 0, 0, 0, 0};
        memcpy(vw, v, vlen); /* vlen <= 40 - fast_klen, checked by bind */
        cm_mem_put_words(fn->id, mk->h, mk->kw, fn->fast_mask, fn->fast_klen, vw, vlen);
        return;
    }
    if ((uint64_t)vlen + mk->klen + 64 > cm_mem_max_entry())
        return;
    size_t rawsz = (size_t)vlen + mk->klen + 64;
    uint8_t *raw = cm_tls_scratch(CM_SCRATCH_RAW, rawsz);
    if (raw)
        cm_mem_put(fn->id, mk->h, mk->k, mk->klen, v, vlen, raw, (uint32_t)rawsz);
}

/* Answer from the shared tier if it has the entry (and fill the memory tier). */
static int shared_hit(struct cm_frame *f, struct cm_fn *fn, struct cm_tstats *ts,
                      struct cm_callinfo *ci, const struct cm_fullkey *fk, const struct memkey *mk)
{
    const uint8_t *v;
    long n = cm_shared_get(fk, &v);
    if (n < 0 || cm_verify_seg_check(fn))
        return 0;
    if (cm_verify_sample(fn))
        cm_verify_hit(fn, f, ci, v, (uint32_t)n);
    else if (cm_value_restore(fn, f, ci, v, (uint32_t)n) < 0)
        return 0;
    if (fn->mode != CM_MODE_READONLY)
        mem_store(fn, mk, v, (uint32_t)n);
    if (ts)
        CM_STAT_ADD(ts, fn->id, hit_shared, 1);
    cm_shared_flush_stats(0);
    return 1;
}

/* Answer from the remote tier if it has the entry (and fill the shared and memory tiers). */
static int remote_hit(struct cm_frame *f, struct cm_fn *fn, struct cm_tstats *ts,
                      struct cm_callinfo *ci, const struct cm_fullkey *fk, const struct memkey *mk,
                      int shared)
{
    const uint8_t *v;
    long n = cm_remote_get(fn, fk, &v);
    if (n < 0)
        return 0;
    if (cm_verify_sample(fn))
        cm_verify_hit(fn, f, ci, v, (uint32_t)n);
    else if (cm_value_restore(fn, f, ci, v, (uint32_t)n) < 0)
        return 0;
    if (fn->mode != CM_MODE_READONLY) {
        mem_store(fn, mk, v, (uint32_t)n);
        if (shared)
            cm_shared_put(fn, fk, v, (uint32_t)n);
    }
    if (ts)
        CM_STAT_ADD(ts, fn->id, hit_remote, 1);
    cm_shared_flush_stats(0);
    return 1;
}

/*
 * Everything after the memory tier could not answer (or was not asked, in writeonly mode):
 * the shared tier, single-flight, running the original, recording the result in every tier.
 * `args` are the canonical argument bytes of the call (ci measured and written). The guard is
 * set on entry and on return.
 */
static void complete(struct cm_frame *f, struct cm_fn *fn, struct cm_tstats *ts,
                     struct cm_callinfo *ci, const uint8_t *args, uint32_t alen,
                     const struct memkey *mk)
{
    uint8_t kbuf[STACK_BUF] __attribute__((aligned(8)));
    struct cm_fullkey fk;
    /* The full key serves the shared and the remote tier; calls whose key only means something
     * inside this process (handles) stay out of both. */
    int keyed = (cm_shared_seg || cm_remote_reads || cm_remote_writes) && !ci->process_local &&
                cm_shared_key(fn, args, alen, kbuf, sizeof(kbuf), &fk) == 0;
    int shared = keyed && cm_shared_seg;
    uint32_t ticket = 0;
    int flight = CM_FLIGHT_COMPUTE, err;
    if (keyed && fn->mode != CM_MODE_WRITEONLY) {
        if (shared && shared_hit(f, fn, ts, ci, &fk, mk))
            return;
        if (cm_remote_reads && remote_hit(f, fn, ts, ci, &fk, mk, shared))
            return;
    }
    if (shared && fn->mode != CM_MODE_WRITEONLY) {
        if (fn->mode != CM_MODE_READONLY)
            flight = cm_shared_flight_begin(fn, &fk, &ticket);
        /* Look again after a wait, and after winning a claim: the winner of the previous round
         * may have stored the value between our lookup and our claim. */
        if (flight != CM_FLIGHT_COMPUTE && shared_hit(f, fn, ts, ci, &fk, mk)) {
            if (flight == CM_FLIGHT_COMPUTE_DONE)
                cm_shared_flight_end(ticket);
            return;
        }
        if (flight == CM_FLIGHT_LOOK_AGAIN)
            flight = CM_FLIGHT_COMPUTE;
    }
    uint64_t dt = run_original(f, &err);
    int bad = 0;
    if (fn->mode != CM_MODE_READONLY && dt >= fn->min_ticks) {
        int64_t vlen = cm_value_measure(fn, f, ci);
        uint8_t *val = vlen >= 0 ? cm_tls_scratch(CM_SCRATCH_VAL, (size_t)vlen + 1) : NULL;
        bad = vlen < 0;
        if (val) {
            cm_value_write(fn, f, ci, err, val);
            mem_store(fn, mk, val, (uint32_t)vlen);
            if (shared)
                cm_shared_put(fn, &fk, val, (uint32_t)vlen);
            if (keyed && cm_remote_writes)
                cm_remote_put(fn, &fk, val, (uint32_t)vlen);
        }
    }
    if (flight == CM_FLIGHT_COMPUTE_DONE)
        cm_shared_flight_end(ticket);
    if (ts) {
        if (bad) {
            CM_STAT_ADD(ts, fn->id, errors, 1);
        } else {
            CM_STAT_ADD(ts, fn->id, misses, 1);
            CM_STAT_ADD(ts, fn->id, miss_ticks, dt);
        }
    }
    if (shared) {
        cm_shared_note_miss(fn, cm_ticks_to_ns(dt));
        cm_shared_flush_stats(0);
    }
    errno = err;
}

/* A fast-path miss. With the memory tier alone: run the original and record its result under
 * the word key, nothing else. With a shared or remote tier: the general completion, which needs
 * the canonical bytes. */
__attribute__((noinline)) static void fast_miss(struct cm_frame *f, struct cm_fn *fn,
                                                const uint64_t *kw, uint64_t h)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
    if (cm_shared_seg || cm_remote_reads || cm_remote_writes) {
        struct cm_callinfo ci;
        uint8_t args[STACK_BUF] __attribute__((aligned(8)));
        cm_args_read(fn, f, &ci);
        int64_t alen = cm_key_measure(fn, &ci); /* scalars only: never fails, <= 8 * params */
        cm_key_write(fn, &ci, args);
        struct memkey mk = {.kw = kw, .h = h};
        complete(f, fn, ts, &ci, args, (uint32_t)alen, &mk);
        cm_guard = 0;
        return;
    }
    uint64_t t0 = cm_ticks();
    cm_guard = 0;
    cm_call_original(f);
    uint64_t dt = cm_ticks() - t0;
    cm_guard = 1;
    if (fn->mode == CM_MODE_READWRITE && dt >= fn->min_ticks) {
        uint64_t vw[5] = {0, 0, 0, 0, 0};
        uint8_t *q = (uint8_t *)vw;
        if (fn->fast_ret_sse)
            memcpy(q, f->ret_xmm0, 8), q += 8;
        else if (!fn->fast_ret_void)
            memcpy(q, &f->ret_rax, 8), q += 8;
        const struct cm_function *c = fn->cfg;
        for (int g = 0; g < c->nwrites; g++) {
            memcpy(q, fn->writes_addr[g], c->writes[g].size);
            q += c->writes[g].size;
        }
        if (c->save_errno) {
            int e = errno;
            memcpy(q, &e, 4);
        }
        cm_mem_put_words(fn->id, h, kw, fn->fast_mask, fn->fast_klen, vw, fn->fast_vlen);
    }
    if (ts) {
        CM_STAT_ADD(ts, fn->id, misses, 1);
        CM_STAT_ADD(ts, fn->id, miss_ticks, dt);
    }
    cm_guard = 0;
}

static void dispatch_slow(struct cm_frame *f, struct cm_fn *fn);

/* Called by cm_entry. The fast path is inlined here and calls nothing on a hit (so it needs no
 * guard); everything else is out of line. */
void cm_dispatch(struct cm_frame *f)
{
    struct cm_fn *fn = f->fn;
    if (cm_guard) {
        cm_call_original(f);
        return;
    }
    if (!fn->fast) {
        dispatch_slow(f, fn);
        return;
    }
    struct cm_tstats *ts = cm_stats_mine;
    uint64_t kw[5], h;
    int hit;
    switch (fn->fast_sw) { /* key words, + 5 with verify (bind.c) */
    case 0:
        hit = fast_hit_n(fn, f, 0, 0, kw, &h);
        break;
    case 1:
        hit = fast_hit_n(fn, f, 1, 0, kw, &h);
        break;
    case 2:
        hit = fast_hit_n(fn, f, 2, 0, kw, &h);
        break;
    case 3:
        hit = fast_hit_n(fn, f, 3, 0, kw, &h);
        break;
    case 4: /* a key of 4 words leaves one word for the value, the most there can be */
        hit = fast_hit_n(fn, f, 4, 0, kw, &h);
        break;
    case 5:
        hit = fast_hit_n(fn, f, 0, 1, kw, &h);
        break;
    case 6:
        hit = fast_hit_n(fn, f, 1, 1, kw, &h);
        break;
    case 7:
        hit = fast_hit_n(fn, f, 2, 1, kw, &h);
        break;
    case 8:
        hit = fast_hit_n(fn, f, 3, 1, kw, &h);
        break;
    default:
        hit = fast_hit_n(fn, f, 4, 1, kw, &h);
        break;
    }
    if (hit) {
        if (!ts) /* first call on this thread: its counters do not exist yet */
            ts = cm_stats_self();
        if (ts)
            CM_STAT_ADD(ts, fn->id, hit_mem, 1);
        return;
    }
    fast_miss(f, fn, kw, h);
}

/* Every function the fast path does not take. */
__attribute__((noinline)) static void dispatch_slow(struct cm_frame *f, struct cm_fn *fn)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
    uint32_t id = fn->id;

    struct cm_callinfo ci;
    cm_args_read(fn, f, &ci);
    int64_t klen = cm_key_measure(fn, &ci);
    int err;
    if (klen < 0 || (uint64_t)klen > cm_mem_max_entry()) {
        run_original(f, &err);
        if (ts) {
            if (klen < 0)
                CM_STAT_ADD(ts, id, errors, 1);
            else
                CM_STAT_ADD(ts, id, bypassed, 1);
        }
        goto out;
    }
    uint8_t kstack[STACK_BUF] __attribute__((aligned(8)));
    uint8_t *k = kstack;
    if (klen > STACK_BUF && !(k = cm_tls_scratch(CM_SCRATCH_KEY, (size_t)klen))) {
        run_original(f, &err);
        if (ts)
            CM_STAT_ADD(ts, id, errors, 1);
        goto out;
    }
    cm_key_write(fn, &ci, k);
    /* The memory tier's index hash (and profile mode's distinct set); not needed otherwise. */
    uint64_t h = cm_tier_memory || fn->mode == CM_MODE_PROFILE
                     ? cm_key_hash(k, (uint32_t)klen, fn->seed)
                     : 0;

    if (fn->mode == CM_MODE_PROFILE) {
        if (cm_stats_distinct_add(id, h))
            __atomic_add_fetch(&fn->distinct, 1, __ATOMIC_RELAXED);
        uint64_t dt;
        if (cm_probe_on) { /* cloudm probe: profile mode plus the probe's checks */
            uint64_t t0 = cm_ticks();
            cm_probe_dispatch(f, fn, &ci, h, &err);
            dt = cm_ticks() - t0;
        } else {
            dt = run_original(f, &err);
        }
        if (ts) {
            CM_STAT_ADD(ts, id, misses, 1);
            CM_STAT_ADD(ts, id, miss_ticks, dt);
        }
        goto out;
    }
    if (cm_tier_memory && fn->mode != CM_MODE_WRITEONLY &&
        lookup(fn, f, &ci, h, k, (uint32_t)klen) == 0) {
        if (ts)
            CM_STAT_ADD(ts, id, hit_mem, 1);
        cm_guard = 0;
        return;
    }
    struct memkey mk = {.h = h, .k = k, .klen = (uint32_t)klen};
    complete(f, fn, ts, &ci, k, (uint32_t)klen, &mk);
    cm_guard = 0;
    return;
out:
    errno = err;
    cm_guard = 0;
}
