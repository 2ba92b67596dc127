/*
 * hookint.h - interfaces between the hooking files: got.c (install, patching, describe),
 * resolve.c (which implementation an importer reaches), dlwrap.c (dlopen/dlsym wrappers) and
 * dlpath.c (library search on behalf of a dlopen caller).
 *
 * What it does: declares the shim-internal functions of those files. Nothing here is for the
 * dispatcher, which uses hook.h and objects.h.
 *
 * DESIGN (shared by those files): one mutex, the hook lock, serialises installation, every
 * patching pass after dlopen/dlmopen/dlclose, and reads of the binding table by the dlsym
 * wrappers. Whoever holds it also sets the recursion guard (cm_guard), so any function the pass
 * calls that lands in a wrapper or a hooked entry goes straight to the original instead of
 * re-taking the lock. The real dlopen/dlclose run without the lock, so library constructors and
 * destructors may call dlopen themselves. Slots are stored with 8-byte atomic stores because other
 * threads may be calling through them.
 */
#ifndef CM_HOOKINT_H
#define CM_HOOKINT_H

#include "hook.h"
#include "objtab.h"

#include <stdbool.h>

/* ---- got.c ---- */
void cm_hook_lock(void);
void cm_hook_unlock(void);
/* Take the hook lock only if free: 0, or -EBUSY. */
int cm_hook_trylock(void);
/* Refresh the table and patch every object not yet processed. Hook lock held. */
void cm_hook_pass_locked(void);
/* dlsym/dlvsym answered `addr` for name (version NULL for dlsym): if that is the original of a
 * bound target named `name`, its entry; with `bind_new`, also when it is the implementation of a
 * target in the object defining it that no importer has bound yet (bound now). Else addr.
 * Hook lock held. */
void *cm_hook_translate_locked(const char *name, const char *version, void *addr, bool bind_new);
/* Whether hooks are installed (set once, never cleared). */
bool cm_hook_active(void);
/* The installed (or prepared) targets; returns their number. */
int cm_hook_targets(const struct cm_target **out);
/* Whether target `t` accepts a definition in object `r` whose source file is `file` ("" when
 * unknown): `object =` glob over the path or basename, then the optional ":GLOB" over file. */
bool cm_hook_target_matches(const struct cm_target *t, const struct cm_objrec *r, const char *file);
/* An inline hook of target `ti`: the function at `code` (size bytes) in `provider` now starts
 * with a jump; `original` is its relocated trampoline. Asks bind() (original = the trampoline)
 * and records (ti, code) -> entry so GOT slots and dlsym reaching `code` get the same entry.
 * Returns the entry or NULL. Hook lock held. */
void *cm_hook_bind_code_locked(int ti, struct cm_objrec *provider, void *code, size_t size,
                               void *original);

/* ---- codehook.c ---- */
/* Inline-hook the targets that want it in the new objects objs[0..n-1] (before their GOT slots
 * are processed). Hook lock held. */
void cm_codehook_pass_locked(struct cm_objrec **objs, int n);
/* For describe: the inline candidates of target `ti` and what became of them. */
int cm_codehook_describe(FILE *out, int ti); /* returns the number of candidates */

/* ---- resolve.c ---- */
struct cm_resolved {
    struct cm_objrec *provider;
    struct cm_dyndef def; /* the definition in the provider */
    void *addr;           /* the implementation (IFUNC resolved), or NULL */
    const char *version;  /* def's version, or the provider's default version when that
                             resolves to the same address (aliases); NULL unversioned */
};

/* Which implementation does `importer` reach for name@version (version NULL: unversioned)?
 * Functions only. Returns 0, or -1 when nothing in its scope defines it. Hook lock held. */
int cm_resolve_import(struct cm_objrec *importer, const char *name, const char *version,
                      struct cm_resolved *out);

/* dlsym(RTLD_NEXT) / dlvsym(RTLD_NEXT) on behalf of code in `caller`: the first definition (any
 * type) after `caller` in its search list, resolved through the provider's handle; NULL if none.
 * Hook lock held. */
void *cm_resolve_next(struct cm_objrec *caller, const char *name, const char *version);

/* dlsym(RTLD_DEFAULT) for a caller in an RTLD_LOCAL group: search its group after the global
 * scope failed. NULL if none. Hook lock held. */
void *cm_resolve_in_group(struct cm_objrec *caller, const char *name, const char *version);

/* If `addr` is the implementation of name@version (NULL: the default) defined in `r`, fill *out
 * as cm_resolve_import would and return 0; else -1. Hook lock held. */
int cm_resolve_definition(struct cm_objrec *r, const char *name, const char *version, void *addr,
                          struct cm_resolved *out);

/* Compute root->or_scope (breadth-first over DT_NEEDED, as glibc builds a dlopen search list).
 * Hook lock held. */
void cm_resolve_build_scope(struct cm_objrec *root);

/* Implementation of name@version in object `r` through its own handle (NULL if absent). */
void *cm_resolve_in_object(struct cm_objrec *r, const char *name, const char *version);

/* ---- dlwrap.c ---- */
/* The wrapper to store in slots of `name` (dlopen, dlmopen, dlclose, dlsym, dlvsym), or NULL. */
void *cm_dlwrap_for(const char *name);
/* Decide the dlopen group of records not seen through a wrapper (own group). Hook lock held. */
void cm_dlwrap_group_unknown_locked(void);

/* ---- dlpath.c ---- */
/*
 * What glibc would load for dlopen(file) called from `caller`, when glibc itself would get it
 * wrong because the call now comes from libcloudm: expands $ORIGIN against the caller and
 * searches the caller's DT_RUNPATH/DT_RPATH. Writes the name to pass to the real dlopen into
 * `buf` and returns buf, or returns `file` unchanged when no rewrite is needed.
 */
const char *cm_dlpath_rewrite(const struct cm_objrec *caller, const char *file, char *buf,
                              size_t bufsz);

#endif
