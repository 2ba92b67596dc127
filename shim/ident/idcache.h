/*
 * idcache.h - the on-disk cache of local code identities, one file per build-id.
 *
 * What it does: remembers, for an object with a GNU build-id, the local code identity of each
 * function computed so far (by offset from the load bias) and the imported symbols its code
 * reaches, so a later process skips reading symbol tables and decoding. The files live in
 * $CLOUDM_ID_CACHE (default $XDG_CACHE_HOME/cloudm/codeid, else ~/.cache/cloudm/codeid;
 * "off" disables the cache), named <build-id>.ids, one text line per function:
 *     <offset hex> <local identity, 32 hex> <n> <name[@version]>...
 * and, for the symbol look-ups of inline hooks (codehook.c), one line per looked-up name:
 *     S <name> <had .symtab 0|1> <n> (<offset hex> <size> <local 0|1> <source file or ->)...
 * Lines are appended with one write(2) each (O_APPEND); a malformed or truncated line is
 * ignored, so concurrent writers and crashes cost at most a recomputation.
 *
 * What it does not do: no identity computation (codeid.c); objects without a build-id are
 * never cached (their identity is not a content hash).
 */
#ifndef CM_IDCACHE_H
#define CM_IDCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "symtab.h"

struct cm_object;

#define CM_IDCACHE_MAX_IMPORTS 256 /* imports remembered per function (more: not cached) */

struct cm_idrec {
    uint64_t off;      /* function address - load bias */
    uint8_t local[16]; /* local identity (providers not included) */
    int nimps;
    const char *imps[CM_IDCACHE_MAX_IMPORTS]; /* "name" or "name@version" */
};

/* The cached record for the function at offset `off` of `o`, or NULL. Loads the object's file
 * on first use. Hook lock held. */
const struct cm_idrec *cm_idcache_find(const struct cm_object *o, uint64_t off);

/* Remember `rec` (copied) in memory and append it to the object's file. Hook lock held. */
void cm_idcache_add(const struct cm_object *o, const struct cm_idrec *rec);

#define CM_IDCACHE_MAX_SYMDEFS 8 /* definitions remembered per looked-up name */

/* The definitions of `name` in `o` an earlier scan found (addresses relocated to this process,
 * `target` left 0), at most `max` copied to out. Returns their number, or -1 when no scan of
 * that name was recorded. *had_symtab: whether that scan read a .symtab (or a debug file).
 * Hook lock held. */
int cm_idcache_syms(const struct cm_object *o, const char *name, struct cm_symdef *out, int max,
                    bool *had_symtab);

/* Record the result of scanning `o` for `name` (n definitions, possibly 0). Not recorded when
 * n > CM_IDCACHE_MAX_SYMDEFS or a name or file contains a space. Hook lock held. */
void cm_idcache_add_syms(const struct cm_object *o, const char *name, const struct cm_symdef *defs,
                         int n, bool had_symtab);

#endif
