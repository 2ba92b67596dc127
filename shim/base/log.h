/*
 * log.h - the shim's messages on stderr.
 *
 * What it does: formats one line "cloudm: ...\n" and writes it to fd 2 with a single write(2)
 * (no stdio, so it is safe from any context that is not the hot path and never touches the
 * host's FILE buffers). cm_log_once() prints a given message key only once per process.
 *
 * What it does not do: no log levels, no files; it must not be called on the hit path.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

__attribute__((format(printf, 1, 2))) void cm_log(const char *fmt, ...);

/* Print at most once per process for each distinct `key` (a short static string). */
__attribute__((format(printf, 2, 3))) void cm_log_once(const char *key, const char *fmt, ...);

/* Print only when CLOUDM_DEBUG=1. */
__attribute__((format(printf, 1, 2))) void cm_debug(const char *fmt, ...);

extern int cm_debug_enabled;

#endif
