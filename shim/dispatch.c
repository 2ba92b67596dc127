/*
 * dispatch.c - what happens on every hooked call: guard, key, lookup, hit restore or miss call
 * and store, counters.
 *
 * What it does: the entry code (arch/x86_64/entry.S) calls cm_dispatch_before() with the saved
 * register frame. It sends calls made from inside cloudm straight to the original (recursion
 * guard: CM_BEFORE_PASS, the entry code tail-jumps there), builds the call's key and answers
 * from the tiers when it can (CM_BEFORE_DONE: the return registers are in the frame). On a miss
 * it returns a miss slot: the call's state (registers, key, single-flight claim, start time)
 * pushed on the thread's nesting store (base/tls.c), and the entry code calls the original
 * itself with the guard cleared (so nested memoized calls are memoized too), then
 * cm_dispatch_after(slot) records the result, releases the claim and counts. The C code has
 * returned before the original runs, so a memoized level costs the host's stack only what the
 * entry code keeps (docs/design.md "Call path"; issue 16). The host's errno is preserved: it is
 * untouched on a hit (unless the function is configured with `errno = yes`, then it is the
 * recorded value) and on a miss it is what the original left.
 *
 * Miss slots of calls abandoned by longjmp() or a C++ exception are freed when a later call of
 * the thread is entered at or above them on the same stack (their claims: tier/shared.c). A slot
 * is freed only once every slot above it is finished or abandoned, so calls finishing out of
 * order (coroutines switching stacks) never reuse a live slot's memory. When the store is used
 * up (CM_NEST_MAX a thread), calls go straight to the original (bypassed, `too_deep`).
 *
 * A sampled fraction of hits (verify = RATE) runs the original too and compares (verify.c); in
 * probe mode (`cloudm probe`) every call runs the original under the probe's checks
 * (probecall.c).
 *
 * What it does not do: hooking (got.c), variant set-up (bind.c), key encoding (key.c), storage
 * (memtier.c, shared.c, remote_tier.c), formatting (report.c), explaining bypasses (bypass.c).
 *
 * Tier order: memory, then shared, then remote; a hit in a later tier fills the earlier ones (not
 * in readonly mode; a shared hit fills the memory tier from the key's second shared hit on). A miss
 * everywhere runs the original and stores its result in every tier (the remote one through its
 * background writer).
 *
 * Hot path budget (a memory hit): no lock, no allocation once this thread's buffers exist, no
 * system call, no call into a hooked libc function; counters are per-thread plain stores.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "base/base.h"
#include "bypass.h"
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

#define STACK_BUF 256        /* keys and values up to this size never touch the scratch buffers */
#define VIEW_MIN (64u << 10) /* memory-tier entries from this size are restored in place */

/* Look the key up; returns 0 on a hit (frame and outputs restored), -1 otherwise. */
static int lookup(struct cm_fn *fn, struct cm_frame *f, struct cm_callinfo *ci, uint64_t h,
                  const uint8_t *k, uint32_t klen)
{
    uint8_t vstack[STACK_BUF] __attribute__((aligned(8)));
    uint8_t *v = vstack, *raw = NULL;
    uint32_t vcap = sizeof(vstack), scap = 0, need = 0;
    long n = cm_mem_get(fn->id, h, k, klen, v, vcap, raw, scap, &need);
    if (n == -2 && !fn->has_inout && !fn->verify_every && need >= VIEW_MIN) {
        /* A large value: restore straight from the ring (one copy per output, checksummed as it
         * is copied), then make sure the ring did not overwrite it meanwhile; if the checksum or
         * that fails, the outputs hold garbage and the original runs and rewrites them (why
         * inout functions take the copying path below). */
        struct cm_memview mv;
        struct cm_hcopy hc;
        if (cm_mem_view(fn->id, h, k, klen, &mv) < 0)
            goto copy; /* not there, or views unavailable (ThreadSanitizer builds) */
        cm_hcopy_start(&hc, mv.kv, mv.v + mv.vlen, mv.seed, mv.csum);
        if (cm_value_restore_with(fn, f, ci, mv.v, mv.vlen, cm_hcopy_copy, &hc) < 0)
            return -1;
        return cm_hcopy_finish(&hc) && cm_mem_view_ok(mv.pos) ? 0 : -1;
    }
copy:
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
 * kw[5-n .. 4] (the slot positions), hash it, probe both ways of its set. The miss paths build
 * the key again (fast_key), so that nothing of the hit path needs to live in memory. */
static inline __attribute__((always_inline)) int fast_hit_n(struct cm_fn *fn, struct cm_frame *f,
                                                            const int n, const int verify);

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
                                                            const int n, const int verify)
{
    /* the set's shift first (acquire: it comes with its index, tier.h); 63 is the empty tier's
     * stand-in (memtier.c), where nothing is to be found: a fresh process answered by the
     * segment goes there without hashing and probing */
    unsigned shift = __atomic_load_n(&cm_mem_shift, __ATOMIC_ACQUIRE);
    if (__builtin_expect(shift == 63, 0))
        return 0;
    uint64_t h = fn->seed, vw[5], kw[5];
    for (int i = 5 - n; i < 5; i++) {
        kw[i] = fast_word(fn, f, i);
        h = (((h << 32) | (h >> 32)) ^ kw[i]) * 0x9E3779B97F4A7C15ull;
    }
    struct cm_slot *set = cm_mem_set_at(h, shift);
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
    if (!cm_tier_memory || fn->sensitive) /* a sensitive value is never kept in the clear */
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

/* The state of a call whose original runs, in the nesting store (see the header comment). */
enum { MISS_FAST = 1, MISS_TIERS, MISS_PROFILE };
struct cm_miss {
    struct cm_frame f;      /* CMF_*: the entry code loads the arguments, stores the results */
    uint8_t keep[CMK_SIZE]; /* inline hooks: every register as it was (keep.c) */
    struct cm_miss *prev;   /* the open call pushed before this one */
    uintptr_t at;           /* where the call's stack arguments start: its depth on the stack */
    struct cm_fn *fn;
    struct cm_tstats *ts;
    uint64_t t0;
    uint8_t kind, done, keyed, shared;
    int flight;
    uint32_t ticket, alen;
    uint64_t kw[5];
    struct memkey mk;
    /* MISS_TIERS only (the slot of the others ends here) */
    struct cm_fullkey fk;
    struct cm_callinfo ci;
    uint8_t bytes[]; /* the argument bytes (alen), then the full key (fk.len) */
};
_Static_assert(offsetof(struct cm_miss, keep) == CMF_SIZE, "miss slot layout (frame.h)");
#define MISS_SMALL offsetof(struct cm_miss, fk)

static __thread struct cm_miss *miss_top __attribute__((tls_model("initial-exec")));

/* Free the top of the store while it holds finished calls, or calls entered at or below `here`
 * on this thread's stack: those were abandoned (nothing returns to them any more). */
static void miss_reclaim(uintptr_t here)
{
    struct cm_miss *t = miss_top, *low = NULL;
    while (t && (t->done || (t->at <= here && cm_stack_same(t->at, here)))) {
        low = t;
        t = t->prev;
    }
    if (low) {
        cm_tls_pop(low);
        miss_top = t;
    }
}

/* A slot of `size` bytes for the call in f, or NULL (the store is used up). Guard set. */
static struct cm_miss *miss_push(struct cm_frame *f, size_t size, int kind, struct cm_tstats *ts)
{
    uintptr_t at = (uintptr_t)f->stack;
    if (miss_top)
        miss_reclaim(at);
    struct cm_miss *m = cm_tls_push(size);
    if (!m)
        return NULL;
    memcpy(&m->f, f, sizeof(*f));
    m->prev = miss_top;
    m->at = at;
    m->fn = f->fn;
    m->ts = ts;
    m->kind = (uint8_t)kind;
    m->done = 0;
    miss_top = m;
    return m;
}

/* The nesting store is used up: the call goes straight to the original, counted. */
static void *too_deep(struct cm_fn *fn, struct cm_tstats *ts)
{
    cm_bypass(fn, ts, CM_WHY_DEPTH, 0);
    cm_guard = 0;
    return CM_BEFORE_PASS_P;
}

/* Answer from the shared tier if it has the entry (and fill the memory tier). */
static int shared_hit(struct cm_frame *f, struct cm_fn *fn, struct cm_tstats *ts,
                      struct cm_callinfo *ci, const struct cm_fullkey *fk, const struct memkey *mk)
{
    struct cm_seg_view view = {0};
    long n = cm_shared_get(fk, &view, !fn->has_inout && !fn->verify_every);
    if (n < 0)
        return 0;
    if (cm_verify_seg_check(fn)) {
        cm_seg_view_done(&view);
        return 0;
    }
    int r = 0;
    if (cm_verify_sample(fn)) /* verify_every: the view was verified by the lookup */
        cm_verify_hit(fn, f, ci, view.v, (uint32_t)n);
    else if (view.unverified) { /* a blob: verified while it is copied (see hcopy.c) */
        struct cm_hcopy hc;
        cm_hcopy_start(&hc, view.v, view.v + view.len, view.seed, view.csum);
        r = cm_value_restore_with(fn, f, ci, view.v, (uint32_t)n, cm_hcopy_copy, &hc);
        if (r == 0 && !cm_hcopy_finish(&hc))
            r = -1; /* the outputs hold garbage: the original runs and rewrites them */
    } else {
        r = cm_value_restore(fn, f, ci, view.v, (uint32_t)n);
    }
    if (r < 0) {
        cm_seg_view_done(&view);
        return 0;
    }
    if (fn->mode != CM_MODE_READONLY && n < CM_SHARED_NOFILL && cm_tier_memory &&
        cm_shared_fill_wanted(fk->h)) /* from the second hit of a key on (tier.h) */
        mem_store(fn, mk, view.v, (uint32_t)n);
    cm_seg_view_done(&view);
    if (ts)
        CM_STAT_ADD(ts, fn->id, hit_shared, 1);
    cm_shared_flush_hit();
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
    cm_shared_flush_hit();
    return 1;
}

/*
 * Everything after the memory tier could not answer (or was not asked, in writeonly mode):
 * the shared and remote tiers, single-flight, and on a miss the slot in which the result is
 * recorded in every tier once the original ran (complete_done). `args` are the canonical
 * argument bytes of the call (ci measured and written). Returns CM_BEFORE_DONE_P (a hit), a
 * miss slot, or CM_BEFORE_PASS_P (the store is used up). The guard is set on entry and stays
 * set. Inlined into its two callers: their frames are gone before the original runs anyway.
 */
static inline __attribute__((always_inline)) void *
complete(struct cm_frame *f, struct cm_fn *fn, struct cm_tstats *ts, struct cm_callinfo *ci,
         const uint8_t *args, uint32_t alen, const struct memkey *mk, int looked)
{
    uint8_t kbuf[STACK_BUF] __attribute__((aligned(8)));
    struct cm_fullkey fk;
    /* The full key serves the shared and the remote tier; calls whose key only means something
     * inside this process (handles) stay out of both. */
    int rreads = cm_remote_reads && fn->remote_ok, rwrites = cm_remote_writes && fn->remote_ok;
    int keyed = (cm_shared_seg || rreads || rwrites) && !ci->process_local &&
                cm_shared_key(fn, args, alen, kbuf, sizeof(kbuf), &fk) == 0;
    int shared = keyed && cm_shared_seg;
    uint32_t ticket = 0;
    int flight = CM_FLIGHT_COMPUTE;
    if (keyed && fn->mode != CM_MODE_WRITEONLY) {
        if (shared && !looked && shared_hit(f, fn, ts, ci, &fk, mk))
            return CM_BEFORE_DONE_P;
        if (rreads && remote_hit(f, fn, ts, ci, &fk, mk, shared))
            return CM_BEFORE_DONE_P;
    }
    if (shared && fn->mode != CM_MODE_WRITEONLY) {
        /* the claim is remembered with the call's depth on the stack (its stack arguments) */
        if (fn->mode != CM_MODE_READONLY)
            flight = cm_shared_flight_begin(fn, &fk, &ticket, f->stack);
        /* Look again after a wait, and after winning a claim: the winner of the previous round
         * may have stored the value between our lookup and our claim. */
        if (flight != CM_FLIGHT_COMPUTE && shared_hit(f, fn, ts, ci, &fk, mk)) {
            if (flight == CM_FLIGHT_COMPUTE_DONE)
                cm_shared_flight_end(ticket);
            return CM_BEFORE_DONE_P;
        }
        if (flight == CM_FLIGHT_LOOK_AGAIN)
            flight = CM_FLIGHT_COMPUTE;
    }
    uint32_t flen = keyed ? fk.len : 0;
    struct cm_miss *m = miss_push(f, sizeof(*m) + alen + flen, MISS_TIERS, ts);
    if (!m) {
        if (flight == CM_FLIGHT_COMPUTE_DONE)
            cm_shared_flight_end(ticket);
        return too_deep(fn, ts);
    }
    m->keyed = (uint8_t)keyed;
    m->shared = (uint8_t)shared;
    m->flight = flight;
    m->ticket = ticket;
    m->alen = alen;
    m->ci = *ci;
    memcpy(m->bytes, args, alen);
    m->mk = *mk;
    if (mk->kw) {
        memcpy(m->kw, mk->kw, sizeof(m->kw));
        m->mk.kw = m->kw;
    } else {
        m->mk.k = m->bytes;
    }
    if (keyed) {
        m->fk = fk;
        memcpy(m->bytes + alen, fk.k, fk.len);
        m->fk.k = m->bytes + alen;
    }
    m->t0 = cm_ticks();
    return m;
}

/* After the original of a MISS_TIERS slot returned (dt ticks, errno err): record the result in
 * every tier that holds it, release the claim, count. */
static void complete_done(struct cm_miss *m, uint64_t dt, int err)
{
    struct cm_fn *fn = m->fn;
    struct cm_frame *f = &m->f;
    struct cm_callinfo *ci = &m->ci;
    struct cm_tstats *ts = m->ts;
    const struct memkey *mk = &m->mk;
    const struct cm_fullkey *fk = &m->fk;
    uint32_t alen = m->alen;
    int keyed = m->keyed, shared = m->shared;
    int rwrites = cm_remote_writes && fn->remote_ok;
    int bad = 0, big = 0;
    if (fn->mode != CM_MODE_READONLY && dt >= fn->min_ticks) {
        int64_t vlen = cm_value_measure(fn, f, ci);
        bad = vlen < 0;
        /* Which tiers can hold it: a value no tier holds is a bypass, explained once. */
        uint64_t vl = vlen < 0 ? 0 : (uint64_t)vlen;
        int in_mem = cm_tier_memory && !fn->sensitive && vl + alen + 64 <= cm_mem_max_entry();
        int in_shared =
            shared && vl + CM_SEAL_OVERHEAD + fk->len <= cm_seg_max_entry(cm_shared_seg);
        int in_remote = keyed && rwrites && vl <= cm_remote_max_value;
        big = !bad && (vl > CM_VALUE_MAX || (!in_mem && !in_shared && !in_remote));
        uint8_t *val = !bad && !big ? cm_tls_scratch(CM_SCRATCH_VAL, (size_t)vlen + 1) : NULL;
        if (val) {
            cm_value_write(fn, f, ci, err, val);
            if (in_mem)
                mem_store(fn, mk, val, (uint32_t)vlen);
            if (in_shared)
                cm_shared_put(fn, fk, val, (uint32_t)vlen);
            if (in_remote)
                cm_remote_put(fn, fk, val, (uint32_t)vlen);
        }
        if (big)
            cm_bypass(fn, ts, CM_WHY_VALUE_SIZE, vl);
    }
    if (m->flight == CM_FLIGHT_COMPUTE_DONE)
        cm_shared_flight_end(m->ticket);
    if (ts && !big) {
        if (bad) {
            CM_STAT_ADD(ts, fn->id, errors, 1);
        } else {
            CM_STAT_ADD(ts, fn->id, misses, 1);
            CM_STAT_ADD(ts, fn->id, miss_ticks, dt);
        }
    }
    if (shared) {
        cm_shared_note_miss(fn, cm_ticks_to_ns(dt));
        cm_shared_flush_stats(CM_FLUSH_MISS);
    }
}

/* The fast path's key words, into kw[5-n .. 4], as fast_hit_n reads them. */
static inline void fast_words(const struct cm_fn *fn, const struct cm_frame *f, uint64_t *kw)
{
    for (int i = 5 - fn->fast_n; i < 5; i++)
        kw[i] = fast_word(fn, f, i);
}

/* The memory tier's hash of those words, as fast_hit_n computes it. */
static inline uint64_t fast_hash(const struct cm_fn *fn, const uint64_t *kw)
{
    uint64_t h = fn->seed;
    for (int i = 5 - fn->fast_n; i < 5; i++)
        h = (((h << 32) | (h >> 32)) ^ kw[i]) * 0x9E3779B97F4A7C15ull;
    return h;
}

/* Both (the miss paths). */
static uint64_t fast_key(const struct cm_fn *fn, const struct cm_frame *f, uint64_t *kw)
{
    fast_words(fn, f, kw);
    return fast_hash(fn, kw);
}

/* The shared tier's answer for a fast-path call (fn->fast_sh): key words in, the value's words
 * restored straight into the frame, the memory tier filled under the word key (from the key's
 * second shared hit on, as shared_hit does). 1 on a hit. Verified like every shared hit (digest
 * and checksum, seg_ix.c) and refused while the function is quarantined. A cold hit waits for
 * one memory access of the segment, and every instruction before it adds to the wait: only the
 * key words come first; the memory tier's hash, the counters and the fill come after. */
static inline __attribute__((always_inline)) int fast_shared(struct cm_fn *fn, struct cm_frame *f,
                                                             const uint64_t *kw)
{
    uint64_t vw[5];
    uint8_t d[16];
    uint32_t vlen = fn->fast_vlen;
    long n = cm_shared_get_words(fn, kw, vw, d);
    if (n != (long)vlen) {
        if (n == CM_SHARED_QUARANTINED)
            (void)cm_verify_seg_check(fn); /* refused; quarantined in this process too */
        return 0;
    }
    fast_restore(fn, f, vw);
    if (fn->mode != CM_MODE_READONLY && cm_tier_memory && cm_shared_fill_wanted(d)) {
        if (vlen % 8) /* the slot's bytes past the value are not the value's */
            vw[vlen / 8] &= (1ull << (8 * (vlen % 8))) - 1;
        for (uint32_t i = (vlen + 7) / 8; i < 5; i++)
            vw[i] = 0;
        cm_mem_put_words(fn->id, fast_hash(fn, kw), kw, fn->fast_mask, fn->fast_klen, vw, vlen);
    }
    struct cm_tstats *ts = cm_stats_self();
    if (ts)
        CM_STAT_ADD(ts, fn->id, hit_shared, 1);
    cm_shared_flush_hit();
    return 1;
}

/* The general completion of a fast-path call (out of line: its buffers would otherwise sit on
 * the stack of every shared hit). `looked`: the shared tier was asked already. */
__attribute__((noinline)) static void *fast_complete(struct cm_frame *f, struct cm_fn *fn,
                                                     const uint64_t *kw, int looked)
{
    struct cm_callinfo ci;
    uint8_t args[STACK_BUF] __attribute__((aligned(8)));
    struct cm_tstats *ts = cm_stats_self();
    cm_args_read(fn, f, &ci);
    int64_t alen = cm_key_measure(fn, &ci); /* scalars only: never fails, <= 8 * params */
    cm_key_write(fn, &ci, args);
    struct memkey mk = {.kw = kw, .h = fast_hash(fn, kw)};
    void *r = complete(f, fn, ts, &ci, args, (uint32_t)alen, &mk, looked);
    cm_guard = 0;
    return r;
}

/* A fast-path miss with a shared or remote tier (and every call of a fast_sh function without
 * a memory tier): the shared tier by the word key first, then the general completion, which
 * needs the canonical bytes. */
__attribute__((noinline)) static void *fast_miss_tiers(struct cm_frame *f, struct cm_fn *fn)
{
    uint64_t kw[5];
    fast_words(fn, f, kw);
    cm_guard = 1;
    int looked = 0;
    if (cm_shared_seg && !fn->verify_every) { /* fast_sh: read-write or read-only */
        if (fast_shared(fn, f, kw)) {
            cm_guard = 0;
            return CM_BEFORE_DONE_P;
        }
        looked = 1;
    }
    return fast_complete(f, fn, kw, looked);
}

/* A fast-path miss with the memory tier alone: the original's result goes under the word key,
 * nothing else (fast_done). */
__attribute__((noinline)) static void *fast_miss(struct cm_frame *f, struct cm_fn *fn)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
    struct cm_miss *m = miss_push(f, MISS_SMALL, MISS_FAST, ts);
    if (!m)
        return too_deep(fn, ts);
    m->mk.h = fast_key(fn, f, m->kw);
    m->t0 = cm_ticks();
    cm_guard = 0;
    return m;
}

static void fast_done(struct cm_miss *m, uint64_t dt, int err)
{
    struct cm_fn *fn = m->fn;
    struct cm_frame *f = &m->f;
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
        if (c->save_errno)
            memcpy(q, &err, 4);
        cm_mem_put_words(fn->id, m->mk.h, m->kw, fn->fast_mask, fn->fast_klen, vw, fn->fast_vlen);
    }
    if (m->ts) {
        CM_STAT_ADD(m->ts, fn->id, misses, 1);
        CM_STAT_ADD(m->ts, fn->id, miss_ticks, dt);
    }
}

/* Called by the entry code once the original of a miss slot returned (its return registers are
 * in the slot's frame): record, release, count, free the slot. */
void cm_dispatch_after(void *slot)
{
    struct cm_miss *m = slot;
    uint64_t dt = cm_ticks() - m->t0;
    int err = errno;
    cm_guard = 1;
    if (m->kind == MISS_FAST) {
        fast_done(m, dt, err);
    } else if (m->kind == MISS_TIERS) {
        complete_done(m, dt, err);
    } else if (m->ts) { /* MISS_PROFILE */
        CM_STAT_ADD(m->ts, m->fn->id, misses, 1);
        CM_STAT_ADD(m->ts, m->fn->id, miss_ticks, dt);
    }
    m->done = 1;
    miss_reclaim(m->at);
    errno = err;
    cm_guard = 0;
}

static void *dispatch_slow(struct cm_frame *f, struct cm_fn *fn);

/* Every 64th memory hit of a thread and function: let the shared segment's statistics follow
 * (at most once a second; a process killed with SIGKILL loses at most its last second). */
__attribute__((noinline, cold)) static void *hit_tick(void)
{
    if (!cm_shared_seg)
        return CM_BEFORE_DONE_P;
    int g = cm_guard;
    cm_guard = 1;
    cm_shared_stats_tick();
    cm_guard = g;
    return CM_BEFORE_DONE_P;
}

/* Count a memory hit; one test of the new count on the hit path. Returns CM_BEFORE_DONE_P (a
 * tail call when it ticks, so the hit path of cm_dispatch_before calls nothing). */
static inline __attribute__((always_inline)) void *count_hit_mem(struct cm_tstats *ts, uint32_t id)
{
    uint64_t n = __atomic_load_n(&ts->s[id].hit_mem, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&ts->s[id].hit_mem, n, __ATOMIC_RELAXED);
    if (__builtin_expect((n & 63) == 0, 0))
        return hit_tick();
    return CM_BEFORE_DONE_P;
}

/* A thread's first hit: its counters do not exist yet. */
__attribute__((noinline, cold)) static void *first_hit(uint32_t id)
{
    struct cm_tstats *ts = cm_stats_self();
    return ts ? count_hit_mem(ts, id) : CM_BEFORE_DONE_P;
}

/* Called by the entry code. The fast path is inlined here and calls nothing on a hit (so it
 * needs no guard, and no register of its own to save); everything else is out of line. */
void *cm_dispatch_before(struct cm_frame *f)
{
    struct cm_fn *fn = f->fn;
    if (cm_guard)
        return CM_BEFORE_PASS_P;
    if (!fn->fast) /* fast_sh: a scalar function, shared tier without memory tier */
        return fn->fast_sh ? fast_miss_tiers(f, fn) : dispatch_slow(f, fn);
    int hit;
    switch (fn->fast_sw) { /* key words, + 5 with verify (bind.c) */
    case 0:
        hit = fast_hit_n(fn, f, 0, 0);
        break;
    case 1:
        hit = fast_hit_n(fn, f, 1, 0);
        break;
    case 2:
        hit = fast_hit_n(fn, f, 2, 0);
        break;
    case 3:
        hit = fast_hit_n(fn, f, 3, 0);
        break;
    case 4: /* a key of 4 words leaves one word for the value, the most there can be */
        hit = fast_hit_n(fn, f, 4, 0);
        break;
    case 5:
        hit = fast_hit_n(fn, f, 0, 1);
        break;
    case 6:
        hit = fast_hit_n(fn, f, 1, 1);
        break;
    case 7:
        hit = fast_hit_n(fn, f, 2, 1);
        break;
    case 8:
        hit = fast_hit_n(fn, f, 3, 1);
        break;
    default:
        hit = fast_hit_n(fn, f, 4, 1);
        break;
    }
    if (__builtin_expect(hit, 1)) {
        struct cm_tstats *ts = cm_stats_mine;
        if (!ts)
            return first_hit(fn->id);
        return count_hit_mem(ts, fn->id);
    }
    if (cm_shared_seg || cm_remote_reads || cm_remote_writes)
        return fast_miss_tiers(f, fn);
    return fast_miss(f, fn);
}

/* Every function the fast path does not take. */
__attribute__((noinline)) static void *dispatch_slow(struct cm_frame *f, struct cm_fn *fn)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
    uint32_t id = fn->id;
    void *r = CM_BEFORE_PASS_P;

    struct cm_callinfo ci;
    cm_args_read(fn, f, &ci);
    int64_t klen = cm_key_measure(fn, &ci);
    if (klen < 0 || (fn->sensitive && !cm_sens_ready() && fn->mode != CM_MODE_PROFILE)) {
        if (klen >= 0)
            cm_bypass(fn, ts, CM_WHY_SENSITIVE, 0);
        else if (ci.too_large)
            cm_bypass(fn, ts, CM_WHY_INPUT_SIZE, 0);
        else if (ts)
            CM_STAT_ADD(ts, id, errors, 1);
        goto out; /* straight to the original */
    }
    uint8_t kstack[STACK_BUF] __attribute__((aligned(8)));
    uint8_t *k = kstack;
    if (klen > STACK_BUF && !(k = cm_tls_scratch(CM_SCRATCH_KEY, (size_t)klen))) {
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
        if (cm_stats_distinct_add(id, h)) {
            __atomic_add_fetch(&fn->distinct, 1, __ATOMIC_RELAXED);
            /* across runs: only the digest goes to the segment, never argument bytes */
            if (!ci.process_local && cm_shared_prof_note(h) == 1)
                __atomic_add_fetch(&fn->prof_seen, 1, __ATOMIC_RELAXED);
        }
        if (cm_probe_on) { /* cloudm probe: profile mode plus the probe's checks */
            int err;
            uint64_t t0 = cm_ticks();
            cm_probe_dispatch(f, fn, &ci, h, &err);
            uint64_t dt = cm_ticks() - t0;
            if (ts) {
                CM_STAT_ADD(ts, id, misses, 1);
                CM_STAT_ADD(ts, id, miss_ticks, dt);
            }
            errno = err;
            r = CM_BEFORE_DONE_P;
            goto out;
        }
        struct cm_miss *m = miss_push(f, MISS_SMALL, MISS_PROFILE, ts);
        if (!m)
            return too_deep(fn, ts);
        m->t0 = cm_ticks();
        r = m;
        goto out;
    }
    if (cm_tier_memory && !fn->sensitive && fn->mode != CM_MODE_WRITEONLY &&
        lookup(fn, f, &ci, h, k, (uint32_t)klen) == 0) {
        if (ts)
            (void)count_hit_mem(ts, id);
        cm_guard = 0;
        return CM_BEFORE_DONE_P;
    }
    struct memkey mk = {.h = h, .k = k, .klen = (uint32_t)klen};
    r = complete(f, fn, ts, &ci, k, (uint32_t)klen, &mk, 0);
    cm_guard = 0;
    return r;
out:
    cm_guard = 0;
    return r;
}
