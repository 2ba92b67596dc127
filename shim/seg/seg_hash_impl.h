/*
 * seg_hash_impl.h - the body of one vector variant of the large-buffer XXH3 functions: included
 * once by seg_hash.c (SSE2, the x86-64 baseline), seg_hash_avx2.c and seg_hash_avx512.c, each
 * compiled with its own XXH_VECTOR and target flags (shim/CMakeLists.txt), so xxHash's own
 * vector code is built three times and seg_hash.c picks one at run time.
 *
 * What it does not do: any hashing of its own (every line of the hash is xxHash's), or choose a
 * variant. Include it after defining SEG_HASH_SUFFIX (the variant's name) and XXH_VECTOR.
 */
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "seg_hash.h"

#define SEG_HASH_CAT2(a, b) a##b
#define SEG_HASH_CAT(a, b) SEG_HASH_CAT2(a, b)
#define SEG_HASH_FN(name) SEG_HASH_CAT(name, SEG_HASH_SUFFIX)

static uint64_t SEG_HASH_FN(h64_)(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

static struct cm_h128 SEG_HASH_FN(h128_)(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    return (struct cm_h128){.lo = h.low64, .hi = h.high64};
}

static void SEG_HASH_FN(reset_)(void *st, uint64_t seed)
{
    XXH3_64bits_reset_withSeed(st, seed);
}

static void SEG_HASH_FN(update_)(void *st, const void *p, size_t n)
{
    XXH3_64bits_update(st, p, n);
}

/* Hash and copy in one pass: each chunk is hashed from the source, which brings it into L1, then
 * copied from there, so the source is read from memory once. Hashing the source rather than the
 * copy is sound only because no value changes while it is read (seg.h). Measured on an AVX-512
 * machine with real data (not zeros: a copy of zero lines onto zero lines runs ~2x faster there,
 * which misled an earlier measurement): 1.0-1.1x one memcpy at 9 MB, against 1.2x when each chunk
 * was copied first and then hashed from the destination (at 1 MB: 1.35x against 1.5x); 4 KiB
 * chunks, the best of 1-16 KiB. The copy is libc's memcpy, called through a pointer the compiler
 * cannot see through: inlined, a 4 KiB copy becomes `rep movsq`, 1.5x slower than libc's vector
 * loop when the source is not 8-byte aligned (an output inside a value rarely is). */
static void *(*const volatile seg_hash_memcpy)(void *, const void *, size_t) = memcpy;

static void SEG_HASH_FN(copy_)(void *st, void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    void *(*cp)(void *, const void *, size_t) = seg_hash_memcpy;
    /* The first chunk ends where XXH3's 256-byte input buffer is full, so every later update
     * starts with nothing to top up: topping it up (a copy into the buffer read back at once)
     * made a value whose output follows a few header bytes ~20 % slower to check. */
    size_t k = SEG_HASH_CHUNK - ((const XXH3_state_t *)st)->bufferedSize % XXH3_INTERNALBUFFER_SIZE;
    /* Every later chunk starts at the same offset in its destination page as this boundary. A
     * copy whose destination starts in the last ~56 bytes of a page ran 20-35 % slower (libc's
     * memcpy of 4 KiB on an AVX-512 machine, every prefix length and alignment tried; why is not
     * known): this is what made memory-tier hits, whose value follows the key in the ring, slower
     * than blob hits. A boundary 256 bytes earlier keeps XXH3's buffer full and the destination
     * away from there. */
    if ((((uintptr_t)d + k) & 4095) >= 4096 - 128)
        k -= XXH3_INTERNALBUFFER_SIZE;
    for (size_t at = 0; at < n; at += k, k = SEG_HASH_CHUNK) {
        if (k > n - at)
            k = n - at;
        XXH3_64bits_update(st, s + at, k);
        cp(d + at, s + at, k);
    }
}

static uint64_t SEG_HASH_FN(digest_)(const void *st)
{
    return XXH3_64bits_digest(st);
}

_Static_assert(sizeof(XXH3_state_t) <= sizeof(struct cm_xxh3_state), "XXH3 state");
_Static_assert(_Alignof(XXH3_state_t) <= _Alignof(struct cm_xxh3_state), "XXH3 state alignment");

const struct seg_hash_ops SEG_HASH_FN(seg_hash_ops_) = {
    .h64 = SEG_HASH_FN(h64_),
    .h128 = SEG_HASH_FN(h128_),
    .reset = SEG_HASH_FN(reset_),
    .update = SEG_HASH_FN(update_),
    .copy = SEG_HASH_FN(copy_),
    .digest = SEG_HASH_FN(digest_),
};
