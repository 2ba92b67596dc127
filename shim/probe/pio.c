/*
 * pio.c - probe mode's count of output made while a configured function runs: wrappers of the
 * C library's output functions, installed in GOT slots by shim/hook/ in probe mode only.
 *
 * What it does: each wrapper finds the descriptor the output goes to (its fd, fileno() of its
 * FILE, stdout for printf and puts), counts one call for every configured function running on
 * the calling thread (a per-thread stack kept by cm_probe_enter/leave), and calls the real
 * function (found with dlsym(RTLD_NEXT)). During the probe's rerun of a function
 * (cm_probe_quiet) the wrappers neither write nor count, so the program's output is the same
 * as without the probe.
 *
 * What it does not do: report (findings.c), any other I/O (reads, file opens). The wrappers
 * take no lock: counters are relaxed atomics, a descriptor's slot is claimed by CAS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "probe_int.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define STACK_MAX 16

static __thread int io_stack[STACK_MAX] __attribute__((tls_model("initial-exec")));
static __thread int io_depth __attribute__((tls_model("initial-exec")));
static __thread int io_quiet __attribute__((tls_model("initial-exec")));

void cm_probe_enter(int func)
{
    if (io_depth < STACK_MAX)
        io_stack[io_depth] = func;
    io_depth++;
}

void cm_probe_leave(void)
{
    if (io_depth > 0)
        io_depth--;
}

void cm_probe_quiet(int on)
{
    io_quiet = on;
}

void cm_probe_io_count(int fd)
{
    int n = io_depth < STACK_MAX ? io_depth : STACK_MAX;
    for (int i = 0; i < n; i++) {
        int func = io_stack[i];
        if (func < 0 || func >= probe_nfns)
            continue;
        struct probe_fn *f = &probe_fns[func];
        for (int k = 0; k < PROBE_MAX_FDS; k++) {
            int cur = __atomic_load_n(&f->io_fd[k], __ATOMIC_ACQUIRE);
            if (cur == -1) {
                int want = -1;
                if (!__atomic_compare_exchange_n(&f->io_fd[k], &want, fd, 0, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
                    cur = want;
                else
                    cur = fd;
            }
            if (cur == fd) {
                __atomic_fetch_add(&f->io_calls[k], 1, __ATOMIC_RELAXED);
                break;
            }
        }
    }
}

/* The real function `name`, resolved once. */
#define REAL(type, name)                                                                           \
    static __typeof__(type) real;                                                                  \
    if (!real)                                                                                     \
        real = (type)dlsym(RTLD_NEXT, name);

static int fd_of(FILE *fp)
{
    return fp ? fileno(fp) : -1;
}

/* Counted (when a probed function runs); returns 1 when the output must be suppressed. */
static int note(int fd)
{
    if (!io_depth)
        return 0;
    if (io_quiet) /* the probe's own rerun: neither written nor counted */
        return 1;
    cm_probe_io_count(fd);
    return 0;
}

static ssize_t w_write(int fd, const void *b, size_t n)
{
    REAL(ssize_t(*)(int, const void *, size_t), "write");
    return note(fd) ? (ssize_t)n : real(fd, b, n);
}

static ssize_t w_writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t(*)(int, const struct iovec *, int), "writev");
    if (note(fd)) {
        ssize_t t = 0;
        for (int i = 0; i < cnt; i++)
            t += (ssize_t)iov[i].iov_len;
        return t;
    }
    return real(fd, iov, cnt);
}

static ssize_t w_send(int fd, const void *b, size_t n, int fl)
{
    REAL(ssize_t(*)(int, const void *, size_t, int), "send");
    return note(fd) ? (ssize_t)n : real(fd, b, n, fl);
}

static ssize_t w_sendto(int fd, const void *b, size_t n, int fl, const struct sockaddr *a,
                        socklen_t al)
{
    REAL(ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t), "sendto");
    return note(fd) ? (ssize_t)n : real(fd, b, n, fl, a, al);
}

static ssize_t w_sendmsg(int fd, const struct msghdr *m, int fl)
{
    REAL(ssize_t(*)(int, const struct msghdr *, int), "sendmsg");
    if (note(fd)) {
        ssize_t t = 0;
        for (size_t i = 0; i < m->msg_iovlen; i++)
            t += (ssize_t)m->msg_iov[i].iov_len;
        return t;
    }
    return real(fd, m, fl);
}

static size_t w_fwrite(const void *b, size_t sz, size_t n, FILE *fp)
{
    REAL(size_t(*)(const void *, size_t, size_t, FILE *), "fwrite");
    return note(fd_of(fp)) ? n : real(b, sz, n, fp);
}

static int w_fputs(const char *s, FILE *fp)
{
    REAL(int (*)(const char *, FILE *), "fputs");
    return note(fd_of(fp)) ? 1 : real(s, fp);
}

static int w_puts(const char *s)
{
    REAL(int (*)(const char *), "puts");
    return note(STDOUT_FILENO) ? 1 : real(s);
}

static int w_fputc(int c, FILE *fp)
{
    REAL(int (*)(int, FILE *), "fputc");
    return note(fd_of(fp)) ? (unsigned char)c : real(c, fp);
}

static int w_putc(int c, FILE *fp)
{
    REAL(int (*)(int, FILE *), "putc");
    return note(fd_of(fp)) ? (unsigned char)c : real(c, fp);
}

static int w_putchar(int c)
{
    REAL(int (*)(int), "putchar");
    return note(STDOUT_FILENO) ? (unsigned char)c : real(c);
}

static int w_vfprintf(FILE *fp, const char *fmt, va_list ap)
{
    REAL(int (*)(FILE *, const char *, va_list), "vfprintf");
    return note(fd_of(fp)) ? vsnprintf(NULL, 0, fmt, ap) : real(fp, fmt, ap);
}

static int w_vprintf(const char *fmt, va_list ap)
{
    REAL(int (*)(const char *, va_list), "vprintf");
    return note(STDOUT_FILENO) ? vsnprintf(NULL, 0, fmt, ap) : real(fmt, ap);
}

static int w_vdprintf(int fd, const char *fmt, va_list ap)
{
    REAL(int (*)(int, const char *, va_list), "vdprintf");
    return note(fd) ? vsnprintf(NULL, 0, fmt, ap) : real(fd, fmt, ap);
}

static int w_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = w_vprintf(fmt, ap);
    va_end(ap);
    return r;
}

static int w_fprintf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = w_vfprintf(fp, fmt, ap);
    va_end(ap);
    return r;
}

static int w_dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = w_vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}

/* _FORTIFY_SOURCE builds call the checking variants. */
static int w_vfprintf_chk(FILE *fp, int fl, const char *fmt, va_list ap)
{
    REAL(int (*)(FILE *, int, const char *, va_list), "__vfprintf_chk");
    return note(fd_of(fp)) ? vsnprintf(NULL, 0, fmt, ap) : real(fp, fl, fmt, ap);
}

static int w_vprintf_chk(int fl, const char *fmt, va_list ap)
{
    REAL(int (*)(int, const char *, va_list), "__vprintf_chk");
    return note(STDOUT_FILENO) ? vsnprintf(NULL, 0, fmt, ap) : real(fl, fmt, ap);
}

static int w_printf_chk(int fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = w_vprintf_chk(fl, fmt, ap);
    va_end(ap);
    return r;
}

static int w_fprintf_chk(FILE *fp, int fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = w_vfprintf_chk(fp, fl, fmt, ap);
    va_end(ap);
    return r;
}

static const char *const io_names[] = {
    "write",         "writev",       "send",         "sendto",  "sendmsg", "fwrite",
    "fputs",         "puts",         "fputc",        "putc",    "putchar", "vfprintf",
    "vprintf",       "vdprintf",     "printf",       "fprintf", "dprintf", "__vfprintf_chk",
    "__vprintf_chk", "__printf_chk", "__fprintf_chk"};
static void *const io_fns[] = {(void *)w_write,       (void *)w_writev,     (void *)w_send,
                               (void *)w_sendto,      (void *)w_sendmsg,    (void *)w_fwrite,
                               (void *)w_fputs,       (void *)w_puts,       (void *)w_fputc,
                               (void *)w_putc,        (void *)w_putchar,    (void *)w_vfprintf,
                               (void *)w_vprintf,     (void *)w_vdprintf,   (void *)w_printf,
                               (void *)w_fprintf,     (void *)w_dprintf,    (void *)w_vfprintf_chk,
                               (void *)w_vprintf_chk, (void *)w_printf_chk, (void *)w_fprintf_chk};
_Static_assert(sizeof(io_names) / sizeof(io_names[0]) == sizeof(io_fns) / sizeof(io_fns[0]),
               "one wrapper per name");

int cm_probe_io_wrappers(const char *const **names, void *const **fns)
{
    *names = io_names;
    *fns = io_fns;
    return (int)(sizeof(io_names) / sizeof(io_names[0]));
}
