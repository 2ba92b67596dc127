/*
 * breaker.c - lock-free circuit breaker for the remote tier (see breaker.h for the policy and
 * the DESIGN notes).
 *
 * What it does not do: read a clock, log or know about HTTP (it only says when a transition
 * is due to be logged: cm_breaker_log_due).
 */
#include "breaker.h"

void cm_breaker_init(struct cm_breaker *b)
{
    atomic_store(&b->br_fails, 0);
    atomic_store(&b->br_state, CM_BRK_CLOSED);
    atomic_store(&b->br_until, 0);
    atomic_store(&b->br_backoff, CM_BRK_BACKOFF_MIN);
    atomic_store(&b->br_opens, 0);
    atomic_store(&b->br_logged, 0);
    atomic_store(&b->br_unsaid, 0);
}

int cm_breaker_log_due(struct cm_breaker *b, uint64_t now_ns, uint32_t *unsaid)
{
    uint64_t last = atomic_load(&b->br_logged);

    if ((last == 0 || (now_ns >= last && now_ns - last >= CM_BRK_LOG_EVERY)) &&
        atomic_compare_exchange_strong(&b->br_logged, &last, now_ns ? now_ns : 1)) {
        *unsaid = atomic_exchange(&b->br_unsaid, 0);
        return 1;
    }
    atomic_fetch_add(&b->br_unsaid, 1);
    return 0;
}

int cm_breaker_allow(struct cm_breaker *b, uint64_t now_ns)
{
    int s = atomic_load_explicit(&b->br_state, memory_order_acquire);

    if (s == CM_BRK_CLOSED)
        return CM_BRK_ALLOW;
    if (s == CM_BRK_OPEN && now_ns >= atomic_load(&b->br_until)) {
        int expect = CM_BRK_OPEN;

        if (atomic_compare_exchange_strong(&b->br_state, &expect, CM_BRK_PROBING))
            return CM_BRK_PROBE;
    }
    return CM_BRK_DENY;
}

int cm_breaker_report(struct cm_breaker *b, int ticket, int ok, uint64_t now_ns)
{
    if (ok) {
        atomic_store_explicit(&b->br_fails, 0, memory_order_relaxed);
        if (atomic_load_explicit(&b->br_state, memory_order_relaxed) == CM_BRK_CLOSED)
            return CM_BRK_NONE;
        atomic_store(&b->br_backoff, CM_BRK_BACKOFF_MIN);
        if (atomic_exchange(&b->br_state, CM_BRK_CLOSED) != CM_BRK_CLOSED)
            return CM_BRK_CLOSED_AGAIN;
        return CM_BRK_NONE;
    }
    if (ticket == CM_BRK_PROBE) {
        uint64_t bo = atomic_load(&b->br_backoff) * 2;
        int expect = CM_BRK_PROBING;

        if (bo > CM_BRK_BACKOFF_MAX)
            bo = CM_BRK_BACKOFF_MAX;
        atomic_store(&b->br_backoff, bo);
        atomic_store(&b->br_until, now_ns + bo);
        if (atomic_compare_exchange_strong(&b->br_state, &expect, CM_BRK_OPEN))
            return CM_BRK_NONE;
        /* A stale success closed it meanwhile: count this failure like any other. */
    }
    if (atomic_load(&b->br_state) != CM_BRK_CLOSED)
        return CM_BRK_NONE; /* a request from before the breaker opened */
    if (atomic_fetch_add(&b->br_fails, 1) + 1 >= CM_BRK_THRESHOLD) {
        int expect = CM_BRK_CLOSED;

        atomic_store(&b->br_until, now_ns + atomic_load(&b->br_backoff));
        if (atomic_compare_exchange_strong(&b->br_state, &expect, CM_BRK_OPEN)) {
            atomic_store(&b->br_fails, 0);
            atomic_fetch_add(&b->br_opens, 1);
            return CM_BRK_OPENED;
        }
    }
    return CM_BRK_NONE;
}

uint64_t cm_breaker_retry_at(struct cm_breaker *b)
{
    return atomic_load(&b->br_until);
}
