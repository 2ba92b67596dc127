/*
 * syswrap.c - wrappers that got.c stores into every object's GOT slots for the libc functions
 * that change what the process may do: its credentials (setuid, setgid, seteuid, setegid,
 * setreuid, setregid, setresuid, setresgid, setgroups, initgroups, setfsuid, setfsgid) and its
 * sandbox (prctl, and syscall() for SYS_seccomp, SYS_prctl and the credential calls).
 *
 * What it does: each wrapper calls the real function. A credential change that succeeded is
 * announced (cm_hook_on_credentials: the tiers drop the shared segment of the old identity and
 * open the new identity's) before the wrapper returns, so no later call of the program can read
 * or write the old user's segment (issue 16). A sandbox is announced *before* the real call
 * (cm_hook_on_sandbox), because afterwards cloudm may no longer be able to prepare for it:
 * seccomp strict mode (or PR_SET_TSC to SIGSEGV) takes the miss timer off rdtsc, a seccomp
 * filter of unknown content turns off what could make new system calls.
 *
 * What it does not do: no decision about tiers (tier/shared.c) or the clock (base/clock.c); it
 * cannot see calls that bypass the GOT (glibc's own internal calls, inline `syscall`
 * instructions): a program sandboxing itself that way is not noticed.
 *
 * DESIGN: the wrappers keep errno and the return value of the real call; the notifications run
 * with the recursion guard set and save errno themselves. Nothing here is on a hit path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook_int.h"

#include "base/base.h"

#include <errno.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void (*on_cred)(void);
static void (*on_sandbox)(int level);

void cm_hook_on_credentials(void (*fn)(void))
{
    on_cred = fn;
}

void cm_hook_on_sandbox(void (*fn)(int level))
{
    on_sandbox = fn;
}

static void cred_changed(int rc)
{
    if (rc != 0 || !on_cred)
        return;
    int saved = errno, g = cm_guard;
    cm_guard = 1;
    on_cred();
    cm_guard = g;
    errno = saved;
}

/* Before a prctl(option, a2, ...) or seccomp(op, ...) that may sandbox the process. */
static void before_prctl(long option, unsigned long a2)
{
    if (!on_sandbox)
        return;
    int g = cm_guard, saved = errno;
    cm_guard = 1;
    if (option == PR_SET_SECCOMP)
        on_sandbox(a2 == SECCOMP_MODE_STRICT ? CM_SANDBOX_STRICT : CM_SANDBOX_FILTER);
    else if (option == PR_SET_TSC && a2 == PR_TSC_SIGSEGV)
        on_sandbox(CM_SANDBOX_NOTSC);
    cm_guard = g;
    errno = saved;
}

static void before_seccomp(unsigned long op)
{
    if (op == SECCOMP_SET_MODE_STRICT)
        before_prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
    else if (op == SECCOMP_SET_MODE_FILTER)
        before_prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER);
}

static int wrap_prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long),
                  a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    before_prctl(option, a2);
    return prctl(option, a2, a3, a4, a5);
}

static bool is_cred_syscall(long nr)
{
    switch (nr) {
    case SYS_setuid:
    case SYS_setgid:
    case SYS_setreuid:
    case SYS_setregid:
    case SYS_setresuid:
    case SYS_setresgid:
    case SYS_setgroups:
    case SYS_setfsuid:
    case SYS_setfsgid:
        return true;
    default:
        return false;
    }
}

static long wrap_syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_seccomp)
        before_seccomp((unsigned long)a[0]);
    else if (nr == SYS_prctl)
        before_prctl(a[0], (unsigned long)a[1]);
    long rc = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (is_cred_syscall(nr))
        cred_changed(rc == 0 ? 0 : -1); /* a raw setuid changes only this thread: still ours */
    return rc;
}

static int wrap_setuid(uid_t u)
{
    int rc = setuid(u);
    cred_changed(rc);
    return rc;
}

static int wrap_setgid(gid_t g)
{
    int rc = setgid(g);
    cred_changed(rc);
    return rc;
}

static int wrap_seteuid(uid_t u)
{
    int rc = seteuid(u);
    cred_changed(rc);
    return rc;
}

static int wrap_setegid(gid_t g)
{
    int rc = setegid(g);
    cred_changed(rc);
    return rc;
}

static int wrap_setreuid(uid_t r, uid_t e)
{
    int rc = setreuid(r, e);
    cred_changed(rc);
    return rc;
}

static int wrap_setregid(gid_t r, gid_t e)
{
    int rc = setregid(r, e);
    cred_changed(rc);
    return rc;
}

static int wrap_setresuid(uid_t r, uid_t e, uid_t s)
{
    int rc = setresuid(r, e, s);
    cred_changed(rc);
    return rc;
}

static int wrap_setresgid(gid_t r, gid_t e, gid_t s)
{
    int rc = setresgid(r, e, s);
    cred_changed(rc);
    return rc;
}

static int wrap_setgroups(size_t n, const gid_t *list)
{
    int rc = setgroups(n, list);
    cred_changed(rc);
    return rc;
}

static int wrap_initgroups(const char *user, gid_t g)
{
    int rc = initgroups(user, g);
    cred_changed(rc);
    return rc;
}

/* setfsuid/setfsgid return the previous id, never an error: treat every call as a change. */
static int wrap_setfsuid(uid_t u)
{
    int rc = setfsuid(u);
    cred_changed(0);
    return rc;
}

static int wrap_setfsgid(gid_t g)
{
    int rc = setfsgid(g);
    cred_changed(0);
    return rc;
}

static const struct {
    const char *name;
    void *fn;
} wrappers[] = {
    {"prctl", (void *)&wrap_prctl},         {"syscall", (void *)&wrap_syscall},
    {"setuid", (void *)&wrap_setuid},       {"setgid", (void *)&wrap_setgid},
    {"seteuid", (void *)&wrap_seteuid},     {"setegid", (void *)&wrap_setegid},
    {"setreuid", (void *)&wrap_setreuid},   {"setregid", (void *)&wrap_setregid},
    {"setresuid", (void *)&wrap_setresuid}, {"setresgid", (void *)&wrap_setresgid},
    {"setgroups", (void *)&wrap_setgroups}, {"initgroups", (void *)&wrap_initgroups},
    {"setfsuid", (void *)&wrap_setfsuid},   {"setfsgid", (void *)&wrap_setfsgid},
};

void *cm_syswrap_for(const char *name)
{
    if (name[0] != 's' && name[0] != 'p' && name[0] != 'i')
        return NULL;
    for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
        if (strcmp(name, wrappers[i].name) == 0)
            return wrappers[i].fn;
    return NULL;
}
