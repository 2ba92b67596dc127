/*
 * resolve.c - which implementation an importer reaches, computed the way ld.so computes it.
 *
 * What it does: builds an importer's search scope (the global scope of its namespace in link-map
 * order, then, for an object loaded by an RTLD_LOCAL dlopen, that dlopen's own search list, the
 * breadth-first walk of DT_NEEDED glibc uses), finds the first object in it that *defines* the
 * symbol with the requested version, and gets the implementation through that provider's own
 * dlopen handle with dlvsym/dlsym, which runs IFUNC resolvers the way the loader does. The same
 * walk, started after a given object, emulates dlsym(RTLD_NEXT).
 *
 * What it does not do: no patching, no binding bookkeeping (got.c); it never reads a GOT slot,
 * never calls a symbol's st_value (it may be an IFUNC resolver), and never treats the canonical
 * PLT stub of a non-PIE executable (an undefined symbol with a value) as a definition, because
 * calling it after the executable's slot is patched would come straight back to the hook.
 * Not modelled: RTLD_DEEPBIND, LD_DYNAMIC_WEAK, objects shared by two RTLD_LOCAL groups (they
 * are searched only in the group that loaded them), audit modules.
 *
 * DESIGN: every function here runs with the hook lock held (got.c, dlwrap.c), which is what
 * makes reading or_root/or_scope safe; resolution through a handle takes a temporary dlopen
 * reference so the provider cannot be unloaded while we use it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "elf.h"

#include "base/base.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static bool definable(const struct cm_objrec *r)
{
    return r->or_live && cm_objrec_patchable(r);
}

typedef bool (*visit_fn)(struct cm_objrec *r, void *ctx);

/* Visit the importer's scope in lookup order; stops when fn returns true. */
static bool each_in_scope(struct cm_objrec *importer, visit_fn fn, void *ctx)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_root || r->or_lmid != importer->or_lmid || !definable(r))
            continue;
        if (fn(r, ctx))
            return true;
    }
    struct cm_objrec *root = importer->or_root;
    for (int i = 0; root && i < root->or_nscope; i++) {
        struct cm_objrec *r = root->or_scope[i];
        if (!r->or_root || !definable(r))
            continue; /* global ones were searched above */
        if (fn(r, ctx))
            return true;
    }
    return false;
}

void *cm_resolve_in_object(struct cm_objrec *r, const char *name, const char *version)
{
    void *h = cm_objrec_ref(r);
    if (!h)
        return NULL;
    void *p = version ? dlvsym(h, name, version) : dlsym(h, name);
    if (!p)
        (void)dlerror();
    cm_objrec_unref(h);
    return p;
}

struct find_ctx {
    const char *name, *version;
    bool any_type;
    struct cm_objrec *provider;
    struct cm_dyndef def;
};

static bool find_visit(struct cm_objrec *r, void *p)
{
    struct find_ctx *c = p;
    if (!cm_dyn_lookup(&r->or_dyn, c->name, c->version, c->any_type, &c->def))
        return false;
    c->provider = r;
    return true;
}

/* The implementation of definition `def` in `r`. */
static void *implementation(struct cm_objrec *r, const char *name, const struct cm_dyndef *def)
{
    void *p = cm_resolve_in_object(r, name, def->version);
    unsigned type = ELF64_ST_TYPE(def->sym->st_info);
    if (type == STT_GNU_IFUNC || type == STT_TLS)
        return p; /* only the loader's answer is right for these */
    void *direct = (void *)(r->or_pub.base + def->sym->st_value);
    if (p != direct) {
        /* a plain definition is exactly base + st_value; the handle lookup disagreeing means it
         * found another object first (a scope quirk): trust the definition we found */
        cm_debug("%s: %s resolves to %p through its handle, defined at %p; using the definition",
                 r->or_pub.path, name, p, direct);
        p = direct;
    }
    return p;
}

int cm_resolve_import(struct cm_objrec *importer, const char *name, const char *version,
                      struct cm_resolved *out)
{
    struct find_ctx c = {.name = name, .version = version};
    memset(out, 0, sizeof(*out));
    if (!each_in_scope(importer, find_visit, &c))
        return -1;
    out->provider = c.provider;
    out->def = c.def;
    out->version = c.def.version;
    out->addr = implementation(c.provider, name, &c.def);
    if (!out->addr)
        return -1;
    /* aliases: name@OLD and name@@NEW at one address are one function, named by the default */
    struct cm_dyndef dflt;
    if ((c.def.hidden || !c.def.version) &&
        cm_dyn_lookup(&c.provider->or_dyn, name, NULL, false, &dflt) && dflt.version &&
        !dflt.hidden && dflt.sym->st_value == c.def.sym->st_value)
        out->version = dflt.version;
    return 0;
}

int cm_resolve_definition(struct cm_objrec *r, const char *name, const char *version, void *addr,
                          struct cm_resolved *out)
{
    memset(out, 0, sizeof(*out));
    struct cm_dyndef def;
    if (!definable(r) || !cm_dyn_lookup(&r->or_dyn, name, version, false, &def))
        return -1;
    void *impl = implementation(r, name, &def);
    if (!impl || impl != addr)
        return -1;
    out->provider = r;
    out->def = def;
    out->addr = impl;
    out->version = def.version;
    struct cm_dyndef dflt;
    if ((def.hidden || !def.version) && cm_dyn_lookup(&r->or_dyn, name, NULL, false, &dflt) &&
        dflt.version && !dflt.hidden && dflt.sym->st_value == def.sym->st_value)
        out->version = dflt.version;
    return 0;
}

/* The search list RTLD_NEXT walks for code in `caller`, and its length. */
static struct cm_objrec **next_list(struct cm_objrec *caller, int *n, struct cm_objrec ***owned)
{
    *owned = NULL;
    if (caller->or_root) {
        *n = caller->or_root->or_nscope;
        return caller->or_root->or_scope;
    }
    const struct cm_objtab *t = cm_objects_current();
    struct cm_objrec **v = t ? malloc((t->ot_n + 1) * sizeof(*v)) : NULL;
    int k = 0;
    for (size_t i = 0; v && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (!r->or_root && r->or_lmid == caller->or_lmid)
            v[k++] = r;
    }
    *n = k;
    *owned = v;
    return v;
}

void *cm_resolve_next(struct cm_objrec *caller, const char *name, const char *version)
{
    int n = 0;
    struct cm_objrec **owned;
    struct cm_objrec **v = next_list(caller, &n, &owned);
    int start = 0;
    for (int i = 0; i < n; i++)
        if (v[i] == caller)
            start = i + 1;
    void *p = NULL;
    for (int i = start; i < n && !p; i++) {
        struct cm_dyndef def;
        if (v[i] != caller && definable(v[i]) &&
            cm_dyn_lookup(&v[i]->or_dyn, name, version, true, &def))
            p = implementation(v[i], name, &def);
    }
    free(owned);
    return p;
}

void *cm_resolve_in_group(struct cm_objrec *caller, const char *name, const char *version)
{
    struct cm_objrec *root = caller->or_root;
    for (int i = 0; root && i < root->or_nscope; i++) {
        struct cm_objrec *r = root->or_scope[i];
        struct cm_dyndef def;
        if (r->or_root && definable(r) && cm_dyn_lookup(&r->or_dyn, name, version, true, &def))
            return implementation(r, name, &def);
    }
    return NULL;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The loaded object a DT_NEEDED entry names, in namespace `lmid`. */
static struct cm_objrec *needed_object(const char *name, long lmid)
{
    const struct cm_objtab *t = cm_objects_current();
    bool has_slash = strchr(name, '/') != NULL;
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_lmid != lmid || r->or_kind == CM_OBJ_MAIN)
            continue;
        if (r->or_dyn_ok && r->or_dyn.dd_soname && strcmp(r->or_dyn.dd_soname, name) == 0)
            return r;
        if (strcmp(has_slash ? r->or_lname : base_name(r->or_lname), name) == 0)
            return r;
    }
    return NULL;
}

bool cm_resolve_depends_on(struct cm_objrec *a, const struct cm_objrec *p)
{
    const struct cm_objtab *t = cm_objects_current();
    size_t cap = t ? t->ot_n + 1 : 1, n = 0;
    struct cm_objrec **v = malloc(cap * sizeof(*v));
    if (!v)
        return false;
    bool found = a == p;
    v[n++] = a;
    for (size_t q = 0; q < n && !found; q++) {
        if (!v[q]->or_dyn_ok)
            continue;
        for (int k = 0; k < v[q]->or_dyn.dd_nneeded && !found; k++) {
            struct cm_objrec *m = needed_object(v[q]->or_dyn.dd_needed[k], a->or_lmid);
            bool dup = !m;
            for (size_t j = 0; j < n && !dup; j++)
                dup = v[j] == m;
            found = m == p;
            if (!dup && n < cap)
                v[n++] = m;
        }
    }
    free(v);
    return found;
}

void cm_resolve_build_scope(struct cm_objrec *root)
{
    const struct cm_objtab *t = cm_objects_current();
    size_t cap = t ? t->ot_n + 1 : 1;
    struct cm_objrec **v = malloc(cap * sizeof(*v));
    if (!v)
        return; /* keep the old list */
    size_t n = 0;
    v[n++] = root;
    for (size_t q = 0; q < n; q++) {
        if (!v[q]->or_dyn_ok)
            continue;
        for (int k = 0; k < v[q]->or_dyn.dd_nneeded; k++) {
            struct cm_objrec *m = needed_object(v[q]->or_dyn.dd_needed[k], root->or_lmid);
            bool dup = !m;
            for (size_t j = 0; j < n && !dup; j++)
                dup = v[j] == m;
            if (!dup && n < cap)
                v[n++] = m;
        }
    }
    free(root->or_scope);
    root->or_scope = v;
    root->or_nscope = (int)n;
}
