/*
 * agent_run.c - the agent process: serves one channel until it is told to stop or stays idle
 * for agent_idle (see agent.h, docs/agent.md).
 *
 * What it does: maps the channel, becomes its agent (only when no live agent holds it), opens
 * the remote client with the configuration the channel carries, and runs
 *   - a leader thread that waits on the channel's request word and answers posted lookups
 *     (so that calls one after another use one connection), waking a helper when more than
 *     one lookup is waiting;
 *   - CM_AGENT_HELPERS helper threads for concurrent lookups (each its own connection, opened
 *     on first use);
 *   - a pump thread that sends the store ring's records in order, straight from shared memory;
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

static void serve(int i)
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
    cm_chan_answer(H, i, result, n > 0 ? (uint64_t)n : 0);
    atomic_fetch_sub(&H->st.inflight, 1);
    atomic_store(&last_activity, cm_chan_now());
}

static void *leader(void *arg)
{
    (void)arg;
    while (atomic_load(&serving)) {
        uint32_t seq = atomic_load(&H->req_seq);
        int i = cm_chan_claim(H);
        if (i < 0) {
            cm_chan_wait(&H->req_seq, seq, TICK_NS);
            continue;
        }
        atomic_store(&H->leader_busy, 1); /* seq_cst: pairs with the host's fence */
        if (cm_chan_posted(H)) {
            atomic_fetch_add(&H->hlp_seq, 1);
            cm_chan_wake(&H->hlp_seq, 1);
        }
        serve(i);
        atomic_store(&H->leader_busy, 0);
    }
    return NULL;
}

static void *helper(void *arg)
{
    (void)arg;
    while (atomic_load(&serving)) {
        uint32_t seq = atomic_load(&H->hlp_seq);
        int i = cm_chan_claim(H);
        if (i < 0) {
            cm_chan_wait(&H->hlp_seq, seq, TICK_NS * 5);
            continue;
        }
        if (cm_chan_posted(H)) {
            atomic_fetch_add(&H->hlp_seq, 1);
            cm_chan_wake(&H->hlp_seq, 1);
        }
        serve(i);
    }
    return NULL;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/* Sends one record; gives up (dropped) only when stopping and past the flush deadline. */
static void send_record(struct cm_chan_rec *rec, uint64_t *flush_deadline)
{
    char hex[CM_CHAN_HEX + 1];
    uint32_t attempts = 0;
    uint64_t retry_at = 0;

    memcpy(hex, rec->hex, CM_CHAN_HEX);
    hex[CM_CHAN_HEX] = 0;
    if ((uint64_t)rec->envlen + sizeof(*rec) > rec->len) {
        atomic_fetch_add(&H->st.dropped, 1); /* not what a host writes */
        return;
    }
    atomic_fetch_add(&H->st.inflight, 1);
    while (api->put_raw(R, hex, rec->env, rec->envlen, &attempts, &retry_at) != 0) {
        uint64_t now = cm_chan_now();
        if (!atomic_load(&pumping) && *flush_deadline == 0)
            *flush_deadline = now + H->conf.flush_ns;
        if (*flush_deadline && now >= *flush_deadline) {
            atomic_fetch_add(&H->st.dropped, 1);
            break;
        }
        sleep_ns(retry_at > now ? (retry_at - now < TICK_NS ? retry_at - now : TICK_NS) : 1000000);
    }
    copy_counters();
    atomic_fetch_add(&H->st.sent_bytes, rec->envlen);
    atomic_fetch_sub(&H->st.inflight, 1);
    atomic_store(&last_activity, cm_chan_now());
}

static void *pump(void *arg)
{
    uint64_t flush_deadline = 0;
    (void)arg;
    for (;;) {
        struct cm_chan_rec *rec = cm_chan_pop_peek(H);
        if (rec != NULL) {
            send_record(rec, &flush_deadline);
            cm_chan_pop_done(H, rec);
            continue;
        }
        if (!atomic_load(&pumping)) {
            uint64_t now = cm_chan_now();
            if (flush_deadline == 0)
                flush_deadline = now + H->conf.flush_ns;
            /* Empty, or only records still being written: wait for those a little. */
            if (atomic_load(&H->st_head) == atomic_load(&H->st_tail) || now >= flush_deadline)
                break;
        }
        uint32_t seq = atomic_load(&H->st_seq);
        atomic_store(&H->st_sleeping, 1);
        if (atomic_load(&H->st_head) == atomic_load(&H->st_tail))
            cm_chan_wait(&H->st_seq, seq, TICK_NS);
        else
            sleep_ns(1000000); /* a record is being written */
        atomic_store(&H->st_sleeping, 0);
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
