/*
 * seg.c - the shared segment's entries: lock-free lookup, store, eviction, clear and the
 * segment-wide counters. Opening/creating the file is seg_open.c; single-flight and the
 * per-function statistics are seg_flight.c.
 *
 * What it does not do: build keys, decide what is cached, print, or touch errno. No lookup makes
 * a system call; a store makes one (posix_fallocate) when the ring's first lap grows past the
 * allocated part of the file (every SEG_ALLOC_CHUNK bytes), and cm_seg_get_info one (fstat).
 *
 * DESIGN
 * - Layout (seg_int.h, all offsets in the header, recomputed from the size and compared on open):
 *   [header 4 KiB | flight slots 256 x 64 B | function slots 512 x 128 B | profile | index |
 *   ring]. The index (seg_ix.c) is a growing table of 64-byte slots; values of up to 24 bytes
 *   live in their slot, larger ones in the ring, named by their slot.
 * - Ring: `sh_head` is a 64-bit ring position that only grows. A writer reserves
 *   [P, P + total) with one CAS on sh_head *before* writing anything (an entry never straddles
 *   the ring's end: the reservation skips to the next lap), then writes the entry (header, key,
 *   value) with relaxed atomic word stores. Invariant R: the bytes of an entry at position P are
 *   unchanged as long as sh_head <= P + ring_size, because any writer that could overwrite them
 *   must first move sh_head past that bound.
 * - Publishing the entry's index slot is the last step of a store (a release store, seg_ix.c):
 *   whoever reads the slot consistently sees the complete entry (invariant P). The slot holds
 *   P; the entry stores P itself (se_pos), so a stale slot is detected.
 * - Ring lookup (ring_probe: no lock, no syscall, no allocation): check R for the slot's P,
 *   read the entry header and compare the 128-bit hash and key length, compare the key word by
 *   word, copy the value out, acquire fence, reload sh_head and check R again (the seqlock
 *   argument: a writer's release fence after its reservation CAS synchronises with our acquire
 *   fence if we read any byte it wrote, so we then see its sh_head). Only then the XXH3 checksum
 *   is verified over the *private* copies (the caller's key, the copied value), so no hash ever
 *   runs over bytes that may change. A mismatch there means the stable bytes are wrong: the slot
 *   is dropped and sh_csum_failures counted. A torn read (R failed) is a plain miss.
 * - Checksum: XXH3-64 of the value, seeded with XXH3-64 of the key seeded with the header fields
 *   (position, hash, fn_ident, lengths). Computed by the writer from its private buffers.
 * - Eviction: FIFO by the ring plus a second chance. A hit on an entry in the oldest quarter of
 *   the ring re-inserts it at the head (a CLOCK-like approximation of LRU that costs nothing on
 *   hits to young entries and needs no per-entry reference bits written by readers: a reference
 *   bit would make every hit a store to a shared cache line, and CLOCK's hand would need a
 *   sweeper). The index (seg_ix.c) reuses slots whose entry the ring has overwritten. Evictions
 *   counted: slots displaced while their entry was live, and slots found naming overwritten
 *   entries (dropped then).
 * - A writer stalled (preempted) for a whole lap of the ring between its reservation and its
 *   last store writes into bytes that a newer reservation owns. Nothing can prevent that without
 *   a lock; the newer entry's checksum catches it (counted as a checksum failure, dropped), and
 *   the stalled writer does not publish. With the default 256 MiB ring this needs 200+ MiB of
 *   stores by others during one preemption; the stress test provokes it with a 2 MiB segment.
 * - File space: the segment file is allocated at creation up to the ring's first chunk; a store
 *   whose reserved region lies above sh_ring_alloc first allocates up to it (plus a chunk) and
 *   raises sh_ring_alloc (CAS, only grows), so ring bytes are never written where the file has
 *   no space: a full tmpfs drops the store (counted), never SIGBUS. Readers only read entries
 *   below sh_head, which were allocated before they were written.
 * - SIGKILL at any instruction: a writer dies either before its reservation (nothing happened),
 *   after it (a region nobody references; reused next lap), or after publishing (complete).
 *   Drops/replacements are single CASes. No lock exists on these paths; the only lock in the
 *   module is the kernel's flock in seg_open.c, released by the kernel when a process dies.
 * - Memory order: data words are relaxed atomics (SEG_MO), so the protocol is data-race free
 *   in the C11 sense and checkable with ThreadSanitizer (where SEG_MO is seq_cst).
 */
#include "seg_bmap.h"
#include "seg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <xxhash.h>

#define CNT_ADD(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)

static uint64_t seg_csum(uint64_t pos, uint64_t h0, uint64_t h1, uint64_t fn, const uint8_t *k,
                         uint32_t klen, const uint8_t *v, uint32_t vlen)
{
    uint64_t seed = pos ^ h0 ^ (h1 * 0x9E3779B97F4A7C15ull) ^ (fn * 0xC2B2AE3D27D4EB4Full) ^
                    ((uint64_t)klen << 32 | vlen);
    uint64_t ks = XXH3_64bits_withSeed(k, klen & ~SEG_BLOB_FLAG, seed); /* the flag: seed only */
    return XXH3_64bits_withSeed(v, vlen, ks);
}

static inline uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, SEG_MO);
}

static inline void st(uint64_t *p, uint64_t x)
{
    __atomic_store_n(p, x, SEG_MO);
}

/* The last 1..7 bytes as a zero-padded little-endian word, without a libc call (the hit path
 * must not reach a PLT: memcpy may be a function the user hooks). */
static inline uint64_t tail_word(const uint8_t *p, uint64_t n)
{
    uint64_t w = 0;
    for (uint64_t j = n; j-- > 0;)
        w = w << 8 | p[j];
    return w;
}

/* Stores n bytes from a private buffer as whole words (the tail word zero-padded). */
static void put_bytes(uint64_t *dst, const uint8_t *src, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        st(dst++, w);
    }
    if (i < n)
        st(dst, tail_word(src + i, n - i));
}

/* Compares n shared bytes with a private buffer; 0 when equal. */
static int cmp_bytes(const uint64_t *src, const uint8_t *k, uint64_t n)
{
    uint64_t i = 0, diff = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        diff |= ld(src++) ^ w;
    }
    if (i < n) {
        uint64_t m = ~0ull >> (8 * (8 - (n - i)));
        diff |= (ld(src) ^ tail_word(k + i, n - i)) & m;
    }
    return diff != 0;
}

static void get_bytes(uint8_t *dst, const uint64_t *src, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = ld(src++);
        memcpy(dst + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = ld(src);
        for (uint64_t j = i; j < n; j++, w >>= 8) /* no libc call on the hit path */
            dst[j] = (uint8_t)w;
    }
}

static inline uint64_t head_acq(struct cm_seg *s)
{
    return __atomic_load_n(&s->hdr->sh_head, __ATOMIC_ACQUIRE);
}

static int put_at(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, const uint8_t *key,
                  uint32_t klen, const uint8_t *v, uint32_t vlen);

/* Probe the ring entry a slot names. Returns as cm_seg_get. */
static long ring_probe(struct cm_seg *s, struct seg_slot *slot, uint64_t w, uint64_t pos,
                       uint64_t h0, uint64_t h1, const uint8_t *key, uint32_t klen, uint8_t *v,
                       uint32_t vcap, uint32_t *need, struct cm_seg_view *view)
{
    uint64_t head = head_acq(s);
    if (!seg_ent_live(s, pos, head)) {
        seg_ix_drop(s, slot,
                    w); /* its entry was overwritten by the ring (or the slot is garbage) */
        CNT_ADD(s->hdr->sh_evictions, 1);
        return -1;
    }
    uint64_t off = pos % s->ring_size;
    if (off + sizeof(struct seg_ent) > s->ring_size) {
        seg_ix_drop(s, slot, w);
        return -1;
    }
    struct seg_ent *e = (struct seg_ent *)(s->ring + off);
    uint64_t epos = ld(&e->se_pos), eh0 = ld(&e->se_h0), eh1 = ld(&e->se_h1);
    uint64_t efn = ld(&e->se_fn), ecs = ld(&e->se_csum);
    uint64_t lens = ld((const uint64_t *)&e->se_klen);
    uint32_t ekf = (uint32_t)lens, ev = (uint32_t)(lens >> 32); /* x86-64: little-endian */
    uint32_t ek = ekf & ~SEG_BLOB_FLAG;
    if (epos != pos) {
        SEG_FENCE(__ATOMIC_ACQUIRE);
        if (seg_ent_live(s, pos, __atomic_load_n(&s->hdr->sh_head, SEG_MO)))
            seg_ix_drop(s, slot, w); /* stable and wrong: a stale or corrupt word */
        return -1;
    }
    if (eh0 != h0 || eh1 != h1 || ek != klen)
        return -1; /* another key with the same tag */
    uint64_t total = seg_ent_total(ek, ev);
    if (off + total > s->ring_size || total > s->ring_size / 4) /* what any put allows */
        goto bad;
    const uint64_t *kw = (const uint64_t *)(e + 1);
    if (cmp_bytes(kw, key, klen) != 0)
        return -1;
    if ((ekf & SEG_BLOB_FLAG) && (!view || ev != SEG_BLOB_REF))
        return -1; /* a blob reference, for a caller that cannot map blobs */
    if (ev > vcap) {
        SEG_FENCE(__ATOMIC_ACQUIRE);
        if (!seg_ent_live(s, pos, __atomic_load_n(&s->hdr->sh_head, SEG_MO)))
            return -1;
        *need = ev;
        return -2;
    }
    get_bytes(v, kw + seg_align8(klen) / 8, ev);
    SEG_FENCE(__ATOMIC_ACQUIRE);
    uint64_t head2 = __atomic_load_n(&s->hdr->sh_head, SEG_MO);
    if (!seg_ent_live(s, pos, head2))
        return -1; /* overwritten while we copied: a miss, nothing wrong */
    if (seg_csum(pos, h0, h1, efn, key, ekf, v, ev) != ecs)
        goto corrupt; /* stable (R held after the copy) and wrong */
    /* second chance: a hit in the oldest quarter moves the entry to the head */
    if (head2 - pos > s->ring_size - s->ring_size / 4)
        (void)put_at(s, h0, h1, efn, key, ekf, v, ev);
    if (ekf & SEG_BLOB_FLAG) {
        if (seg_blob_map(s, h0, h1, v, view) < 0) {
            CNT_ADD(seg_blobcnt(s)->sb_bad, 1);
            return -1;
        }
        return (long)view->len;
    }
    if (view) {
        view->v = v;
        view->len = ev;
        view->map = NULL;     /* (view->kept only matters with a map) */
        view->unverified = 0; /* checked above over the private copy */
    }
    return ev;
bad:
    /* impossible lengths: corruption only if the header was stable while we read it */
    SEG_FENCE(__ATOMIC_ACQUIRE);
    if (!seg_ent_live(s, pos, __atomic_load_n(&s->hdr->sh_head, SEG_MO)))
        return -1;
corrupt:
    seg_ix_drop(s, slot, w);
    CNT_ADD(s->hdr->sh_csum_failures, 1);
    return -1;
}

long cm_seg_get(struct cm_seg *s, const uint8_t h[16], const uint8_t *key, uint32_t klen,
                uint8_t *v, uint32_t vcap, uint32_t *need)
{
    return cm_seg_lookup(s, h, key, klen, v, vcap, need, NULL);
}

uint64_t cm_seg_max_entry(const struct cm_seg *s)
{
    return s ? s->max_entry : 0;
}

void cm_seg_view_done(struct cm_seg_view *view)
{
    if (view->map && view->kept) { /* a kept mapping (seg_bmap.c): only our reference goes */
        seg_bmap_put(view->kept);
        view->kept = 0;
        view->map = NULL;
    } else if (view->map) {
        int saved = errno;
        munmap(view->map, view->maplen);
        errno = saved;
        view->map = NULL;
    }
}

long cm_seg_lookup(struct cm_seg *s, const uint8_t h[16], const uint8_t *key, uint32_t klen,
                   uint8_t *v, uint32_t vcap, uint32_t *need, struct cm_seg_view *view)
{
    uint64_t h0, h1;
    if (s == NULL)
        return -1;
    memcpy(&h0, h, 8);
    memcpy(&h1, h + 8, 8);
    return seg_ix_lookup(s, h0, h1, key, klen, v, vcap, need, view, ring_probe);
}

long cm_seg_lookup_small(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn_ident,
                         const uint8_t *key, uint32_t klen, uint64_t v[5])
{
    return s ? seg_ix_lookup_small(s, h0, h1, fn_ident, key, klen, v, ring_probe) : -1;
}

/*
 * Allocates the ring's file space up to `upto` (a ring position in the first lap; beyond the
 * first lap everything is allocated), in SEG_ALLOC_CHUNK steps ahead of use, and raises
 * sh_ring_alloc. Writers never touch ring bytes above sh_ring_alloc, so a full file system is an
 * error here instead of a SIGBUS on a store. Concurrent callers may allocate the same range
 * twice (harmless). 0, or -ENOSPC / -errno.
 */
static int seg_ring_alloc(struct cm_seg *s, uint64_t upto)
{
    uint64_t cur = __atomic_load_n(&s->hdr->sh_ring_alloc, __ATOMIC_ACQUIRE);
    if (upto > s->ring_size)
        upto = s->ring_size;
    if (upto <= cur)
        return 0;
    uint64_t want = (upto + SEG_ALLOC_CHUNK - 1) / SEG_ALLOC_CHUNK * SEG_ALLOC_CHUNK;
    if (want > s->ring_size)
        want = s->ring_size;
    uint64_t at = (uint64_t)(s->ring - s->base) + cur;
    int r = seg_alloc(s, at, want - cur);
    if (r == -ENOSPC && upto < want) { /* no room for a whole chunk: just what this store needs */
        want = upto;
        r = seg_alloc(s, at, want - cur);
    }
    if (r < 0)
        return r;
    while (cur < want && !__atomic_compare_exchange_n(&s->hdr->sh_ring_alloc, &cur, want, 1,
                                                      __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
        ;
    return 0;
}

/* klenf: the key length, with SEG_BLOB_FLAG when v is a blob reference. */
static int put_at(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, const uint8_t *key,
                  uint32_t klenf, const uint8_t *v, uint32_t vlen)
{
    uint32_t klen = klenf & ~SEG_BLOB_FLAG;
    uint64_t total = seg_ent_total(klen, vlen);
    uint64_t rs = s->ring_size;
    if ((uint64_t)klen + vlen > s->max_entry || total > rs / 4)
        return -E2BIG;
    uint64_t cur = __atomic_load_n(&s->hdr->sh_head, SEG_MO), start;
    do {
        start = cur;
        uint64_t off = start % rs;
        if (off + total > rs)
            start += rs - off; /* never straddle the end: skip to the next lap */
    } while (!__atomic_compare_exchange_n(&s->hdr->sh_head, &cur, start + total, 1,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    SEG_FENCE(__ATOMIC_RELEASE);
    if (start + total > __atomic_load_n(&s->hdr->sh_ring_alloc, __ATOMIC_ACQUIRE) &&
        seg_ring_alloc(s, start + total) < 0) {
        /* no file space (a full tmpfs or disk): nothing written, the region stays unreferenced
         * and the store is dropped and counted, never a SIGBUS */
        CNT_ADD(seg_blobcnt(s)->sb_ring_nospace, 1);
        return -ENOSPC;
    }
    struct seg_ent *e = seg_ent_at(s, start);
    uint64_t *kw = (uint64_t *)(e + 1);
    put_bytes(kw, key, klen);
    put_bytes(kw + seg_align8(klen) / 8, v, vlen);
    st(&e->se_h0, h0);
    st(&e->se_h1, h1);
    st(&e->se_fn, fn);
    st(&e->se_csum, seg_csum(start, h0, h1, fn, key, klenf, v, vlen));
    st((uint64_t *)&e->se_klen, (uint64_t)vlen << 32 | klenf);
    st(&e->se_pos, start);
    /* a writer stalled for a whole lap of the ring: its entry is already gone (and its late
     * stores may have hit a newer entry, which that entry's checksum catches) */
    if (!seg_ent_live(s, start, __atomic_load_n(&s->hdr->sh_head, __ATOMIC_SEQ_CST))) {
        CNT_ADD(s->hdr->sh_lapped, 1);
        return -EAGAIN;
    }
    return seg_ix_put_ring(s, h0, h1, fn, start);
}

int cm_seg_put(struct cm_seg *s, const uint8_t h[16], uint64_t fn_ident, const uint8_t *key,
               uint32_t klen, const uint8_t *v, uint32_t vlen)
{
    uint64_t h0, h1;
    if (s == NULL)
        return -EINVAL;
    memcpy(&h0, h, 8);
    memcpy(&h1, h + 8, 8);
    if ((uint64_t)klen + vlen > s->max_entry || klen >= SEG_BLOB_FLAG)
        return -E2BIG;
    if (vlen <= SEG_INLINE_MAX)
        return seg_ix_put_inline(s, h0, h1, fn_ident, v, vlen); /* no key bytes: the digest */
    if (seg_ent_total(klen, vlen) > s->ring_max) {
        uint8_t ref[SEG_BLOB_REF];
        int r = seg_blob_write(s, h0, h1, v, vlen, ref);
        if (r < 0) {
            CNT_ADD(seg_blobcnt(s)->sb_errors, 1);
            return r;
        }
        r = put_at(s, h0, h1, fn_ident, key, klen | SEG_BLOB_FLAG, ref, sizeof(ref));
        if (r == 0)
            CNT_ADD(seg_blobcnt(s)->sb_puts, 1);
        return r;
    }
    return put_at(s, h0, h1, fn_ident, key, klen, v, vlen);
}

/* Idents of the function slots named `name` (at most SEG_FN_SLOTS). */
static unsigned idents_named(struct cm_seg *s, const char *name, uint64_t *out)
{
    char want[SEG_FN_NAME] = {0};
    unsigned n = 0;
    strncpy(want, name, SEG_FN_NAME - 1);
    for (unsigned i = 0; i < SEG_FN_SLOTS; i++) {
        struct seg_fn *f = &s->fns[i];
        uint64_t id = __atomic_load_n(&f->sf_ident, __ATOMIC_ACQUIRE);
        if (id == 0 || __atomic_load_n(&f->sf_ready, __ATOMIC_ACQUIRE) != 1)
            continue;
        char got[SEG_FN_NAME];
        get_bytes((uint8_t *)got, f->sf_name, SEG_FN_NAME);
        got[SEG_FN_NAME - 1] = 0;
        if (strcmp(got, want) == 0)
            out[n++] = id;
    }
    return n;
}

long cm_seg_clear(struct cm_seg *s, const char *name)
{
    uint64_t ids[SEG_FN_SLOTS];
    unsigned nids = 0;
    long dropped = 0;
    if (s == NULL)
        return 0;
    if (name != NULL) {
        nids = idents_named(s, name, ids);
        if (nids == 0)
            return 0;
    }
    dropped = seg_ix_clear(s, name != NULL ? ids : NULL, nids);
    if (name == NULL)
        seg_blob_clear(s); /* one function's blobs are orphans now: the blob budget ages them out */
    return dropped;
}

void cm_seg_get_info(struct cm_seg *s, struct cm_seg_info *info)
{
    memset(info, 0, sizeof(*info));
    if (s == NULL)
        return;
    struct seg_hdr *h = s->hdr;
    info->size = s->size;
    info->data_size = s->ring_size + h->sh_slots * sizeof(struct seg_slot);
    info->evictions = __atomic_load_n(&h->sh_evictions, __ATOMIC_RELAXED);
    info->csum_failures = __atomic_load_n(&h->sh_csum_failures, __ATOMIC_RELAXED);
    info->flight_waits = __atomic_load_n(&h->sh_flight_waits, __ATOMIC_RELAXED);
    info->flight_takeovers = __atomic_load_n(&h->sh_flight_takeovers, __ATOMIC_RELAXED);
    /* live entries and their bytes: a scan of the index (cost ~ slots in use; for the tools) */
    seg_ix_usage(s, &info->entries, &info->used, &info->ix_slots);
    info->ix_max = h->sh_slots;
    info->ix_nospace = __atomic_load_n(&seg_blobcnt(s)->sb_ix_nospace, __ATOMIC_RELAXED);
    info->blob_puts = __atomic_load_n(&seg_blobcnt(s)->sb_puts, __ATOMIC_RELAXED);
    info->blob_errors = __atomic_load_n(&seg_blobcnt(s)->sb_errors, __ATOMIC_RELAXED);
    info->blob_evictions = __atomic_load_n(&seg_blobcnt(s)->sb_evictions, __ATOMIC_RELAXED);
    info->blob_bad = __atomic_load_n(&seg_blobcnt(s)->sb_bad, __ATOMIC_RELAXED);
    info->ring_nospace = __atomic_load_n(&seg_blobcnt(s)->sb_ring_nospace, __ATOMIC_RELAXED);
    info->ring_alloc = __atomic_load_n(&h->sh_ring_alloc, __ATOMIC_RELAXED);
    info->blob_size = s->blob_size;
    info->ring_max = s->ring_max;
    info->max_entry = s->max_entry;
    seg_blob_usage(s, &info->blob_files, &info->blob_bytes);
    struct stat st;
    int fd = seg_file(s);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0)
            info->allocated = (uint64_t)st.st_blocks * 512;
        close(fd);
    }
}

void cm_seg_regions(struct cm_seg *s, uint64_t *index_off, uint64_t *index_len, uint64_t *ring_off,
                    uint64_t *ring_len)
{
    uint64_t e, u, n;
    seg_ix_usage(s, &e, &u, &n);
    *index_off = (uint64_t)((uint8_t *)s->slots - s->base);
    *index_len = n * sizeof(struct seg_slot);
    *ring_off = (uint64_t)(s->ring - s->base);
    *ring_len = s->ring_size;
}

void cm_seg_sandboxed(struct cm_seg *s)
{
    __atomic_store_n(&s->sandboxed, 1, __ATOMIC_RELAXED);
}
