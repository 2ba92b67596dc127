/*
 * codeid.h - the code identity of a function: a hash of its normalized machine code.
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
#ifndef CM_CODEID_H
#define CM_CODEID_H

#include <stddef.h>
#include <stdint.h>

struct cm_object;

/*
 * Identity of the function at `code` in object `o` (its size from the object's symbol tables).
 * Writes 16 bytes to out; *cached tells whether the on-disk cache (idcache.h) answered. Returns 0,
 * or a negative errno (no symbol at that address, unreadable file...), with a short reason in *why.
 * Hook lock held (it resolves imports).
 */
int cm_codeid(const struct cm_object *o, const void *code, uint8_t out[16], const char **why,
              int *cached);

#endif
