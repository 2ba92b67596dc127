/*
 * install.c - the hook module's entry points (hook.h): install, prepare and describe, and the
 * order of a hooking pass over newly loaded objects.
 *
 * What it does: a pass refreshes the object table, settles the dlopen groups of objects that
 * arrived without our wrapper, inline-hooks the new objects (codehook.c) and then patches their
 * GOT slots (got.c), so GOT slots reaching an inline-patched function share its entry. The pass
 * is registered with the targets in table.c, which runs it for the dl wrappers after a dlopen.
 * `cloudm check` descriptions list providers, importers and inline candidates per target.
 *
 * What it does not do: no patching, no binding table, no lock of its own (table.c holds them).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook_int.h"

#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cm_feed_cb feed_fn; /* cm_hook_install_fed: grows the targets from each new object */
static void *feed_ctx;

/* One pass: new objects get their inline hooks, then their GOT slots (registered with the
 * targets, run by cm_hook_pass_locked from here and from the dl wrappers). */
static void pass_locked(void)
{
    cm_objects_refresh();
    cm_hook_forget_unloaded_locked(); /* before binding anything new loaded at the same place */
    cm_dlwrap_group_unknown_locked();
    const struct cm_objtab *t = cm_objects_current();
    struct cm_objrec **fresh = t ? calloc(t->ot_n ? t->ot_n : 1, sizeof(*fresh)) : NULL;
    int nfresh = 0;
    for (size_t i = 0; fresh && i < t->ot_n; i++)
        if (!t->ot_order[i]->or_hooked && cm_objrec_patchable(t->ot_order[i]))
            fresh[nfresh++] = t->ot_order[i];
    for (int i = 0; feed_fn && i < nfresh; i++)
        feed_fn(&fresh[i]->or_pub, cm_hook_active(), feed_ctx);
    if (nfresh) /* inline hooks first: GOT slots reaching a patched function share its entry */
        cm_codehook_pass_locked(fresh, nfresh);
    free(fresh);
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_hooked)
            continue;
        r->or_hooked = true;
        if (cm_objrec_patchable(r))
            cm_got_patch_locked(r);
    }
    if (feed_fn && nfresh) /* the pass is done: its new bindings are all made */
        feed_fn(NULL, cm_hook_active(), feed_ctx);
}

/* After the targets were set (rc == 0), under the hook lock: the first pass, after which the
 * hooks count as installed. Returns rc when it is an error, else the number of bound slots. */
static int first_pass_locked(int rc)
{
    if (rc != 0)
        return rc;
    pass_locked();
    cm_hook_mark_installed_locked();
    return cm_hook_nbound_locked();
}

int cm_hook_install_fed(struct cm_target *tg, int cap, cm_bind_cb bind, cm_feed_cb feed, void *ctx)
{
    int saved = errno;
    if (cap <= 0 || !tg || !feed)
        return -EINVAL;
    cm_hook_lock();
    int rc = cm_hook_set_growing_locked(tg, cap, bind, pass_locked);
    if (rc == 0) {
        feed_fn = feed;
        feed_ctx = ctx;
    }
    rc = first_pass_locked(rc);
    cm_hook_unlock();
    errno = saved;
    return rc;
}

int cm_hook_install(const struct cm_target *tg, int n, cm_bind_cb bind)
{
    int saved = errno;
    if (n < 0 || (n > 0 && !tg))
        return -EINVAL;
    cm_hook_lock();
    int rc = cm_hook_set_targets_locked(tg, n, bind, pass_locked);
    rc = first_pass_locked(rc);
    cm_hook_unlock();
    errno = saved;
    return rc;
}

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

static void hint_line(void *ctx, const char *text)
{
    fprintf(ctx, "%s\n", text);
}

int cm_hook_describe(FILE *out)
{
    int saved = errno;
    int nowhere = 0;
    cm_hook_lock();
    cm_objects_refresh();
    const struct cm_objtab *t = cm_objects_current();
    const struct cm_target *targets;
    int ntargets = cm_hook_targets(&targets);
    for (int ti = 0; ti < ntargets; ti++) {
        const char *name = targets[ti].name;
        if (targets[ti].cxx && strcmp(targets[ti].cxx, name) != 0)
            fprintf(out, "\"%s\" = %s\n", targets[ti].cxx, name);
        else if (targets[ti].cxx)
            fprintf(out, "\"%s\"\n", name);
        else
            fprintf(out, "%s\n", name);
        struct desc_ctx c = {.out = out, .name = name};
        for (size_t i = 0; t && i < t->ot_n; i++) {
            struct cm_objrec *r = t->ot_order[i];
            if (!cm_objrec_patchable(r) || !cm_hook_provider_matches(&targets[ti], r))
                continue;
            c.r = r;
            cm_dyn_foreach_named(&r->or_dyn, name, desc_def, &c);
        }
        cm_got_describe_locked(out, name);
        c.found += cm_codehook_describe(out, ti);
        if (!c.found) {
            fprintf(out, "  not found in any loaded object\n");
            cm_names_hints(targets[ti].cxx ? targets[ti].cxx : name,
                           targets[ti].short_name ? targets[ti].short_name : name,
                           targets[ti].cxx != NULL, hint_line, out);
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
    int rc = cm_hook_set_targets_locked(tg, n, NULL, pass_locked);
    cm_hook_unlock();
    return rc;
}
