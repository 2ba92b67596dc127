/*
 * kc_conns.h - the keycache's table of open connections and their header deadlines (against
 * Slowloris: clients that keep a connection by trickling header bytes).
 *
 * What it does: records each connection libmicrohttpd opens, with a deadline by which its
 * next request's line and headers must be complete (from the connection's opening, then from
 * each answer sent on it); kc_conns_reap() shuts down the sockets of connections past their
 * deadline, so libmicrohttpd sees them closed and frees them.
 *
 * What it does not do: no timer of its own (the caller calls kc_conns_reap about every
 * second), no limits on the number of connections (libmicrohttpd's options), no deadline for
 * a body (the idle timeout covers a body that stalls).
 */
#ifndef KC_CONNS_H
#define KC_CONNS_H

#include <stdint.h>

struct kc_conns;
struct kc_conn;

/* A table whose connections get `header_ns` to send each request's headers. NULL: no memory. */
struct kc_conns *kc_conns_new(uint64_t header_ns);
/* Frees the table; every connection must have been closed (kc_conns_close). */
void kc_conns_free(struct kc_conns *t);
/* A new connection on socket `fd`; its deadline starts now. NULL: no memory (no deadline). */
struct kc_conn *kc_conns_open(struct kc_conns *t, int fd);
/* Before libmicrohttpd closes the socket: forget `c` (NULL is ignored). */
void kc_conns_close(struct kc_conns *t, struct kc_conn *c);
/* The current request's headers are complete: no deadline until its answer is sent. */
void kc_conns_headers_done(struct kc_conn *c);
/* An answer was sent: the next request's headers are due within the deadline from now. */
void kc_conns_request_done(struct kc_conns *t, struct kc_conn *c);
/* Shuts down the sockets of connections past their deadline; returns how many. */
unsigned kc_conns_reap(struct kc_conns *t);

#endif
