/*
 * guard.h - the per-thread recursion guard.
 *
 * While a thread is inside cloudm's own code, cm_guard is non-zero and every hooked entry sends
 * the call straight to the original. It is cleared while the original function itself runs, so
 * a memoized function calling another memoized function (or itself) is memoized at every level.
 * Initial-exec TLS: one %fs-relative load, no __tls_get_addr call.
 */
#ifndef CM_GUARD_H
#define CM_GUARD_H

extern __thread int cm_guard __attribute__((tls_model("initial-exec")));

#endif
