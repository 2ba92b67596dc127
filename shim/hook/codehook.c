/*
 * codehook.c - which functions get inline hooks, and the record of what became of each.
 *
 * What it does: for every new object in a hooking pass, and every target whose `hook` asks for
 * inline patching there (inline: any object; auto: the executable only), lists the target's
 * definitions from the symbol tables (symtab.c) that pass its `object = PATH[:SOURCE]` glob.
 * A target with more than one candidate (several `static` functions of one name, or definitions
 * in several objects) is an error: none is hooked, and one message lists the candidates and how
 * to pick one. A single candidate is planned and patched (inline.c) and bound through the hook
 * layer (cm_hook_bind_code_locked). Every candidate is remembered with its outcome for
 * `cloudm check`. What a scan found is recorded per name in the identity cache (idcache.h), so
 * a later process with the same build-id skips reading the symbol tables.
 *
 * What it does not do: no instruction decoding or patching itself (inline.c), no ELF reading
 * (symtab.c), no GOT slots (got.c).
 *
 * DESIGN: all state is protected by the hook lock (got.c); records are append-only.
 */
#include "hook_int.h"
#include "ident/ident.h"
#include "frame.h"
#include "base/base.h"
#include "elf/elf.h"

#include <stdlib.h>
#include <string.h>

struct rec {
    int target;
    struct cm_objrec *obj;
    struct cm_symdef def;
    char symfrom[256]; /* file whose .symtab listed it ("" = .dynsym only) */
    int state;         /* enum state */
    const char *why;   /* ST_REFUSED: the patcher's reason (a static string) */
};

enum state { ST_PENDING = 0, ST_HOOKED, ST_REFUSED, ST_AMBIGUOUS, ST_DECLINED };

static struct rec *recs; /* hook lock */
static int nrecs, caprecs;

static bool wants(const struct cm_target *t, const struct cm_objrec *r)
{
    return t->hook == CM_TARGET_INLINE || (t->hook == CM_TARGET_AUTO && r->or_kind == CM_OBJ_MAIN);
}

static struct rec *add_rec(void)
{
    if (nrecs == caprecs) {
        int cap = caprecs ? 2 * caprecs : 16;
        struct rec *v = realloc(recs, (size_t)cap * sizeof(*v));
        if (!v)
            return NULL;
        recs = v;
        caprecs = cap;
    }
    memset(&recs[nrecs], 0, sizeof(recs[nrecs]));
    return &recs[nrecs++];
}

/* The definitions of the wanted names from the identity cache (idcache.h), if every one was
 * recorded by an earlier process and no debug file appeared since a scan without .symtab.
 * Returns the number found (into a malloc'd *out), or -1 to scan the file. */
static int cached_defs(struct cm_objrec *r, const char **names, int nt, struct cm_symdef **out)
{
    struct cm_symdef *defs = calloc((size_t)nt * CM_IDCACHE_MAX_SYMDEFS + 1, sizeof(*defs));
    int n = 0;
    char dbg[4096];
    for (int i = 0; defs && i < nt; i++) {
        if (!names[i][0])
            continue;
        bool had = false;
        int k = cm_idcache_syms(&r->or_pub, names[i], defs + n, CM_IDCACHE_MAX_SYMDEFS, &had);
        if (k < 0 || (!had && r->or_pub.id_is_build_id &&
                      cm_symtab_debug_path(r->or_pub.id, r->or_pub.idlen, dbg, sizeof(dbg)) == 0)) {
            free(defs);
            return -1;
        }
        for (int j = 0; j < k; j++)
            defs[n + j].target = i;
        n += k;
    }
    if (!defs)
        return -1;
    *out = defs;
    return n;
}

/* Collect the candidates of the targets that want inline hooks in object r. */
static void scan_object(struct cm_objrec *r, const struct cm_target *tg, int nt)
{
    const char **names = calloc((size_t)nt, sizeof(*names));
    int want = 0;
    for (int i = 0; names && i < nt; i++) {
        names[i] = wants(&tg[i], r) ? tg[i].name : "";
        want += names[i][0] != '\0';
    }
    if (!want) {
        free(names);
        return;
    }
    struct cm_symdef *defs;
    int ndefs = cached_defs(r, names, nt, &defs);
    char from[256] = "the identity cache";
    if (ndefs >= 0)
        cm_debug("%s: inline candidates from the identity cache", r->or_pub.path);
    if (ndefs < 0) {
        int rc = cm_symtab_scan(&r->or_pub, names, nt, &defs, &ndefs, from, sizeof(from));
        if (rc < 0) {
            cm_log("%s: cannot read its symbol table (%s): no inline hooks there", r->or_pub.path,
                   strerror(-rc));
            free(names);
            return;
        }
        for (int i = 0; i < nt; i++) { /* remember what this scan found, name by name */
            if (!names[i][0])
                continue;
            struct cm_symdef mine[CM_IDCACHE_MAX_SYMDEFS];
            int k = 0;
            for (int j = 0; j < ndefs; j++)
                if (defs[j].target == i && k <= CM_IDCACHE_MAX_SYMDEFS) {
                    if (k < CM_IDCACHE_MAX_SYMDEFS)
                        mine[k] = defs[j];
                    k++;
                }
            cm_idcache_add_syms(&r->or_pub, names[i], mine, k, from[0] != '\0');
        }
    }
    free(names);
    for (int i = 0; i < ndefs; i++) {
        if (!cm_hook_target_matches(&tg[defs[i].target], r, defs[i].file))
            continue;
        struct rec *x = add_rec();
        if (!x)
            break;
        x->target = defs[i].target;
        x->obj = r;
        x->def = defs[i];
        snprintf(x->symfrom, sizeof(x->symfrom), "%s", from);
    }
    free(defs);
}

static void *bind_site(struct cm_inline_site *s, void *ctx)
{
    (void)ctx;
    return cm_hook_bind_code_locked(s->target, s->obj, (void *)s->fn, s->fnsize, (void *)s->tramp);
}

static void describe_rec(FILE *out, const struct rec *x)
{
    static const char *const what[] = {"not hooked (pending)", "inline hook", "not hooked: ",
                                       "not hooked: defined more than once (see `object =`)",
                                       "not hooked: declined by the dispatcher"};
    fprintf(out, "  defined in %s at %p (%s%s%s, %zu bytes, symbols from %s): %s%s\n",
            x->obj->or_pub.path, (void *)x->def.addr, x->def.local ? "static" : "global",
            x->def.file[0] ? ", from " : "", x->def.file, x->def.size,
            x->symfrom[0] ? x->symfrom : ".dynsym", what[x->state],
            x->state == ST_REFUSED ? x->why : "");
}

/* The candidates of target ti from records [first, nrecs) plus earlier hooked ones: more than
 * one is an error. Returns whether the new ones may be hooked. */
static bool unique(const struct cm_target *tg, int ti, int first)
{
    int n = 0, nlocal = 0;
    const struct cm_objrec *obj = NULL;
    bool one_object = true;
    for (int i = 0; i < nrecs; i++)
        if (recs[i].target == ti && (i >= first || recs[i].state == ST_HOOKED)) {
            n++;
            nlocal += recs[i].def.local;
            one_object &= !obj || obj == recs[i].obj;
            obj = recs[i].obj;
        }
    /* Global definitions of one name in one object are its symbol versions (libm's
     * lgamma@GLIBC_2.2.5 and lgamma@@GLIBC_2.23): distinct functions, each hooked as its own
     * variant, as GOT hooking would. */
    if (n <= 1 || (one_object && nlocal == 0))
        return true;
    char buf[2048];
    size_t len = 0;
    for (int i = 0; i < nrecs && len < sizeof(buf) - 1; i++) {
        if (recs[i].target != ti)
            continue;
        const char *base = strrchr(recs[i].obj->or_pub.path, '/');
        len += (size_t)snprintf(buf + len, sizeof(buf) - len,
                                "\n    %s at %p%s%s (pick it with "
                                "`object = %s%s%s`)",
                                recs[i].obj->or_pub.path, (void *)recs[i].def.addr,
                                recs[i].def.file[0] ? " from " : "", recs[i].def.file,
                                base ? base + 1 : recs[i].obj->or_pub.path,
                                recs[i].def.file[0] ? ":" : "", recs[i].def.file);
        if (len >= sizeof(buf))
            len = sizeof(buf) - 1;
    }
    cm_log("error: function '%s' is defined %d times; it is not memoized. Candidates:%s",
           tg[ti].name, n, buf);
    for (int i = first; i < nrecs; i++)
        if (recs[i].target == ti)
            recs[i].state = ST_AMBIGUOUS;
    return false;
}

void cm_codehook_pass_locked(struct cm_objrec **objs, int n)
{
    const struct cm_target *tg;
    int nt = cm_hook_targets(&tg);
    int first = nrecs;
    bool any = false;
    for (int i = 0; i < nt && !any; i++)
        any = tg[i].hook != CM_TARGET_GOT;
    if (!any)
        return;
    for (int i = 0; i < n; i++)
        scan_object(objs[i], tg, nt);
    if (nrecs == first)
        return;
    bool *ok = calloc((size_t)nt, sizeof(*ok));
    if (!ok)
        return;
    for (int ti = 0; ti < nt; ti++)
        ok[ti] = unique(tg, ti, first);
    /* one batch of sites per object, so one trampoline area serves them all */
    struct cm_inline_site *sites = calloc((size_t)(nrecs - first), sizeof(*sites));
    int *which = calloc((size_t)(nrecs - first), sizeof(*which));
    for (int o = 0; sites && which && o < n; o++) {
        int ns = 0;
        for (int i = first; i < nrecs; i++) {
            struct rec *x = &recs[i];
            if (x->obj != objs[o] || !ok[x->target])
                continue;
            struct cm_inline_site *s = &sites[ns];
            memset(s, 0, sizeof(*s));
            s->target = x->target;
            s->obj = x->obj;
            s->fn = x->def.addr;
            s->fnsize = x->def.size;
            cm_inline_plan(s);
            which[ns++] = i;
        }
        if (!ns)
            continue;
        void *ref = cm_objrec_ref(objs[o]); /* keep it loaded while we write into it */
        cm_inline_patch(sites, ns, bind_site, NULL);
        cm_objrec_unref(ref);
        for (int k = 0; k < ns; k++) {
            struct rec *x = &recs[which[k]];
            if (sites[k].why) {
                x->state = ST_REFUSED;
                x->why = sites[k].why;
                if (cm_hook_fed()) /* observing every function: no warning per refusal */
                    cm_debug("%s in %s: not observed: %s", tg[x->target].name,
                             x->obj->or_pub.path, sites[k].why);
                else
                    cm_log("warning: function '%s' in %s is not memoized: %s",
                           tg[x->target].name, x->obj->or_pub.path, sites[k].why);
            } else if (sites[k].tramp) {
                x->state = ST_HOOKED;
                cm_debug("%s in %s at %p: inline hook (%d bytes displaced)", tg[x->target].name,
                         x->obj->or_pub.path, (void *)x->def.addr, sites[k].len);
            } else {
                x->state = ST_DECLINED;
            }
        }
    }
    free(sites);
    free(which);
    free(ok);
}

int cm_codehook_describe(FILE *out, int ti)
{
    int n = 0;
    for (int i = 0; i < nrecs; i++)
        if (recs[i].target == ti) {
            describe_rec(out, &recs[i]);
            n++;
        }
    return n;
}

int cm_hook_inline_candidates(int target)
{
    cm_hook_lock();
    int n = 0;
    for (int i = 0; i < nrecs; i++)
        n += recs[i].target == target;
    cm_hook_unlock();
    return n;
}
