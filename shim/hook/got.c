/*
 * got.c - installing hooks by rewriting GOT slots (see hook.h).
 *
 * What it does: for every loaded object other than the vDSO, ld.so and ourselves, walks its
 * JUMP_SLOT and GLOB_DAT relocations; a slot whose symbol is a target gets the entry the
 * dispatcher's bind() returns for the implementation that object reaches (resolve.c); a slot for
 * dlopen, dlmopen, dlclose, dlsym or dlvsym gets our wrapper (dlwrap.c). Keeps the binding table
 * (target, original) -> entry for dlsym, and prints the plan for `cloudm check`.
 *
 * Inline hooks (codehook.c) are made first in each pass; their bindings share this table.
 *
 * What it does not do: no code patching itself (inline.c); no R_X86_64_64 data pointers to
 * functions (e.g. a vtable-like table of `&sin` in a data section); never reads a slot's current
 * value as an original (it may be the lazy PLT stub).
 *
 * Page protection: the protections of an object's pages are read from /proc/self/maps once per
 * object and pass; a slot on a page without write permission (full RELRO, or -fno-plt slots in
 * the RELRO .got) is stored between mprotect(RW) and mprotect(back to exactly what it was).
 *
 * DESIGN: `lock` is the hook lock (see hookint.h): it serialises install, every later pass and
 * the binding table; `installed` is written once under it and read with acquire loads. Bindings
 * are append-only; entries never change once bind() answered. Objects are processed once each
 * (or_hooked); a slot store is one 8-byte atomic store, so a thread calling through the slot
 * sees either the old target or the entry. Residual race, documented in docs/hooking.md: a lazy
 * (non-BIND_NOW) slot whose first call is being resolved by ld.so in another thread at the very
 * moment we patch it may be overwritten with the original by that resolution.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook.h"

#include "guard.h"
#include "hookint.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_MAPS 128 /* mappings remembered per object when reading /proc/self/maps */

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

/* ---- page protections ---------------------------------------------------------------------- */

struct protmap {
    uintptr_t lo, hi;
    bool loaded;
    int n;
    struct {
        uintptr_t a, b;
        int prot;
    } e[MAX_MAPS];
};

static uintptr_t parse_hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

static void protmap_line(struct protmap *m, const char *line)
{
    const char *p = line;
    uintptr_t a = parse_hex(&p);
    if (*p++ != '-')
        return;
    uintptr_t b = parse_hex(&p);
    if (*p++ != ' ' || b <= m->lo || a >= m->hi || m->n >= MAX_MAPS)
        return;
    int prot = 0;
    if (p[0] == 'r')
        prot |= PROT_READ;
    if (p[0] && p[1] == 'w')
        prot |= PROT_WRITE;
    if (p[0] && p[1] && p[2] == 'x')
        prot |= PROT_EXEC;
    m->e[m->n].a = a;
    m->e[m->n].b = b;
    m->e[m->n].prot = prot;
    m->n++;
}

static void protmap_load(struct protmap *m)
{
    m->loaded = true;
    m->n = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096], line[512];
    size_t len = 0;
    bool skipping = false; /* inside a line longer than `line` (only its start matters) */
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] == '\n') {
                line[len] = '\0';
                protmap_line(m, line);
                len = 0;
                skipping = false;
            } else if (!skipping) {
                line[len++] = buf[i];
                if (len == sizeof(line) - 1) {
                    line[len] = '\0';
                    protmap_line(m, line);
                    skipping = true;
                    len = 0;
                }
            }
        }
    }
    close(fd);
}

static int protmap_prot(struct protmap *m, uintptr_t addr)
{
    if (!m->loaded)
        protmap_load(m);
    for (int i = 0; i < m->n; i++)
        if (addr >= m->e[i].a && addr < m->e[i].b)
            return m->e[i].prot;
    return -1;
}

/* Store `val` into the GOT slot at `slot`. Returns 0 or -errno. */
static int slot_store(struct protmap *m, uintptr_t slot, void *val)
{
    int prot = protmap_prot(m, slot);
    if (prot < 0)
        return -EFAULT;
    if (prot & PROT_WRITE) {
        __atomic_store_n((void **)slot, val, __ATOMIC_RELEASE);
        return 0;
    }
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = slot & ~((uintptr_t)pg - 1);
    if (mprotect((void *)page, (size_t)pg, prot | PROT_READ | PROT_WRITE) != 0)
        return -errno;
    __atomic_store_n((void **)slot, val, __ATOMIC_RELEASE);
    if (mprotect((void *)page, (size_t)pg, prot) != 0)
        cm_log_once("reprotect", "could not restore the protection of a GOT page at %p: %s",
                    (void *)page, strerror(errno));
    return 0;
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

static bool provider_matches(const struct cm_target *t, const struct cm_objrec *p)
{
    return cm_hook_target_matches(t, p, NULL);
}

/* The entry for (target, resolved), asking bind() the first time. NULL: leave the slot. */
static void *entry_for(int target, const struct cm_resolved *res)
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

static int target_index(const char *name);

void *cm_hook_translate_locked(const char *name, const char *version, void *addr, bool bind_new)
{
    if (!addr)
        return addr;
    for (int i = 0; i < nbindings; i++)
        if (bindings[i].entry && bindings[i].original == addr &&
            strcmp(targets[bindings[i].target].name, name) == 0)
            return bindings[i].entry;
    int ti = bind_new ? target_index(name) : -1;
    const struct cm_object *o = ti >= 0 ? cm_object_at(addr) : NULL;
    if (!o)
        return addr; /* not a target, or not in any object (an IFUNC choosing elsewhere) */
    /* nobody imports it (yet): the pointer is the only way in, so bind it now. An address in
     * the executable that is only its canonical PLT stub has no definition there and is left
     * alone: it jumps through the executable's own, patched, slot. */
    struct cm_resolved res;
    if (cm_resolve_definition(cm_objrec_of(o), name, version, addr, &res) != 0 ||
        !provider_matches(&targets[ti], res.provider))
        return addr;
    void *entry = entry_for(ti, &res);
    return entry ? entry : addr;
}

/* ---- patching ------------------------------------------------------------------------------ */

static int target_index(const char *name)
{
    for (int i = 0; i < ntargets; i++)
        if (targets[i].name[0] == name[0] && strcmp(targets[i].name, name) == 0)
            return i;
    return -1;
}

static struct cm_objrec *main_record(void)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++)
        if (t->ot_order[i]->or_kind == CM_OBJ_MAIN)
            return t->ot_order[i];
    return NULL;
}

static void hook_object(struct cm_objrec *r)
{
    void *ref = cm_objrec_ref(r); /* keep it loaded while we write into it */
    if (!ref && r->or_kind != CM_OBJ_MAIN)
        return;
    struct protmap *m = calloc(1, sizeof(*m));
    if (!m) {
        cm_objrec_unref(ref);
        return;
    }
    m->lo = r->or_pub.lo;
    m->hi = r->or_pub.hi;
    struct cm_objrec *exe = main_record();
    const struct cm_dyn *d = &r->or_dyn;
    struct cm_dynreloc rel;
    size_t pos = 0;
    int failures = 0;
    while (cm_dyn_next_gotreloc(d, &pos, &rel)) {
        const char *name = cm_dyn_symname(d, rel.symindex);
        void *val = cm_dlwrap_for(name);
        int ti = -1;
        if (!val) {
            ti = target_index(name);
            if (ti < 0)
                continue;
            const char *version = cm_dyn_symversion(d, rel.symindex, NULL);
            /* Another object's GLOB_DAT for a symbol the executable has a canonical PLT stub for
             * holds that stub, which jumps through the executable's own (patched) slot: leaving
             * it keeps function-pointer equality with the executable's `&name`. */
            if (rel.type == R_X86_64_GLOB_DAT && exe && exe != r && r->or_lmid == 0 &&
                exe->or_dyn_ok && cm_dyn_canonical_plt(&exe->or_dyn, name))
                continue;
            struct cm_resolved res;
            if (cm_resolve_import(r, name, version, &res) != 0) {
                cm_debug("%s: %s%s%s: no definition in its scope", r->or_pub.path, name,
                         version ? "@" : "", version ? version : "");
                continue;
            }
            if (!provider_matches(&targets[ti], res.provider))
                continue;
            val = entry_for(ti, &res);
            if (!val)
                continue;
        }
        int rc = slot_store(m, rel.slot, val);
        if (rc != 0 && failures++ == 0)
            cm_log("%s: cannot patch the GOT slot of %s at %p: %s", r->or_pub.path, name,
                   (void *)rel.slot, strerror(-rc));
    }
    free(m);
    cm_objrec_unref(ref);
}

void cm_hook_pass_locked(void)
{
    cm_objects_refresh();
    cm_dlwrap_group_unknown_locked();
    const struct cm_objtab *t = cm_objects_current();
    struct cm_objrec **fresh = t ? calloc(t->ot_n ? t->ot_n : 1, sizeof(*fresh)) : NULL;
    int nfresh = 0;
    for (size_t i = 0; fresh && i < t->ot_n; i++)
        if (!t->ot_order[i]->or_hooked && cm_objrec_patchable(t->ot_order[i]))
            fresh[nfresh++] = t->ot_order[i];
    if (nfresh) /* inline hooks first: GOT slots reaching a patched function share its entry */
        cm_codehook_pass_locked(fresh, nfresh);
    free(fresh);
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_hooked)
            continue;
        r->or_hooked = true;
        if (cm_objrec_patchable(r))
            hook_object(r);
    }
}

int cm_hook_install(const struct cm_target *tg, int n, cm_bind_cb bind)
{
    int saved = errno;
    if (n < 0 || (n > 0 && !tg))
        return -EINVAL;
    cm_hook_lock();
    int rc;
    if (installed) {
        rc = -EBUSY;
        goto out;
    }
    targets = tg;
    ntargets = n;
    bind_cb = bind;
    cm_hook_pass_locked();
    __atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
    rc = nbound;
out:
    cm_hook_unlock();
    errno = saved;
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------ */

struct desc_ctx {
    FILE *out;
    struct cm_objrec *r;
    const char *name;
    int found;
};

static bool desc_def(const struct cm_dyn *d, size_t i, void *p)
{
    struct desc_ctx *c = p;
    if (!cm_dyn_is_def(d, i, false))
        return false;
    struct cm_dyndef def = {.sym = d->dd_symtab + i, .index = i};
    def.version = cm_dyn_symversion(d, i, &def.hidden);
    if (def.hidden || !def.version) {
        /* an alias of the default version at the same address is the same function */
        struct cm_dyndef dflt;
        if (cm_dyn_lookup(d, c->name, NULL, false, &dflt) && dflt.index != i &&
            dflt.sym->st_value == def.sym->st_value)
            return false;
    }
    void *addr = cm_resolve_in_object(c->r, c->name, def.version);
    fprintf(c->out, "  provided by %s (version %s, at %p)\n", c->r->or_pub.path,
            def.version ? def.version : "none", addr);
    c->found++;
    return false;
}

int cm_hook_describe(FILE *out)
{
    int saved = errno;
    int nowhere = 0;
    cm_hook_lock();
    cm_objects_refresh();
    const struct cm_objtab *t = cm_objects_current();
    for (int ti = 0; ti < ntargets; ti++) {
        const char *name = targets[ti].name;
        fprintf(out, "%s\n", name);
        struct desc_ctx c = {.out = out, .name = name};
        for (size_t i = 0; t && i < t->ot_n; i++) {
            struct cm_objrec *r = t->ot_order[i];
            if (!cm_objrec_patchable(r) || !provider_matches(&targets[ti], r))
                continue;
            c.r = r;
            cm_dyn_foreach_named(&r->or_dyn, name, desc_def, &c);
        }
        for (size_t i = 0; t && i < t->ot_n; i++) {
            struct cm_objrec *r = t->ot_order[i];
            if (!cm_objrec_patchable(r))
                continue;
            struct cm_dynreloc rel;
            size_t pos = 0;
            while (cm_dyn_next_gotreloc(&r->or_dyn, &pos, &rel)) {
                if (strcmp(cm_dyn_symname(&r->or_dyn, rel.symindex), name) != 0)
                    continue;
                const char *v = cm_dyn_symversion(&r->or_dyn, rel.symindex, NULL);
                fprintf(out, "  imported by %s (%s, version %s)\n", r->or_pub.path,
                        rel.type == R_X86_64_JUMP_SLOT ? "JUMP_SLOT" : "GLOB_DAT", v ? v : "none");
            }
        }
        c.found += cm_codehook_describe(out, ti);
        if (!c.found) {
            fprintf(out, "  not found in any loaded object\n");
            nowhere++;
        }
    }
    cm_hook_unlock();
    errno = saved;
    return nowhere;
}

int cm_hook_prepare(const struct cm_target *tg, int n)
{
    if (n < 0 || (n > 0 && !tg))
        return -EINVAL;
    cm_hook_lock();
    int rc = 0;
    if (installed)
        rc = -EBUSY;
    else {
        targets = tg;
        ntargets = n;
    }
    cm_hook_unlock();
    return rc;
}
