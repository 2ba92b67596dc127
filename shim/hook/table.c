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
 * written once under it and read with acquire loads. Bindings are appended, and removed only
 * when their provider has been unloaded (cm_hook_forget_unloaded_locked); an entry never
 * changes once bind() answered.
 *
 * fork: pthread_atfork handlers (registered at install) take the lock before fork and release it
 * after, in the parent and in the child, so a child never inherits it held by a thread that does
 * not exist there, nor a half-updated table (issue 16: a thread inside dlsym() while another
 * forks). The objects table's lock is taken inside it (cm_objects_atfork). A fork from a
 * thread that already holds the lock (a signal handler interrupting a pass) skips the handlers:
 * `owner` tells.
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
static void (*pass_fn)(void);          /* install.c's pass, registered with the targets */
static void (*unbind_cb)(void *entry); /* told about entries whose provider was unloaded */
static struct cm_target *grow_targets; /* cm_hook_install_fed: the array targets may grow in */
static int grow_cap;
static int *name_index; /* open addressing over target names: index + 1, 0 = empty */
static size_t name_index_mask;
static struct binding *bindings;
static int nbindings, capbindings;
static int nbound;      /* bindings with an entry */
static int guard_saved; /* the holder's cm_guard before it took `lock` (protected by `lock`) */
__thread int cm_hook_in_real __attribute__((tls_model("initial-exec")));
static pthread_t owner; /* the holder (valid while owned != 0) */
static int owned;       /* atomic: the lock is held */
static __thread int fork_skipped __attribute__((tls_model("initial-exec"))); /* 1 own, 2 busy */

/* The guard is saved and restored rather than counted, because code we call while holding the
 * lock (bind()) may set cm_guard to 0 or 1 itself. */
static void took(void)
{
    guard_saved = cm_guard;
    cm_guard = 1;
    __atomic_store_n(&owner, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&owned, 1, __ATOMIC_RELEASE);
}

void cm_hook_lock(void)
{
    pthread_mutex_lock(&lock);
    took();
}

int cm_hook_trylock(void)
{
    if (pthread_mutex_trylock(&lock) != 0)
        return -EBUSY;
    took();
    return 0;
}

void cm_hook_unlock(void)
{
    __atomic_store_n(&owned, 0, __ATOMIC_RELEASE);
    cm_guard = guard_saved;
    pthread_mutex_unlock(&lock);
}

static void fork_prepare(void)
{
    fork_skipped = 0;
    if (__atomic_load_n(&owned, __ATOMIC_ACQUIRE) &&
        pthread_equal(__atomic_load_n(&owner, __ATOMIC_RELAXED), pthread_self())) {
        fork_skipped = 1;
        return;
    }
    /* Inside a real dlopen/dlclose (a constructor forks) this thread holds glibc's loader lock,
     * which a pass holding our lock may be waiting for: do not wait. */
    if (cm_hook_in_real) {
        if (cm_hook_trylock() != 0) {
            fork_skipped = 2;
            return;
        }
    } else {
        cm_hook_lock();
    }
    cm_objects_atfork(0);
}

static void fork_parent(void)
{
    if (fork_skipped)
        return;
    cm_objects_atfork(1);
    cm_hook_unlock();
}

static void fork_child(void)
{
    if (fork_skipped == 2) { /* held by a thread that does not exist here: start afresh */
        pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
        memcpy(&lock, &fresh, sizeof(lock));
        __atomic_store_n(&owned, 0, __ATOMIC_RELAXED);
        return;
    }
    fork_parent();
}

static void register_atfork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
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
                           .code_size = res->def.sym ? (size_t)res->def.sym->st_size : 0,
                           .name = targets[target].name,
                           .is_func = !res->def.sym ? -1
                                      : ELF64_ST_TYPE(res->def.sym->st_info) == STT_FUNC ||
                                              ELF64_ST_TYPE(res->def.sym->st_info) == STT_GNU_IFUNC
                                          ? 1
                                          : 0};
    void *entry = bind_cb ? bind_cb(&b) : NULL;
    struct binding *nb = &bindings[nbindings++];
    nb->target = target;
    nb->original = res->addr;
    nb->entry = entry;
    nb->version = res->version;
    nb->provider = res->provider;
    if (entry)
        nbound++; /* no pin: the provider's lifetime stays the program's (got.c pins only for
                     importers glibc does not know depend on it) */
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
                           .how = 1,
                           .name = targets[ti].name,
                           .is_func = 1};
    void *entry = bind_cb ? bind_cb(&b) : NULL;
    struct binding *nb = &bindings[nbindings++];
    *nb = (struct binding){.target = ti, .original = code, .entry = entry, .provider = provider};
    if (entry)
        nbound++;
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

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a: only a bucket index, never a key */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void name_index_put(int i)
{
    size_t b = name_hash(targets[i].name) & name_index_mask;
    while (name_index[b])
        b = (b + 1) & name_index_mask;
    name_index[b] = i + 1;
}

/* Many targets (observation): index their names so a GOT walk stays linear. Hook lock held. */
static void name_index_build(int cap)
{
    free(name_index);
    name_index = NULL;
    if (cap < 64)
        return;
    size_t n = 128;
    while (n < 2 * (size_t)cap)
        n *= 2;
    name_index = calloc(n, sizeof(*name_index));
    if (!name_index)
        return;
    name_index_mask = n - 1;
    for (int i = 0; i < ntargets; i++)
        name_index_put(i);
}

bool cm_hook_fed(void)
{
    return grow_targets != NULL;
}

int cm_hook_add_target(const char *name, const char *object_glob, int hook)
{
    int i = cm_hook_target_index(name);
    if (i >= 0)
        return i;
    if (!grow_targets || ntargets >= grow_cap)
        return -ENOSPC;
    char *copy = strdup(name); /* the object holding `name` may be unloaded later */
    if (!copy)
        return -ENOMEM;
    grow_targets[ntargets] = (struct cm_target){.name = copy, .object_glob = object_glob,
                                                .hook = hook};
    ntargets++;
    if (name_index && 2 * (size_t)ntargets > name_index_mask + 1)
        name_index_build(2 * ntargets); /* grown as needed: a big empty one costs page faults */
    else if (name_index)
        name_index_put(ntargets - 1);
    return ntargets - 1;
}

int cm_hook_target_index(const char *name)
{
    if (name_index) {
        size_t b = name_hash(name) & name_index_mask;
        for (; name_index[b]; b = (b + 1) & name_index_mask)
            if (strcmp(targets[name_index[b] - 1].name, name) == 0)
                return name_index[b] - 1;
        return -1;
    }
    for (int i = 0; i < ntargets; i++)
        if (targets[i].name[0] == name[0] && strcmp(targets[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- targets and passes ----------------------------------------------------------------- */

int cm_hook_set_targets_locked(const struct cm_target *tg, int n, cm_bind_cb bind,
                               void (*pass)(void))
{
    static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
    if (installed)
        return -EBUSY;
    pthread_once(&atfork_once, register_atfork);
    targets = tg;
    ntargets = n;
    bind_cb = bind;
    pass_fn = pass;
    grow_targets = NULL;
    grow_cap = 0;
    name_index_build(n);
    return 0;
}

int cm_hook_set_growing_locked(struct cm_target *tg, int cap, cm_bind_cb bind, void (*pass)(void))
{
    int rc = cm_hook_set_targets_locked(tg, 0, bind, pass);
    if (rc == 0) {
        grow_targets = tg;
        grow_cap = cap;
        name_index_build(cap < 1024 ? cap : 1024);
    }
    return rc;
}

void cm_hook_on_unbind(void (*fn)(void *entry))
{
    unbind_cb = fn;
}

void cm_hook_forget_unloaded_locked(void)
{
    int kept = 0;
    for (int i = 0; i < nbindings; i++) {
        struct binding *b = &bindings[i];
        if (b->provider->or_live) {
            bindings[kept++] = *b;
            continue;
        }
        cm_debug("%s from %s at %p: unloaded, binding dropped", targets[b->target].name,
                 b->provider->or_pub.path, b->original);
        if (b->entry) {
            nbound--;
            if (unbind_cb)
                unbind_cb(b->entry);
        }
    }
    nbindings = kept;
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
