/*
 * seg_ix.c - the shared segment's index: a table of 64-byte slots that grows with the entries,
 * and small values stored inline in their slot, so that a cold hit reads one cache line.
 *
 * What it does: lookup, publish (inline values and references to ring entries), growth of the
 * table, migration of the slots a growth displaces, clear and usage scans. What it does not do:
 * the ring of larger entries (seg.c), opening the file (seg_open.c), build keys.
 *
 * DESIGN
 * - Slots (struct seg_slot, seg_int.h): the full 128-bit key digest, fn_ident, and either an
 *   inline value of up to SEG_INLINE_MAX bytes with its checksum, or the ring position of a
 *   larger entry (whose key bytes seg.c compares in full). An inline entry is matched on the
 *   digest alone (docs/shared-memory.md: the chance that two distinct keys share a 128-bit
 *   digest), and found and verified from its one cache line.
 * - Each slot is a seqlock: ss_ctl holds a sequence number that is odd while a writer owns the
 *   slot. A writer takes the slot with one CAS (even -> odd), writes the words (relaxed atomic
 *   stores), then release-stores the next even value with the new kind, length and age stamp.
 *   A reader acquire-loads ss_ctl, reads the words, acquire fence, reloads ss_ctl: unchanged and
 *   even = a consistent snapshot; then it verifies the checksum over its private copy (a
 *   mismatch is corruption: the slot is dropped and counted). So no torn value is ever served.
 * - A writer killed between its two ss_ctl stores leaves an odd slot: readers and writers step
 *   over it (it is lost until `cloudm clear`, which resets it). Every other change of a slot is
 *   one CAS of ss_ctl. No lock: SIGKILL at any point leaves a usable index.
 * - Probing: the slots home .. home + SEG_PROBE - 1 (home = low bits of the digest's first
 *   word). A never-used slot (ss_ctl == 0) ends a probe; removed entries become tombstones
 *   (kind DEAD) that probes go past and stores reuse. A store prefers the key's own slot (or a
 *   free one before it: the old one is then dropped), a free one, one whose ring entry was
 *   overwritten, else evicts the
 *   window's oldest entry: age in laps, of the ring for a ring entry (which the ring's second
 *   chance keeps young while it is read), of the index for an inline one (24-bit stamps from
 *   sh_clock, one per store, divided by the slots).
 * - Growth: when 5/8 of the slots hold entries (sh_ix_used, counted by the CAS that fills or
 *   empties a slot), or half do and a store finds its window full of live entries.
 *   sh_ix = (lg << 56) | cursor; 2^lg slots are in use, out of sh_slots reserved in
 *   the file (and in every process's mapping: the whole file is mapped, so a larger index needs
 *   no remap). The file space of the new half is allocated first (posix_fallocate: a full tmpfs
 *   is an error counted in sb_ix_nospace, never a SIGBUS), then one CAS doubles lg with cursor
 *   0. Readers only touch the 2^lg slots of the sh_ix they loaded, which were allocated before
 *   it was published. Doubling moves the keys that a probe from their new home would not
 *   reach: those whose new home is in the upper half, and those the old table held by
 *   wrapping around its end (the larger table does not wrap there). Writers
 *   migrate 16 old slots per store (cursor claimed by CAS) into their new window (unless a
 *   newer copy is there) and drop the old slot. While cursor < 2^(lg-1), a lookup that misses
 *   in the new window also probes the old one. A migrator killed mid-way loses at most the
 *   slots it claimed (misses). The table grows again only after the migration ended.
 * - Memory order: as seg.c (SEG_MO relaxed words, fences; seq_cst under ThreadSanitizer).
 */
#include "seg_int.h"

#include <errno.h>
#include <string.h>

#include <xxhash.h>

#define CNT_ADD(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)
#define MIGRATE_STEP 16u
#define F_MIGRATE 1 /* a migrated copy: never replaces a newer one, never grows */

static inline uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, SEG_MO);
}

static inline void st(uint64_t *p, uint64_t x)
{
    __atomic_store_n(p, x, SEG_MO);
}

static inline uint64_t inline_csum(uint64_t h0, uint64_t h1, uint64_t fn, uint64_t vlen,
                                   const uint64_t w[3])
{
    uint64_t seed = h0 ^ (h1 * 0x9E3779B97F4A7C15ull) ^ (fn * 0xC2B2AE3D27D4EB4Full) ^ vlen;
    return XXH3_64bits_withSeed(w, 3 * sizeof(uint64_t), seed);
}

static void used_add(struct cm_seg *s, int64_t d)
{
    uint64_t u = __atomic_add_fetch(&s->hdr->sh_ix_used, (uint64_t)d, __ATOMIC_RELAXED);
    if (u > (1ull << 62)) /* below 0: a crash skewed it */
        __atomic_store_n(&s->hdr->sh_ix_used, 0, __ATOMIC_RELAXED);
}

void seg_ix_drop(struct cm_seg *s, struct seg_slot *sl, uint64_t c)
{
    uint64_t d = seg_ctl_make((uint32_t)c + 2, SEG_K_DEAD, 0, c >> 40);
    if (__atomic_compare_exchange_n(&sl->ss_ctl, &c, d, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        used_add(s, -1);
}

/* An index lap for the age of inline entries: 2^lg stores, at most 2^22 (the stamps have 24
 * bits; a larger index ages its inline entries by 4 M stores). */
static inline unsigned age_lg(unsigned lg)
{
    return lg < 22 ? lg : 22;
}

#define SLOT_NEXT (-10) /* no answer in this slot: go on probing */
#define SLOT_END (-11)  /* a never-used slot: the key is in no later one */

/* One slot of a probe: as cm_seg_lookup (a hit, -2, or -1 for a corrupt slot: the lookup ends),
 * or SLOT_NEXT / SLOT_END. */
static inline __attribute__((always_inline)) long
slot_try(struct cm_seg *s, unsigned lg, struct seg_slot *sl, uint64_t h0, uint64_t h1,
         const uint8_t *key, uint32_t klen, uint8_t *v, uint32_t vcap, uint32_t *need,
         struct cm_seg_view *view, seg_ring_probe_fn probe)
{
    uint64_t c = __atomic_load_n(&sl->ss_ctl, __ATOMIC_ACQUIRE);
    if (c == 0)
        return SLOT_END;
    if ((c & 1) || ld(&sl->ss_h0) != h0 || ld(&sl->ss_h1) != h1)
        return SLOT_NEXT;
    unsigned kind = seg_ctl_kind(c);
    uint64_t fn = ld(&sl->ss_fn), aux = ld(&sl->ss_aux), w[3];
    w[0] = ld(&sl->ss_v[0]);
    w[1] = ld(&sl->ss_v[1]);
    w[2] = ld(&sl->ss_v[2]);
    SEG_FENCE(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&sl->ss_ctl, SEG_MO) != c)
        return SLOT_NEXT; /* rewritten while we read it */
    if (kind == SEG_K_RING) {
        long r = probe(s, sl, c, aux, h0, h1, key, klen, v, vcap, need, view);
        return r != -1 ? r : SLOT_NEXT;
    }
    if (kind != SEG_K_INLINE)
        return SLOT_NEXT;
    uint32_t vlen = (uint32_t)(c >> 34) & 63;
    if (vlen > SEG_INLINE_MAX || inline_csum(h0, h1, fn, vlen, w) != aux) {
        seg_ix_drop(s, sl, c); /* a consistent snapshot, and wrong: corruption */
        CNT_ADD(s->hdr->sh_csum_failures, 1);
        return -1;
    }
    if (vlen > vcap) {
        *need = vlen;
        return -2;
    }
    /* second chance: an entry read while in the oldest quarter of an index lap gets a new
     * stamp (one CAS; the value is unchanged) */
    uint64_t now = __atomic_load_n(&s->hdr->sh_clock, __ATOMIC_RELAXED);
    if (((((now - (c >> 40)) & 0xffffff) << 2) >> age_lg(lg)) >= 3) {
        uint64_t nc = seg_ctl_make((uint32_t)c + 2, SEG_K_INLINE, vlen, now);
        __atomic_compare_exchange_n(&sl->ss_ctl, &c, nc, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    }
    if (vcap >= sizeof(w)) /* a constant size: inline moves, no libc call on the hit path */
        __builtin_memcpy(v, w, sizeof(w));
    else
        for (uint32_t j = 0; j < vlen; j++)
            v[j] = (uint8_t)(w[j / 8] >> (8 * (j % 8)));
    if (view) {
        view->v = v;
        view->len = vlen;
        view->map = NULL;
        view->unverified = 0;
    }
    return vlen;
}

/*
 * The slot a cold key is read from first. The first four slots of its window are asked for at
 * once. Most keys are in the first two; at the index's usual load about one key in eight lives
 * further (callgrind: 12% of the fresh hits of bench/fresh_hit.sh), mostly in the next two,
 * whose slots then arrive with the others instead of after them (bench/fresh_hit.sh: best pass
 * 0.95x -> 0.86x the DRAM floor, first pass unchanged). The one of the first two to read is
 * chosen without a branch from the home slot's digest word. A branch there would be taken late
 * (after the memory access) and mispredicted for every key living past its home, throwing away
 * all the work done meanwhile.
 */
static inline __attribute__((always_inline)) struct seg_slot *
first_slot(struct cm_seg *s, uint64_t mask, uint64_t home, uint64_t h0)
{
    struct seg_slot *a = &s->slots[home], *b = &s->slots[(home + 1) & mask];
    __builtin_prefetch(b);
    __builtin_prefetch(&s->slots[(home + 2) & mask]);
    __builtin_prefetch(&s->slots[(home + 3) & mask]);
    uintptr_t other = -(uintptr_t)(ld(&a->ss_h0) != h0); /* all ones: b */
    return (struct seg_slot *)((uintptr_t)a ^ (((uintptr_t)a ^ (uintptr_t)b) & other));
}

/* Probes the window at home; returns as cm_seg_lookup. The first slot (first_slot) first, then
 * the usual probe when it does not answer (skipping it when it had nothing to say). */
static inline __attribute__((always_inline)) long
scan(struct cm_seg *s, unsigned lg, uint64_t h0, uint64_t h1, const uint8_t *key, uint32_t klen,
     uint8_t *v, uint32_t vcap, uint32_t *need, struct cm_seg_view *view, seg_ring_probe_fn probe)
{
    uint64_t mask = (1ull << lg) - 1, home = h0 & mask;
    struct seg_slot *first = first_slot(s, mask, home, h0);
    long r = slot_try(s, lg, first, h0, h1, key, klen, v, vcap, need, view, probe);
    if (r != SLOT_NEXT && r != SLOT_END)
        return r;
    struct seg_slot *skip = r == SLOT_NEXT ? first : NULL;
    for (unsigned i = 0; i < SEG_PROBE; i++) {
        struct seg_slot *sl = &s->slots[(home + i) & mask];
        if (sl == skip)
            continue;
        r = slot_try(s, lg, sl, h0, h1, key, klen, v, vcap, need, view, probe);
        if (r == SLOT_END)
            return -1;
        if (r != SLOT_NEXT)
            return r;
    }
    return -1;
}

long seg_ix_lookup(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *key, uint32_t klen,
                   uint8_t *v, uint32_t vcap, uint32_t *need, struct cm_seg_view *view,
                   seg_ring_probe_fn probe)
{
    uint64_t ix = __atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE);
    unsigned lg = (unsigned)(ix >> 56);
    if (lg < s->ix_lg_min || lg > s->ix_lg_max)
        return -1; /* a corrupt header: never index beyond what was allocated */
    uint64_t mask = (1ull << lg) - 1;
    long r = scan(s, lg, h0, h1, key, klen, v, vcap, need, view, probe);
    if (r == -1 && (ix & SEG_IX_CURSOR) < (mask + 1) / 2) /* still migrating: the old window */
        r = scan(s, lg - 1, h0, h1, key, klen, v, vcap, need, view, probe);
    return r;
}

/* For the scalar fast path (no view, 40 bytes of room): the chosen one of the first two slots,
 * and seg_ix_lookup when it does not answer. The instructions before the slot's memory access
 * are a cold hit's critical path, so this one has as few as the first probe needs (the full
 * probe's loop and registers live in seg_ix_lookup). */
long seg_ix_lookup_small(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn_ident,
                         const uint8_t *key, uint32_t klen, uint64_t v[5], seg_ring_probe_fn probe)
{
    uint64_t ix = __atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE);
    unsigned lg = (unsigned)(ix >> 56);
    uint32_t need;
    long r = SLOT_NEXT;
    if (lg >= s->ix_lg_min && lg <= s->ix_lg_max) {
        uint64_t mask = (1ull << lg) - 1;
        struct seg_slot *first = first_slot(s, mask, h0 & mask, h0);
        r = slot_try(s, lg, first, h0, h1, key, klen, (uint8_t *)v, 5 * sizeof(uint64_t), &need,
                     NULL, probe);
    }
    if (r == SLOT_NEXT || r == SLOT_END)
        r = seg_ix_lookup(s, h0, h1, key, klen, (uint8_t *)v, 5 * sizeof(uint64_t), &need, NULL,
                          probe);
    if (r >= 0 && __builtin_expect(seg_quar_count(s) != 0, 0) && cm_seg_quarantined(s, fn_ident))
        return CM_SEG_QUARANTINED;
    return r;
}

/* Takes slot sl (control word c, even) and writes it. 0, or -EAGAIN when it changed. */
static int slot_write(struct seg_slot *sl, uint64_t c, unsigned kind, uint64_t vlen, uint64_t stamp,
                      uint64_t h0, uint64_t h1, uint64_t fn, uint64_t aux, const uint64_t w[3])
{
    uint32_t seq = (uint32_t)c;
    uint64_t busy = (c & ~0xffffffffull) | (uint32_t)(seq + 1);
    if (!__atomic_compare_exchange_n(&sl->ss_ctl, &c, busy, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return -EAGAIN;
    SEG_FENCE(__ATOMIC_RELEASE);
    st(&sl->ss_h0, h0);
    st(&sl->ss_h1, h1);
    st(&sl->ss_fn, fn);
    st(&sl->ss_aux, aux);
    st(&sl->ss_v[0], w[0]);
    st(&sl->ss_v[1], w[1]);
    st(&sl->ss_v[2], w[2]);
    /* a CAS, not a store: `cloudm clear` may have taken back a slot it believed abandoned */
    if (!__atomic_compare_exchange_n(&sl->ss_ctl, &busy, seg_ctl_make(seq + 2, kind, vlen, stamp),
                                     0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return -EAGAIN;
    return 0;
}

/* Doubles the table (ix: the sh_ix the caller saw, migration over). 0 or -errno. */
static int grow(struct cm_seg *s, uint64_t ix)
{
    unsigned lg = (unsigned)(ix >> 56);
    if (lg >= s->ix_lg_max)
        return -ENOSPC;
    uint32_t f = __atomic_load_n(&s->ix_grow_fail, __ATOMIC_RELAXED);
    if (f != 0) { /* the file system was full: retry now and then, not on every store */
        __atomic_store_n(&s->ix_grow_fail, (f + 1) & 255, __ATOMIC_RELAXED);
        return -ENOSPC;
    }
    uint64_t n = 1ull << lg;
    uint64_t off = (uint64_t)((uint8_t *)s->slots - s->base) + n * sizeof(struct seg_slot);
    int r = seg_alloc(s, off, n * sizeof(struct seg_slot));
    if (r < 0) {
        if (r != -EPERM) {
            CNT_ADD(seg_blobcnt(s)->sb_ix_nospace, 1);
            __atomic_store_n(&s->ix_grow_fail, 1, __ATOMIC_RELAXED);
        }
        return r;
    }
    uint64_t nx = (uint64_t)(lg + 1) << 56;
    __atomic_compare_exchange_n(&s->hdr->sh_ix, &ix, nx, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    return 0; /* ours or a concurrent grower's: either way the table grew */
}

static int put(struct cm_seg *s, unsigned kind, uint64_t vlen, uint64_t stamp, uint64_t h0,
               uint64_t h1, uint64_t fn, uint64_t aux, const uint64_t w[3], int flags);

/* Moves the slots [from, to) of the lower half to their window under 2^lg slots. */
static void migrate(struct cm_seg *s, unsigned lg, uint64_t from, uint64_t to)
{
    uint64_t mask = (1ull << lg) - 1;
    for (uint64_t j = from; j < to; j++) {
        struct seg_slot *sl = &s->slots[j];
        uint64_t c = __atomic_load_n(&sl->ss_ctl, __ATOMIC_ACQUIRE);
        unsigned kind = seg_ctl_kind(c);
        if (c == 0 || (c & 1) || (kind != SEG_K_INLINE && kind != SEG_K_RING))
            continue;
        uint64_t h0 = ld(&sl->ss_h0), h1 = ld(&sl->ss_h1), fn = ld(&sl->ss_fn);
        uint64_t aux = ld(&sl->ss_aux),
                 w[3] = {ld(&sl->ss_v[0]), ld(&sl->ss_v[1]), ld(&sl->ss_v[2])};
        SEG_FENCE(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sl->ss_ctl, SEG_MO) != c)
            continue;
        /* Still in its window, and reached from its home without wrapping around the end of
         * the larger table: a slot the old table reached by wrapping (j near 0, home near the
         * old end) lies behind the new upper half's never-used slots, where a probe stops. */
        if (j >= (h0 & mask) && j - (h0 & mask) < SEG_PROBE)
            continue;
        if (kind == SEG_K_INLINE || seg_ring_live(s, aux))
            (void)put(s, kind, (c >> 34) & 63, c >> 40, h0, h1, fn, aux, w, F_MIGRATE);
        seg_ix_drop(s, sl, c);
    }
}

/* One migration step, if a migration is under way. */
static void migrate_step(struct cm_seg *s, uint64_t ix)
{
    unsigned lg = (unsigned)(ix >> 56);
    uint64_t half = (1ull << lg) / 2, cur = ix & SEG_IX_CURSOR;
    if (cur >= half)
        return;
    uint64_t to = cur + MIGRATE_STEP < half ? cur + MIGRATE_STEP : half;
    uint64_t nx = ((uint64_t)lg << 56) | to;
    if (__atomic_compare_exchange_n(&s->hdr->sh_ix, &ix, nx, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        migrate(s, lg, cur, to);
}

static inline uint64_t ring_head(struct cm_seg *s)
{
    return __atomic_load_n(&s->hdr->sh_head, __ATOMIC_ACQUIRE);
}

static int put(struct cm_seg *s, unsigned kind, uint64_t vlen, uint64_t stamp, uint64_t h0,
               uint64_t h1, uint64_t fn, uint64_t aux, const uint64_t w[3], int flags)
{
    int helped = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t ix = __atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE);
        unsigned lg = (unsigned)(ix >> 56);
        if (lg < s->ix_lg_min || lg > s->ix_lg_max)
            return -EINVAL;
        if (!(flags & F_MIGRATE) && (ix & SEG_IX_CURSOR) < (1ull << lg) / 2) {
            migrate_step(s, ix);
            ix = __atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE);
        }
        uint64_t mask = (1ull << lg) - 1, home = h0 & mask;
        int same = -1, free_ = -1, dead = -1, oldest = -1;
        uint64_t cs[SEG_PROBE], oldest_age = 0;
        for (unsigned i = 0; i < SEG_PROBE; i++) {
            struct seg_slot *sl = &s->slots[(home + i) & mask];
            uint64_t c = __atomic_load_n(&sl->ss_ctl, __ATOMIC_ACQUIRE);
            cs[i] = c;
            if (c == 0) {
                if (free_ < 0)
                    free_ = (int)i;
                break;
            }
            if (c & 1)
                continue; /* a writer owns it (or died owning it) */
            unsigned k = seg_ctl_kind(c);
            if (k != SEG_K_INLINE && k != SEG_K_RING) {
                if (free_ < 0)
                    free_ = (int)i;
                continue;
            }
            if (same < 0 && ld(&sl->ss_h0) == h0 && ld(&sl->ss_h1) == h1) {
                same = (int)i;
                continue;
            }
            uint64_t age; /* in laps (16.16 fixed point): of the ring, or of the index */
            if (k == SEG_K_RING) {
                uint64_t pos = ld(&sl->ss_aux), head = ring_head(s);
                if (!seg_ring_live(s, pos)) {
                    if (dead < 0)
                        dead = (int)i;
                    continue;
                }
                age = ((head - pos) << 16) / s->ring_size;
            } else {
                age = (((stamp - (c >> 40)) & 0xffffff) << 16) >> age_lg(lg);
            }
            if (oldest < 0 || age > oldest_age) {
                oldest = (int)i;
                oldest_age = age;
            }
        }
        if (same >= 0 && (flags & F_MIGRATE))
            return 0; /* a newer copy is there already */
        int pick = same, evict = 0;
        if (pick < 0 || (free_ >= 0 && free_ < same))
            pick = free_;
        if (pick < 0 && dead >= 0) {
            pick = dead;
            evict = 1;
        }
        /* a larger table when 5/8 of the slots hold entries, or when this window is full of
         * live entries and half do (a long cluster) */
        uint64_t used = __atomic_load_n(&s->hdr->sh_ix_used, __ATOMIC_RELAXED);
        if (!(flags & F_MIGRATE) && (ix & SEG_IX_CURSOR) >= (mask + 1) / 2 &&
            (used > (mask + 1) / 8 * 5 || (pick < 0 && used > (mask + 1) / 2)) && grow(s, ix) == 0)
            continue;
        if (pick < 0 && !(flags & F_MIGRATE) && !helped && (ix & SEG_IX_CURSOR) < (mask + 1) / 2) {
            helped = 1; /* a window still crowded by keys that move up: move them first */
            for (unsigned i = 0; i < SEG_PROBE; i++)
                if (((home + i) & mask) < (mask + 1) / 2)
                    migrate(s, lg, (home + i) & mask, ((home + i) & mask) + 1);
            continue;
        }
        if (pick < 0 && oldest >= 0) {
            pick = oldest;
            evict = 1;
        }
        if (pick < 0)
            break;
        struct seg_slot *sl = &s->slots[(home + (unsigned)pick) & mask];
        if (slot_write(sl, cs[pick], kind, vlen, stamp, h0, h1, fn, aux, w) != 0)
            continue;
        if (pick != same && (cs[pick] == 0 || seg_ctl_kind(cs[pick]) == SEG_K_DEAD))
            used_add(s, 1);
        if (same >= 0 && pick != same)
            seg_ix_drop(s, &s->slots[(home + (unsigned)same) & mask], cs[same]);
        if (evict)
            CNT_ADD(s->hdr->sh_evictions, 1);
        CNT_ADD(s->hdr->sh_puts, 1);
        return 0;
    }
    CNT_ADD(s->hdr->sh_put_drops, 1);
    return -EAGAIN;
}

static uint64_t stamp_now(struct cm_seg *s)
{
    return __atomic_fetch_add(&s->hdr->sh_clock, 1, __ATOMIC_RELAXED);
}

int seg_ix_put_inline(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, const uint8_t *v,
                      uint32_t vlen)
{
    uint64_t w[3] = {0, 0, 0};
    if (vlen > SEG_INLINE_MAX)
        return -E2BIG;
    memcpy(w, v, vlen);
    return put(s, SEG_K_INLINE, vlen, stamp_now(s), h0, h1, fn, inline_csum(h0, h1, fn, vlen, w), w,
               0);
}

int seg_ix_put_ring(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, uint64_t pos)
{
    static const uint64_t zero[3] = {0, 0, 0};
    return put(s, SEG_K_RING, 0, stamp_now(s), h0, h1, fn, pos, zero, 0);
}

static uint64_t ix_slots(struct cm_seg *s)
{
    unsigned lg = (unsigned)(__atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE) >> 56);
    if (lg < s->ix_lg_min || lg > s->ix_lg_max)
        lg = s->ix_lg_min;
    return 1ull << lg;
}

long seg_ix_clear(struct cm_seg *s, const uint64_t *ids, unsigned nids)
{
    uint64_t n = ix_slots(s);
    long dropped = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct seg_slot *sl = &s->slots[i];
        uint64_t c = __atomic_load_n(&sl->ss_ctl, __ATOMIC_ACQUIRE);
        unsigned k = seg_ctl_kind(c);
        if (c == 0)
            continue;
        if (nids == 0 && (c & 1)) { /* a writer died owning it: give the slot back */
            uint64_t d = seg_ctl_make((uint32_t)c + 1, SEG_K_DEAD, 0, c >> 40);
            __atomic_compare_exchange_n(&sl->ss_ctl, &c, d, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            continue;
        }
        if ((c & 1) || (k != SEG_K_INLINE && k != SEG_K_RING))
            continue;
        if (nids > 0) {
            uint64_t fn = ld(&sl->ss_fn);
            unsigned j = 0;
            while (j < nids && ids[j] != fn)
                j++;
            if (j == nids)
                continue;
        }
        uint64_t d = seg_ctl_make((uint32_t)c + 2, SEG_K_DEAD, 0, c >> 40);
        if (!__atomic_compare_exchange_n(&sl->ss_ctl, &c, d, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            continue;
        used_add(s, -1);
        if (k == SEG_K_INLINE || seg_ring_live(s, ld(&sl->ss_aux)))
            dropped++;
    }
    return dropped;
}

void seg_ix_usage(struct cm_seg *s, uint64_t *entries, uint64_t *used, uint64_t *slots)
{
    uint64_t n = ix_slots(s);
    *entries = *used = 0;
    *slots = n;
    for (uint64_t i = 0; i < n; i++) {
        struct seg_slot *sl = &s->slots[i];
        uint64_t c = __atomic_load_n(&sl->ss_ctl, __ATOMIC_ACQUIRE);
        unsigned k = seg_ctl_kind(c);
        if (c == 0 || (c & 1))
            continue;
        if (k == SEG_K_INLINE) {
            (*entries)++;
            *used += sizeof(struct seg_slot);
        } else if (k == SEG_K_RING) {
            uint64_t pos = ld(&sl->ss_aux), b = 0;
            if (seg_ring_live(s, pos)) {
                const struct seg_ent *e = seg_ent_at(s, pos);
                uint64_t lens = ld((const uint64_t *)&e->se_klen);
                if (ld(&e->se_pos) == pos)
                    b = seg_ent_total((uint32_t)lens & ~SEG_BLOB_FLAG, (uint32_t)(lens >> 32));
            }
            if (b > 0) {
                (*entries)++;
                *used += sizeof(struct seg_slot) + b;
            }
        }
    }
}
