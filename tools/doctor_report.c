/*
 * doctor_report.c - how `cloudm doctor` prints: one result line per check ("OK   what: text",
 * "WARN ...", "FAIL ..."), indented detail lines, byte counts for humans; it counts the warnings
 * and failures for the summary and the exit status.
 *
 * What it does not do: check anything (cmd_doctor.c, doctor_sys.c), or decide the exit status.
 */
#include <stdarg.h>
#include <stdio.h>

#include "doctor.h"

void cm_doc_line(struct cm_doctor *d, enum cm_doc_level level, const char *what, const char *fmt,
                 ...)
{
    static const char *const tags[] = {"OK  ", "WARN", "FAIL"};
    va_list ap;

    if (level == CM_DOC_WARN)
        d->warns++;
    else if (level == CM_DOC_FAIL)
        d->fails++;
    printf("%s %s: ", tags[level], what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void cm_doc_note(const char *fmt, ...)
{
    va_list ap;

    fputs("     ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

const char *cm_doc_bytes(unsigned long long n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0 || v == (double)(unsigned long long)v)
        snprintf(buf, size, "%.0f %s", v, units[u]);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}
