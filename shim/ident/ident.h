/*
 * ident.h - the interface of shim/ident/: code identities (codeid.c: a hash of a function's
 * normalized code and what it calls) and their on-disk cache per build-id (idcache.c), which
 * also remembers the symbol look-ups of inline hooks.
 *
 * What it does not do: no hooking (shim/hook/ uses this folder, never the reverse). ident/
 * includes only elf/ and base/.
 */
#ifndef CM_IDENT_H
#define CM_IDENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "elf/elf.h"

/* ---- codeid: the code identity of a function: a hash of its normalized machine code.
 *
 * What it does: decodes the function with Zydis and hashes its instructions with every address
 * displacement replaced by what it refers to: a branch inside the function by its offset, a
 * function of the same object by that function's own code identity (recursively), a PLT stub
 * or GOT slot by the imported symbol's name and the build-id of the library providing it,
 * read-only data by its bytes, writable data by its symbol (or section) name. So an unrelated
 * change to the program keeps the identity; a change to the function, to any function it calls
 * within the object, or to a constant it reads changes it.
 *
 * What it does not do: no key building (key.c puts the identity into the key prefix), no
 * patching. Not a proof of equivalence: code reached only through function pointers stored in
 * writable data, and the contents of writable data, are not part of the identity.
 */
struct cm_object;

/*
 * Identity of the function at `code` in object `o` (its size from the object's symbol tables).
 * Writes 16 bytes to out; *cached tells whether the on-disk cache (idcache.h) answered. Returns 0,
 * or a negative errno (no symbol at that address, unreadable file...), with a short reason in *why.
 * Hook lock held (it resolves imports).
 */
int cm_codeid(const struct cm_object *o, const void *code, uint8_t out[16], const char **why,
              int *cached);

/* ---- idcache: the on-disk cache of local code identities, one file per build-id.
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
