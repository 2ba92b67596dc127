/*
 * objtab.h - the shim-internal view of the object table (objects.c), shared by the hooking files
 * (got.c, resolve.c, dlwrap.c).
 *
 * What it does: exposes the per-object record behind `struct cm_object` (loader name, parsed
 * dynamic section, link-map order, namespace, dlopen group) and the immutable snapshots that
 * cm_objects_refresh() publishes.
 *
 * What it does not do: nothing here is for the dispatcher or the tools; they use objects.h.
 *
 * DESIGN: records are allocated once per loaded object and never freed (pointers to them are
 * handed out as `const struct cm_object *` and may be held forever). The fields of `or_pub`,
 * or_lname, or_dynamic, or_kind, or_dyn and or_lmid are written once, before the record is first
 * published, and never change. The other fields (or_order, or_live, or_root, or_scope,
 * or_hooked, or_pinned) change only while the hook lock (got.c) is held, or, for or_order and
 * or_live, inside cm_objects_refresh() which the hook layer calls with the hook lock held; code
 * holding neither lock reads only or_pub through cm_object_at().
 */
#ifndef CM_OBJTAB_H
#define CM_OBJTAB_H

#include "elfdyn.h"
#include "objects.h"

#include <stdbool.h>
#include <stddef.h>

enum cm_objkind {
    CM_OBJ_NORMAL = 0,
    CM_OBJ_MAIN, /* the executable */
    CM_OBJ_VDSO, /* never parsed, never patched */
    CM_OBJ_LDSO, /* the dynamic loader: never parsed, never patched */
    CM_OBJ_SELF, /* the object holding this code (libcloudm.so, or a test harness) */
};

struct cm_objrec {
    struct cm_object or_pub; /* must stay first: cm_object pointers are records */
    char *or_lname;          /* name the loader knows it by ("" for the executable) */
    uintptr_t or_dynamic;    /* runtime address of PT_DYNAMIC (identity with the base) */
    int or_kind;             /* enum cm_objkind */
    bool or_dyn_ok;          /* or_dyn parsed and validated */
    struct cm_dyn or_dyn;
    long or_lmid;                /* link-map namespace (0 = the base namespace) */
    unsigned or_order;           /* position in link-map order at the last refresh */
    bool or_live;                /* present at the last refresh */
    bool or_grouped;             /* or_root has been decided */
    struct cm_objrec *or_root;   /* NULL: in its namespace's global scope; else the root of the
                                    RTLD_LOCAL dlopen that loaded it */
    struct cm_objrec **or_scope; /* roots only: their local search list (BFS over DT_NEEDED) */
    int or_nscope;
    bool or_hooked;            /* its GOT has been processed */
    bool or_pinned;            /* we hold a dlopen reference forever (initial objects and
                                  providers of bound targets): never unloaded */
    struct cm_objrec *or_next; /* every record ever created */
};

/* An immutable snapshot of the live objects. */
struct cm_objtab {
    size_t ot_n;
    struct cm_objrec **ot_order;  /* link-map order (dl_iterate_phdr order) */
    struct cm_objrec **ot_bylo;   /* sorted by or_pub.lo, for cm_object_at() */
    struct cm_objtab *ot_retired; /* older snapshots, kept until exit */
};

/* The current snapshot (never NULL after the first refresh; acquire load). */
const struct cm_objtab *cm_objects_current(void);

/* A temporary dlopen reference that keeps `r` loaded while we read or resolve through it;
 * NULL when the object is gone. Release with cm_objrec_unref(). */
void *cm_objrec_ref(struct cm_objrec *r);
void cm_objrec_unref(void *h);

/* Keep `r` loaded for the life of the process (providers of bound targets). */
void cm_objrec_pin(struct cm_objrec *r);

/* Tell the table about a namespace created by dlmopen, so objects in it get handles. */
void cm_objects_note_lmid(long lmid);

/* The record of a dlopen handle (matched through its link map), or NULL. */
struct cm_objrec *cm_objrec_of_handle(void *handle);

static inline struct cm_objrec *cm_objrec_of(const struct cm_object *o)
{
    return (struct cm_objrec *)o;
}

/* Whether `r` may be parsed and patched: not the vDSO, ld.so or ourselves, and parsed. */
static inline bool cm_objrec_patchable(const struct cm_objrec *r)
{
    return r->or_dyn_ok && (r->or_kind == CM_OBJ_NORMAL || r->or_kind == CM_OBJ_MAIN);
}

#endif
