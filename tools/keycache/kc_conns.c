/*
 * kc_conns.c - the table of open connections and their header deadlines (kc_conns.h).
 *
 * What it does: a doubly linked list of connections, each with its socket and the time by
 * which its current request's headers must be complete; the reaper shuts down (shutdown(2),
 * not close) the sockets of late ones, and libmicrohttpd, seeing the end of the stream,
 * closes and frees them as it would any connection closed by its client.
 *
 * What it does not do: no closing of descriptors (libmicrohttpd owns them), no timer.
 *
 * DESIGN
 * - `lock` protects the list. A connection is in the list from its opening notification to
 *   its closing notification, and libmicrohttpd closes the socket only after the latter: so
 *   the reaper, which shuts sockets down under the lock, never touches a descriptor that has
 *   been closed (and perhaps reused).
 * - `deadline` (monotonic ns, 0 = none) is an atomic written by libmicrohttpd's threads
 *   (headers complete: 0; answer sent: now + header_ns) and read by the reaper without
 *   ordering needs: at worst a deadline is seen one reaping late.
 */
#include "kc_conns.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct kc_conn {
    struct kc_conn *prev, *next;
    int fd;
    uint64_t deadline; /* atomic: monotonic ns by which the headers are due; 0 = none */
};

struct kc_conns {
    pthread_mutex_t lock;
    struct kc_conn *head; /* under lock */
    uint64_t header_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct kc_conns *kc_conns_new(uint64_t header_ns)
{
    struct kc_conns *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->header_ns = header_ns;
    return t;
}

void kc_conns_free(struct kc_conns *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

struct kc_conn *kc_conns_open(struct kc_conns *t, int fd)
{
    struct kc_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->deadline = now_ns() + t->header_ns;
    pthread_mutex_lock(&t->lock);
    c->next = t->head;
    if (t->head != NULL)
        t->head->prev = c;
    t->head = c;
    pthread_mutex_unlock(&t->lock);
    return c;
}

void kc_conns_close(struct kc_conns *t, struct kc_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&t->lock);
    free(c);
}

void kc_conns_headers_done(struct kc_conn *c)
{
    if (c != NULL)
        __atomic_store_n(&c->deadline, 0, __ATOMIC_RELAXED);
}

void kc_conns_request_done(struct kc_conns *t, struct kc_conn *c)
{
    if (c != NULL)
        __atomic_store_n(&c->deadline, now_ns() + t->header_ns, __ATOMIC_RELAXED);
}

unsigned kc_conns_reap(struct kc_conns *t)
{
    uint64_t now = now_ns();
    unsigned n = 0;

    pthread_mutex_lock(&t->lock);
    for (struct kc_conn *c = t->head; c != NULL; c = c->next) {
        uint64_t d = __atomic_load_n(&c->deadline, __ATOMIC_RELAXED);

        if (d == 0 || d > now)
            continue;
        /* Once: the connection goes when libmicrohttpd notices; do not count it again. */
        __atomic_store_n(&c->deadline, 0, __ATOMIC_RELAXED);
        shutdown(c->fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}
