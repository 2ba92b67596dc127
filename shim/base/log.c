/*
 * log.c - the shim's one-line messages on stderr (see log.h).
 *
 * Messages are formatted into a stack buffer and written with one write(2), retried on EINTR,
 * so lines from several threads or processes do not interleave. errno is preserved.
 * The "once" set is a small fixed table of key pointers guarded by a spin flag; past its
 * capacity, messages are still printed (better twice than never).
 */
#include "base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cm_debug_enabled;

static void vlog(const char *fmt, va_list ap)
{
    char buf[1024];
    int saved = errno;
    int n = snprintf(buf, sizeof(buf), "cloudm: ");
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(buf) - 2)
        len = sizeof(buf) - 2;
    buf[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(2, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    errno = saved;
}

void cm_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

#define ONCE_MAX 128
static const char *once_keys[ONCE_MAX];
static int once_n;
static int once_lock;

void cm_log_once(const char *key, const char *fmt, ...)
{
    int seen = 0, spins = 0;
    /* A bounded spin: a fork child may inherit the flag set by a thread that is not there; it
     * then prints without recording (a repeated message beats a hang). */
    while (__atomic_exchange_n(&once_lock, 1, __ATOMIC_ACQUIRE))
        if (++spins == 1 << 22)
            break;
    if (spins < 1 << 22) {
        for (int i = 0; i < once_n; i++)
            if (once_keys[i] == key || strcmp(once_keys[i], key) == 0)
                seen = 1;
        if (!seen && once_n < ONCE_MAX)
            once_keys[once_n++] = key;
        __atomic_store_n(&once_lock, 0, __ATOMIC_RELEASE);
    }
    if (seen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void cm_debug(const char *fmt, ...)
{
    if (!cm_debug_enabled)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}
