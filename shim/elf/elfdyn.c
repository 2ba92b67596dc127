/*
 * elfdyn.c - reading the dynamic section of a loaded ELF object (see elfdyn.h).
 *
 * What it does: turns a PT_DYNAMIC array into validated table pointers, looks symbols up through
 * DT_GNU_HASH (or DT_HASH), maps version indices to names through DT_VERDEF/DT_VERNEED, and
 * iterates JUMP_SLOT/GLOB_DAT relocations.
 *
 * What it does not do: no allocation, no locks, no system calls, no writes. Every pointer it
 * follows is checked against the object's mapped span first and every loop is bounded by a table
 * size, so a corrupt object yields an error, never a fault.
 *
 * Address rule: glibc adds the load bias in place to the d_ptr of DT_HASH, DT_PLTGOT, DT_STRTAB,
 * DT_SYMTAB, DT_RELA, DT_REL, DT_JMPREL, DT_VERSYM and DT_GNU_HASH when it maps an object
 * (elf/get-dynamic-info.h), but not to DT_VERNEED or DT_VERDEF. We follow that rule and, should
 * a value fall outside the span, try the other interpretation before giving up.
 */
#include "elf.h"

#include <string.h>

#define MAX_VERSIONS 4096 /* verdef/verneed entries and aux entries walked per object */

static bool inspan(const struct cm_dyn *d, const void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    return a >= d->dd_lo && a <= d->dd_hi && size <= d->dd_hi - a;
}

/* Absolute address of a d_ptr value; `adjusted` says whether glibc already added the bias. */
static uintptr_t dptr(const struct cm_dyn *d, ElfW(Addr) v, bool adjusted, size_t minsize)
{
    uintptr_t a = adjusted ? v : d->dd_base + v;
    if (inspan(d, (const void *)a, minsize))
        return a;
    uintptr_t b = adjusted ? d->dd_base + v : v;
    if (inspan(d, (const void *)b, minsize))
        return b;
    return 0;
}

static const char *str_at(const struct cm_dyn *d, size_t off)
{
    if (!d->dd_strtab || off >= d->dd_strsz)
        return NULL;
    const char *s = d->dd_strtab + off;
    /* must be NUL-terminated inside the table */
    if (!memchr(s, 0, d->dd_strsz - off))
        return NULL;
    return s;
}

static size_t gnu_hash_nsyms(const struct cm_dyn *d)
{
    const uint32_t *h = d->dd_gnu_hash;
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
    const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(h + 4) + bloom_size);
    if (!inspan(d, buckets, (size_t)nbuckets * 4))
        return 0;
    const uint32_t *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (buckets[i] > last)
            last = buckets[i];
    if (last < symoffset)
        return symoffset;
    for (;;) {
        const uint32_t *c = chain + (last - symoffset);
        if (!inspan(d, c, 4))
            return 0;
        if (*c & 1)
            break;
        last++;
    }
    return (size_t)last + 1;
}

int cm_dyn_parse(struct cm_dyn *d, uintptr_t base, const ElfW(Dyn) * dyn, uintptr_t lo,
                 uintptr_t hi, const char **why)
{
    memset(d, 0, sizeof(*d));
    d->dd_base = base;
    d->dd_lo = lo;
    d->dd_hi = hi;
    *why = NULL;
    if (!inspan(d, dyn, sizeof(*dyn))) {
        *why = "dynamic section outside the object";
        return -1;
    }
    ElfW(Addr) symtab = 0, strtab = 0, gnuhash = 0, hash = 0, versym = 0, verneed = 0, verdef = 0,
               jmprel = 0, rela = 0;
    size_t strsz = 0, pltrelsz = 0, relasz = 0, relaent = sizeof(ElfW(Rela)),
           syment = sizeof(ElfW(Sym));
    long pltrel = DT_RELA;
    ElfW(Xword) runpath = (ElfW(Xword)) - 1, rpath = (ElfW(Xword)) - 1, soname = (ElfW(Xword)) - 1;
    ElfW(Xword) needed[CM_DYN_MAX_NEEDED];
    int nneeded = 0;
    for (size_t i = 0;; i++) {
        const ElfW(Dyn) *e = dyn + i;
        if (i > 4096 || !inspan(d, e, sizeof(*e))) {
            *why = "unterminated dynamic section";
            return -1;
        }
        if (e->d_tag == DT_NULL)
            break;
        switch (e->d_tag) {
        case DT_SYMTAB:
            symtab = e->d_un.d_ptr;
            break;
        case DT_STRTAB:
            strtab = e->d_un.d_ptr;
            break;
        case DT_STRSZ:
            strsz = e->d_un.d_val;
            break;
        case DT_SYMENT:
            syment = e->d_un.d_val;
            break;
        case DT_GNU_HASH:
            gnuhash = e->d_un.d_ptr;
            break;
        case DT_HASH:
            hash = e->d_un.d_ptr;
            break;
        case DT_VERSYM:
            versym = e->d_un.d_ptr;
            break;
        case DT_VERNEED:
            verneed = e->d_un.d_ptr;
            break;
        case DT_VERNEEDNUM:
            d->dd_verneednum = e->d_un.d_val;
            break;
        case DT_VERDEF:
            verdef = e->d_un.d_ptr;
            break;
        case DT_VERDEFNUM:
            d->dd_verdefnum = e->d_un.d_val;
            break;
        case DT_JMPREL:
            jmprel = e->d_un.d_ptr;
            break;
        case DT_PLTRELSZ:
            pltrelsz = e->d_un.d_val;
            break;
        case DT_PLTREL:
            pltrel = (long)e->d_un.d_val;
            break;
        case DT_RELA:
            rela = e->d_un.d_ptr;
            break;
        case DT_RELASZ:
            relasz = e->d_un.d_val;
            break;
        case DT_RELAENT:
            relaent = e->d_un.d_val;
            break;
        case DT_RUNPATH:
            runpath = e->d_un.d_val;
            break;
        case DT_RPATH:
            rpath = e->d_un.d_val;
            break;
        case DT_SONAME:
            soname = e->d_un.d_val;
            break;
        case DT_NEEDED:
            if (nneeded < CM_DYN_MAX_NEEDED)
                needed[nneeded++] = e->d_un.d_val;
            break;
        default:
            break;
        }
    }
    if (!symtab || !strtab || !strsz) {
        *why = "no dynamic symbol or string table";
        return -1;
    }
    if (syment != sizeof(ElfW(Sym)) || relaent != sizeof(ElfW(Rela))) {
        *why = "unexpected symbol or relocation entry size";
        return -1;
    }
    d->dd_strtab = (const char *)dptr(d, strtab, true, strsz);
    d->dd_strsz = strsz;
    d->dd_symtab = (const ElfW(Sym) *)dptr(d, symtab, true, sizeof(ElfW(Sym)));
    if (!d->dd_strtab || !d->dd_symtab) {
        *why = "symbol or string table outside the object";
        return -1;
    }
    if (gnuhash) {
        d->dd_gnu_hash = (const uint32_t *)dptr(d, gnuhash, true, 16);
        if (d->dd_gnu_hash) {
            d->dd_nsyms = gnu_hash_nsyms(d);
            if (!d->dd_nsyms)
                d->dd_gnu_hash = NULL;
        }
    }
    if (hash) {
        d->dd_hash = (const uint32_t *)dptr(d, hash, true, 8);
        if (d->dd_hash && !inspan(d, d->dd_hash, 8 + 4 * ((size_t)d->dd_hash[0] + d->dd_hash[1])))
            d->dd_hash = NULL;
        if (d->dd_hash && !d->dd_gnu_hash)
            d->dd_nsyms = d->dd_hash[1];
    }
    if (!d->dd_gnu_hash && !d->dd_hash) {
        *why = "no usable DT_GNU_HASH or DT_HASH";
        return -1;
    }
    if (!inspan(d, d->dd_symtab, d->dd_nsyms * sizeof(ElfW(Sym)))) {
        *why = "symbol table extends outside the object";
        return -1;
    }
    if (versym) {
        d->dd_versym = (const ElfW(Half) *)dptr(d, versym, true, d->dd_nsyms * 2);
        if (!d->dd_versym) {
            *why = "version table outside the object";
            return -1;
        }
    }
    if (verneed && d->dd_verneednum)
        d->dd_verneed = (const ElfW(Verneed) *)dptr(d, verneed, false, sizeof(ElfW(Verneed)));
    if (verdef && d->dd_verdefnum)
        d->dd_verdef = (const ElfW(Verdef) *)dptr(d, verdef, false, sizeof(ElfW(Verdef)));
    if (jmprel && pltrelsz && pltrel == DT_RELA) {
        d->dd_jmprel = (const ElfW(Rela) *)dptr(d, jmprel, true, pltrelsz);
        d->dd_njmprel = d->dd_jmprel ? pltrelsz / sizeof(ElfW(Rela)) : 0;
    }
    if (rela && relasz) {
        d->dd_rela = (const ElfW(Rela) *)dptr(d, rela, true, relasz);
        d->dd_nrela = d->dd_rela ? relasz / sizeof(ElfW(Rela)) : 0;
    }
    if ((jmprel && pltrelsz && !d->dd_jmprel) || (rela && relasz && !d->dd_rela)) {
        *why = "relocation table outside the object";
        return -1;
    }
    /* A hash table counts only the symbols it hashes (an executable's DT_GNU_HASH may hash none
     * of its undefined imports): extend the count to every symbol a relocation names. */
    for (int k = 0; k < 2; k++) {
        const ElfW(Rela) *v = k ? d->dd_rela : d->dd_jmprel;
        size_t n = k ? d->dd_nrela : d->dd_njmprel;
        for (size_t i = 0; i < n; i++) {
            size_t si = ELF64_R_SYM(v[i].r_info);
            if (si >= d->dd_nsyms && inspan(d, d->dd_symtab + si, sizeof(ElfW(Sym))) &&
                (!d->dd_versym || inspan(d, d->dd_versym + si, 2)))
                d->dd_nsyms = si + 1;
        }
    }
    if (runpath != (ElfW(Xword)) - 1)
        d->dd_runpath = str_at(d, runpath);
    if (rpath != (ElfW(Xword)) - 1)
        d->dd_rpath = str_at(d, rpath);
    if (soname != (ElfW(Xword)) - 1)
        d->dd_soname = str_at(d, soname);
    for (int i = 0; i < nneeded; i++) {
        const char *s = str_at(d, needed[i]);
        if (s)
            d->dd_needed[d->dd_nneeded++] = s;
    }
    return 0;
}

const char *cm_dyn_symname(const struct cm_dyn *d, size_t index)
{
    if (index >= d->dd_nsyms)
        return "";
    const char *s = str_at(d, d->dd_symtab[index].st_name);
    return s ? s : "";
}

/* Name of version index `ndx` in DT_VERDEF, NULL if none. */
static const char *verdef_name(const struct cm_dyn *d, unsigned ndx)
{
    const ElfW(Verdef) *vd = d->dd_verdef;
    for (size_t i = 0; vd && i < d->dd_verdefnum && i < MAX_VERSIONS; i++) {
        if (!inspan(d, vd, sizeof(*vd)))
            return NULL;
        if (vd->vd_ndx == ndx && !(vd->vd_flags & VER_FLG_BASE)) {
            const ElfW(Verdaux) *va = (const ElfW(Verdaux) *)((const char *)vd + vd->vd_aux);
            if (!inspan(d, va, sizeof(*va)))
                return NULL;
            return str_at(d, va->vda_name);
        }
        if (!vd->vd_next)
            break;
        vd = (const ElfW(Verdef) *)((const char *)vd + vd->vd_next);
    }
    return NULL;
}

/* Name of version index `ndx` in DT_VERNEED, NULL if none. */
static const char *verneed_name(const struct cm_dyn *d, unsigned ndx)
{
    const ElfW(Verneed) *vn = d->dd_verneed;
    for (size_t i = 0; vn && i < d->dd_verneednum && i < MAX_VERSIONS; i++) {
        if (!inspan(d, vn, sizeof(*vn)))
            return NULL;
        const ElfW(Vernaux) *va = (const ElfW(Vernaux) *)((const char *)vn + vn->vn_aux);
        for (unsigned j = 0; j < vn->vn_cnt && j < MAX_VERSIONS; j++) {
            if (!inspan(d, va, sizeof(*va)))
                return NULL;
            if ((va->vna_other & 0x7fff) == ndx)
                return str_at(d, va->vna_name);
            if (!va->vna_next)
                break;
            va = (const ElfW(Vernaux) *)((const char *)va + va->vna_next);
        }
        if (!vn->vn_next)
            break;
        vn = (const ElfW(Verneed) *)((const char *)vn + vn->vn_next);
    }
    return NULL;
}

const char *cm_dyn_symversion(const struct cm_dyn *d, size_t index, bool *hidden)
{
    if (hidden)
        *hidden = false;
    if (!d->dd_versym || index >= d->dd_nsyms)
        return NULL;
    unsigned vs = d->dd_versym[index];
    unsigned ndx = vs & 0x7fff;
    if (ndx <= 1)
        return NULL;
    if (d->dd_symtab[index].st_shndx == SHN_UNDEF)
        return verneed_name(d, ndx);
    if (hidden)
        *hidden = (vs & 0x8000) != 0;
    return verdef_name(d, ndx);
}

static bool type_ok(const ElfW(Sym) * s, bool any_type)
{
    unsigned t = ELF64_ST_TYPE(s->st_info), b = ELF64_ST_BIND(s->st_info);
    if (b != STB_GLOBAL && b != STB_WEAK && b != STB_GNU_UNIQUE)
        return false;
    if (s->st_shndx == SHN_UNDEF)
        return false; /* includes canonical PLT stubs (undefined, non-zero value) */
    if (s->st_value == 0 && t != STT_TLS)
        return false; /* version definitions and absolute zero symbols */
    if (t == STT_FUNC || t == STT_GNU_IFUNC || t == STT_NOTYPE)
        return true;
    return any_type && (t == STT_OBJECT || t == STT_COMMON || t == STT_TLS);
}

/* Does definition `i` (name already equal) satisfy the version request? */
static bool version_ok(const struct cm_dyn *d, size_t i, const char *version, struct cm_dyndef *out)
{
    bool hidden = false;
    const char *v = cm_dyn_symversion(d, i, &hidden);
    out->sym = d->dd_symtab + i;
    out->index = i;
    out->version = v;
    out->hidden = hidden;
    if (version) {
        if (v)
            return strcmp(v, version) == 0;
        return true; /* an unversioned definition satisfies a versioned reference */
    }
    return !hidden;
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = h * 33 + *p;
    return h;
}

static uint32_t elf_hash(const char *s)
{
    uint32_t h = 0, g;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h << 4) + *p;
        g = h & 0xf0000000u;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

static bool name_is(const struct cm_dyn *d, size_t i, const char *name)
{
    const char *s = str_at(d, d->dd_symtab[i].st_name);
    return s && strcmp(s, name) == 0;
}

/*
 * Visit every symbol index named `name` (hash chain order). `fn` returns true to stop.
 * Returns whether it stopped.
 */
static bool each_named(const struct cm_dyn *d, const char *name,
                       bool (*fn)(const struct cm_dyn *, size_t, void *), void *ctx)
{
    if (d->dd_gnu_hash) {
        const uint32_t *h = d->dd_gnu_hash;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], shift = h[3];
        if (!nbuckets || !bloom_size)
            return false;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(h + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t hv = gnu_hash(name);
        const unsigned bits = sizeof(ElfW(Addr)) * 8;
        ElfW(Addr) word = bloom[(hv / bits) % bloom_size];
        ElfW(Addr) mask =
            ((ElfW(Addr))1 << (hv % bits)) | ((ElfW(Addr))1 << ((hv >> shift) % bits));
        if ((word & mask) != mask)
            return false;
        uint32_t i = buckets[hv % nbuckets];
        if (i < symoffset)
            return false;
        for (; i < d->dd_nsyms; i++) {
            uint32_t c = chain[i - symoffset];
            if ((c | 1) == (hv | 1) && name_is(d, i, name) && fn(d, i, ctx))
                return true;
            if (c & 1)
                break;
        }
        return false;
    }
    const uint32_t *h = d->dd_hash;
    uint32_t nbucket = h[0], nchain = h[1];
    if (!nbucket)
        return false;
    const uint32_t *bucket = h + 2, *chain = bucket + nbucket;
    uint32_t steps = 0;
    for (uint32_t i = bucket[elf_hash(name) % nbucket]; i != STN_UNDEF && i < nchain;
         i = chain[i]) {
        if (++steps > nchain)
            break;
        if (name_is(d, i, name) && fn(d, i, ctx))
            return true;
    }
    return false;
}

bool cm_dyn_foreach_named(const struct cm_dyn *d, const char *name,
                          bool (*fn)(const struct cm_dyn *d, size_t index, void *ctx), void *ctx)
{
    return each_named(d, name, fn, ctx);
}

bool cm_dyn_is_def(const struct cm_dyn *d, size_t index, bool any_type)
{
    return index < d->dd_nsyms && type_ok(d->dd_symtab + index, any_type);
}

struct lookup_ctx {
    const char *version;
    bool any_type;
    struct cm_dyndef *out;
    bool have_unversioned;
    struct cm_dyndef unversioned;
};

static bool lookup_visit(const struct cm_dyn *d, size_t i, void *p)
{
    struct lookup_ctx *c = p;
    struct cm_dyndef def;
    if (!type_ok(d->dd_symtab + i, c->any_type) || !version_ok(d, i, c->version, &def))
        return false;
    if (c->version && !def.version) {
        /* prefer an exact version match found later in the chain */
        if (!c->have_unversioned) {
            c->unversioned = def;
            c->have_unversioned = true;
        }
        return false;
    }
    *c->out = def;
    return true;
}

bool cm_dyn_lookup(const struct cm_dyn *d, const char *name, const char *version, bool any_type,
                   struct cm_dyndef *out)
{
    struct lookup_ctx c = {.version = version, .any_type = any_type, .out = out};
    if (each_named(d, name, lookup_visit, &c))
        return true;
    if (c.have_unversioned) {
        *out = c.unversioned;
        return true;
    }
    return false;
}

static bool canon_visit(const struct cm_dyn *d, size_t i, void *p)
{
    (void)p;
    const ElfW(Sym) *s = d->dd_symtab + i;
    return s->st_shndx == SHN_UNDEF && s->st_value != 0;
}

bool cm_dyn_canonical_plt(const struct cm_dyn *d, const char *name)
{
    /* Undefined symbols are not in DT_GNU_HASH chains, so scan the table (bounded by nsyms). */
    if (!d->dd_gnu_hash)
        return each_named(d, name, canon_visit, NULL);
    for (size_t i = 1; i < d->dd_nsyms; i++)
        if (canon_visit(d, i, NULL) && name_is(d, i, name))
            return true;
    return false;
}

bool cm_dyn_next_gotreloc(const struct cm_dyn *d, size_t *pos, struct cm_dynreloc *out)
{
    size_t total = d->dd_njmprel + d->dd_nrela;
    while (*pos < total) {
        size_t k = (*pos)++;
        const ElfW(Rela) *r =
            k < d->dd_njmprel ? d->dd_jmprel + k : d->dd_rela + (k - d->dd_njmprel);
        unsigned type = ELF64_R_TYPE(r->r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        size_t si = ELF64_R_SYM(r->r_info);
        uintptr_t slot = d->dd_base + r->r_offset;
        if (si == 0 || si >= d->dd_nsyms || (slot & 7) || !inspan(d, (const void *)slot, 8))
            continue;
        out->slot = slot;
        out->symindex = si;
        out->type = type;
        return true;
    }
    return false;
}
