/*
 * chan_ring.c - traffic on a mapped channel (see chan.h): lookups through the slots, stores
 * through the ring, both sides.
 *
 * What it does: the host claims a free slot with a compare-and-swap, writes the key, posts it,
 * wakes the agent's leader when it sleeps (and a helper when the leader is busy), spins on the
 * slot's state word for about as long as replies have lately taken (at most SPIN_MAX_NS, and
 * only briefly when replies come later than that), then sleeps on it until the reply or its
 * deadline; then it copies the reply into private memory before anything looks at it. A store
 * reserves ring space under a one-word lock holding the reserver's pid (a lock whose holder died is
 * taken over), writes the record header and publishes the new tail inside the lock, and fills in
 * the envelope outside it; a record is READY once complete. The agent claims POSTED slots, answers
 * them, and consumes READY records in order, skipping records whose writer died before finishing
 * them.
 *
 * DESIGN: every wait is a futex wait with a time limit followed by a re-check, so a peer that
 * died at any instruction costs at most one time limit. Positions in the ring are byte counts
 * that never wrap (64 bits); a record never straddles the end of the ring (a PAD record fills
 * the rest). Only raw system calls are used (the host may hook libc).
 *
 * What it does not do: interpret the bytes (hex keys and envelopes are opaque here).
 */
#include "chan.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOCK_SPINS 2000
#define SPIN_MAX_NS 100000ull /* a lookup spins at most this long on its reply, then sleeps */

/* How long the agent has lately taken to answer (ns from post to the agent's answer, a moving
 * average of 8; the host's own wake-up delay is not in it): the spin covers what an answer
 * usually takes and nothing when answers come slower than SPIN_MAX_NS / 1.5 (a loaded machine,
 * a far server), so spinning never just burns a core someone else needs. */
static _Atomic uint64_t reply_avg = SPIN_MAX_NS / 2;

/* A spin that ended without the answer makes the next SPIN_SKIP lookups look only briefly: on
 * a loaded machine spins keep missing and the host mostly sleeps at once (a core's worth of
 * spinning would slow the agent it waits for); on an idle one they catch the answer. */
#define SPIN_SKIP 15
static _Atomic uint32_t spin_skip;

static void spin_missed(void)
{
    atomic_store_explicit(&spin_skip, SPIN_SKIP, memory_order_relaxed);
}

static uint64_t spin_budget(uint64_t timeout_ns)
{
    uint64_t b = atomic_load_explicit(&reply_avg, memory_order_relaxed) * 3 / 2;
    uint32_t skip = atomic_load_explicit(&spin_skip, memory_order_relaxed);
    if (skip > 0)
        atomic_store_explicit(&spin_skip, skip - 1, memory_order_relaxed);
    if (b > SPIN_MAX_NS || skip > 0)
        b = 2000; /* answers come late: look only briefly before sleeping */
    return b < timeout_ns ? b : timeout_ns;
}

static void reply_took(uint64_t ns)
{
    uint64_t avg = atomic_load_explicit(&reply_avg, memory_order_relaxed);
    if (ns > 8 * SPIN_MAX_NS)
        ns = 8 * SPIN_MAX_NS;
    atomic_store_explicit(&reply_avg, (avg * 7 + ns) / 8, memory_order_relaxed);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
#define WRITER_GRACE_NS 1000000000ull /* a WRITING record older than this: is its writer alive? */

static int pid_dead(uint32_t pid)
{
    return pid != 0 && syscall(SYS_kill, (pid_t)pid, 0) < 0 && errno == ESRCH;
}

static uint32_t my_pid(void)
{
    return (uint32_t)syscall(SYS_getpid);
}

/* ---- host: lookups ----------------------------------------------------------------------- */

static _Atomic uint32_t rr; /* where the next claim starts looking */

int cm_chan_lookup(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], uint64_t timeout_ns,
                   uint8_t *(*getbuf)(size_t), const uint8_t **out, size_t *len)
{
    uint32_t start = atomic_fetch_add_explicit(&rr, 1, memory_order_relaxed);
    struct cm_chan_slot *s = NULL;
    int i, result;

    for (int k = 0; k < CM_CHAN_SLOTS; k++) {
        uint32_t free_ = CM_SLOT_FREE;
        i = (int)((start + (uint32_t)k) % CM_CHAN_SLOTS);
        if (atomic_load_explicit(&cm_chan_slot(h, i)->state, memory_order_relaxed) == free_ &&
            atomic_compare_exchange_strong(&cm_chan_slot(h, i)->state, &free_, CM_SLOT_CLAIMED)) {
            s = cm_chan_slot(h, i);
            break;
        }
    }
    if (s == NULL)
        return CM_CHAN_SKIPPED;
    uint64_t now = cm_chan_now(), deadline = now + timeout_ns;
    s->pid = my_pid();
    s->posted_ns = now;
    s->len = 0;
    s->result = CM_CHAN_ERROR;
    memcpy(s->hex, hex, CM_CHAN_HEX);
    atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
    atomic_store_explicit(&s->state, CM_SLOT_POSTED, memory_order_release);
    /* Pairs with the leader's stores to ld_sleeping and leader_busy before it looks for posted
     * slots again: either it sees this slot or this host sees the flag. The leader sleeps only
     * after a bounded spin, so back-to-back lookups cost no futex call here. */
    atomic_thread_fence(memory_order_seq_cst);
    atomic_fetch_add(&h->req_seq, 1);
    if (atomic_load(&h->ld_sleeping))
        cm_chan_wake(&h->req_seq, 1);
    if (atomic_load(&h->leader_busy)) {
        /* A helper decides whether to take it (it waits a little first: see agent_run.c). */
        atomic_fetch_add(&h->hlp_seq, 1);
        cm_chan_wake(&h->hlp_seq, 1);
    }
    /* A bounded spin first: a loopback answer usually comes within it, and a futex sleep and
     * wake-up (an interrupt to an idle core) cost more than the spin. */
    atomic_store_explicit(&s->answered_ns, 0, memory_order_relaxed);
    uint64_t posted = now, spin_end = now + spin_budget(timeout_ns);
    for (int k = 0;; k++) {
        if (atomic_load_explicit(&s->state, memory_order_acquire) == CM_SLOT_DONE)
            break;
        cpu_relax();
        if (k % 64 == 63 && cm_chan_now() >= spin_end) {
            spin_missed(); /* the answer came later: spin less for a while */
            break;
        }
    }
    for (;;) {
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == CM_SLOT_DONE)
            break;
        now = cm_chan_now();
        if (now >= deadline) {
            if (atomic_compare_exchange_strong(&s->state, &st, CM_SLOT_ABANDONED))
                return CM_CHAN_TIMEOUT;
            continue; /* it changed under us: look again */
        }
        /* Pairs with the agent's DONE before it reads sleeping (cm_chan_answer). */
        atomic_store(&s->sleeping, 1);
        if (atomic_load(&s->state) != st)
            continue;
        cm_chan_wait(&s->state, st, deadline - now);
    }
    uint64_t answered = atomic_load_explicit(&s->answered_ns, memory_order_relaxed);
    reply_took(answered > posted ? answered - posted : cm_chan_now() - posted);
    result = (int)s->result;
    uint64_t n = s->len;
    if (result == CM_CHAN_HIT) {
        uint8_t *b = n <= h->slot_bytes ? getbuf((size_t)n) : NULL;
        if (b == NULL) {
            result = CM_CHAN_ERROR;
        } else {
            memcpy(b, cm_chan_slot_data(h, i), (size_t)n);
            *out = b;
            *len = (size_t)n;
        }
    }
    atomic_store_explicit(&s->state, CM_SLOT_FREE, memory_order_release);
    return result;
}

/* ---- host: stores ------------------------------------------------------------------------ */

static void lock_ring(struct cm_chan_hdr *h, uint32_t me)
{
    for (int spins = 0;; spins++) {
        uint32_t cur = 0;
        if (atomic_compare_exchange_weak(&h->st_lock, &cur, me))
            return;
        if (spins >= LOCK_SPINS) {
            /* Held this long: is the holder still there? (It may have died inside the few
             * instructions the lock covers; what it left is consistent, see below.) */
            if (cur != 0 && pid_dead(cur) && atomic_compare_exchange_strong(&h->st_lock, &cur, me))
                return;
            spins = 0;
            syscall(SYS_sched_yield);
        }
    }
}

uint8_t *cm_chan_store_begin(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], size_t envlen,
                             struct cm_chan_rec **rec)
{
    uint64_t R = h->ring_bytes;
    uint64_t need = (sizeof(struct cm_chan_rec) + envlen + 7) & ~7ull;
    uint32_t me = my_pid();

    if (need > R / 2) {
        atomic_fetch_add_explicit(&h->st.host_dropped, 1, memory_order_relaxed);
        return NULL;
    }
    lock_ring(h, me);
    uint64_t tail = atomic_load_explicit(&h->st_tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&h->st_head, memory_order_acquire);
    uint64_t pos = tail % R, pad = pos + need > R ? R - pos : 0;
    if (tail + pad + need - head > R) {
        atomic_store_explicit(&h->st_lock, 0, memory_order_release);
        atomic_fetch_add_explicit(&h->st.host_dropped, 1, memory_order_relaxed);
        return NULL;
    }
    uint8_t *ring = cm_chan_ring(h);
    if (pad) {
        struct cm_chan_rec *p = (struct cm_chan_rec *)(ring + pos);
        p->len = (uint32_t)pad;
        atomic_store_explicit(&p->state, CM_REC_PAD, memory_order_relaxed);
    }
    /* Everything a consumer reads is written before the tail moves past it; a holder that dies
     * before the store to st_tail leaves the ring as it was. */
    struct cm_chan_rec *r = (struct cm_chan_rec *)(ring + (tail + pad) % R);
    r->len = (uint32_t)need;
    atomic_store_explicit(&r->state, CM_REC_WRITING, memory_order_relaxed);
    r->pid = me;
    r->envlen = (uint32_t)envlen;
    r->made_ns = cm_chan_now();
    atomic_fetch_add_explicit(&h->st_records, 1, memory_order_relaxed);
    atomic_store_explicit(&h->st_tail, tail + pad + need, memory_order_release);
    atomic_store_explicit(&h->st_lock, 0, memory_order_release);
    memcpy(r->hex, hex, CM_CHAN_HEX);
    *rec = r;
    return r->env;
}

void cm_chan_store_end(struct cm_chan_hdr *h, struct cm_chan_rec *r, int ok)
{
    atomic_store_explicit(&r->state, ok ? CM_REC_READY : CM_REC_VOID, memory_order_release);
    /* Pairs with the leader's store to ld_sleeping before it looks at the ring's head. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&h->ld_sleeping)) {
        atomic_fetch_add(&h->req_seq, 1);
        cm_chan_wake(&h->req_seq, 1);
    }
}

/* ---- agent ------------------------------------------------------------------------------- */

int cm_chan_store_waiting(struct cm_chan_hdr *h)
{
    uint64_t head = atomic_load_explicit(&h->st_head, memory_order_relaxed);
    if (head == atomic_load_explicit(&h->st_tail, memory_order_acquire))
        return 0;
    struct cm_chan_rec *r = (struct cm_chan_rec *)(cm_chan_ring(h) + head % h->ring_bytes);
    return atomic_load_explicit(&r->state, memory_order_acquire) != CM_REC_WRITING;
}

int cm_chan_posted(struct cm_chan_hdr *h)
{
    for (int i = 0; i < CM_CHAN_SLOTS; i++)
        if (atomic_load_explicit(&cm_chan_slot(h, i)->state, memory_order_relaxed) ==
            CM_SLOT_POSTED)
            return 1;
    return 0;
}

int cm_chan_claim(struct cm_chan_hdr *h)
{
    for (int i = 0; i < CM_CHAN_SLOTS; i++) {
        uint32_t posted = CM_SLOT_POSTED;
        if (atomic_load_explicit(&cm_chan_slot(h, i)->state, memory_order_relaxed) == posted &&
            atomic_compare_exchange_strong(&cm_chan_slot(h, i)->state, &posted, CM_SLOT_BUSY))
            return i;
    }
    return -1;
}

void cm_chan_answer(struct cm_chan_hdr *h, int i, int result, uint64_t len)
{
    struct cm_chan_slot *s = cm_chan_slot(h, i);
    uint32_t busy = CM_SLOT_BUSY;

    s->result = (uint32_t)result;
    s->len = len;
    atomic_store_explicit(&s->answered_ns, cm_chan_now(), memory_order_relaxed);
    if (!atomic_compare_exchange_strong(&s->state, &busy, CM_SLOT_DONE)) {
        /* The host gave up (ABANDONED): nobody will read it. */
        atomic_store_explicit(&s->state, CM_SLOT_FREE, memory_order_release);
        return;
    }
    /* A host still spinning needs no wake-up (seq_cst: pairs with its store to sleeping). */
    if (atomic_load(&s->sleeping))
        cm_chan_wake(&s->state, 1 << 30);
}

void cm_chan_janitor(struct cm_chan_hdr *h, int at_start)
{
    uint64_t now = cm_chan_now();

    for (int i = 0; i < CM_CHAN_SLOTS; i++) {
        struct cm_chan_slot *s = cm_chan_slot(h, i);
        uint32_t st = atomic_load(&s->state);

        if (at_start && st == CM_SLOT_BUSY) {
            /* A previous agent died with it: its host may still be waiting. Serve it again. */
            atomic_compare_exchange_strong(&s->state, &st, CM_SLOT_POSTED);
        } else if (at_start && st == CM_SLOT_ABANDONED) {
            atomic_compare_exchange_strong(&s->state, &st, CM_SLOT_FREE);
        } else if ((st == CM_SLOT_CLAIMED || st == CM_SLOT_DONE || st == CM_SLOT_POSTED) &&
                   now - s->posted_ns > WRITER_GRACE_NS && pid_dead(s->pid)) {
            atomic_compare_exchange_strong(&s->state, &st, CM_SLOT_FREE);
        }
    }
}

struct cm_chan_rec *cm_chan_pop_peek(struct cm_chan_hdr *h)
{
    uint64_t R = h->ring_bytes;
    uint8_t *ring = cm_chan_ring(h);

    for (;;) {
        uint64_t head = atomic_load_explicit(&h->st_head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&h->st_tail, memory_order_acquire);
        if (head == tail)
            return NULL;
        struct cm_chan_rec *r = (struct cm_chan_rec *)(ring + head % R);
        uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);
        uint32_t len = r->len;
        if (len < 8 || len % 8 || len > tail - head) {
            /* Not a record a host wrote: drop everything queued rather than guess. */
            atomic_store_explicit(&h->st_head, tail, memory_order_release);
            atomic_store(&h->st_records, 0);
            return NULL;
        }
        if (st == CM_REC_READY)
            return r;
        if (st == CM_REC_WRITING) {
            if (cm_chan_now() - r->made_ns < WRITER_GRACE_NS || !pid_dead(r->pid))
                return NULL; /* still being written */
            atomic_fetch_add_explicit(&h->st.dropped, 1, memory_order_relaxed);
        }
        if (st != CM_REC_PAD)
            atomic_fetch_sub_explicit(&h->st_records, 1, memory_order_relaxed);
        atomic_store_explicit(&h->st_head, head + len, memory_order_release);
    }
}

void cm_chan_pop_done(struct cm_chan_hdr *h, struct cm_chan_rec *r)
{
    atomic_fetch_sub_explicit(&h->st_records, 1, memory_order_relaxed);
    atomic_store_explicit(&h->st_head, atomic_load(&h->st_head) + r->len, memory_order_release);
}

long cm_chan_find_queued(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], uint8_t *out,
                         size_t cap)
{
    uint64_t R = h->ring_bytes, head = atomic_load_explicit(&h->st_head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&h->st_tail, memory_order_acquire);
    uint8_t *ring = cm_chan_ring(h);
    struct cm_chan_rec *found = NULL;

    while (head < tail) {
        struct cm_chan_rec *r = (struct cm_chan_rec *)(ring + head % R);
        uint32_t len = r->len;
        if (len < 8 || len % 8 || len > tail - head)
            break;
        if (atomic_load_explicit(&r->state, memory_order_acquire) == CM_REC_READY &&
            memcmp(r->hex, hex, CM_CHAN_HEX) == 0)
            found = r; /* the newest wins */
        head += len;
    }
    if (found == NULL || found->envlen > cap || found->envlen + sizeof(*found) > found->len)
        return -1;
    /* It may be consumed and overwritten while we copy: the host checks what it gets. */
    memcpy(out, found->env, found->envlen);
    return (long)found->envlen;
}

void cm_chan_say(struct cm_chan_hdr *h, const char *msg)
{
    size_t n = strlen(msg);
    if (n >= sizeof(h->msg))
        n = sizeof(h->msg) - 1;
    memcpy(h->msg, msg, n);
    h->msg[n] = '\0';
    atomic_fetch_add(&h->msg_seq, 1);
}
