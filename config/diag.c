/*
 * diag.c - formatting and counting the parser's messages.
 *
 * What it does: turns (position, severity, text) into exactly "FILE:LINE:COL: error: TEXT" or
 * "FILE:LINE:COL: warning: TEXT" and hands it to the caller's callback; maps an offset inside a
 * value that spans continuation lines back to its own line and column.
 *
 * What it does not do: no printing, no allocation (messages are built in a bounded stack buffer
 * and truncated beyond CM_MSG_MAX), no decisions about what is an error.
 */
#include <stdio.h>

#include "cm_config_int.h"

static void emit(struct cm_diag_sink *d, enum cm_severity sev, const char *file, int line, int col,
                 const char *fmt, va_list ap)
{
    char msg[CM_MSG_MAX];
    int n;

    if (sev == CM_DIAG_ERROR)
        d->nerrors++;
    else
        d->nwarnings++;
    if (d->fn == NULL)
        return;
    if (file == NULL || file[0] == '\0')
        file = "<config>";
    if (col < 1)
        col = 1;
    if (line > 0)
        n = snprintf(msg, sizeof(msg), "%s:%d:%d: %s: ", file, line, col,
                     sev == CM_DIAG_ERROR ? "error" : "warning");
    else
        n = snprintf(msg, sizeof(msg), "%s:%d: %s: ", file, col,
                     sev == CM_DIAG_ERROR ? "error" : "warning");
    if (n < 0)
        return;
    if ((size_t)n < sizeof(msg))
        vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    d->fn(d->ctx, sev, msg);
}

void cm_diag_at(struct cm_diag_sink *d, enum cm_severity sev, const char *file, int line, int col,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(d, sev, file, line, col, fmt, ap);
    va_end(ap);
}

void cm_diag_map(struct cm_diag_sink *d, enum cm_severity sev, const struct cm_srcmap *m,
                 size_t off, const char *fmt, ...)
{
    const struct cm_srcseg *s = &m->seg[0];
    va_list ap;
    int i;

    for (i = 1; i < m->nseg; i++) {
        if (m->seg[i].off > off)
            break;
        s = &m->seg[i];
    }
    va_start(ap, fmt);
    emit(d, sev, m->file, s->line, s->col + (int)(off - s->off), fmt, ap);
    va_end(ap);
}
