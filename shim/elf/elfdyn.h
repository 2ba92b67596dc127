/*
 * elfdyn.h - reading the dynamic section of an ELF object that is already loaded.
 *
 * What it does: given a loaded object's load bias, program headers and mapped span, locates its
 * dynamic symbol table, string table, hash tables (DT_GNU_HASH, DT_HASH), version tables
 * (DT_VERSYM, DT_VERNEED, DT_VERDEF), relocation tables (DT_JMPREL, DT_RELA) and search paths
 * (DT_RUNPATH, DT_RPATH, DT_NEEDED, DT_SONAME), validates that every table lies inside the
 * object's mapped span, and answers: the version an importer requests for a symbol, the
 * definition of a name (with a version) an object holds, and each GOT relocation.
 *
 * What it does not do: no file I/O, no allocation, no writes, no resolution across objects (see
 * resolve.c). It reads memory only inside [lo, hi) of the object, so a malformed object is
 * rejected instead of crashing the host. It must not be used on the vDSO or on ld.so, whose
 * dynamic sections are not relocated by glibc the way ordinary objects' are.
 */
#ifndef CM_ELFDYN_H
#define CM_ELFDYN_H

#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_DYN_MAX_NEEDED 64 /* DT_NEEDED entries remembered per object */

struct cm_dyn {
    uintptr_t dd_base;      /* load bias */
    uintptr_t dd_lo, dd_hi; /* mapped span; every table lies inside */
    const ElfW(Sym) * dd_symtab;
    const char *dd_strtab;
    size_t dd_strsz;
    size_t dd_nsyms; /* from DT_HASH nchain or the DT_GNU_HASH chains */
    const uint32_t *dd_gnu_hash;
    const uint32_t *dd_hash;
    const ElfW(Half) * dd_versym;
    const ElfW(Verneed) * dd_verneed;
    size_t dd_verneednum;
    const ElfW(Verdef) * dd_verdef;
    size_t dd_verdefnum;
    const ElfW(Rela) * dd_jmprel; /* NULL unless DT_PLTREL == DT_RELA */
    size_t dd_njmprel;
    const ElfW(Rela) * dd_rela;
    size_t dd_nrela;
    const char *dd_runpath; /* DT_RUNPATH string or NULL */
    const char *dd_rpath;   /* DT_RPATH string or NULL (ignored by glibc when RUNPATH exists) */
    const char *dd_soname;
    const char *dd_needed[CM_DYN_MAX_NEEDED];
    int dd_nneeded;
};

/* A definition found by cm_dyn_lookup(). */
struct cm_dyndef {
    const ElfW(Sym) * sym;
    size_t index;
    const char *version; /* version name from DT_VERDEF, or NULL (unversioned) */
    bool hidden;         /* non-default version (name@V rather than name@@V) */
};

/*
 * Parse the dynamic section `dyn` of an object with load bias `base` whose PT_LOAD segments span
 * [lo, hi). Returns 0, or -1 with a short reason in *why when a table is missing or out of range.
 */
int cm_dyn_parse(struct cm_dyn *d, uintptr_t base, const ElfW(Dyn) * dyn, uintptr_t lo,
                 uintptr_t hi, const char **why);

/* Name of symbol `index` ("" when out of range). */
const char *cm_dyn_symname(const struct cm_dyn *d, size_t index);

/*
 * Version attached to symbol `index` of this object's .dynsym: for an undefined symbol, the
 * version it requests (DT_VERNEED); for a defined one, the version it defines (DT_VERDEF).
 * NULL when unversioned. *hidden (may be NULL) is set for a non-default definition.
 */
const char *cm_dyn_symversion(const struct cm_dyn *d, size_t index, bool *hidden);

/*
 * Find a definition of `name` in this object, glibc style: with `version` non-NULL, the symbol
 * defining exactly that version, or an unversioned definition; with `version` NULL, the default
 * (non-hidden) or unversioned definition. `any_type` false accepts only functions (FUNC, IFUNC,
 * NOTYPE); true accepts data and TLS too (dlsym emulation). Undefined symbols, including the
 * canonical PLT stubs of a non-PIE executable (undefined with a non-zero value), never match.
 * Returns true and fills *out when found.
 */
bool cm_dyn_lookup(const struct cm_dyn *d, const char *name, const char *version, bool any_type,
                   struct cm_dyndef *out);

/* Call fn(index) for every .dynsym entry named `name` reachable through the hash table (defined
 * symbols only; fn returns true to stop). Returns whether fn stopped the walk. */
bool cm_dyn_foreach_named(const struct cm_dyn *d, const char *name,
                          bool (*fn)(const struct cm_dyn *d, size_t index, void *ctx), void *ctx);

/* Whether symbol `index` is a usable definition (see cm_dyn_lookup for `any_type`). */
bool cm_dyn_is_def(const struct cm_dyn *d, size_t index, bool any_type);

/* True when `name` is an undefined symbol with a non-zero value here: a canonical PLT stub. */
bool cm_dyn_canonical_plt(const struct cm_dyn *d, const char *name);

/* One GOT relocation (R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT). */
struct cm_dynreloc {
    uintptr_t slot; /* absolute address of the GOT slot */
    size_t symindex;
    unsigned type; /* R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT */
};

/* Iterate over the GOT relocations: returns false when exhausted. *pos starts at 0. */
bool cm_dyn_next_gotreloc(const struct cm_dyn *d, size_t *pos, struct cm_dynreloc *out);

#endif
