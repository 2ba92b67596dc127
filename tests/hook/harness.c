/*
 * harness.c - a test preload library for the hooking layer alone (shim/got.c and friends),
 * standing in for the dispatcher until it exists and afterwards as an isolated check.
 *
 * What it does: reads HOOK_TARGETS ("name[:d][@glob],..."; ":d" marks a double(double)
 * function, everything else is treated as up to six integer-class arguments returning an
 * integer), installs the hooks with a bind() that hands out one counting replacement per
 * (target, original), and at exit appends one line per binding to $HOOK_REPORT (or stderr):
 *   hook NAME VERSION CALLS PROVIDER-BASENAME
 * With HOOK_DESCRIBE=1 it appends cm_hook_describe()'s text after installing.
 *
 * What it does not do: no memoization; the replacements only count and forward to the original
 * they were bound to. It defines cm_guard, which the real dispatcher owns in libcloudm.so.
 */
#include "hook/hook.h"
#include "base/base.h"
#include "elf/elf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__thread int cm_guard __attribute__((tls_model("initial-exec")));

#define MAX_TARGETS 16
#define NREP 32

struct rep {
    const char *name;
    const char *version;
    const char *provider;
    void *orig;
    long calls;
    int unbound; /* its provider was unloaded: reusable for the same function (issue 16) */
};

static struct cm_target targets[MAX_TARGETS];
static int ntargets;
static char is_double[MAX_TARGETS];
static char spec[1024];
static struct rep ireps[NREP], dreps[NREP];
static int nireps, ndreps;

typedef long (*ifn)(long, long, long, long, long, long);
typedef double (*dfn)(double);

#define IREP(i)                                                                                    \
    static long irep##i(long a, long b, long c, long d, long e, long f)                            \
    {                                                                                              \
        __atomic_add_fetch(&ireps[i].calls, 1, __ATOMIC_RELAXED);                                  \
        return ((ifn)ireps[i].orig)(a, b, c, d, e, f);                                             \
    }
#define DREP(i)                                                                                    \
    static double drep##i(double x)                                                                \
    {                                                                                              \
        __atomic_add_fetch(&dreps[i].calls, 1, __ATOMIC_RELAXED);                                  \
        return ((dfn)dreps[i].orig)(x);                                                            \
    }
IREP(0)
IREP(1)
IREP(2) IREP(3) IREP(4) IREP(5) IREP(6) IREP(7) IREP(8) IREP(9) IREP(10) IREP(11) IREP(12) IREP(13)
    IREP(14) IREP(15) IREP(16) IREP(17) IREP(18) IREP(19) IREP(20) IREP(21) IREP(22) IREP(23)
        IREP(24) IREP(25) IREP(26) IREP(27) IREP(28) IREP(29) IREP(30) IREP(31) DREP(0) DREP(1)
            DREP(2) DREP(3) DREP(4) DREP(5) DREP(6) DREP(7) DREP(8) DREP(9) DREP(10) DREP(11)
                DREP(12) DREP(13) DREP(14) DREP(15) DREP(16) DREP(17) DREP(18) DREP(19) DREP(20)
                    DREP(21) DREP(22) DREP(23) DREP(24) DREP(25) DREP(26) DREP(27) DREP(28) DREP(29)
                        DREP(30) DREP(31)

                            static void *const ientries[NREP] = {
                                (void *)irep0,  (void *)irep1,  (void *)irep2,  (void *)irep3,
                                (void *)irep4,  (void *)irep5,  (void *)irep6,  (void *)irep7,
                                (void *)irep8,  (void *)irep9,  (void *)irep10, (void *)irep11,
                                (void *)irep12, (void *)irep13, (void *)irep14, (void *)irep15,
                                (void *)irep16, (void *)irep17, (void *)irep18, (void *)irep19,
                                (void *)irep20, (void *)irep21, (void *)irep22, (void *)irep23,
                                (void *)irep24, (void *)irep25, (void *)irep26, (void *)irep27,
                                (void *)irep28, (void *)irep29, (void *)irep30, (void *)irep31};
static void *const dentries[NREP] = {
    (void *)drep0,  (void *)drep1,  (void *)drep2,  (void *)drep3,  (void *)drep4,  (void *)drep5,
    (void *)drep6,  (void *)drep7,  (void *)drep8,  (void *)drep9,  (void *)drep10, (void *)drep11,
    (void *)drep12, (void *)drep13, (void *)drep14, (void *)drep15, (void *)drep16, (void *)drep17,
    (void *)drep18, (void *)drep19, (void *)drep20, (void *)drep21, (void *)drep22, (void *)drep23,
    (void *)drep24, (void *)drep25, (void *)drep26, (void *)drep27, (void *)drep28, (void *)drep29,
    (void *)drep30, (void *)drep31};

/* A library reloaded after dlclose is bound afresh: reuse the replacement its previous load
 * had, so counts add up over reloads and 32 replacements last. */
static void *reuse(const struct cm_binding *b, const char *base, struct rep *v, void *const *e,
                   int n)
{
    const char *version = b->version ? b->version : "none";
    for (int i = 0; i < n; i++)
        if (v[i].unbound && v[i].name == targets[b->target].name &&
            strcmp(v[i].provider, base) == 0 && strcmp(v[i].version, version) == 0) {
            v[i].orig = b->original;
            v[i].unbound = 0;
            return e[i];
        }
    return NULL;
}

static void unbind(void *entry)
{
    for (int i = 0; i < nireps; i++)
        if (ientries[i] == entry)
            ireps[i].unbound = 1;
    for (int i = 0; i < ndreps; i++)
        if (dentries[i] == entry)
            dreps[i].unbound = 1;
}

static void *bind(const struct cm_binding *b)
{
    const char *base = strrchr(b->provider->path, '/');
    base = base ? base + 1 : b->provider->path;
    struct rep *r;
    void *entry = is_double[b->target] ? reuse(b, base, dreps, dentries, ndreps)
                                       : reuse(b, base, ireps, ientries, nireps);
    if (entry)
        return entry;
    if (is_double[b->target]) {
        if (ndreps == NREP)
            return NULL;
        r = &dreps[ndreps];
        entry = dentries[ndreps++];
    } else {
        if (nireps == NREP)
            return NULL;
        r = &ireps[nireps];
        entry = ientries[nireps++];
    }
    r->name = targets[b->target].name;
    r->version = b->version ? b->version : "none";
    r->provider = base;
    r->orig = b->original;
    return entry;
}

static int report_fd(void)
{
    const char *p = getenv("HOOK_REPORT");
    if (!p || !*p)
        return 2;
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? 2 : fd;
}

static void report(void)
{
    char line[512];
    int fd = report_fd();
    for (int k = 0; k < 2; k++) {
        struct rep *v = k ? dreps : ireps;
        int n = k ? ndreps : nireps;
        for (int i = 0; i < n; i++) {
            int len = snprintf(line, sizeof(line), "hook %s %s %ld %s\n", v[i].name, v[i].version,
                               __atomic_load_n(&v[i].calls, __ATOMIC_RELAXED), v[i].provider);
            if (write(fd, line, (size_t)len) < 0)
                break;
        }
    }
    if (fd != 2)
        close(fd);
}

__attribute__((constructor)) static void harness_init(void)
{
    const char *dbg = getenv("CLOUDM_DEBUG");
    cm_debug_enabled = dbg && strcmp(dbg, "1") == 0;
    const char *s = getenv("HOOK_TARGETS");
    if (!s || strlen(s) >= sizeof(spec))
        return;
    strcpy(spec, s);
    for (char *tok = strtok(spec, ","); tok && ntargets < MAX_TARGETS; tok = strtok(NULL, ",")) {
        char *glob = strchr(tok, '@');
        if (glob)
            *glob++ = '\0';
        char *kind = strchr(tok, ':');
        if (kind)
            *kind++ = '\0';
        is_double[ntargets] = kind && strcmp(kind, "d") == 0;
        targets[ntargets].name = tok;
        targets[ntargets].object_glob = glob;
        ntargets++;
    }
    cm_hook_on_unbind(unbind);
    int rc = cm_hook_install(targets, ntargets, bind);
    if (rc < 0)
        cm_log("harness: cm_hook_install failed: %d", rc);
    const char *d = getenv("HOOK_DESCRIBE");
    if (d && strcmp(d, "1") == 0) {
        int fd = report_fd();
        FILE *f = fdopen(dup(fd), "w");
        if (f) {
            int nowhere = cm_hook_describe(f);
            fprintf(f, "nowhere %d\n", nowhere);
            fclose(f);
        }
        if (fd != 2)
            close(fd);
    }
    atexit(report);
}
