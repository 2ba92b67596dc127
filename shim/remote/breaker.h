/*
 * breaker.h - the remote tier's circuit breaker: stop asking a server that keeps failing.
 *
 * What it does: counts consecutive failures; at CM_BRK_THRESHOLD it opens for a back-off
 * (1 s, doubling after each failed probe up to 60 s). While open, cm_breaker_allow() says DENY;
 * once the back-off has passed exactly one caller gets PROBE (compare-and-swap), and its
 * success closes the breaker (back-off reset to 1 s) while its failure reopens it.
 *
 * DESIGN: lock-free, every field an atomic; the caller passes the monotonic time so tests drive
 * the clock. State transitions are CASes, so only one thread reports "opened" or "closed" per
 * transition; the caller logs it when cm_breaker_log_due() says so (one line per second at
 * most, a CAS on br_logged picks the one thread). Stale results from requests that started before a
 * transition are harmless: a success closes (the server answered), a failure only counts.
 *
 * What it does not do: no clock, no logging, no I/O, no notion of what a failure is (plugin.c
 * decides: transport errors, timeouts, bad statuses and bad envelopes; never a 404).
 */
#ifndef CM_BREAKER_H
#define CM_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

#define CM_BRK_THRESHOLD 5
#define CM_BRK_BACKOFF_MIN 1000000000ull  /* 1 s */
#define CM_BRK_BACKOFF_MAX 60000000000ull /* 60 s */

enum cm_brk_state { CM_BRK_CLOSED = 0, CM_BRK_OPEN = 1, CM_BRK_PROBING = 2 };
enum cm_brk_ticket { CM_BRK_DENY = 0, CM_BRK_ALLOW = 1, CM_BRK_PROBE = 2 };
enum cm_brk_event { CM_BRK_NONE = 0, CM_BRK_OPENED = 1, CM_BRK_CLOSED_AGAIN = 2 };

struct cm_breaker {
    _Atomic uint32_t br_fails;   /* consecutive failures while closed */
    _Atomic int br_state;        /* enum cm_brk_state */
    _Atomic uint64_t br_until;   /* monotonic ns at which an open breaker may be probed */
    _Atomic uint64_t br_backoff; /* current back-off, ns */
    _Atomic uint64_t br_opens;   /* closed -> open transitions */
    _Atomic uint64_t br_logged;  /* monotonic ns of the last transition logged (0: none) */
    _Atomic uint32_t br_unsaid;  /* transitions not logged since then */
};

void cm_breaker_init(struct cm_breaker *b);
/* Whether a request may go out now: DENY, ALLOW, or PROBE (this caller is the one probe). */
int cm_breaker_allow(struct cm_breaker *b, uint64_t now_ns);
/* Reports the outcome of a request that got ticket ALLOW or PROBE. Returns CM_BRK_OPENED when
 * this call opened the breaker, CM_BRK_CLOSED_AGAIN when it closed it, else CM_BRK_NONE. */
int cm_breaker_report(struct cm_breaker *b, int ticket, int ok, uint64_t now_ns);
/* A transition happened at `now_ns`: returns 1 when the caller should log it (the first, or
 * CM_BRK_LOG_EVERY after the last logged one; *unsaid = transitions not logged in between),
 * else 0 (it is counted for the next line). Many threads make a breaker flap: this keeps it to
 * one line per second. */
#define CM_BRK_LOG_EVERY 1000000000ull /* 1 s */
int cm_breaker_log_due(struct cm_breaker *b, uint64_t now_ns, uint32_t *unsaid);
/* The earliest time a probe may go out (meaningful while open). */
uint64_t cm_breaker_retry_at(struct cm_breaker *b);

#endif
