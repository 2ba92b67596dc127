/*
 * dlwrap.c - the dlopen, dlmopen, dlclose, dlsym and dlvsym wrappers that got.c stores into
 * every object's GOT.
 *
 * What it does: dlopen/dlmopen call the real function, then (hook lock held) refresh the object
 * table, record the new objects' dlopen group (RTLD_LOCAL groups see only their own search list
 * beyond the global scope; RTLD_GLOBAL promotes a whole search list) and patch them before
 * returning. dlclose refreshes the table afterwards. dlsym/dlvsym return the hooked entry
 * instead of the original of a bound target of the same name, so calls through such pointers are
 * hooked too; a target's implementation nobody imports is bound on the spot (a function only
 * ever reached through dlsym). RTLD_NEXT answers are translated only when already bound: an
 * interposer asking for "the next one" should not get a second, nested hook of its own.
 *
 * Caller emulation: glibc uses the return address of dlopen/dlsym to find the calling object,
 * which from inside a wrapper is libcloudm. So: dlopen from an object in another namespace is
 * sent to that namespace (dlmopen); a bare file name is searched in the caller's DT_RUNPATH /
 * DT_RPATH, and $ORIGIN is expanded against the caller (dlpath.c); dlsym(RTLD_NEXT) is emulated
 * from the caller's position in its search list (resolve.c); dlsym(RTLD_DEFAULT) from an object
 * in an RTLD_LOCAL group also searches that group.
 *
 * What it does not do: no caching of lookups; no RTLD_DEEPBIND emulation; no dlinfo/dladdr
 * wrappers (they do not depend on the caller).
 *
 * DESIGN: the real dlopen/dlclose run without the hook lock, so constructors and destructors may
 * use these functions. A thread running constructors inside the real dlopen holds glibc's loader
 * lock, while a thread in a patching pass holds the hook lock and needs the loader lock: to avoid
 * that deadlock, a wrapper entered from inside a real dlopen/dlclose on the same thread
 * (`in_real`) only try-locks; when that fails it skips its own pass (the outer wrapper's pass
 * patches everything new) or returns the untranslated pointer. A wrapper entered while cm_guard is
 * set (cloudm's own code) calls the real function directly. errno is preserved across our work;
 * a failing real call returns at once so the host's dlerror() text is untouched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "base/base.h"
#include "hook_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#define in_real cm_hook_in_real /* table.c's, so its fork handler can read it */

/* Lock for a wrapper's own work; false when we must not wait (see DESIGN). */
static bool lock_for_wrapper(void)
{
    if (in_real)
        return cm_hook_trylock() == 0;
    cm_hook_lock();
    return true;
}

static struct cm_objrec *caller_of(const void *ra)
{
    const struct cm_object *o = cm_object_at(ra);
    return o ? cm_objrec_of(o) : NULL;
}

/* Mark the search list of a handle just opened; then patch everything new. Hook lock held. */
static void after_open(void *h, int mode)
{
    cm_objects_refresh();
    struct cm_objrec *root = cm_objrec_of_handle(h);
    if (root && root->or_kind == CM_OBJ_NORMAL) {
        cm_resolve_build_scope(root);
        if (mode & RTLD_GLOBAL) {
            for (int i = 0; i < root->or_nscope; i++) {
                root->or_scope[i]->or_root = NULL;
                root->or_scope[i]->or_grouped = true;
            }
        } else {
            for (int i = 0; i < root->or_nscope; i++) {
                struct cm_objrec *m = root->or_scope[i];
                if (!m->or_grouped) {
                    m->or_root = root;
                    m->or_grouped = true;
                }
            }
        }
    }
    cm_hook_pass_locked();
}

void cm_dlwrap_group_unknown_locked(void)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_grouped)
            continue;
        /* loaded behind our back (glibc-internal dlopen, or a wrapper that could not lock):
         * glibc's own internal loads are RTLD_LOCAL, so give it its own search list */
        r->or_grouped = true;
        r->or_root = r;
        cm_resolve_build_scope(r);
    }
}

static void *open_common(Lmid_t lmid, bool use_lmid, const char *file, int mode, void *ra)
{
    struct cm_objrec *caller = caller_of(ra);
    char buf[PATH_MAX];
    const char *name = file;
    if (file && caller)
        name = cm_dlpath_rewrite(caller, file, buf, sizeof(buf));
    if (!use_lmid && caller && caller->or_lmid != 0) {
        lmid = caller->or_lmid; /* glibc opens in the caller's namespace */
        use_lmid = true;
    }
    in_real++;
    void *h = use_lmid ? dlmopen(lmid, name, mode) : dlopen(name, mode);
    in_real--;
    if (!h)
        return NULL;
    int saved = errno;
    if (use_lmid && lmid != LM_ID_BASE) {
        Lmid_t got = LM_ID_BASE;
        if (dlinfo(h, RTLD_DI_LMID, &got) == 0)
            cm_objects_note_lmid(got);
    }
    if (lock_for_wrapper()) {
        after_open(h, mode);
        cm_hook_unlock();
    } else {
        cm_debug("dlopen(%s) inside a constructor while a pass runs: patched by the outer pass",
                 file ? file : "NULL");
    }
    errno = saved;
    return h;
}

static void *wrap_dlopen(const char *file, int mode)
{
    if (cm_guard)
        return dlopen(file, mode);
    return open_common(LM_ID_BASE, false, file, mode, __builtin_return_address(0));
}

static void *wrap_dlmopen(Lmid_t lmid, const char *file, int mode)
{
    if (cm_guard)
        return dlmopen(lmid, file, mode);
    return open_common(lmid, true, file, mode, __builtin_return_address(0));
}

static int wrap_dlclose(void *h)
{
    if (cm_guard)
        return dlclose(h);
    in_real++;
    int rc = dlclose(h);
    in_real--;
    if (rc != 0)
        return rc;
    int saved = errno;
    if (lock_for_wrapper()) {
        cm_hook_pass_locked(); /* drops unloaded objects, patches any a destructor loaded */
        cm_hook_unlock();
    }
    errno = saved;
    return rc;
}

static void *real_sym(void *h, const char *name, const char *version)
{
    return version ? dlvsym(h, name, version) : dlsym(h, name);
}

static void *sym_common(void *h, const char *name, const char *version, void *ra)
{
    int saved = errno;
    if (!lock_for_wrapper())
        return real_sym(h, name, version);
    struct cm_objrec *caller = caller_of(ra);
    void *p = NULL;
    if (h == RTLD_NEXT && caller) {
        p = cm_resolve_next(caller, name, version);
        if (!p) {
            /* nothing after the caller: let glibc report it (and set dlerror), but never hand
             * back the caller's own definition, which is what RTLD_NEXT from here could find */
            p = real_sym(RTLD_NEXT, name, version);
            if (p && cm_object_at(p) == &caller->or_pub)
                p = NULL;
        }
    } else {
        p = real_sym(h, name, version);
        if (!p && h == RTLD_DEFAULT && caller && caller->or_root) {
            p = cm_resolve_in_group(caller, name, version);
        }
    }
    if (p)
        p = cm_hook_translate_locked(name, version, p, h != RTLD_NEXT);
    cm_hook_unlock();
    if (p)
        errno = saved;
    return p;
}

static void *wrap_dlsym(void *h, const char *name)
{
    if (cm_guard || !name)
        return dlsym(h, name);
    return sym_common(h, name, NULL, __builtin_return_address(0));
}

static void *wrap_dlvsym(void *h, const char *name, const char *version)
{
    if (cm_guard || !name || !version)
        return dlvsym(h, name, version);
    return sym_common(h, name, version, __builtin_return_address(0));
}

void *cm_dlwrap_for(const char *name)
{
    if (name[0] != 'd' || name[1] != 'l')
        return NULL;
    if (strcmp(name, "dlopen") == 0)
        return (void *)&wrap_dlopen;
    if (strcmp(name, "dlmopen") == 0)
        return (void *)&wrap_dlmopen;
    if (strcmp(name, "dlclose") == 0)
        return (void *)&wrap_dlclose;
    if (strcmp(name, "dlsym") == 0)
        return (void *)&wrap_dlsym;
    if (strcmp(name, "dlvsym") == 0)
        return (void *)&wrap_dlvsym;
    return NULL;
}
