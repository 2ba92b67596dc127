/*
 * elf.h - the interface of shim/elf/: what is loaded and what it defines. The object table
 * (objects.c: every loaded object, its address range, its dlopen group), the dynamic section
 * and symbol tables of loaded objects (elfdyn.c), full symbol tables through libelf, with debug
 * files found by build-id (symtab.c), and symbol resolution as the loader would do it
 * (resolve.c).
 *
 * What it does not do: no patching and no hooking decision (shim/hook/), no identities
 * (shim/ident/). elf/ includes only base/.
 */
#ifndef CM_ELF_H
#define CM_ELF_H

#include <stdbool.h>
#include <stdint.h>
#include <link.h>
#include <stddef.h>

/* ---- objects: the table of loaded ELF objects, queried on the hot path.
 *
 * What it does: records, for every loaded object, its path, load bias, mapped address range,
 * identity (GNU build-id, or XXH3-128 of the file when it has none) and a dlopen handle, and
 * answers "which object contains this address" without locks, allocation or system calls.
 * Refreshed by the hooker after dlopen/dlclose.
 *
 * What it does not do: no patching, no symbol resolution beyond cm_object_symbol().
 */
struct cm_object {
    const char *path;      /* absolute path; the main program's real path for the executable */
    uintptr_t base;        /* load bias (link_map l_addr) */
    uintptr_t lo, hi;      /* [lo, hi): span of its PT_LOAD segments */
    uint8_t id[32];        /* identity bytes */
    uint8_t idlen;         /* 1..32 */
    bool id_is_build_id;   /* true: GNU build-id; false: XXH3-128 of the file's bytes */
    void *handle;          /* dlopen(path, RTLD_NOLOAD|RTLD_LAZY) handle (NULL for the vDSO) */
};

/* Rebuild the table from dl_iterate_phdr (called at start-up and after dlopen/dlclose; takes a
 * lock; never call from the hot path). Returns 0 or -errno. */
int cm_objects_refresh(void);

/* The object whose PT_LOAD span contains addr, or NULL. Lock-free, no allocation, no syscalls. */
const struct cm_object *cm_object_at(const void *addr);

/* The object whose path is `path` (exact), or NULL. */
const struct cm_object *cm_object_by_path(const char *path);

/* dlsym(o->handle, name): functions (IFUNC resolved) and data. NULL if absent. */
void *cm_object_symbol(const struct cm_object *o, const char *name);

/* ---- elfdyn: reading the dynamic section of an ELF object that is already loaded.
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

/* ---- objtab: the shim-internal view of the object table (objects.c), shared by the hooking files
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

/* fork (from the hook layer's atfork handlers, hook lock held): 0 takes the table's lock before
 * fork, 1 releases it after, in the parent and in the child. */
void cm_objects_atfork(int after);

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

/* ---- symtab: finding function definitions in an object's symbol tables on disk (libelf).
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

/* ---- names: C++ names and near misses among the loaded objects' symbols (names.c).
 * Start-up and `cloudm check` only: these read symbol tables from disk. */

/* Demangle `mangled` (an "_Z..." name) with abi::__cxa_demangle into out. `may_load`: dlopen
 * libstdc++ when the process has none. Returns 0, -ENOSYS (no demangler), -EINVAL (not a
 * mangled name) or -ENAMETOOLONG. */
int cm_demangle(const char *mangled, char *out, size_t outlen, int may_load);

/* The mangled name of the function whose demangled signature is `want` (whitespace ignored;
 * `short_name` is its unqualified name), defined in a loaded object. Refreshes the object
 * table. Returns 0, or -ENOENT. */
int cm_names_find_cxx(const char *want, const char *short_name, char *mangled, size_t mlen);

/* Why the configured function `name` (a C++ signature when `cxx`) was found nowhere: calls
 * line() with each hint, indented by two spaces (objects searched, similar names, C++
 * functions of that unqualified name, a definition only in .symtab, a stripped executable). */
void cm_names_hints(const char *name, const char *short_name, int cxx,
                    void (*line)(void *ctx, const char *text), void *ctx);

/* ---- resolve: which implementation an importer reaches (resolve.c) */
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

/* Whether p is a (transitive) DT_NEEDED dependency of a, or a itself: glibc keeps it loaded
 * while a is. */
bool cm_resolve_depends_on(struct cm_objrec *a, const struct cm_objrec *p);

/* Compute root->or_scope (breadth-first over DT_NEEDED, as glibc builds a dlopen search list).
 * Hook lock held. */
void cm_resolve_build_scope(struct cm_objrec *root);

/* Implementation of name@version in object `r` through its own handle (NULL if absent). */
void *cm_resolve_in_object(struct cm_objrec *r, const char *name, const char *version);


#endif
