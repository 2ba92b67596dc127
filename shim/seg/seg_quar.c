/*
 * seg_quar.c - the segment's table of quarantined functions (see seg.h).
 *
 * What it does: keeps up to SEG_QUAR_N - 1 function idents in the header's reserved area
 * (bytes SEG_QUAR_OFF.. of the file are reserved by seg_int.h and zero in every segment ever
 * created, so no format change is needed: an older segment has an empty table). Word 0 counts
 * the entries, so the common case (nothing quarantined) is one load. Entries are claimed and
 * released by CAS; a reader racing with a change sees the function either quarantined or not.
 *
 * What it does not do: decide what is quarantined (the shim's verify.c), statistics.
 */
#include "seg.h"

#include <errno.h>
#include <string.h>

#include "seg_int.h"

_Static_assert(SEG_QUAR_OFF >= 2048, "quarantine table clear of the remote counters");

static uint64_t *table(struct cm_seg *s)
{
    return (uint64_t *)(s->base + SEG_QUAR_OFF);
}

static uint64_t norm(uint64_t id)
{
    return id ? id : ~0ull; /* as cm_seg_fn_slot: 0 marks a free entry */
}

int cm_seg_quarantined(struct cm_seg *s, uint64_t fn_ident)
{
    if (!s)
        return 0;
    uint64_t *t = table(s), id = norm(fn_ident);
    if (__atomic_load_n(&t[0], __ATOMIC_ACQUIRE) == 0)
        return 0;
    for (unsigned i = 1; i < SEG_QUAR_N; i++)
        if (__atomic_load_n(&t[i], __ATOMIC_RELAXED) == id)
            return 1;
    return 0;
}

int cm_seg_quarantine(struct cm_seg *s, uint64_t fn_ident)
{
    if (!s)
        return -EINVAL;
    uint64_t *t = table(s), id = norm(fn_ident);
    if (cm_seg_quarantined(s, fn_ident))
        return 0;
    for (unsigned i = 1; i < SEG_QUAR_N; i++) {
        uint64_t zero = 0;
        if (__atomic_compare_exchange_n(&t[i], &zero, id, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_fetch_add(&t[0], 1, __ATOMIC_RELEASE);
            return 0;
        }
        if (zero == id)
            return 0;
    }
    return -ENOSPC;
}

struct named {
    const char *name;
    uint64_t ids[SEG_FN_SLOTS];
    unsigned n;
};

static void collect(void *ctx, const char *name, uint64_t fn_ident, const struct cm_seg_fnstat *st)
{
    struct named *c = ctx;
    (void)st;
    if (c->n < SEG_FN_SLOTS && strcmp(name, c->name) == 0)
        c->ids[c->n++] = fn_ident;
}

int cm_seg_unquarantine(struct cm_seg *s, const char *name)
{
    if (!s)
        return 0;
    uint64_t *t = table(s);
    static struct named c; /* large: not on the stack (the tools call this once) */
    c.name = name;
    c.n = 0;
    if (name)
        cm_seg_fn_foreach(s, collect, &c);
    int lifted = 0;
    for (unsigned i = 1; i < SEG_QUAR_N; i++) {
        uint64_t id = __atomic_load_n(&t[i], __ATOMIC_ACQUIRE);
        if (!id)
            continue;
        int match = name == NULL;
        for (unsigned k = 0; k < c.n && !match; k++)
            match = norm(c.ids[k]) == id;
        if (match &&
            __atomic_compare_exchange_n(&t[i], &id, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_fetch_sub(&t[0], 1, __ATOMIC_RELEASE);
            lifted++;
        }
    }
    return lifted;
}
