/*
 * codeid.c - code identities (see codeid.h).
 *
 * What it does: per object, loads its symbol and section tables once (symtab.c) and memoizes
 * the identity of every function it hashes. References to functions that are still being
 * hashed (recursion, mutual recursion) contribute the callee's name; a result that depended on
 * such a reference to a function other than itself is not memoized (it would depend on where
 * the walk started).
 *
 * Imports contribute only their names while hashing (the "local identity", which depends on
 * this object alone and is what the on-disk cache, idcache.c, keeps); the build-ids of the
 * libraries providing them are mixed in at the end, resolved afresh in every process.
 *
 * What it does not do: no data-flow analysis (an indirect call through a
 * register contributes nothing but its instruction bytes).
 *
 * Bounds: MAX_DEPTH nested callees, MAX_FUNCS functions hashed per root; beyond those a callee
 * contributes its name and size only. At most MAX_DATA bytes of one data symbol are hashed.
 *
 * DESIGN: called under the hook lock only (from bind()); all state here is protected by it.
 */
#include "ident.h"

#include "base/base.h"
#include "elf/elf.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_DEPTH 24
#define MAX_FUNCS 4096
#define MAX_DATA 65536
#define MAX_FNSIZE (4u << 20)

/* The imported symbols a function's code reaches, directly or through its callees. */
struct impset {
    struct imp {
        const char *name, *version; /* in the object's dynamic string table */
    } * v;
    int n, cap;
    bool overflow; /* more than CM_IDCACHE_MAX_IMPORTS: not cached */
};

struct memo {
    uintptr_t addr;
    uint8_t id[16];     /* local identity: imports by name only */
    int depth;          /* >= 0: being hashed at this depth; -1: done */
    struct impset imps; /* done: everything it reaches */
};

struct idobj {
    const struct cm_objrec *r;
    struct cm_objsyms s;
    int state; /* 1 loaded, -errno failed */
    struct memo *memo;
    size_t nmemo, cap;
    struct idobj *next;
};

struct walk {
    struct idobj *io;
    int funcs; /* hashed in this walk */
};

static struct idobj *idobjs;
static ZydisDecoder dec;
static bool dec_ready;

static struct idobj *idobj_of(const struct cm_object *o)
{
    for (struct idobj *p = idobjs; p; p = p->next)
        if (&p->r->or_pub == o)
            return p;
    struct idobj *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->r = cm_objrec_of(o);
    int rc = cm_symtab_load(o, &p->s);
    p->state = rc < 0 ? rc : 1;
    p->next = idobjs;
    idobjs = p;
    return p;
}

static struct memo *memo_find(struct idobj *io, uintptr_t addr)
{
    for (size_t i = 0; i < io->nmemo; i++)
        if (io->memo[i].addr == addr)
            return &io->memo[i];
    return NULL;
}

static struct memo *memo_add(struct idobj *io, uintptr_t addr)
{
    if (io->nmemo == io->cap) {
        size_t cap = io->cap ? 2 * io->cap : 64;
        struct memo *v = realloc(io->memo, cap * sizeof(*v));
        if (!v)
            return NULL;
        io->memo = v;
        io->cap = cap;
    }
    struct memo *m = &io->memo[io->nmemo++];
    memset(m, 0, sizeof(*m));
    m->addr = addr;
    return m;
}

static void impset_add(struct impset *s, const char *name, const char *version)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0 &&
            (s->v[i].version == version ||
             (s->v[i].version && version && strcmp(s->v[i].version, version) == 0)))
            return;
    if (s->n == CM_IDCACHE_MAX_IMPORTS * 4) {
        s->overflow = true;
        return;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        struct imp *v = realloc(s->v, (size_t)cap * sizeof(*v));
        if (!v) {
            s->overflow = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct imp){name, version};
    if (s->n > CM_IDCACHE_MAX_IMPORTS)
        s->overflow = true;
}

static void impset_merge(struct impset *dst, const struct impset *src)
{
    for (int i = 0; i < src->n; i++)
        impset_add(dst, src->v[i].name, src->v[i].version);
    dst->overflow |= src->overflow;
}

static void put_tag(XXH3_state_t *h, char tag, const void *p, size_t n)
{
    XXH3_128bits_update(h, &tag, 1);
    uint64_t len = n;
    XXH3_128bits_update(h, &len, sizeof(len));
    if (n)
        XXH3_128bits_update(h, p, n);
}

static void put_str(XXH3_state_t *h, char tag, const char *s)
{
    put_tag(h, tag, s, strlen(s));
}

/* The GOT slot `slot` of object r: its symbol's name (and version) go into the hash and the
 * set of imports; the providers' build-ids are added at the end (finish()). */
static void put_import(XXH3_state_t *h, const struct cm_objrec *r, uintptr_t slot,
                       struct impset *cur)
{
    if (!r->or_dyn_ok) {
        put_tag(h, 'g', NULL, 0);
        return;
    }
    struct cm_dynreloc rel;
    size_t pos = 0;
    while (cm_dyn_next_gotreloc(&r->or_dyn, &pos, &rel)) {
        if (rel.slot != slot)
            continue;
        const char *name = cm_dyn_symname(&r->or_dyn, rel.symindex);
        const char *ver = cm_dyn_symversion(&r->or_dyn, rel.symindex, NULL);
        put_str(h, 'G', name);
        impset_add(cur, name, ver);
        return;
    }
    put_tag(h, 'g', NULL, 0); /* a slot without a JUMP_SLOT/GLOB_DAT relocation */
}

static bool decode(uintptr_t at, size_t avail, ZydisDecodedInstruction *in,
                   ZydisDecodedOperand *ops)
{
    if (!dec_ready) {
        if (ZYAN_FAILED(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
            return false;
        dec_ready = true;
    }
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, (const void *)at, avail, in, ops));
}

/* A PLT stub: the GOT slot its first `jmp *slot(%rip)` reads, or 0. */
static uintptr_t plt_slot(uintptr_t at, const struct cm_sect *sec)
{
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    for (int k = 0; k < 3 && at < sec->hi; k++) {
        if (!decode(at, sec->hi - at, &in, ops))
            return 0;
        if (in.mnemonic == ZYDIS_MNEMONIC_JMP && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
            ops[0].mem.base == ZYDIS_REGISTER_RIP) {
            ZyanU64 abs;
            if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &ops[0], at, &abs)))
                return (uintptr_t)abs;
        }
        at += in.length;
    }
    return 0;
}

static int hash_fn(struct walk *w, const struct cm_sym *f, int depth, uint8_t out[16],
                   struct impset *up);

/* A reference from code to code at t. Returns the lowest depth of a function still being hashed
 * that this reference used (INT32_MAX if none). */
static int put_code_ref(struct walk *w, XXH3_state_t *h, uintptr_t t, int depth, struct impset *cur)
{
    const struct cm_objsyms *s = &w->io->s;
    const struct cm_sect *sec = cm_symtab_sect(s, t);
    if (sec && strncmp(sec->name, ".plt", 4) == 0) {
        uintptr_t slot = plt_slot(t, sec);
        put_import(h, w->io->r, slot, cur);
        return INT32_MAX;
    }
    const struct cm_sym *f = cm_symtab_at(s, t, true);
    if (!f || f->addr != t) { /* into the middle of a function, or no symbol */
        put_str(h, 'X', sec ? sec->name : "?");
        if (f) {
            uint64_t off = t - f->addr;
            put_str(h, 'N', s->names + f->name);
            put_tag(h, 'O', &off, sizeof(off));
        }
        return INT32_MAX;
    }
    struct memo *m = memo_find(w->io, t);
    if (m && m->depth < 0) {
        put_tag(h, 'C', m->id, 16);
        impset_merge(cur, &m->imps);
        return INT32_MAX;
    }
    if (m || depth + 1 >= MAX_DEPTH || w->funcs >= MAX_FUNCS) { /* recursion, or too deep */
        uint64_t sz = f->size;
        put_str(h, 'R', s->names + f->name);
        put_tag(h, 'S', &sz, sizeof(sz));
        return m ? m->depth : INT32_MAX;
    }
    uint8_t id[16];
    int low = hash_fn(w, f, depth + 1, id, cur);
    put_tag(h, 'C', id, 16);
    return low;
}

/* A memory operand at t (size bytes accessed, 0 = unknown/lea). */
static int put_data_ref(struct walk *w, XXH3_state_t *h, uintptr_t t, size_t size, int depth,
                        struct impset *cur)
{
    const struct cm_objsyms *s = &w->io->s;
    const struct cm_sect *sec = cm_symtab_sect(s, t);
    if (!sec) {
        put_tag(h, 'U', NULL, 0);
        return INT32_MAX;
    }
    if (strncmp(sec->name, ".got", 4) == 0) {
        put_import(h, w->io->r, t, cur);
        return INT32_MAX;
    }
    if (sec->exec) /* a function's address (a callback) */
        return put_code_ref(w, h, t, depth, cur);
    const struct cm_sym *d = cm_symtab_at(s, t, false);
    if (sec->write) { /* variables: by name, never by value */
        put_str(h, 'W', d ? s->names + d->name : sec->name);
        uint64_t off = d ? t - d->addr : 0;
        put_tag(h, 'O', &off, sizeof(off));
        return INT32_MAX;
    }
    /* read-only data: its bytes */
    uintptr_t lo = t, hi;
    if (d && d->size) {
        lo = d->addr;
        hi = d->addr + (d->size < MAX_DATA ? d->size : MAX_DATA);
    } else if (size) {
        hi = t + size;
    } else { /* lea of something unnamed: a string literal, most likely */
        hi = t;
        while (hi < sec->hi && hi - t < 256 && *(const char *)hi)
            hi++;
    }
    if (lo < sec->lo)
        lo = sec->lo;
    if (hi > sec->hi)
        hi = sec->hi;
    uint64_t off = t - lo;
    put_tag(h, 'D', (const void *)lo, hi - lo);
    put_tag(h, 'O', &off, sizeof(off));
    return INT32_MAX;
}

static int hash_fn(struct walk *w, const struct cm_sym *f, int depth, uint8_t out[16],
                   struct impset *up)
{
    struct impset mine = {0};
    struct memo *m = memo_add(w->io, f->addr);
    if (!m)
        return INT32_MAX;
    size_t mi = (size_t)(m - w->io->memo); /* memo_add may move the array */
    m->depth = depth;
    w->funcs++;
    XXH3_state_t h;
    XXH3_128bits_reset(&h);
    uint64_t size = f->size;
    put_tag(&h, 'F', &size, sizeof(size));
    int low = INT32_MAX;
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    uintptr_t end = f->addr + (f->size < MAX_FNSIZE ? f->size : MAX_FNSIZE);
    for (uintptr_t p = f->addr; p < end;) {
        if (!decode(p, end - p, &in, ops)) { /* undecodable: the raw rest */
            put_tag(&h, 'Z', (const void *)p, end - p);
            break;
        }
        uint8_t tmp[ZYDIS_MAX_INSTRUCTION_LENGTH];
        memcpy(tmp, (const void *)p, in.length);
        for (int k = 0; k < in.operand_count_visible; k++) {
            ZyanU64 abs;
            if (ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[k].mem.base == ZYDIS_REGISTER_RIP &&
                ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &ops[k], p, &abs))) {
                memset(tmp + in.raw.disp.offset, 0, in.raw.disp.size / 8);
                size_t sz = in.mnemonic == ZYDIS_MNEMONIC_LEA ? 0 : ops[k].size / 8;
                int l = put_data_ref(w, &h, (uintptr_t)abs, sz, depth, &mine);
                low = l < low ? l : low;
            } else if (ops[k].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[k].imm.is_relative &&
                       ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &ops[k], p, &abs))) {
                for (int r = 0; r < 2; r++)
                    if (in.raw.imm[r].is_relative)
                        memset(tmp + in.raw.imm[r].offset, 0, in.raw.imm[r].size / 8);
                uintptr_t t = (uintptr_t)abs;
                if (t >= f->addr && t < f->addr + f->size) {
                    uint64_t off = t - f->addr;
                    put_tag(&h, 'L', &off, sizeof(off));
                } else {
                    int l = put_code_ref(w, &h, t, depth, &mine);
                    low = l < low ? l : low;
                }
            }
        }
        put_tag(&h, 'I', tmp, in.length);
        p += in.length;
    }
    XXH128_hash_t d = XXH3_128bits_digest(&h);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, d);
    memcpy(out, c.digest, 16);
    m = &w->io->memo[mi];
    if (up)
        impset_merge(up, &mine);
    if (low >= depth) { /* depends on nothing still open above it: final */
        memcpy(m->id, out, 16);
        m->depth = -1;
        m->imps = mine;
    } else { /* forget it: its value depends on where the walk started */
        free(mine.v);
        w->io->memo[mi] = w->io->memo[--w->io->nmemo];
    }
    return low == depth ? INT32_MAX : low;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The identity: the local identity, then each import ("name" or "name@version", sorted) with
 * the build-id of the library that provides it to this object now. */
static void finish(const struct cm_object *o, const uint8_t local[16], const char **imps, int n,
                   uint8_t out[16])
{
    qsort(imps, (size_t)n, sizeof(*imps), str_cmp);
    XXH3_state_t h;
    XXH3_128bits_reset(&h);
    XXH3_128bits_update(&h, local, 16);
    for (int i = 0; i < n; i++) {
        char name[512];
        snprintf(name, sizeof(name), "%s", imps[i]);
        char *at = strchr(name, '@');
        if (at)
            *at++ = '\0';
        put_str(&h, 'G', imps[i]);
        struct cm_resolved res;
        if (cm_resolve_import(cm_objrec_of(o), name, at, &res) == 0)
            put_tag(&h, 'B', res.provider->or_pub.id, res.provider->or_pub.idlen);
        else
            put_tag(&h, 'b', NULL, 0); /* data, or nothing provides it */
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&h));
    memcpy(out, c.digest, 16);
}

int cm_codeid(const struct cm_object *o, const void *code, uint8_t out[16], const char **why,
              int *cached)
{
    uint64_t off = (uintptr_t)code - o->base;
    const struct cm_idrec *rec = cm_idcache_find(o, off);
    *cached = rec != NULL;
    if (rec) {
        const char *imps[CM_IDCACHE_MAX_IMPORTS];
        memcpy(imps, rec->imps, (size_t)rec->nimps * sizeof(imps[0]));
        finish(o, rec->local, imps, rec->nimps, out);
        return 0;
    }
    struct idobj *io = idobj_of(o);
    if (!io) {
        *why = "out of memory";
        return -ENOMEM;
    }
    if (io->state < 0) {
        *why = "its object's symbol tables cannot be read";
        return io->state;
    }
    struct memo *m = memo_find(io, (uintptr_t)code);
    if (!m || m->depth >= 0) {
        const struct cm_sym *f = cm_symtab_at(&io->s, (uintptr_t)code, true);
        if (!f || f->addr != (uintptr_t)code || !f->size) {
            *why = "no symbol with a size at its address";
            return -ENOENT;
        }
        struct walk w = {.io = io};
        uint8_t local[16];
        hash_fn(&w, f, 0, local, NULL);
        m = memo_find(io, (uintptr_t)code);
        if (!m || m->depth >= 0) {
            *why = "out of memory";
            return -ENOMEM;
        }
    }
    static struct cm_idrec r;                      /* hook lock held */
    static char bufs[CM_IDCACHE_MAX_IMPORTS][256]; /* (64 KiB: not on a host thread stack) */
    r.off = off;
    memcpy(r.local, m->id, 16);
    r.nimps = 0;
    bool fits = !m->imps.overflow;
    for (int i = 0; i < m->imps.n && fits; i++) {
        const struct imp *x = &m->imps.v[i];
        int n = snprintf(bufs[i], sizeof(bufs[i]), "%s%s%s", x->name, x->version ? "@" : "",
                         x->version ? x->version : "");
        fits = n > 0 && (size_t)n < sizeof(bufs[i]) && !strchr(bufs[i], ' ');
        r.imps[r.nimps++] = bufs[i];
    }
    if (!fits) { /* too many imports to list: the object's identity stands in for them */
        XXH3_state_t h;
        XXH3_128bits_reset(&h);
        XXH3_128bits_update(&h, m->id, 16);
        put_tag(&h, 'A', o->id, o->idlen);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&h));
        memcpy(out, c.digest, 16);
        return 0;
    }
    cm_idcache_add(o, &r);
    finish(o, r.local, r.imps, r.nimps, out);
    return 0;
}
