/*
 * memtier.c - the per-process memory tier: a bounded, lock-free-to-read cache of
 * (variant, key bytes) -> value bytes.
 *
 * What it does: cm_mem_get() finds an entry and copies its value out after proving it was not
 * being rewritten while copied; cm_mem_put() stores one. Memory is fixed at cm_mem_init() time
 * (memory_size, one anonymous mapping, pages committed as touched, or ahead of use by
 * cm_mem_prefault() from a background thread: see shared.c). Nothing on the read path locks,
 * allocates or makes a system call.
 *
 * What it does not do: decide what to cache, serialize keys or values (key.c), or survive the
 * process (the shared tier's job).
 *
 * DESIGN
 * - Index: 2-way set-associative array of 64-byte, cache-line aligned slots. A slot holds the
 *   variant id (+1, 0 = empty), the 64-bit key hash, lengths, and either the key (zero-padded
 *   to whole words) and the value inline (when both fit in 40 bytes: every scalar function) or
 *   the position of the entry in the ring. Each slot is a seqlock: writers make `seq` odd with a
 * CAS (a busy slot is simply not written: storing is best effort), write the fields, then publish
 * seq+2 with release; readers load seq (acquire), copy, fence (acquire), reload seq and discard the
 * copy if it changed or was odd. Every field is accessed with relaxed atomics, so the protocol is
 *   data-race free in the C11 sense (and under ThreadSanitizer).
 * - Ring: larger entries (header, key, value, 8-byte aligned) are appended to a ring buffer
 *   addressed by a monotonically increasing 64-bit position `ring_head`. A writer reserves space
 *   with a CAS on ring_head *before* writing (release fence between), so an entry at position P
 *   is intact exactly while ring_head <= P + ring_size. Readers check that before and after
 *   copying. Entries never straddle the end of the ring (the writer skips to the start).
 *   Each ring entry carries an XXH3-64 checksum of its header fields, key and value, verified on
 *   every read; a mismatch is a miss.
 * - Eviction: a new entry replaces the older way of its set (chosen by a per-thread random bit
 *   when both are taken) and the ring overwrites its oldest bytes (FIFO). Both are bounded by
 *   construction, no sweeping needed.
 * - Hits compare the full key bytes, never just the hash.
 * - fork: a slot a dying thread left odd stays unusable in the child (it only costs that slot).
 * - Empty tier: until its first store, lookups probe a one-set stand-in (cm_mem_slots =
 *   empty_set, cm_mem_shift = 63), not the real index. A process answered by the segment on
 *   keys it reads once never stores here (cm_shared_fill_wanted), and each probe of the real,
 *   untouched index would cost a cache and TLB miss and a page fault (zero page) for nothing.
 *   The first store publishes the real index: cm_mem_slots, then cm_mem_shift with release;
 *   readers load the shift with acquire first (cm_mem_set), so a new shift comes with the new
 *   index, and the old shift picks set 0, which exists in both. Publishing twice is harmless.
 *   The dispatcher's scalar fast path does not even probe the stand-in: shift 63 (no real index
 *   has it: at least 256 slots) tells it the tier is empty (dispatch.c, fast_hit_n).
 */
#include "tier.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <xxhash.h>

#define RING_FLAG 0x80000000u
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels answer EINVAL */
#endif

struct ring_hdr {
    uint32_t fn;
    uint32_t klen;
    uint32_t vlen;
    uint32_t pad;
    uint64_t hash;
    uint64_t csum;
};

/* Until the tier's first store (and without a tier) the index lookups see is one empty set that
 * nothing is ever stored in, so the hit path needs no "is there a tier" test: every probe simply
 * misses, on a line that stays in cache ("Empty tier" above). */
static struct cm_slot empty_set[2] __attribute__((aligned(64)));
struct cm_slot *cm_mem_slots = empty_set;
unsigned cm_mem_shift = 63; /* 64 - log2(number of slots): sets use a hash's high bits */
static int mem_ready;
static struct cm_slot *mem_index; /* the real index (start of the mapping), once reserved */
static unsigned mem_index_shift;
static uint8_t *ring;
static uint64_t ring_size;
static uint64_t ring_head;
static uint64_t max_entry;
static __thread uint32_t rng_state __attribute__((tls_model("initial-exec")));

static uint64_t pow2_floor(uint64_t x)
{
    uint64_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

int cm_mem_init(uint64_t size)
{
    if (size < 64 * 1024)
        size = 64 * 1024;
    uint64_t nslots = pow2_floor(size / 4 / sizeof(struct cm_slot));
    uint64_t rsize = (size - nslots * sizeof(struct cm_slot)) & ~(uint64_t)4095;
    void *p = mmap(NULL, nslots * sizeof(struct cm_slot) + rsize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    /* empty again until the first store (a second init, in tests, starts a new tier) */
    __atomic_store_n(&cm_mem_shift, 63, __ATOMIC_RELEASE);
    __atomic_store_n(&cm_mem_slots, empty_set, __ATOMIC_RELEASE);
    mem_index = p;
    mem_index_shift = 64u - (unsigned)__builtin_ctzll(nslots);
    mem_ready = 1;
    ring = (uint8_t *)p + nslots * sizeof(struct cm_slot);
    ring_size = rsize;
    max_entry = rsize / 4; /* a 9 MB value fits the default 64 MiB tier */
    return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/* The real index's length in bytes. */
static uint64_t mem_index_len(void)
{
    return ((uint64_t)1 << (64 - mem_index_shift)) * sizeof(struct cm_slot);
}

/* Before a store: lookups move from the stand-in to the real index ("Empty tier"). */
static inline void publish_index(void)
{
    if (__builtin_expect(__atomic_load_n(&cm_mem_slots, __ATOMIC_RELAXED) != mem_index, 0)) {
        __atomic_store_n(&cm_mem_slots, mem_index, __ATOMIC_RELAXED);
        __atomic_store_n(&cm_mem_shift, mem_index_shift, __ATOMIC_RELEASE);
    }
}

int cm_mem_map_index(void)
{
    if (!mem_ready || __atomic_load_n(&cm_mem_slots, __ATOMIC_RELAXED) != mem_index)
        return 0; /* lookups probe the stand-in: no page of the index to map */
    int saved = errno;
    (void)madvise(mem_index, mem_index_len(),
                  MADV_POPULATE_READ); /* before 5.14: EINVAL, no harm */
    errno = saved;
    return 1;
}

int cm_mem_prefault(uint64_t *cursor, uint64_t budget)
{
    if (!mem_ready)
        return 0;
    uint64_t len = mem_index_len(), at = *cursor;
    uint8_t *p = (uint8_t *)mem_index; /* page-aligned: the start of the mapping */
    if (at >= len)
        return 0;
    uint64_t n = len - at < budget ? len - at : budget;
    int saved = errno, r;
    if (madvise(p + at, n, MADV_POPULATE_WRITE) != 0) {
        if (errno != EINVAL) {
            r = -errno;
            goto out;
        }
        /* Before Linux 5.14. An atomic add of 0, never a store: a store could undo a put. */
        for (uint64_t o = 0; o < n; o += 4096)
            __atomic_fetch_add(&((struct cm_slot *)(p + at + o))->seq, 0, __ATOMIC_RELAXED);
    }
    *cursor = at + n;
    r = at + n < len;
out:
    errno = saved;
    return r;
}

uint64_t cm_mem_max_entry(void)
{
    return max_entry;
}

/* Word-wise relaxed atomic copies: the seqlock/ring checks decide afterwards whether the copy
 * is usable. `n` is a multiple of 8 and both pointers are 8-byte aligned. */
static void load_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        d[i] = __atomic_load_n(&s[i], MO_DATA);
}

static void store_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        __atomic_store_n(&d[i], s[i], MO_DATA);
}

static inline uint64_t align8(uint64_t x)
{
    return (x + 7) & ~(uint64_t)7;
}

static uint64_t entry_csum(const struct ring_hdr *h, const uint8_t *kv)
{
    XXH64_hash_t seed = h->hash ^ ((uint64_t)h->fn << 32) ^ ((uint64_t)h->klen << 16) ^ h->vlen;
    size_t n = (size_t)h->klen + h->vlen;
    return n > 240 ? cm_xxh3_64(kv, n, seed) : XXH3_64bits_withSeed(kv, n, seed);
}

/* Look in one slot. Returns value length, -1 for no match, -2 when the value does not fit
 * (*need set). */
static long slot_get(struct cm_slot *s, uint32_t fn1, uint64_t h, const uint8_t *k, uint32_t klen,
                     uint8_t *v, uint32_t vcap, uint8_t *scratch, uint32_t scap, uint32_t *need)
{
    uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    if (seq & 1)
        return -1;
    if (__atomic_load_n(&s->fn, MO_DATA) != fn1 || __atomic_load_n(&s->hash, MO_DATA) != h)
        return -1;
    uint32_t sk = __atomic_load_n(&s->klen, MO_DATA);
    uint32_t vlen = __atomic_load_n(&s->vlen, MO_DATA);
    if (!(sk & RING_FLAG)) {
        uint64_t w[5];
        if (sk != klen || align8(klen) + vlen > INLINE_MAX)
            return -1;
        load_words(w, s->u.w, sizeof(w));
        FENCE(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, MO_DATA) != seq)
            return -1;
        if (memcmp(w, k, klen) != 0)
            return -1;
        if (vlen > vcap) {
            *need = vlen;
            return -2;
        }
        memcpy(v, (uint8_t *)w + align8(klen), vlen);
        return vlen;
    }
    /* ring entry */
    uint64_t pos = __atomic_load_n(&s->u.r.pos, MO_DATA);
    uint64_t total = __atomic_load_n(&s->u.r.total, MO_DATA);
    FENCE(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->seq, MO_DATA) != seq)
        return -1;
    if ((sk & ~RING_FLAG) != klen)
        return -1;
    if (total > scap) {
        *need = (uint32_t)total;
        return -2;
    }
    if (total < sizeof(struct ring_hdr) || total > ring_size ||
        (pos % ring_size) + total > ring_size)
        return -1;
    if (__atomic_load_n(&ring_head, __ATOMIC_ACQUIRE) > pos + ring_size)
        return -1;
    load_words(scratch, ring + pos % ring_size, total);
    FENCE(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&ring_head, MO_DATA) > pos + ring_size)
        return -1;
    struct ring_hdr hd;
    memcpy(&hd, scratch, sizeof(hd));
    if (hd.fn != fn1 || hd.hash != h || hd.klen != klen ||
        sizeof(hd) + (uint64_t)hd.klen + hd.vlen > total)
        return -1;
    const uint8_t *kv = scratch + sizeof(hd);
    if (entry_csum(&hd, kv) != hd.csum)
        return -1;
    if (memcmp(kv, k, klen) != 0)
        return -1;
    if (hd.vlen > vcap) {
        *need = hd.vlen;
        return -2;
    }
    memcpy(v, kv + klen, hd.vlen);
    return hd.vlen;
}

/* The in-place read of a large ring entry (see tier.h). Reads ring bytes with plain loads, which
 * a concurrent overwrite makes racy: the checks on ring_head after the copy (invariant R) and the
 * checksum the caller computes while copying are what make the result usable, as in slot_get.
 * Not under ThreadSanitizer (it cannot see that). */
long cm_mem_view(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, struct cm_memview *mv)
{
#ifdef __SANITIZE_THREAD__
    (void)fn, (void)h, (void)k, (void)klen, (void)mv;
    return -1;
#else
    if (!mem_ready)
        return -1;
    struct cm_slot *set = cm_mem_set(h);
    for (int i = 0; i < 2; i++) {
        struct cm_slot *s = &set[i];
        uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if ((seq & 1) || __atomic_load_n(&s->fn, MO_DATA) != fn + 1 ||
            __atomic_load_n(&s->hash, MO_DATA) != h ||
            __atomic_load_n(&s->klen, MO_DATA) != (klen | RING_FLAG))
            continue;
        uint64_t pos = __atomic_load_n(&s->u.r.pos, MO_DATA);
        uint64_t total = __atomic_load_n(&s->u.r.total, MO_DATA);
        FENCE(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, MO_DATA) != seq)
            continue;
        if (total < sizeof(struct ring_hdr) || total > ring_size ||
            (pos % ring_size) + total > ring_size ||
            __atomic_load_n(&ring_head, __ATOMIC_ACQUIRE) > pos + ring_size)
            continue;
        struct ring_hdr hd;
        const uint8_t *e = ring + pos % ring_size;
        memcpy(&hd, e, sizeof(hd));
        if (hd.fn != fn + 1 || hd.hash != h || hd.klen != klen ||
            sizeof(hd) + (uint64_t)hd.klen + hd.vlen > total)
            continue;
        const uint8_t *kv = e + sizeof(hd);
        if (memcmp(kv, k, klen) != 0)
            continue;
        mv->v = kv + klen;
        mv->vlen = hd.vlen;
        mv->kv = kv;
        mv->seed = hd.hash ^ ((uint64_t)hd.fn << 32) ^ ((uint64_t)hd.klen << 16) ^ hd.vlen;
        mv->csum = hd.csum;
        mv->pos = pos;
        return hd.vlen;
    }
    return -1;
#endif
}

int cm_mem_view_ok(uint64_t pos)
{
    FENCE(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&ring_head, MO_DATA) <= pos + ring_size;
}

long cm_mem_get(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, uint8_t *v, uint32_t vcap,
                uint8_t *scratch, uint32_t scap, uint32_t *need)
{
    if (!mem_ready)
        return -1;
    struct cm_slot *set = cm_mem_set(h);
    long r = slot_get(&set[0], fn + 1, h, k, klen, v, vcap, scratch, scap, need);
    if (r == -1)
        r = slot_get(&set[1], fn + 1, h, k, klen, v, vcap, scratch, scap, need);
    return r;
}

static int slot_lock(struct cm_slot *s, uint32_t *seq)
{
    uint32_t cur = __atomic_load_n(&s->seq, MO_DATA);
    if (cur & 1)
        return -1;
    if (!__atomic_compare_exchange_n(&s->seq, &cur, cur + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return -1;
    FENCE(__ATOMIC_RELEASE);
    *seq = cur;
    return 0;
}

static struct cm_slot *pick_way(struct cm_slot *set, uint32_t fn1, uint64_t h)
{
    for (int i = 0; i < 2; i++) {
        uint32_t f = __atomic_load_n(&set[i].fn, MO_DATA);
        if (f == 0 || (f == fn1 && __atomic_load_n(&set[i].hash, MO_DATA) == h))
            return &set[i];
    }
    uint32_t x = rng_state ? rng_state : (uint32_t)(uintptr_t)&rng_state | 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return &set[x & 1];
}

int cm_mem_put_words(uint32_t fn, uint64_t h, const uint64_t *probe, const uint64_t *kmask,
                     uint32_t klen, const uint64_t *vw, uint32_t vlen)
{
    uint32_t seq;
    if (!mem_ready || klen + vlen > INLINE_MAX)
        return -1;
    publish_index();
    struct cm_slot *s = pick_way(cm_mem_set(h), fn + 1, h);
    if (slot_lock(s, &seq) < 0)
        return -1;
    __atomic_store_n(&s->fn, fn + 1, MO_DATA);
    __atomic_store_n(&s->hash, h, MO_DATA);
    __atomic_store_n(&s->klen, klen, MO_DATA);
    __atomic_store_n(&s->vlen, vlen, MO_DATA);
    for (int i = 0; i < 5; i++)
        __atomic_store_n(&s->u.w[i], kmask[i] ? probe[i] : vw[i], MO_DATA);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
    return 0;
}

int cm_mem_put(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, const uint8_t *v,
               uint32_t vlen, uint8_t *scratch, uint32_t scap)
{
    if (!mem_ready)
        return -1;
    publish_index();
    uint32_t fn1 = fn + 1;
    struct cm_slot *s = pick_way(cm_mem_set(h), fn1, h);
    uint32_t seq;
    if (align8(klen) + vlen <= INLINE_MAX) {
        uint64_t w[5] = {0};
        memcpy(w, k, klen);
        memcpy((uint8_t *)w + align8(klen), v, vlen);
        if (slot_lock(s, &seq) < 0)
            return -1;
        __atomic_store_n(&s->fn, fn1, MO_DATA);
        __atomic_store_n(&s->hash, h, MO_DATA);
        __atomic_store_n(&s->klen, klen, MO_DATA);
        __atomic_store_n(&s->vlen, vlen, MO_DATA);
        store_words(s->u.w, w, sizeof(w));
        __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
        return 0;
    }
    uint64_t total = align8(sizeof(struct ring_hdr) + (uint64_t)klen + vlen);
    if (total > max_entry || total > scap)
        return -1;
    struct ring_hdr hd = {.fn = fn1, .klen = klen, .vlen = vlen, .hash = h};
    memcpy(scratch + sizeof(hd), k, klen);
    memcpy(scratch + sizeof(hd) + klen, v, vlen);
    memset(scratch + sizeof(hd) + klen + vlen, 0, total - sizeof(hd) - klen - vlen);
    hd.csum = entry_csum(&hd, scratch + sizeof(hd));
    memcpy(scratch, &hd, sizeof(hd));
    /* reserve [start, start + total) */
    uint64_t cur = __atomic_load_n(&ring_head, MO_DATA), start;
    do {
        start = cur;
        uint64_t off = start % ring_size;
        if (off + total > ring_size)
            start += ring_size - off;
    } while (!__atomic_compare_exchange_n(&ring_head, &cur, start + total, 1, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    FENCE(__ATOMIC_RELEASE);
    store_words(ring + start % ring_size, scratch, total);
    if (slot_lock(s, &seq) < 0)
        return -1;
    __atomic_store_n(&s->fn, fn1, MO_DATA);
    __atomic_store_n(&s->hash, h, MO_DATA);
    __atomic_store_n(&s->klen, klen | RING_FLAG, MO_DATA);
    __atomic_store_n(&s->vlen, vlen, MO_DATA);
    __atomic_store_n(&s->u.r.pos, start, MO_DATA);
    __atomic_store_n(&s->u.r.total, total, MO_DATA);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
    return 0;
}
