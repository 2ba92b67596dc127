/*
 * agent_run.c - the agent process: serves one channel until it is told to stop or stays idle
 * for agent_idle (see agent.h, docs/agent.md).
 *
 * What it does: maps the channel, becomes its agent (only when no live agent holds it), opens
 * the remote client with the configuration the channel carries, and runs
 *   - a leader thread that waits on the channel's request word (after a bounded spin), answers
 *     posted lookups and sends the store ring's records, one of each in turn, on one
 *     connection (so that calls one after another, from one process or many, use one);
 *   - CM_AGENT_HELPERS helper threads for overlapping lookups (each its own connection, opened
 *     on first use; see "who serves what" below);
 *   - a pump thread that takes the stores over from the leader for a retry, a backlog or the
 *     final drain, sending records in order, straight from shared memory;
 *   - the main thread: heartbeat, counters into the channel, the janitor, idle and stop.
 * A lookup's reply is written by the backend directly into the slot's data area (a fixed
 * buffer: a body longer than remote_max_value is cut off and answered as an error), so the
 * agent's memory is its rings plus the backends' small connection state.
 *
 * Stopping: lookups stop being served once the store ring is drained (or flush_timeout has
 * passed; what is left is counted as dropped); then the pid word is cleared and the process
 * exits. A newer cloudm sets the stop word to replace this agent.
 *
 * What it does not do: derive keys, check or decrypt envelopes, or see the secret.
 */
#include "agent.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan/chan.h"
#include "cm_remote.h"

#define CM_AGENT_HELPERS 7
#define TICK_NS 200000000ull

extern const struct cm_remote_api cm_remote_plugin;

static struct cm_chan_hdr *H;
static const struct cm_remote_api *api = &cm_remote_plugin;
static struct cm_remote *R;
static _Atomic int serving = 1, pumping = 1, fg;
static _Atomic uint64_t last_activity;

static void agent_log(const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (H != NULL)
        cm_chan_say(H, line);
    if (fg)
        fprintf(stderr, "cloudm agent: %s\n", line);
}

static void no_enter(void)
{
}

static const struct cm_remote_host host = {.log = agent_log, .thread_enter = no_enter};

static void copy_counters(void);

#define KEEP_BYTES 65536ull               /* of a slot's data area, kept resident between replies */
static uint64_t slot_high[CM_CHAN_SLOTS]; /* bytes the last reply in each slot touched */

/* Gives the pages of a slot's data area beyond KEEP_BYTES back (MADV_REMOVE frees the file's
 * pages, not just this mapping's): the agent's memory stays bounded by the replies in flight,
 * whatever a server sent earlier. */
static void slot_trim(int i, uint64_t touched)
{
    if (touched > KEEP_BYTES)
        madvise(cm_chan_slot_data(H, i) + KEEP_BYTES, (size_t)(H->slot_bytes - KEEP_BYTES),
                MADV_REMOVE);
}

static void serve(int i, int is_leader)
{
    struct cm_chan_slot *s = cm_chan_slot(H, i);
    char hex[CM_CHAN_HEX + 1];
    int result;
    long n;

    /* The slot's previous host has copied its reply (the slot was free): drop a large one. */
    slot_trim(i, slot_high[i]);
    slot_high[i] = 0;
    atomic_fetch_add(&H->st.inflight, 1);
    memcpy(hex, s->hex, CM_CHAN_HEX);
    hex[CM_CHAN_HEX] = 0;
    n = cm_chan_find_queued(H, hex, cm_chan_slot_data(H, i), H->slot_bytes);
    if (n < 0)
        n = api->get_raw(R, hex, cm_chan_slot_data(H, i), H->slot_bytes);
    switch (n) {
    case CM_RAW_MISS:
        result = CM_CHAN_MISS;
        break;
    case CM_RAW_SKIPPED:
        result = CM_CHAN_SKIPPED;
        break;
    case CM_RAW_TIMEOUT:
        result = CM_CHAN_TIMEOUT;
        break;
    case CM_RAW_AUTH:
        result = CM_CHAN_AUTH;
        break;
    default:
        result = n >= 0 ? CM_CHAN_HIT : CM_CHAN_ERROR;
        break;
    }
    if (result == CM_CHAN_HIT)
        slot_high[i] = (uint64_t)n;
    else if (result == CM_CHAN_ERROR || result == CM_CHAN_TIMEOUT)
        slot_trim(i, H->slot_bytes); /* a failed body (cut off, say) may have filled the area */
    copy_counters(); /* before the answer: the host's report reads the breaker count */
    atomic_fetch_sub(&H->st.inflight, 1);
    atomic_store(&last_activity, cm_chan_now());
    /* Free before the host hears back: its next lookup (or the next process's) finds the
     * leader idle and wakes no helper. */
    if (is_leader)
        atomic_store(&H->leader_busy, 0);
    cm_chan_answer(H, i, result, n > 0 ? (uint64_t)n : 0);
}

/* ---- who serves what ----------------------------------------------------------------------
 * The leader serves lookups and sends stores, one of each in turn, on its one connection: a
 * program (or a row of short processes) calling one after another is served on one TCP
 * connection. A helper (a connection of its own) takes a lookup only when lookups overlap: two
 * posted at once, or one posted while the leader is busy for longer than lag_ns; once helpers
 * have worked they stay recruited for HOT_NS and take lookups at once while the leader is
 * busy. The pump (a connection of its own) takes over the stores only when the leader hands
 * them over: a PUT to retry later (the pump does the waiting), a backlog of BACKLOG records,
 * or the agent stopping (the drain). */
#define HOT_NS 1000000000ull
#define LAG_NS 5000000ull
#define BACKLOG 4096u
#define SPIN_MAX_NS 50000ull /* the leader spins at most this long for the next request */

static uint64_t lag_ns = LAG_NS;
static _Atomic uint64_t hot_until;
static _Atomic int pump_active;                             /* the pump has the stores */
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER; /* one consumer of the ring */
static uint32_t ring_attempts;                              /* the head record's, under ring_mu */
static uint64_t ring_retry_at;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void recruit(void)
{
    atomic_store(&hot_until, cm_chan_now() + HOT_NS);
    atomic_fetch_add(&H->hlp_seq, 1);
    cm_chan_wake(&H->hlp_seq, 1);
}

/* 1 when a helper should claim a posted lookup now; else *wait_ns: when to look again. */
static int help_wanted(uint64_t now, uint64_t *wait_ns)
{
    int posted = 0;
    uint64_t oldest = UINT64_MAX;

    for (int i = 0; i < CM_CHAN_SLOTS; i++) {
        struct cm_chan_slot *s = cm_chan_slot(H, i);
        if (atomic_load_explicit(&s->state, memory_order_acquire) == CM_SLOT_POSTED) {
            posted++;
            if (s->posted_ns < oldest)
                oldest = s->posted_ns;
        }
    }
    if (posted == 0)
        return 0;
    if (posted >= 2)
        return 1;
    if (!atomic_load(&H->leader_busy))
        return 0; /* the leader takes it */
    if (now < atomic_load(&hot_until) || (oldest <= now && now - oldest >= lag_ns))
        return 1;
    *wait_ns = oldest <= now ? lag_ns - (now - oldest) : lag_ns;
    return 0;
}

static void hand_to_pump(void)
{
    atomic_store(&pump_active, 1);
    atomic_fetch_add(&H->st_seq, 1);
    cm_chan_wake(&H->st_seq, 1);
}

/* One PUT attempt of the ring's head record (ring_mu held): 0 done (sent, or counted as
 * failed), 1 try again at ring_retry_at. */
static int send_head(struct cm_chan_rec *rec)
{
    char hex[CM_CHAN_HEX + 1];

    memcpy(hex, rec->hex, CM_CHAN_HEX);
    hex[CM_CHAN_HEX] = 0;
    if ((uint64_t)rec->envlen + sizeof(*rec) > rec->len) {
        atomic_fetch_add(&H->st.dropped, 1); /* not what a host writes */
        return 0;
    }
    atomic_fetch_add(&H->st.inflight, 1);
    int rc = api->put_raw(R, hex, rec->env, rec->envlen, &ring_attempts, &ring_retry_at);
    if (rc == 0)
        atomic_fetch_add(&H->st.sent_bytes, rec->envlen);
    copy_counters();
    atomic_fetch_sub(&H->st.inflight, 1);
    atomic_store(&last_activity, cm_chan_now());
    return rc != 0;
}

static void pop_head(struct cm_chan_rec *rec)
{
    cm_chan_pop_done(H, rec);
    ring_attempts = 0;
    ring_retry_at = 0;
}

/* The leader's turn at the stores: one record, unless the pump has them. 1 when it did work. */
static int leader_store(void)
{
    if (atomic_load(&pump_active) || pthread_mutex_trylock(&ring_mu) != 0)
        return 0;
    struct cm_chan_rec *rec = cm_chan_pop_peek(H);
    int did = rec != NULL;
    if (rec != NULL && atomic_load(&H->st_records) > BACKLOG) {
        hand_to_pump();
    } else if (rec != NULL) {
        atomic_store(&H->leader_busy, 1); /* seq_cst: pairs with the host's fence */
        if (ring_retry_at > cm_chan_now() || send_head(rec) != 0)
            hand_to_pump();
        else
            pop_head(rec);
        atomic_store(&H->leader_busy, 0);
    }
    pthread_mutex_unlock(&ring_mu);
    return did;
}

/* The gap between the end of one request and the next, lately (a moving average of 8): the
 * leader spins for about that long when it is short (a program calling in a loop) and only
 * briefly when requests come further apart than SPIN_MAX_NS. */
static uint64_t gap_avg = SPIN_MAX_NS;
static uint32_t spin_skip;
static uint64_t idle_since;

/* Spins for a post (req_seq moves) or a store: 1 when one came. */
static int leader_spin(uint32_t seq)
{
    uint64_t start = cm_chan_now(), budget = gap_avg * 3 / 2;
    if (budget > SPIN_MAX_NS || spin_skip > 0)
        budget = 2000;
    if (spin_skip > 0)
        spin_skip--;
    idle_since = start;
    for (int k = 0;; k++) {
        if (atomic_load_explicit(&H->req_seq, memory_order_acquire) != seq)
            return 1;
        cpu_relax();
        if (k % 64 == 63) {
            if (!atomic_load(&pump_active) && cm_chan_store_waiting(H))
                return 1;
            if (cm_chan_now() - start >= budget) {
                if (budget > 2000)
                    spin_skip = 15; /* missed: spin only briefly for the next 15 idle times */
                return 0;
            }
        }
    }
}

/* The leader got slot i's lookup after being idle since idle_since: the gap is counted to the
 * post (not to when the leader noticed it: a wake-up's own delay must not turn spinning off). */
static void leader_woke(int i)
{
    if (idle_since == 0)
        return;
    uint64_t posted = cm_chan_slot(H, i)->posted_ns;
    uint64_t gap = posted > idle_since ? posted - idle_since : 0;
    if (gap > 8 * SPIN_MAX_NS)
        gap = 8 * SPIN_MAX_NS;
    gap_avg = (gap_avg * 7 + gap) / 8;
    idle_since = 0;
}

static void *leader(void *arg)
{
    (void)arg;
    while (atomic_load(&serving)) {
        uint32_t seq = atomic_load(&H->req_seq);
        int did = 0, i = cm_chan_claim(H);
        if (i >= 0) {
            leader_woke(i);
            atomic_store(&H->leader_busy, 1); /* seq_cst: pairs with the host's fence */
            if (cm_chan_posted(H))
                recruit(); /* lookups overlap */
            serve(i, 1);
            did = 1;
        }
        if (leader_store())
            did = 1;
        if (did || leader_spin(seq))
            continue;
        atomic_store(&H->ld_sleeping, 1); /* seq_cst: pairs with the host's fence */
        if (!cm_chan_posted(H) && !(!atomic_load(&pump_active) && cm_chan_store_waiting(H)))
            cm_chan_wait(&H->req_seq, seq, TICK_NS);
        atomic_store(&H->ld_sleeping, 0);
    }
    return NULL;
}

static void *helper(void *arg)
{
    (void)arg;
    while (atomic_load(&serving)) {
        uint32_t seq = atomic_load(&H->hlp_seq);
        uint64_t wait = TICK_NS * 5;
        int i = help_wanted(cm_chan_now(), &wait) ? cm_chan_claim(H) : -1;
        if (i < 0) {
            cm_chan_wait(&H->hlp_seq, seq, wait);
            continue;
        }
        atomic_store(&hot_until, cm_chan_now() + HOT_NS);
        if (cm_chan_posted(H)) {
            atomic_fetch_add(&H->hlp_seq, 1);
            cm_chan_wake(&H->hlp_seq, 1);
        }
        serve(i, 0);
    }
    return NULL;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/* Sends the head record, waiting between attempts; gives up (dropped) only when stopping and
 * past the flush deadline. ring_mu held. */
static void send_record(struct cm_chan_rec *rec, uint64_t *flush_deadline)
{
    for (;;) {
        uint64_t now = cm_chan_now();
        if (ring_retry_at <= now && send_head(rec) == 0)
            break;
        now = cm_chan_now();
        if (!atomic_load(&pumping) && *flush_deadline == 0)
            *flush_deadline = now + H->conf.flush_ns;
        if (*flush_deadline && now >= *flush_deadline) {
            atomic_fetch_add(&H->st.dropped, 1);
            break;
        }
        uint64_t at = ring_retry_at;
        sleep_ns(at > now ? (at - now < TICK_NS ? at - now : TICK_NS) : 1000000);
    }
}

static void *pump(void *arg)
{
    uint64_t flush_deadline = 0;
    (void)arg;
    for (;;) {
        if (atomic_load(&pumping) && !atomic_load(&pump_active)) {
            uint32_t seq = atomic_load(&H->st_seq);
            if (atomic_load(&pumping) && !atomic_load(&pump_active))
                cm_chan_wait(&H->st_seq, seq, TICK_NS);
            continue;
        }
        pthread_mutex_lock(&ring_mu);
        struct cm_chan_rec *rec;
        while ((rec = cm_chan_pop_peek(H)) != NULL) {
            send_record(rec, &flush_deadline);
            pop_head(rec);
            /* Caught up while serving: the leader gets the stores back. */
            if (atomic_load(&pumping) && atomic_load(&H->st_records) == 0)
                break;
        }
        int stopping = !atomic_load(&pumping);
        if (!stopping)
            atomic_store(&pump_active, 0);
        pthread_mutex_unlock(&ring_mu);
        if (!stopping)
            continue;
        uint64_t now = cm_chan_now();
        if (flush_deadline == 0)
            flush_deadline = now + H->conf.flush_ns;
        /* Empty, or only records still being written: wait for those a little. */
        if (atomic_load(&H->st_head) == atomic_load(&H->st_tail) || now >= flush_deadline)
            break;
        sleep_ns(1000000); /* a record is being written */
    }
    /* What could not be sent in time. */
    uint64_t left = atomic_load(&H->st_records);
    if (left)
        atomic_fetch_add(&H->st.dropped, left);
    return NULL;
}

/* Monotonic counters copied by several threads: never let an older copy win. */
static void store_max(_Atomic uint64_t *w, uint64_t v)
{
    uint64_t cur = atomic_load(w);
    while (cur < v && !atomic_compare_exchange_weak(w, &cur, v))
        ;
}

static void copy_counters(void)
{
    struct cm_remote_counters c;
    int rd, wr;
    api->counters(R, &c);
    api->breakers(R, &rd, &wr);
    store_max(&H->st.hits, c.hits);
    store_max(&H->st.misses, c.misses);
    store_max(&H->st.errors, c.errors);
    store_max(&H->st.timeouts, c.timeouts);
    store_max(&H->st.skipped, c.skipped);
    store_max(&H->st.auth_errors, c.auth_errors);
    store_max(&H->st.puts, c.puts);
    store_max(&H->st.put_errors, c.put_errors);
    store_max(&H->st.breaker_opens, c.breaker_opens);
    store_max(&H->st.gets, c.hits + c.misses + c.errors + c.skipped);
    atomic_store(&H->st.brk_read, (uint32_t)rd);
    atomic_store(&H->st.brk_write, (uint32_t)wr);
}

static int idle(uint64_t now)
{
    if (now - atomic_load(&last_activity) < H->conf.idle_ns)
        return 0;
    if (atomic_load(&H->st_head) != atomic_load(&H->st_tail))
        return 0;
    for (int i = 0; i < CM_CHAN_SLOTS; i++) {
        uint32_t st = atomic_load(&cm_chan_slot(H, i)->state);
        if (st == CM_SLOT_POSTED || st == CM_SLOT_BUSY)
            return 0;
    }
    return 1;
}

/* Becomes the channel's agent: 0, or 1 when another live agent has it. */
static int take_over(void)
{
    uint32_t me = (uint32_t)getpid();
    for (;;) {
        uint32_t cur = atomic_load(&H->agent_pid);
        if (cur == me)
            return 0;
        if (cur != 0 && (kill((pid_t)cur, 0) == 0 || errno == EPERM))
            return 1;
        atomic_store(&H->heartbeat_ns, cm_chan_now());
        if (atomic_compare_exchange_strong(&H->agent_pid, &cur, me))
            return 0;
    }
}

int cm_agent_serve(const char *path, int foreground)
{
    char err[600] = "";
    pthread_t th[CM_AGENT_HELPERS + 2];
    int nth = 0;

    fg = foreground;
    signal(SIGPIPE, SIG_IGN);
    H = cm_chan_open(path, NULL, err, sizeof(err));
    if (H == NULL) {
        fprintf(stderr, "cloudm agent: %s\n", err);
        return 1;
    }
    if (take_over() != 0) {
        if (foreground)
            fprintf(stderr, "cloudm agent: pid %u already serves %s\n",
                    (unsigned)atomic_load(&H->agent_pid), path);
        return foreground ? 1 : 0;
    }
    struct cm_remote_opts o = {
        .url = H->conf.url,
        .ns = H->conf.ns,
        .token_file = H->conf.token_file,
        .ca_file = H->conf.ca_file,
        .secret_file = "",
        /* 90 %: a request that times out is answered (and counted by the breaker) before the
         * host stops waiting for it, so the host's count and the breaker's stay in step. */
        .timeout_ns = H->conf.timeout_ns - H->conf.timeout_ns / 10,
        .flush_timeout_ns = H->conf.flush_ns,
        .queue_entries = 1,
        .queue_bytes = 1,
        .max_value = H->conf.max_value,
        .access = CM_REMOTE_READWRITE,
        .expire_ns = H->conf.expire_ns,
    };
    R = api->open(&o, &host, err, sizeof(err));
    if (R == NULL) {
        agent_log("remote tier: the agent cannot use %s: %s", H->conf.url, err);
        atomic_store(&H->agent_pid, 0);
        return 1;
    }
    if (H->conf.timeout_ns / 8 < lag_ns)
        lag_ns = H->conf.timeout_ns / 8;
    atomic_store(&H->started_ns, cm_chan_now());
    atomic_store(&H->stop, 0);
    atomic_store(&last_activity, cm_chan_now());
    cm_chan_janitor(H, 1);
    if (pthread_create(&th[nth], NULL, pump, NULL) == 0)
        nth++;
    if (pthread_create(&th[nth], NULL, leader, NULL) == 0)
        nth++;
    for (int i = 0; i < CM_AGENT_HELPERS; i++)
        if (pthread_create(&th[nth], NULL, helper, NULL) == 0)
            nth++;
    if (foreground)
        fprintf(stderr, "cloudm agent: pid %d serves %s for %s\n", (int)getpid(), path,
                H->conf.url);
    for (;;) {
        uint64_t now = cm_chan_now();
        atomic_store(&H->heartbeat_ns, now);
        copy_counters();
        cm_chan_janitor(H, 0);
        if (atomic_load(&H->stop) || idle(now) || atomic_load(&H->agent_pid) != (uint32_t)getpid())
            break;
        cm_chan_wait(&H->stop, 0, TICK_NS);
    }
    /* Drain the stores (the pump stops when the ring is empty or flush_timeout passed), keep
     * answering lookups meanwhile, then leave. */
    atomic_store(&pumping, 0);
    atomic_store(&pump_active, 1); /* the pump drains; the leader sends no more */
    atomic_fetch_add(&H->st_seq, 1);
    cm_chan_wake(&H->st_seq, 1);
    pthread_join(th[0], NULL);
    atomic_store(&serving, 0);
    for (int i = 1; i < nth; i++)
        pthread_join(th[i], NULL);
    copy_counters();
    uint32_t me = (uint32_t)getpid();
    atomic_compare_exchange_strong(&H->agent_pid, &me, 0);
    api->close(R);
    if (foreground)
        fprintf(stderr, "cloudm agent: pid %d stopped\n", (int)getpid());
    return 0;
}
