/*
 * symtab.h - finding function definitions in an object's symbol tables on disk (libelf).
 *
 * What it does: opens the file of a loaded object and lists the function symbols (STT_FUNC,
 * STT_GNU_IFUNC excluded) with one of the given names from `.symtab` and `.dynsym`; when the file
 * has no `.symtab` (stripped), it reads the separate debug file named by the object's build-id
 * (`DIR/.build-id/xx/yyyy.debug`, DIR from $CLOUDM_DEBUG_DIR, default /usr/lib/debug). Each
 * definition carries its runtime address, size, binding and the source file it came from (the
 * STT_FILE symbol preceding a local symbol).
 *
 * What it does not do: no patching, no resolution between objects, no DWARF; IFUNCs are never
 * returned (their symbol value is the resolver, not the function).
 */
#ifndef CM_SYMTAB_H
#define CM_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cm_object;

struct cm_symdef {
    int target;     /* index into the names array */
    uintptr_t addr; /* runtime address (load bias + st_value) */
    size_t size;    /* st_size (0 when unknown) */
    bool local;     /* STB_LOCAL: a `static` function */
    char file[64];  /* source file of a local symbol ("" when unknown) */
};

/*
 * List the definitions of names[0..n-1] in object `o` (duplicates at one address folded).
 * *out is malloc'd (free it), *nout its length. `from` (may be NULL) receives the path whose
 * .symtab was read, or "" when only .dynsym was available. Returns 0, or -errno when the file
 * cannot be read (then *out is NULL and *nout 0).
 */
int cm_symtab_scan(const struct cm_object *o, const char *const *names, int n,
                   struct cm_symdef **out, int *nout, char *from, size_t fromlen);

/* Every function and data symbol and every allocated section of an object (code identity). */
struct cm_sym {
    uintptr_t addr; /* runtime address */
    size_t size;
    uint32_t name;   /* offset into cm_objsyms.names */
    uint8_t is_func; /* STT_FUNC (else STT_OBJECT) */
};
struct cm_sect {
    uintptr_t lo, hi; /* runtime range */
    bool write;       /* SHF_WRITE */
    bool exec;        /* SHF_EXECINSTR */
    char name[24];
};
struct cm_objsyms {
    struct cm_sym *syms; /* sorted by address */
    size_t nsyms;
    char *names;
    struct cm_sect *sects;
    int nsects;
};

/* Load all of the above for `o` (.symtab or its debug file, and .dynsym; sections from the
 * object's own file). Returns 0 or -errno; free with cm_symtab_free(). */
int cm_symtab_load(const struct cm_object *o, struct cm_objsyms *out);
void cm_symtab_free(struct cm_objsyms *s);
/* The symbol whose [addr, addr + size) holds `a` (functions when `func`, else data), or NULL;
 * a zero-size symbol matches its own address only. */
const struct cm_sym *cm_symtab_at(const struct cm_objsyms *s, uintptr_t a, bool func);
/* The section holding `a`, or NULL. */
const struct cm_sect *cm_symtab_sect(const struct cm_objsyms *s, uintptr_t a);

/* The path of the debug file for build-id `id` that exists, written to buf; -ENOENT if none. */
int cm_symtab_debug_path(const uint8_t *id, size_t idlen, char *buf, size_t buflen);

#endif
