/*
 * table.c - the hook table: the hook lock, the configured targets and the binding table
 * (target, original) -> entry that every way of redirecting callers shares (hook_int.h).
 *
 * What it does: serialises every hooking pass under one lock (the shim's recursion guard is set
 * while it is held); answers "the entry for this implementation of this target", asking the
 * dispatcher's bind() once per implementation and pinning its provider; translates addresses
 * that dlsym/dlvsym return; runs a pass through the function the installer registered.
 *
 * What it does not do: it patches nothing and calls no patcher: GOT slots are got.c's, inline
 * hooks codehook.c's, the dl wrappers dlwrap.c's, and the order of a pass install.c's (the
 * registered pass function). Nothing here calls back into those files, so they all depend on
 * this one and never on each other through it.
 *
 * DESIGN: `lock` serialises install, every later pass and the binding table; `installed` is
 * written once under it and read with acquire loads. Bindings are append-only; entries never
 * change once bind() answered.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook_int.h"

#include "base/base.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct binding {
    int target;
    void *original;
    void *entry; /* NULL: bind() declined, slots left alone */
    const char *version;
    struct cm_objrec *provider;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int installed;
static const struct cm_target *targets;
static int ntargets;
static cm_bind_cb bind_cb;
static void (*pass_fn)(void); /* install.c's pass, registered with the targets */
static struct binding *bindings;
static int nbindings, capbindings;
static int nbound;      /* bindings with an entry */
static int guard_saved; /* the holder's cm_guard before it took `lock` (protected by `lock`) */

/* The guard is saved and restored rather than counted, because code we call while holding the
 * lock (bind()) may set cm_guard to 0 or 1 itself. */
void cm_hook_lock(void)
{
    pthread_mutex_lock(&lock);
    guard_saved = cm_guard;
    cm_guard = 1;
}

int cm_hook_trylock(void)
{
    if (pthread_mutex_trylock(&lock) != 0)
        return -EBUSY;
    guard_saved = cm_guard;
    cm_guard = 1;
    return 0;
}

void cm_hook_unlock(void)
{
    cm_guard = guard_saved;
    pthread_mutex_unlock(&lock);
}

bool cm_hook_active(void)
{
    return __atomic_load_n(&installed, __ATOMIC_ACQUIRE) != 0;
}

/* ---- bindings ------------------------------------------------------------------------------ */

bool cm_hook_target_matches(const struct cm_target *t, const struct cm_objrec *p, const char *file)
{
    if (!t->object_glob || !t->object_glob[0])
        return true;
    char glob[4096];
    snprintf(glob, sizeof(glob), "%s", t->object_glob);
    char *colon = strrchr(glob, ':'); /* "OBJECT:SOURCE" */
    if (colon) {
        *colon = '\0';
        if (file && fnmatch(colon + 1, file, 0) != 0)
            return false;
        if (!glob[0])
            return true;
    }
    const char *path = p->or_pub.path;
    const char *base = strrchr(path, '/');
    return fnmatch(glob, path, 0) == 0 || (base && fnmatch(glob, base + 1, 0) == 0);
}

bool cm_hook_provider_matches(const struct cm_target *t, const struct cm_objrec *p)
{
    return cm_hook_target_matches(t, p, NULL);
}

void *cm_hook_entry_for_locked(int target, const struct cm_resolved *res)
{
    for (int i = 0; i < nbindings; i++)
        if (bindings[i].target == target && bindings[i].original == res->addr)
            return bindings[i].entry;
    if (nbindings == capbindings) {
        int cap = capbindings ? capbindings * 2 : 16;
        struct binding *v = realloc(bindings, (size_t)cap * sizeof(*v));
        if (!v) {
            cm_log_once("bindings", "out of memory recording bindings; some calls not hooked");
            return NULL;
        }
        bindings = v;
        capbindings = cap;
    }
    struct cm_binding b = {.target = target,
                           .version = res->version,
                           .original = res->addr,
                           .provider = &res->provider->or_pub,
                           .code = res->addr,
                           .code_size = res->def.sym ? (size_t)res->def.sym->st_size : 0};
    void *entry = bind_cb ? bind_cb(&b) : NULL;
    struct binding *nb = &bindings[nbindings++];
    nb->target = target;
    nb->original = res->addr;
    nb->entry = entry;
    nb->version = res->version;
    nb->provider = res->provider;
    if (entry) {
        nbound++;
        cm_objrec_pin(res->provider); /* the original must stay valid as long as the entry */
    }
    cm_debug("%s%s%s from %s at %p: %s", targets[target].name, res->version ? "@" : "",
             res->version ? res->version : "", res->provider->or_pub.path, res->addr,
             entry ? "bound" : "declined");
    return entry;
}

struct version_ctx {
    uintptr_t addr;
    const char *version;
    bool hidden;
};

static bool version_at(const struct cm_dyn *d, size_t i, void *p)
{
    struct version_ctx *c = p;
    if (!cm_dyn_is_def(d, i, false) || d->dd_base + d->dd_symtab[i].st_value != c->addr)
        return false;
    bool hidden;
    const char *v = cm_dyn_symversion(d, i, &hidden);
    if (!c->version || (c->hidden && !hidden)) { /* prefer the default version of an alias */
        c->version = v;
        c->hidden = hidden;
    }
    return false;
}

/* The version of the exported symbol `name` at `code` in r, or NULL (unversioned, static). */
static const char *code_version(struct cm_objrec *r, const char *name, void *code)
{
    if (!r->or_dyn_ok)
        return NULL;
    struct version_ctx c = {.addr = (uintptr_t)code};
    cm_dyn_foreach_named(&r->or_dyn, name, version_at, &c);
    return c.version;
}

void *cm_hook_bind_code_locked(int ti, struct cm_objrec *provider, void *code, size_t size,
                               void *original)
{
    for (int i = 0; i < nbindings; i++)
        if (bindings[i].target == ti && bindings[i].original == code)
            return NULL; /* already reached through GOT slots with the unpatched code */
    if (nbindings == capbindings) {
        int cap = capbindings ? capbindings * 2 : 16;
        struct binding *v = realloc(bindings, (size_t)cap * sizeof(*v));
        if (!v)
            return NULL;
        bindings = v;
        capbindings = cap;
    }
    struct cm_binding b = {.target = ti,
                           .version = code_version(provider, targets[ti].name, code),
                           .original = original,
                           .provider = &provider->or_pub,
                           .code = code,
                           .code_size = size,
                           .how = 1};
    void *entry = bind_cb ? bind_cb(&b) : NULL;
    struct binding *nb = &bindings[nbindings++];
    *nb = (struct binding){.target = ti, .original = code, .entry = entry, .provider = provider};
    if (entry) {
        nbound++;
        cm_objrec_pin(provider);
    }
    return entry;
}

int cm_hook_targets(const struct cm_target **out)
{
    *out = targets;
    return ntargets;
}

void *cm_hook_translate_locked(const char *name, const char *version, void *addr, bool bind_new)
{
    if (!addr)
        return addr;
    for (int i = 0; i < nbindings; i++)
        if (bindings[i].entry && bindings[i].original == addr &&
            strcmp(targets[bindings[i].target].name, name) == 0)
            return bindings[i].entry;
    int ti = bind_new ? cm_hook_target_index(name) : -1;
    const struct cm_object *o = ti >= 0 ? cm_object_at(addr) : NULL;
    if (!o)
        return addr; /* not a target, or not in any object (an IFUNC choosing elsewhere) */
    /* nobody imports it (yet): the pointer is the only way in, so bind it now. An address in
     * the executable that is only its canonical PLT stub has no definition there and is left
     * alone: it jumps through the executable's own, patched, slot. */
    struct cm_resolved res;
    if (cm_resolve_definition(cm_objrec_of(o), name, version, addr, &res) != 0 ||
        !cm_hook_provider_matches(&targets[ti], res.provider))
        return addr;
    void *entry = cm_hook_entry_for_locked(ti, &res);
    return entry ? entry : addr;
}

int cm_hook_target_index(const char *name)
{
    for (int i = 0; i < ntargets; i++)
        if (targets[i].name[0] == name[0] && strcmp(targets[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- targets and passes ----------------------------------------------------------------- */

int cm_hook_set_targets_locked(const struct cm_target *tg, int n, cm_bind_cb bind,
                               void (*pass)(void))
{
    if (installed)
        return -EBUSY;
    targets = tg;
    ntargets = n;
    bind_cb = bind;
    pass_fn = pass;
    return 0;
}

void cm_hook_pass_locked(void)
{
    if (pass_fn)
        pass_fn();
}

void cm_hook_mark_installed_locked(void)
{
    __atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
}

int cm_hook_nbound_locked(void)
{
    return nbound;
}

/* ---- extra wrappers (probe mode) ---------------------------------------------------------- */

static const char *const *wrap_names;
static void *const *wrap_fns;
static int wrap_n;

void cm_hook_set_wrappers(const char *const *names, void *const *fns, int n)
{
    wrap_names = names;
    wrap_fns = fns;
    wrap_n = n;
}

void *cm_hook_wrapper_for(const char *name)
{
    for (int i = 0; i < wrap_n; i++)
        if (strcmp(wrap_names[i], name) == 0)
            return wrap_fns[i];
    return NULL;
}
