/*
 * seg_flight.c - single-flight between processes and threads, and the per-function statistics
 * table, both in the shared segment.
 *
 * What it does: cm_seg_flight_claim/done/wait coordinate "one computes, the others wait" for a
 * key; cm_seg_fn_slot/add/foreach keep live per-function counters. What it does not do: look
 * entries up (the caller does, after a wait) or block on anything a dead process can hold.
 *
 * DESIGN
 * - A claim is one 64-bit word {32-bit tag of the key hash | pid}, set from 0 by a single CAS
 *   in one of SEG_FLIGHT_PROBE slots starting at a hash-derived index, so a claim is never
 *   half-made; fs_start_ns and fs_tid are informative extras written after the CAS. Release is
 *   a CAS back to 0 by the owning pid. Waiters poll with exponential back-off (20 us .. 10 ms)
 *   and never wait longer than their timeout. A claim whose pid is dead (kill(pid, 0) fails with
 *   ESRCH, or /proc says zombie) or that is older than the waiter's timeout is broken by a CAS
 *   to 0 and counted in sh_flight_takeovers; the waiter then returns 0 and may claim itself.
 *   A SIGKILL at any instruction leaves at most a claim of a dead pid: broken by the next
 *   waiter. PID reuse can make a dead claim look alive: the timeout bounds that wait.
 * - Best effort: two claimers that see different slot states (another key's claim released
 *   between their scans) can both win and compute twice; results are identical, only work is
 *   duplicated. A claimer must look the key up again after winning (the previous claimer may
 *   have stored it just before releasing).
 * - Function slots: sf_ident claimed by CAS from 0 (linear probing from ident % slots), then
 *   the name (word stores), then sf_ready = 1 (release). A process dying between the CAS and
 *   sf_ready leaves a slot that the next process with the same ident completes. Counters are
 *   relaxed fetch-adds.
 */
#include "seg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CNT_ADD(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)
#define BACKOFF_MIN_NS 20000ull
#define BACKOFF_MAX_NS 10000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t flight_tag(const uint8_t h[16])
{
    uint64_t h1;
    memcpy(&h1, h + 8, 8);
    return ((h1 & 0xffffffffull) | 1) << 32;
}

static unsigned flight_start(const uint8_t h[16])
{
    uint64_t h0;
    memcpy(&h0, h, 8);
    return (unsigned)(h0 >> 40) % SEG_FLIGHT_SLOTS;
}

/* A pid that can no longer release its claim: gone, or a zombie nobody reaped yet. */
static int pid_dead(uint32_t pid)
{
    char path[64], buf[256];
    if (pid == 0)
        return 1;
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    snprintf(path, sizeof(path), "/proc/%u/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void set_claim_info(struct seg_flight *f)
{
    __atomic_store_n(&f->fs_start_ns, now_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&f->fs_tid, (uint32_t)syscall(SYS_gettid), __ATOMIC_RELAXED);
}

int cm_seg_flight_claim(struct cm_seg *s, const uint8_t h[16], uint32_t *ticket)
{
    int saved = errno, r = -1;
    if (s == NULL)
        return -1;
    uint64_t tag = flight_tag(h), mine = tag | (uint32_t)getpid();
    unsigned start = flight_start(h);
    for (int round = 0; round < 4 && r == -1; round++) {
        int empty = -1;
        unsigned i;
        for (i = 0; i < SEG_FLIGHT_PROBE; i++) {
            unsigned k = (start + i) % SEG_FLIGHT_SLOTS;
            struct seg_flight *f = &s->flight[k];
            uint64_t w = __atomic_load_n(&f->fs_word, __ATOMIC_ACQUIRE);
            if (w == 0) {
                if (empty < 0)
                    empty = (int)k;
                continue;
            }
            if ((w & ~0xffffffffull) != tag)
                continue;
            if (!pid_dead((uint32_t)w)) {
                r = 0; /* someone live computes it */
                break;
            }
            if (__atomic_compare_exchange_n(&f->fs_word, &w, mine, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED)) {
                CNT_ADD(s->hdr->sh_flight_takeovers, 1);
                set_claim_info(f);
                *ticket = k;
                r = 1;
            }
            break; /* CAS lost: rescan */
        }
        if (r != -1 || i < SEG_FLIGHT_PROBE)
            continue;
        if (empty < 0)
            break; /* no slot: compute without coordination */
        struct seg_flight *f = &s->flight[empty];
        uint64_t z = 0;
        if (__atomic_compare_exchange_n(&f->fs_word, &z, mine, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
            set_claim_info(f);
            *ticket = (uint32_t)empty;
            r = 1;
        }
    }
    errno = saved;
    return r;
}

void cm_seg_flight_done(struct cm_seg *s, uint32_t ticket)
{
    int saved = errno;
    if (s == NULL || ticket >= SEG_FLIGHT_SLOTS)
        return;
    struct seg_flight *f = &s->flight[ticket];
    uint64_t w = __atomic_load_n(&f->fs_word, __ATOMIC_ACQUIRE);
    if (w != 0 && (uint32_t)w == (uint32_t)getpid())
        __atomic_compare_exchange_n(&f->fs_word, &w, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    errno = saved;
}

int cm_seg_flight_wait(struct cm_seg *s, const uint8_t h[16], uint64_t timeout_ns)
{
    int saved = errno, r = 1;
    if (s == NULL)
        return 1;
    uint64_t tag = flight_tag(h), t0 = now_ns(), sleep_ns = BACKOFF_MIN_NS;
    unsigned start = flight_start(h);
    CNT_ADD(s->hdr->sh_flight_waits, 1);
    for (;;) {
        struct seg_flight *f = NULL;
        uint64_t w = 0;
        for (unsigned i = 0; i < SEG_FLIGHT_PROBE; i++) {
            struct seg_flight *g = &s->flight[(start + i) % SEG_FLIGHT_SLOTS];
            uint64_t x = __atomic_load_n(&g->fs_word, __ATOMIC_ACQUIRE);
            if (x != 0 && (x & ~0xffffffffull) == tag) {
                f = g;
                w = x;
                break;
            }
        }
        if (f == NULL) {
            r = 1; /* released: look the entry up again */
            break;
        }
        uint64_t now = now_ns(), cs = __atomic_load_n(&f->fs_start_ns, __ATOMIC_RELAXED);
        int stale = now - t0 >= timeout_ns || (cs != 0 && now > cs && now - cs >= timeout_ns);
        if (stale || pid_dead((uint32_t)w)) {
            if (__atomic_compare_exchange_n(&f->fs_word, &w, 0, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED))
                CNT_ADD(s->hdr->sh_flight_takeovers, 1);
            r = 0;
            break;
        }
        uint64_t left = timeout_ns - (now - t0);
        uint64_t d = sleep_ns < left ? sleep_ns : left;
        struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
        nanosleep(&ts, NULL);
        if (sleep_ns < BACKOFF_MAX_NS)
            sleep_ns *= 2;
    }
    errno = saved;
    return r;
}

/* ---- per-function statistics ---- */

static void name_words(const char *name, uint64_t *w)
{
    char buf[SEG_FN_NAME] = {0};
    if (name != NULL)
        strncpy(buf, name, SEG_FN_NAME - 1);
    memcpy(w, buf, SEG_FN_NAME);
}

int cm_seg_fn_slot(struct cm_seg *s, uint64_t fn_ident, const char *name)
{
    uint64_t want[SEG_FN_NAME / 8];
    if (s == NULL)
        return -1;
    if (fn_ident == 0)
        fn_ident = ~0ull; /* 0 marks a free slot */
    name_words(name, want);
    for (unsigned i = 0; i < SEG_FN_SLOTS; i++) {
        unsigned k = (unsigned)((fn_ident + i) % SEG_FN_SLOTS);
        struct seg_fn *f = &s->fns[k];
        uint64_t id = __atomic_load_n(&f->sf_ident, __ATOMIC_ACQUIRE);
        if (id == 0) {
            if (__atomic_compare_exchange_n(&f->sf_ident, &id, fn_ident, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE)) {
                for (unsigned j = 0; j < SEG_FN_NAME / 8; j++)
                    __atomic_store_n(&f->sf_name[j], want[j], __ATOMIC_RELAXED);
                __atomic_store_n(&f->sf_ready, 1, __ATOMIC_RELEASE);
                return (int)k;
            }
            /* id now holds the winner's ident */
        }
        if (id != fn_ident)
            continue;
        /* same ident: wait (bounded) for its name; complete it if its writer died */
        int spins = 0;
        while (__atomic_load_n(&f->sf_ready, __ATOMIC_ACQUIRE) != 1 && spins < 100000)
            spins++;
        if (__atomic_load_n(&f->sf_ready, __ATOMIC_ACQUIRE) != 1) {
            for (unsigned j = 0; j < SEG_FN_NAME / 8; j++)
                __atomic_store_n(&f->sf_name[j], want[j], __ATOMIC_RELAXED);
            __atomic_store_n(&f->sf_ready, 1, __ATOMIC_RELEASE);
        }
        unsigned j = 0;
        while (j < SEG_FN_NAME / 8 && __atomic_load_n(&f->sf_name[j], __ATOMIC_RELAXED) == want[j])
            j++;
        if (j == SEG_FN_NAME / 8)
            return (int)k;
    }
    return -1;
}

void cm_seg_fn_add(struct cm_seg *s, int slot, const struct cm_seg_fnstat *delta)
{
    uint64_t d[8];
    if (s == NULL || slot < 0 || slot >= (int)SEG_FN_SLOTS)
        return;
    memcpy(d, delta, sizeof(d));
    struct seg_fn *f = &s->fns[slot];
    for (int i = 0; i < 8; i++)
        if (d[i] != 0)
            __atomic_fetch_add(&f->sf_c[i], d[i], __ATOMIC_RELAXED);
}

void cm_seg_fn_foreach(struct cm_seg *s,
                       void (*cb)(void *ctx, const char *name, uint64_t fn_ident,
                                  const struct cm_seg_fnstat *st),
                       void *ctx)
{
    if (s == NULL)
        return;
    for (unsigned k = 0; k < SEG_FN_SLOTS; k++) {
        struct seg_fn *f = &s->fns[k];
        uint64_t id = __atomic_load_n(&f->sf_ident, __ATOMIC_ACQUIRE);
        if (id == 0 || __atomic_load_n(&f->sf_ready, __ATOMIC_ACQUIRE) != 1)
            continue;
        uint64_t nw[SEG_FN_NAME / 8], c[8];
        struct cm_seg_fnstat st;
        char name[SEG_FN_NAME];
        for (unsigned j = 0; j < SEG_FN_NAME / 8; j++)
            nw[j] = __atomic_load_n(&f->sf_name[j], __ATOMIC_RELAXED);
        memcpy(name, nw, sizeof(name));
        name[SEG_FN_NAME - 1] = 0;
        for (int i = 0; i < 8; i++)
            c[i] = __atomic_load_n(&f->sf_c[i], __ATOMIC_RELAXED);
        memcpy(&st, c, sizeof(st));
        cb(ctx, name, id, &st);
    }
}
