/*
 * seg_bmap.c - a process's kept mappings of hot blob files, so that a repeated hit on a large
 * value neither opens nor maps nor unmaps anything: it copies (and checks) straight from a
 * mapping made by an earlier hit.
 *
 * What it does: seg_blob_map() asks seg_bmap_get() for a mapping of the file a reference names
 * (same segment, key hash, id, length and checksum) before it opens the file; after mapping and
 * checking a file itself, it offers the mapping to seg_bmap_keep(). A reference taken by either
 * is released by seg_bmap_put() (cm_seg_view_done). seg_bmap_drop() forgets a segment's
 * mappings (identity change).
 *
 * What it does not do: verify bytes (seg_blob_map checks the header of every mapping it hands
 * out, and the value's checksum is verified on every hit, kept mapping or not), or open files.
 *
 * DESIGN
 * - Why it is safe: blob files are immutable (seg_blob.c): nothing writes a published file
 *   again, eviction and `cloudm clear` only unlink it, which leaves mappings intact. A kept
 *   mapping therefore shows the bytes it showed when it was mapped; a reference still has to
 *   name it exactly (id, length, checksum) to use it, and every hit still verifies the checksum
 *   while it copies. A file evicted meanwhile keeps its memory until its mapping is dropped here.
 * - Bounds: BMAP_SLOTS mappings and about BMAP_BYTES bytes in all (concurrent keeps may overshoot
 *   by one value); a value larger than BMAP_BYTES / 2 is mapped per hit as before. When full,
 *   the least recently used mapping is dropped.
 * - Lock-free: each slot has one 64-bit state word {generation (32) | DEAD | READY | BUSY |
 *   references (24)}; every transition is one CAS or atomic add on it. A reader takes a reference
 *   by CAS on a READY state it read with acquire (the slot's fields, written before READY was
 *   stored with release, are stable while it holds one: a slot is only freed at zero references,
 *   and freeing bumps the generation, so a reader whose CAS succeeds saw the fields of the live
 *   install). Dropping sets DEAD (no new references); whoever brings a DEAD slot to zero
 *   references (the dropper or the last reader) unmaps it and frees the slot.
 * - Identity change (cm_seg_withdraw) and close drop a segment's mappings; a hit that keeps one
 *   concurrently with the drop leaves it under a segment pointer no lookup uses again, until the
 *   least-recently-used rule drops it.
 * - fork: the child inherits the table and the mappings; references other threads of the parent
 *   held at fork time are never released there, so those slots stay taken in the child (at most
 *   BMAP_SLOTS mappings, never a wrong byte).
 */
#include "seg_bmap.h"

#include <errno.h>
#include <sys/mman.h>

#define BMAP_SLOTS 8u
#define BMAP_BYTES (512ull << 20)

#define ST_REFS 0xffffffull
#define ST_BUSY (1ull << 24)
#define ST_READY (1ull << 25)
#define ST_DEAD (1ull << 26)
#define ST_GEN (1ull << 32)

struct bslot {
    uint64_t state;
    const struct cm_seg *seg;
    uint64_t h0, h1, id, len, csum;
    void *map;
    uint64_t maplen;
    uint64_t used; /* tick of the last use: the least recently used is dropped first */
};

static struct bslot slots[BMAP_SLOTS];
static uint64_t kept_bytes, ticks;

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* The slot is DEAD with no reference and the caller brought it there: unmap and free it. */
static void release_slot(struct bslot *b, uint64_t st)
{
    int saved = errno;
    munmap(LD(b->map), LD(b->maplen));
    __atomic_fetch_sub(&kept_bytes, LD(b->maplen), __ATOMIC_RELAXED);
    errno = saved;
    __atomic_store_n(&b->state, (st & ~(ST_GEN - 1)) + ST_GEN, __ATOMIC_RELEASE); /* free */
}

/* Make b DEAD (no new references); frees it when nobody holds one. */
static void kill_slot(struct bslot *b)
{
    uint64_t st = __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
    while ((st & ST_READY) && !(st & ST_DEAD)) {
        if (__atomic_compare_exchange_n(&b->state, &st, st | ST_DEAD, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            if ((st & ST_REFS) == 0)
                release_slot(b, st | ST_DEAD);
            return;
        }
    }
}

int seg_bmap_get(const struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t id, uint64_t len,
                 uint64_t csum, void **map, uint64_t *maplen)
{
    for (unsigned i = 0; i < BMAP_SLOTS; i++) {
        struct bslot *b = &slots[i];
        uint64_t st = __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
        if ((st & (ST_READY | ST_DEAD)) != ST_READY || LD(b->seg) != s || LD(b->h0) != h0 ||
            LD(b->h1) != h1 || LD(b->id) != id || LD(b->len) != len || LD(b->csum) != csum)
            continue;
        void *m = LD(b->map);
        uint64_t ml = LD(b->maplen);
        if ((st & ST_REFS) == ST_REFS ||
            !__atomic_compare_exchange_n(&b->state, &st, st + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED))
            return 0; /* changed under us (or saturated): map the file as if it were not kept */
        ST(b->used, __atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED));
        *map = m;
        *maplen = ml;
        return (int)i + 1;
    }
    return 0;
}

void seg_bmap_put(int handle)
{
    struct bslot *b = &slots[handle - 1];
    uint64_t st = __atomic_sub_fetch(&b->state, 1, __ATOMIC_ACQ_REL);
    if ((st & ST_DEAD) && (st & ST_REFS) == 0)
        release_slot(b, st);
}

/* The least recently used live slot, or NULL. */
static struct bslot *lru(void)
{
    struct bslot *v = NULL;
    for (unsigned i = 0; i < BMAP_SLOTS; i++) {
        uint64_t st = __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE);
        if ((st & (ST_READY | ST_DEAD)) == ST_READY && (!v || LD(slots[i].used) < LD(v->used)))
            v = &slots[i];
    }
    return v;
}

int seg_bmap_keep(const struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t id, uint64_t len,
                  uint64_t csum, void *map, uint64_t maplen)
{
    if (maplen > BMAP_BYTES / 2)
        return 0;
    for (unsigned tries = 0; tries < BMAP_SLOTS; tries++) { /* make room: drop the LRU */
        if (LD(kept_bytes) + maplen <= BMAP_BYTES)
            break;
        struct bslot *v = lru();
        if (!v)
            return 0;
        kill_slot(v);
    }
    if (LD(kept_bytes) + maplen > BMAP_BYTES)
        return 0;
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < BMAP_SLOTS; i++) {
            struct bslot *b = &slots[i];
            uint64_t st = __atomic_load_n(&b->state, __ATOMIC_ACQUIRE);
            if ((st & ~(ST_GEN - 1)) != st || /* not free */
                !__atomic_compare_exchange_n(&b->state, &st, st | ST_BUSY, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
                continue;
            ST(b->seg, s);
            ST(b->h0, h0);
            ST(b->h1, h1);
            ST(b->id, id);
            ST(b->len, len);
            ST(b->csum, csum);
            ST(b->map, map);
            ST(b->maplen, maplen);
            ST(b->used, __atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED));
            __atomic_fetch_add(&kept_bytes, maplen, __ATOMIC_RELAXED);
            __atomic_store_n(&b->state, st | ST_READY | 1, __ATOMIC_RELEASE); /* our reference */
            return (int)i + 1;
        }
        struct bslot *v = lru(); /* every slot taken: drop the least recently used, once */
        if (round > 0 || !v)
            break;
        kill_slot(v);
    }
    return 0;
}

void seg_bmap_drop_one(int handle)
{
    kill_slot(&slots[handle - 1]);
}

void seg_bmap_drop(const struct cm_seg *s)
{
    for (unsigned i = 0; i < BMAP_SLOTS; i++) {
        uint64_t st = __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE);
        if ((st & ST_READY) && (!s || LD(slots[i].seg) == s))
            kill_slot(&slots[i]);
    }
}
