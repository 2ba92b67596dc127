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
 * in readonly mode; a shared hit fills the memory tier from the key's second shared hit on). A miss everywhere runs the original and stores its result in every tier
 * (the remote one through its background writer).
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

#define STACK_BUF 256        /* keys and values up to this size never touch the scratch buffers */
#define VIEW_MIN (64u << 10) /* memory-tier entries from this size are restored in place */

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

const char *const cm_why_names[CM_WHY_N] = {"input_too_large", "value_too_large",
                                            "sensitive_no_key"};

static void size_text(char *buf, size_t n, uint64_t v)
{
    if (v >= (1ull << 30) && v % (1ull << 30) == 0)
        snprintf(buf, n, "%lluG", (unsigned long long)(v >> 30));
    else if (v >= (1ull << 20))
        snprintf(buf, n, "%.1fM", v / 1048576.0);
    else
        snprintf(buf, n, "%lluK", (unsigned long long)(v >> 10));
}

/* A bypassed call: counted by reason, explained on stderr once per variant and reason. */
static void bypass(struct cm_fn *fn, struct cm_tstats *ts, enum cm_why why, uint64_t bytes)
{
    if (ts)
        CM_STAT_ADD(ts, fn->id, bypassed, 1);
    __atomic_add_fetch(&fn->why[why], 1, __ATOMIC_RELAXED);
    uint32_t bit = 1u << why;
    if (__atomic_fetch_or(&fn->why_logged, bit, __ATOMIC_RELAXED) & bit)
        return;
    char a[32], b[32];
    const char *name = fn->cfg->name;
    switch (why) {
    case CM_WHY_INPUT_SIZE:
        cm_log("%s: calls with an argument over 1 GiB are not cached (bypassed): no setting "
               "lifts this limit",
               name);
        break;
    case CM_WHY_VALUE_SIZE: {
        char m[96], sh[96];
        size_text(a, sizeof(a), cm_mem_max_entry());
        size_text(b, sizeof(b), cm_shared_seg ? cm_seg_max_entry(cm_shared_seg) : 0);
        if (cm_tier_memory && !fn->sensitive)
            snprintf(m, sizeof(m), "the memory tier holds %s (raise memory_size)", a);
        else
            snprintf(m, sizeof(m), "the memory tier is not used");
        if (cm_shared_seg)
            snprintf(sh, sizeof(sh), "the shared tier %s (raise shared_max_entry, up to 1G)", b);
        else
            snprintf(sh, sizeof(sh), "the shared tier is off (add it to tiers)");
        cm_log("%s: a result of %llu bytes is not cached (bypassed): %s, %s", name,
               (unsigned long long)bytes, m, sh);
        break;
    }
    default:
        cm_log("%s: sensitive = yes, but the per-user key could not be loaded: calls are not "
               "cached (bypassed); see the message above, or set CLOUDM_KEY_FILE",
               name);
        break;
    }
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
        cm_shared_fill_wanted(fk)) /* from the second hit of a key on (tier.h) */
        mem_store(fn, mk, view.v, (uint32_t)n);
    cm_seg_view_done(&view);
    if (ts)
        CM_STAT_ADD(ts, fn->id, hit_shared, 1);
    cm_shared_flush_stats(CM_FLUSH_HIT);
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
    cm_shared_flush_stats(CM_FLUSH_HIT);
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
    int rreads = cm_remote_reads && fn->remote_ok, rwrites = cm_remote_writes && fn->remote_ok;
    int keyed = (cm_shared_seg || rreads || rwrites) && !ci->process_local &&
                cm_shared_key(fn, args, alen, kbuf, sizeof(kbuf), &fk) == 0;
    int shared = keyed && cm_shared_seg;
    uint32_t ticket = 0;
    int flight = CM_FLIGHT_COMPUTE, err;
    if (keyed && fn->mode != CM_MODE_WRITEONLY) {
        if (shared && shared_hit(f, fn, ts, ci, &fk, mk))
            return;
        if (rreads && remote_hit(f, fn, ts, ci, &fk, mk, shared))
            return;
    }
    if (shared && fn->mode != CM_MODE_WRITEONLY) {
        if (fn->mode != CM_MODE_READONLY)
            flight = cm_shared_flight_begin(fn, &fk, &ticket, f);
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
    int bad = 0, big = 0;
    if (fn->mode != CM_MODE_READONLY && dt >= fn->min_ticks) {
        int64_t vlen = cm_value_measure(fn, f, ci);
        bad = vlen < 0;
        /* Which tiers can hold it: a value no tier holds is a bypass, explained once. */
        uint64_t vl = vlen < 0 ? 0 : (uint64_t)vlen;
        int in_mem = cm_tier_memory && !fn->sensitive && vl + alen + 64 <= cm_mem_max_entry();
        int in_shared = shared && vl + CM_SEAL_OVERHEAD + fk.len <= cm_seg_max_entry(cm_shared_seg);
        int in_remote = keyed && rwrites && vl <= cm_remote_max_value;
        big = !bad && (vl > CM_VALUE_MAX || (!in_mem && !in_shared && !in_remote));
        uint8_t *val = !bad && !big ? cm_tls_scratch(CM_SCRATCH_VAL, (size_t)vlen + 1) : NULL;
        if (val) {
            cm_value_write(fn, f, ci, err, val);
            if (in_mem)
                mem_store(fn, mk, val, (uint32_t)vlen);
            if (in_shared)
                cm_shared_put(fn, &fk, val, (uint32_t)vlen);
            if (in_remote)
                cm_remote_put(fn, &fk, val, (uint32_t)vlen);
        }
        if (big)
            bypass(fn, ts, CM_WHY_VALUE_SIZE, vl);
    }
    if (flight == CM_FLIGHT_COMPUTE_DONE)
        cm_shared_flight_end(ticket);
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
    errno = err;
}

/* A fast-path miss. With the memory tier alone: run the original and record its result under
 * the word key, nothing else. With a shared or remote tier: the general completion, which needs
 * the canonical bytes. */
/* The fast-path miss with a shared or remote tier (out of line: its buffers would otherwise sit
 * on the stack of every memory-only miss, and recursion pays that per level). */
__attribute__((noinline)) static void fast_miss_tiers(struct cm_frame *f, struct cm_fn *fn,
                                                      const uint64_t *kw, uint64_t h)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
    struct cm_callinfo ci;
    uint8_t args[STACK_BUF] __attribute__((aligned(8)));
    cm_args_read(fn, f, &ci);
    int64_t alen = cm_key_measure(fn, &ci); /* scalars only: never fails, <= 8 * params */
    cm_key_write(fn, &ci, args);
    struct memkey mk = {.kw = kw, .h = h};
    complete(f, fn, ts, &ci, args, (uint32_t)alen, &mk);
    cm_guard = 0;
}

/* The fast-path miss with the memory tier alone. */
__attribute__((noinline)) static void fast_miss(struct cm_frame *f, struct cm_fn *fn,
                                                const uint64_t *kw, uint64_t h)
{
    cm_guard = 1;
    struct cm_tstats *ts = cm_stats_self();
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

/* Every 64th memory hit of a thread and function: let the shared segment's statistics follow
 * (at most once a second; a process killed with SIGKILL loses at most its last second). */
__attribute__((noinline, cold)) static void hit_tick(void)
{
    if (!cm_shared_seg)
        return;
    int g = cm_guard;
    cm_guard = 1;
    cm_shared_stats_tick();
    cm_guard = g;
}

/* Count a memory hit; one test of the new count on the hit path. */
static inline __attribute__((always_inline)) void count_hit_mem(struct cm_tstats *ts, uint32_t id)
{
    uint64_t n = __atomic_load_n(&ts->s[id].hit_mem, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&ts->s[id].hit_mem, n, __ATOMIC_RELAXED);
    if (__builtin_expect((n & 63) == 0, 0))
        hit_tick();
}

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
            count_hit_mem(ts, fn->id);
        return;
    }
    if (cm_shared_seg || cm_remote_reads || cm_remote_writes)
        fast_miss_tiers(f, fn, kw, h);
    else
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
    if (klen < 0 || (fn->sensitive && !cm_sens_ready() && fn->mode != CM_MODE_PROFILE)) {
        run_original(f, &err);
        if (klen >= 0)
            bypass(fn, ts, CM_WHY_SENSITIVE, 0);
        else if (ci.too_large)
            bypass(fn, ts, CM_WHY_INPUT_SIZE, 0);
        else if (ts)
            CM_STAT_ADD(ts, id, errors, 1);
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
        if (cm_stats_distinct_add(id, h)) {
            __atomic_add_fetch(&fn->distinct, 1, __ATOMIC_RELAXED);
            /* across runs: only the digest goes to the segment, never argument bytes */
            if (!ci.process_local && cm_shared_prof_note(h) == 1)
                __atomic_add_fetch(&fn->prof_seen, 1, __ATOMIC_RELAXED);
        }
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
    if (cm_tier_memory && !fn->sensitive && fn->mode != CM_MODE_WRITEONLY &&
        lookup(fn, f, &ci, h, k, (uint32_t)klen) == 0) {
        if (ts)
            count_hit_mem(ts, id);
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
