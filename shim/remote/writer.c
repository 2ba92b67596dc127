/*
 * writer.c - bounded write queue and background writer thread of the remote tier (policy and
 * DESIGN in writer.h).
 *
 * What it does not do: know about HTTP, envelopes or the breaker (the send callback does).
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

#define ORPHAN_SLOTS 16

struct cm_writer {
    struct cm_writer_cbs wr_cbs;
    uint64_t wr_max_entries, wr_max_bytes;
    pthread_mutex_t wr_mu;
    pthread_cond_t wr_cv; /* CLOCK_MONOTONIC */
    struct cm_witem *wr_head, *wr_tail;
    uint64_t wr_entries, wr_bytes; /* queued now */
    int wr_started;                /* the thread runs (or ran) in this process */
    int wr_stopping;               /* close() called */
    uint64_t wr_deadline;          /* flush deadline once stopping */
    pthread_t wr_thread;
    struct cm_witem *wr_orphans[ORPHAN_SLOTS];
};

static uint64_t item_bytes(const struct cm_witem *it)
{
    return sizeof(*it) + (uint64_t)it->wi_klen + it->wi_vlen;
}

static void init_sync(struct cm_writer *w)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&w->wr_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wr_cv, &ca);
    pthread_condattr_destroy(&ca);
}

struct cm_writer *cm_writer_new(const struct cm_writer_cbs *cbs, uint64_t max_entries,
                                uint64_t max_bytes)
{
    struct cm_writer *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->wr_cbs = *cbs;
    w->wr_max_entries = max_entries ? max_entries : 1;
    w->wr_max_bytes = max_bytes ? max_bytes : 1;
    init_sync(w);
    return w;
}

static void wait_until(struct cm_writer *w, uint64_t at_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(at_ns / 1000000000u),
                          .tv_nsec = (long)(at_ns % 1000000000u)};

    pthread_cond_timedwait(&w->wr_cv, &w->wr_mu, &ts);
}

/* With wr_mu held: removes and frees the head. */
static void pop_head(struct cm_writer *w)
{
    struct cm_witem *it = w->wr_head;

    w->wr_head = it->wi_next;
    if (w->wr_head == NULL)
        w->wr_tail = NULL;
    w->wr_entries--;
    w->wr_bytes -= item_bytes(it);
    free(it);
}

static void drop_all(struct cm_writer *w)
{
    while (w->wr_head != NULL) {
        pop_head(w);
        atomic_fetch_add(w->wr_cbs.dropped, 1);
    }
}

static void *writer_main(void *arg)
{
    struct cm_writer *w = arg;

    if (w->wr_cbs.thread_enter != NULL)
        w->wr_cbs.thread_enter();
    pthread_mutex_lock(&w->wr_mu);
    for (;;) {
        uint64_t retry_at = 0, deadline;
        int r;

        while (w->wr_head == NULL && !w->wr_stopping)
            pthread_cond_wait(&w->wr_cv, &w->wr_mu);
        if (w->wr_head == NULL)
            break; /* stopping and drained */
        deadline = w->wr_stopping ? w->wr_deadline : 0;
        if (deadline != 0 && cm_rnow() >= deadline) {
            drop_all(w);
            break;
        }
        pthread_mutex_unlock(&w->wr_mu);
        r = w->wr_cbs.send(w->wr_cbs.ctx, w->wr_head, deadline, &retry_at);
        pthread_mutex_lock(&w->wr_mu);
        if (r == CM_WRITER_DONE) {
            pop_head(w);
            continue;
        }
        /* Retry later; close() may have started meanwhile. */
        if (w->wr_stopping && retry_at >= w->wr_deadline) {
            drop_all(w);
            break;
        }
        if (retry_at > cm_rnow())
            wait_until(w, retry_at);
    }
    pthread_mutex_unlock(&w->wr_mu);
    return NULL;
}

/* With wr_mu held. */
static int start_thread(struct cm_writer *w)
{
    sigset_t all, old;
    int rc;

    /* The writer never runs the host's signal handlers. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->wr_thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    w->wr_started = 1;
    return 0;
}

int cm_writer_push(struct cm_writer *w, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
                   const uint8_t *val, uint32_t vlen)
{
    uint64_t need = sizeof(struct cm_witem) + (uint64_t)klen + vlen;
    struct cm_witem *it;

    pthread_mutex_lock(&w->wr_mu);
    if (w->wr_stopping || w->wr_entries + 1 > w->wr_max_entries ||
        w->wr_bytes + need > w->wr_max_bytes)
        goto drop;
    if (!w->wr_started && start_thread(w) < 0)
        goto drop;
    it = malloc(need);
    if (it == NULL)
        goto drop;
    it->wi_next = NULL;
    it->wi_klen = klen;
    it->wi_vlen = vlen;
    it->wi_attempts = 0;
    memcpy(it->wi_sig, sig, 16);
    if (klen > 0)
        memcpy(it->wi_data, key, klen);
    if (vlen > 0)
        memcpy(it->wi_data + klen, val, vlen);
    if (w->wr_tail != NULL) {
        w->wr_tail->wi_next = it;
    } else {
        w->wr_head = it;
        pthread_cond_signal(&w->wr_cv);
    }
    w->wr_tail = it;
    w->wr_entries++;
    w->wr_bytes += need;
    pthread_mutex_unlock(&w->wr_mu);
    return 0;
drop:
    pthread_mutex_unlock(&w->wr_mu);
    atomic_fetch_add(w->wr_cbs.dropped, 1);
    return -1;
}

void cm_writer_close(struct cm_writer *w, uint64_t flush_ns)
{
    int started;

    pthread_mutex_lock(&w->wr_mu);
    w->wr_stopping = 1;
    w->wr_deadline = cm_rnow() + flush_ns;
    if (w->wr_deadline == 0)
        w->wr_deadline = 1;
    started = w->wr_started;
    pthread_cond_broadcast(&w->wr_cv);
    pthread_mutex_unlock(&w->wr_mu);
    if (started)
        pthread_join(w->wr_thread, NULL);
    drop_all(w); /* only if the thread never ran */
    pthread_cond_destroy(&w->wr_cv);
    pthread_mutex_destroy(&w->wr_mu);
    free(w);
}

void cm_writer_atfork_child(struct cm_writer *w)
{
    for (int i = 0; i < ORPHAN_SLOTS && w->wr_head != NULL; i++) {
        if (w->wr_orphans[i] == NULL) {
            w->wr_orphans[i] = w->wr_head;
            break;
        }
    }
    w->wr_head = w->wr_tail = NULL;
    w->wr_entries = w->wr_bytes = 0;
    w->wr_started = 0;
    init_sync(w);
}

uint64_t cm_writer_pending(struct cm_writer *w)
{
    uint64_t n;

    pthread_mutex_lock(&w->wr_mu);
    n = w->wr_entries;
    pthread_mutex_unlock(&w->wr_mu);
    return n;
}
