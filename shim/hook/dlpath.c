/*
 * dlpath.c - finding the file a dlopen caller means, on the caller's behalf.
 *
 * What it does: glibc resolves a dlopen file name relative to the *calling* object: $ORIGIN in the
 * name is its directory, and a bare name (no '/') is searched in its DT_RPATH (before
 * LD_LIBRARY_PATH) or DT_RUNPATH (after LD_LIBRARY_PATH). When our wrapper calls the real dlopen
 * the caller is libcloudm, which has neither, so this file redoes that part of the search for the
 * real caller and returns a full path when the caller's paths find the library. Everything else
 * (already-loaded names, LD_LIBRARY_PATH, the executable's DT_RPATH, ld.so.cache, the default
 * directories) glibc still does by itself, so those cases keep the bare name.
 *
 * What it does not do: the DT_RPATH of the caller's own loaders (glibc walks that chain for
 * objects without DT_RUNPATH), $LIB and $PLATFORM (directories using them are skipped), and
 * hardware-capability subdirectories. It allocates nothing.
 *
 * DESIGN: no lock: it reads only immutable record fields and the lock-free snapshot.
 * LD_LIBRARY_PATH is captured once, like glibc does at start-up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook_int.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char ld_library_path[4096];

static void read_env(void)
{
    const char *p = getenv("LD_LIBRARY_PATH");
    if (p && strlen(p) < sizeof(ld_library_path))
        strcpy(ld_library_path, p);
}

/* Directory of the caller, as glibc's l_origin (no trailing slash); false if unknown. */
static bool origin_of(const struct cm_objrec *caller, char *out, size_t outsz)
{
    const char *p = caller->or_kind == CM_OBJ_MAIN ? caller->or_pub.path : caller->or_lname;
    char tmp[PATH_MAX];
    if (p[0] != '/') {
        if (!getcwd(tmp, sizeof(tmp)) || strlen(tmp) + 1 + strlen(p) >= sizeof(tmp))
            return false;
        strcat(tmp, "/");
        strcat(tmp, p);
        p = tmp;
    }
    const char *slash = strrchr(p, '/');
    size_t len = (size_t)(slash - p);
    if (len == 0)
        len = 1; /* "/" */
    if (len >= outsz)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* Copy `in` (length `n`) to `out`, replacing $ORIGIN / ${ORIGIN}; false on other DSTs or when
 * it does not fit. */
static bool expand(const char *in, size_t n, const char *origin, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const char *rep = NULL;
        size_t skip = 0;
        if (in[i] == '$') {
            if (n - i >= 7 && strncmp(in + i, "$ORIGIN", 7) == 0 &&
                (n - i == 7 || !(in[i + 7] == '_' || (in[i + 7] >= 'A' && in[i + 7] <= 'Z') ||
                                 (in[i + 7] >= 'a' && in[i + 7] <= 'z') ||
                                 (in[i + 7] >= '0' && in[i + 7] <= '9'))))
                rep = origin, skip = 7;
            else if (n - i >= 9 && strncmp(in + i, "${ORIGIN}", 9) == 0)
                rep = origin, skip = 9;
            else
                return false; /* $LIB, $PLATFORM, ...: leave to glibc */
        }
        if (rep) {
            size_t l = strlen(rep);
            if (o + l >= outsz)
                return false;
            memcpy(out + o, rep, l);
            o += l;
            i += skip;
        } else {
            if (o + 1 >= outsz)
                return false;
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    return true;
}

/* Is there a loadable x86-64 ELF object at `path`? (glibc skips incompatible files.) */
static bool loadable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_Ehdr eh;
    ssize_t n = read(fd, &eh, sizeof(eh));
    close(fd);
    return n == (ssize_t)sizeof(eh) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
           eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64 && eh.e_type == ET_DYN;
}

/* Search `dirs` (':'-separated, DSTs expanded against origin) for `file`. */
static bool search(const char *dirs, const char *origin, const char *file, char *out, size_t outsz)
{
    char dir[PATH_MAX];
    for (const char *p = dirs; p && *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && !(origin == NULL && memchr(p, '$', n)) &&
            expand(p, n, origin ? origin : "", dir, sizeof(dir))) {
            size_t dl = strlen(dir);
            if (dl + 1 + strlen(file) < outsz) {
                memcpy(out, dir, dl);
                out[dl] = '/';
                strcpy(out + dl + 1, file);
                if (loadable(out))
                    return true;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* Already loaded under this name in the caller's namespace? glibc matches those first. */
static bool loaded_as(const char *file, long lmid)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        const struct cm_objrec *r = t->ot_order[i];
        if (r->or_lmid != lmid)
            continue;
        if (r->or_dyn_ok && r->or_dyn.dd_soname && strcmp(r->or_dyn.dd_soname, file) == 0)
            return true;
        const char *b = strrchr(r->or_lname, '/');
        if (strcmp(b ? b + 1 : r->or_lname, file) == 0)
            return true;
    }
    return false;
}

const char *cm_dlpath_rewrite(const struct cm_objrec *caller, const char *file, char *buf,
                              size_t bufsz)
{
    if (!file || !caller || caller->or_kind == CM_OBJ_SELF)
        return file;
    pthread_once(&env_once, read_env);
    char origin[PATH_MAX];
    bool have_origin = origin_of(caller, origin, sizeof(origin));
    if (strchr(file, '$')) {
        if (have_origin && expand(file, strlen(file), origin, buf, bufsz))
            return buf;
        return file;
    }
    if (strchr(file, '/') || !caller->or_dyn_ok)
        return file;
    const char *runpath = caller->or_dyn.dd_runpath, *rpath = caller->or_dyn.dd_rpath;
    if (!runpath && !rpath)
        return file;
    if (loaded_as(file, caller->or_lmid))
        return file;
    const char *o = have_origin ? origin : NULL;
    if (runpath) {
        char tmp[PATH_MAX];
        if (search(ld_library_path, NULL, file, tmp, sizeof(tmp)))
            return file; /* glibc finds it there itself */
        return search(runpath, o, file, buf, bufsz) ? buf : file;
    }
    if (caller->or_kind == CM_OBJ_MAIN)
        return file; /* glibc consults the executable's DT_RPATH whoever calls */
    return search(rpath, o, file, buf, bufsz) ? buf : file;
}
