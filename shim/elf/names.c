/*
 * names.c - C++ names and near misses among the symbols of the loaded objects.
 *
 * What it does: demangles symbol names with the system's demangler (abi::__cxa_demangle of
 * libstdc++, found with dlsym; loaded with dlopen only when a config names a C++ function and
 * the program has no libstdc++), finds the mangled name of a function given by its demangled
 * signature (cm_names_find_cxx), and, for a configured function found nowhere, explains why in
 * lines that lead to the fix (cm_names_hints): the objects searched, similar names (edit
 * distance), C++ functions with that unqualified name, a definition present only in `.symtab`
 * (not exported: `hook = inline`), a stripped executable without a debug file.
 *
 * What it does not do: demangle by itself (no hand-written demangler), patch, or run on the hot
 * path: everything here reads symbol tables from disk (libelf, through symtab.c) and is meant for
 * start-up and for `cloudm check`. Bounds: MAX_OBJS objects listed, MAX_SIMILAR / MAX_CXX names
 * per hint, names longer than CM_NAME_MAX are skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "elf.h"

#include "base/base.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 12   /* objects named in "searched: ..." */
#define MAX_SIMILAR 3 /* similar names in a hint */
#define MAX_CXX 4     /* C++ functions with the wanted unqualified name */

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

static demangle_fn demangler(int may_load)
{
    static demangle_fn fn;
    static int tried_load;
    if (fn)
        return fn;
    fn = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
    if (!fn && may_load && !tried_load) {
        tried_load = 1;
        /* Kept for the life of the process: it is needed again for every object loaded. */
        void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
        if (h)
            fn = (demangle_fn)dlsym(h, "__cxa_demangle");
    }
    return fn;
}

int cm_demangle(const char *mangled, char *out, size_t outlen, int may_load)
{
    demangle_fn fn = demangler(may_load);
    if (!fn)
        return -ENOSYS;
    if (mangled[0] != '_' || mangled[1] != 'Z')
        return -EINVAL;
    int status = -1;
    char *d = fn(mangled, NULL, NULL, &status);
    if (!d || status != 0) {
        free(d);
        return -EINVAL;
    }
    int rc = strlen(d) < outlen ? 0 : -ENAMETOOLONG;
    if (rc == 0)
        memcpy(out, d, strlen(d) + 1);
    free(d);
    return rc;
}

/* Whether a mangled name can encode the unqualified name `s` (a <source-name> is its length in
 * decimal followed by the name): a cheap filter before demangling. */
static int may_encode(const char *mangled, const char *s, size_t slen)
{
    char pat[CM_NAME_MAX + 8];
    snprintf(pat, sizeof(pat), "%zu%s", slen, s);
    return mangled[0] == '_' && mangled[1] == 'Z' && strstr(mangled, pat) != NULL;
}

/* The unqualified name of a demangled signature ("ns::C::f(long) const" -> "f"), into buf. */
static void unqualified(const char *d, char *buf, size_t len)
{
    const char *lp = d;
    int depth = 0;
    for (; *lp; lp++) {
        if (*lp == '<')
            depth++;
        else if (*lp == '>')
            depth--;
        else if (*lp == '(' && depth == 0)
            break;
    }
    const char *end = lp, *b;
    if (end > d && end[-1] == '>') { /* template arguments of the function */
        depth = 0;
        while (end > d) {
            end--;
            if (*end == '>')
                depth++;
            else if (*end == '<' && --depth == 0)
                break;
        }
    }
    for (b = end; b > d && (b[-1] == '_' || (b[-1] >= '0' && b[-1] <= '9') ||
                            (b[-1] >= 'a' && b[-1] <= 'z') || (b[-1] >= 'A' && b[-1] <= 'Z'));
         b--)
        ;
    snprintf(buf, len, "%.*s", (int)(end - b), b);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cm_names_find_cxx(const char *want, const char *short_name, char *mangled, size_t mlen)
{
    size_t slen = strlen(short_name);
    int rc = -ENOENT;
    cm_objects_refresh();
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n && rc == -ENOENT; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (!cm_objrec_patchable(r))
            continue;
        struct cm_objsyms s;
        if (cm_symtab_load(&r->or_pub, &s) < 0)
            continue;
        char d[1024];
        for (size_t k = 0; k < s.nsyms; k++) {
            const char *n = s.names + s.syms[k].name;
            if (!s.syms[k].is_func || !may_encode(n, short_name, slen) ||
                cm_demangle(n, d, sizeof(d), 1) < 0 || !cm_cxx_name_eq(d, want))
                continue;
            if (strlen(n) >= mlen) {
                rc = -ENAMETOOLONG;
                break;
            }
            memcpy(mangled, n, strlen(n) + 1);
            cm_debug("C++ function \"%s\" is %s in %s", want, n, r->or_pub.path);
            rc = 0;
            break;
        }
        cm_symtab_free(&s);
    }
    return rc;
}

/* Append to a bounded line buffer (truncation is silent: hints are advice). */
static void add(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

void cm_names_hints(const char *name, const char *short_name, int cxx,
                    void (*line)(void *ctx, const char *text), void *ctx)
{
    char searched[512] = "", similar[512] = "", cxxs[1024] = "", symtab[512] = "", d[1024];
    char first[256] = "";
    int nobj = 0, nsim = 0, ncxx = 0;
    size_t slen = strlen(short_name);
    const char *stripped = NULL;
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (!cm_objrec_patchable(r))
            continue;
        const char *path = r->or_pub.path, *bn = base_name(path);
        if (nobj < MAX_OBJS)
            add(searched, sizeof(searched), "%s%s", nobj ? ", " : "", bn);
        else if (nobj == MAX_OBJS)
            add(searched, sizeof(searched), ", ...");
        nobj++;
        /* Defined only in .symtab (a static or hidden function of a library), or a stripped
         * executable that cannot show its own functions. */
        struct cm_symdef *defs = NULL;
        int ndefs = 0;
        char from[512] = "";
        if (!cxx && cm_symtab_scan(&r->or_pub, &name, 1, &defs, &ndefs, from, sizeof(from)) == 0) {
            struct cm_dyndef dd;
            if (ndefs > 0 && !(r->or_dyn_ok && cm_dyn_lookup(&r->or_dyn, name, NULL, false, &dd)))
                add(symtab, sizeof(symtab), "%s%s", symtab[0] ? ", " : "", bn);
            if (i == 0 && from[0] == '\0')
                stripped = path;
        }
        free(defs);
        struct cm_objsyms s;
        if (cm_symtab_load(&r->or_pub, &s) < 0)
            continue;
        const char **cands = malloc((s.nsyms ? s.nsyms : 1) * sizeof(*cands));
        size_t nc = 0;
        for (size_t k = 0; cands && k < s.nsyms; k++) {
            const char *n = s.names + s.syms[k].name;
            if (!s.syms[k].is_func)
                continue;
            cands[nc++] = n;
            if (ncxx < MAX_CXX && may_encode(n, short_name, slen) &&
                cm_demangle(n, d, sizeof(d), 0) == 0) {
                char un[CM_NAME_MAX];
                unqualified(d, un, sizeof(un));
                if (strcmp(un, short_name) == 0 && !(cxx && cm_cxx_name_eq(d, name)) &&
                    !strstr(cxxs, d)) {
                    add(cxxs, sizeof(cxxs), "%s\"%s\" in %s", ncxx ? ", " : "", d, bn);
                    if (!ncxx)
                        snprintf(first, sizeof(first), "%.200s", d);
                    ncxx++;
                }
            }
        }
        const char *best = nsim < MAX_SIMILAR && !cxx && cands
                               ? cm_did_you_mean(name, strlen(name), cands, nc)
                               : NULL;
        if (best && !strstr(similar, best)) {
            add(similar, sizeof(similar), "%s'%s' in %s", nsim ? ", " : "", best, bn);
            nsim++;
        }
        free(cands);
        cm_symtab_free(&s);
    }
    char msg[1536];
    snprintf(msg, sizeof(msg), "  objects searched: %s", nobj ? searched : "(none)");
    line(ctx, msg);
    if (ncxx) {
        snprintf(msg, sizeof(msg),
                 "  C++ functions named '%s': %s (name one in quotes, as c++filt prints it: "
                 "[function \"%s\"])",
                 short_name, cxxs, first);
        line(ctx, msg);
    }
    if (nsim) {
        snprintf(msg, sizeof(msg), "  similar names: %s", similar);
        line(ctx, msg);
    }
    if (symtab[0]) {
        snprintf(msg, sizeof(msg),
                 "  '%s' is defined in %s but not exported (only in .symtab): add 'hook = "
                 "inline' to its section",
                 name, symtab);
        line(ctx, msg);
    }
    if (stripped) {
        snprintf(msg, sizeof(msg),
                 "  the executable %s is stripped (no .symtab) and has no debug file: a function "
                 "compiled into it cannot be found (install its debug file under "
                 "/usr/lib/debug/.build-id or set CLOUDM_DEBUG_DIR)",
                 stripped);
        line(ctx, msg);
    }
}
