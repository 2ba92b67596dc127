/*
 * writer.h - the remote tier's background writer: a bounded queue of puts and the thread that
 * sends them.
 *
 * What it does: cm_writer_push() copies a write (key, sig, value) into the queue without I/O and
 * without waiting for the network; a thread, started on the first push, hands the oldest entry
 * to the send callback until the queue is empty. The callback says DONE (sent, or failed for
 * good: counted by the caller) or RETRY at a given time (breaker open, transient failure); the
 * entry then stays at the head and waits. When the queue is full (entries or bytes) new writes
 * are dropped and counted. cm_writer_close() drains within a deadline, drops what is left
 * (counted), and joins the thread.
 *
 * DESIGN: wr_mu protects the queue, wr_started, wr_stopping and wr_deadline; wr_cv wakes the
 * thread (first entry, close). The entry being sent stays at the head while wr_mu is released,
 * so only the writer thread removes entries. Fork: the child handler resets the queue without
 * locking (the parent's thread may have held wr_mu), forgets the thread and keeps the abandoned
 * entries reachable (wr_orphans); the parent still owns and writes them.
 *
 * What it does not do: encode, encrypt or talk to a server (the callback does).
 */
#ifndef CM_WRITER_H
#define CM_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

struct cm_witem {
    struct cm_witem *wi_next;
    uint32_t wi_klen, wi_vlen;
    uint32_t wi_attempts; /* failed sends so far; the callback manages it */
    uint8_t wi_sig[16];
    uint8_t wi_data[]; /* key bytes, then value bytes */
};

enum { CM_WRITER_DONE = 0, CM_WRITER_RETRY = 1 };

struct cm_writer_cbs {
    void *ctx;
    /* Called on the writer thread. deadline_ns: 0, or the flush deadline at close. Returns
     * CM_WRITER_DONE or CM_WRITER_RETRY and then sets *retry_at (monotonic ns). */
    int (*send)(void *ctx, struct cm_witem *it, uint64_t deadline_ns, uint64_t *retry_at);
    void (*thread_enter)(void); /* first call of the writer thread, may be NULL */
    _Atomic uint64_t *dropped;  /* incremented for every dropped write */
};

struct cm_writer;

/* NULL on allocation failure. max_entries and max_bytes >= 1. */
struct cm_writer *cm_writer_new(const struct cm_writer_cbs *cbs, uint64_t max_entries,
                                uint64_t max_bytes);
/* 0 queued, -1 dropped (queue full, out of memory, thread could not start). */
int cm_writer_push(struct cm_writer *w, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
                   const uint8_t *val, uint32_t vlen);
/* Drains within flush_ns, drops the rest, joins the thread and frees w. */
void cm_writer_close(struct cm_writer *w, uint64_t flush_ns);
/* pthread_atfork child handler for one writer (see DESIGN). */
void cm_writer_atfork_child(struct cm_writer *w);
/* Entries queued now (tests). */
uint64_t cm_writer_pending(struct cm_writer *w);

#endif
