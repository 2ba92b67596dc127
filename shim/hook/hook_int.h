/*
 * hook_int.h - interfaces between the files of shim/hook/: table.c (the hook lock, targets
 * and binding table), got.c (GOT slots), codehook.c (inline hooks), dlwrap.c (dlopen/dlsym
 * wrappers), dlpath.c (library search on behalf of a dlopen caller) and install.c (the entry
 * points and the order of a pass). Private to shim/hook/; other folders use hook.h.
 *
 * Who calls whom (no circle): install.c -> got.c, codehook.c, dlwrap.c, table.c;
 * got.c -> dlwrap.c (the wrapper for a dl* slot), table.c; dlwrap.c -> dlpath.c, table.c;
 * codehook.c -> table.c. table.c calls none of them: the pass it runs for the dl wrappers is the
 * function install.c registered with the targets.
 *
 * DESIGN (shared by those files): one mutex, the hook lock, serialises installation, every
 * patching pass after dlopen/dlmopen/dlclose, and reads of the binding table by the dlsym
 * wrappers. Whoever holds it also sets the recursion guard (cm_guard), so any function the pass
 * calls that lands in a wrapper or a hooked entry goes straight to the original instead of
 * re-taking the lock. The real dlopen/dlclose run without the lock, so library constructors and
 * destructors may call dlopen themselves. Slots are stored with 8-byte atomic stores because other
 * threads may be calling through them.
 */
#ifndef CM_HOOK_INT_H
#define CM_HOOK_INT_H

#include "hook.h"

#include "elf/elf.h"

#include <stdio.h>

#include <stdbool.h>

/* ---- table.c ---- */
void cm_hook_lock(void);
void cm_hook_unlock(void);
/* Take the hook lock only if free: 0, or -EBUSY. */
int cm_hook_trylock(void);
/* Run the registered pass: refresh the object table and hook every object not yet processed.
 * Hook lock held. */
void cm_hook_pass_locked(void);
/* Record the targets, bind() (NULL when only preparing) and the pass to run; -EBUSY once
 * installed. Hook lock held. */
int cm_hook_set_targets_locked(const struct cm_target *tg, int n, cm_bind_cb bind,
                               void (*pass)(void));
void cm_hook_mark_installed_locked(void);
/* Bindings that got an entry so far. Hook lock held. */
int cm_hook_nbound_locked(void);
/* Index of the target named `name`, or -1. */
int cm_hook_target_index(const char *name);
/* Whether target `t` accepts a definition in object `p` (its object glob). */
bool cm_hook_provider_matches(const struct cm_target *t, const struct cm_objrec *p);
/* The entry for (target, resolved implementation), asking bind() the first time; NULL: leave
 * the caller alone. Hook lock held. */
void *cm_hook_entry_for_locked(int target, const struct cm_resolved *res);
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

/* The extra wrapper for slots importing `name` (cm_hook_set_wrappers), or NULL. */
void *cm_hook_wrapper_for(const char *name);

/* ---- codehook.c ---- */
/* Inline-hook the targets that want it in the new objects objs[0..n-1] (before their GOT slots
 * are processed). Hook lock held. */
void cm_codehook_pass_locked(struct cm_objrec **objs, int n);
/* For describe: the inline candidates of target `ti` and what became of them. */
int cm_codehook_describe(FILE *out, int ti); /* returns the number of candidates */

/* ---- got.c ---- */
/* Patch the GOT slots of `r` that reach a target or a dl* function. Hook lock held. */
void cm_got_patch_locked(struct cm_objrec *r);
/* `cloudm check`: the objects importing `name`, one line each. Hook lock held. */
void cm_got_describe_locked(FILE *out, const char *name);

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
