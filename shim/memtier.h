/*
 * memtier.h - the per-process memory tier (see memtier.c for the design).
 */
#ifndef CM_MEMTIER_H
#define CM_MEMTIER_H

#include <stdint.h>
#include <string.h>

#include <xxhash.h>

/* The index hash of a key: for keys up to 40 bytes a multiply-xorshift over the zero-padded
 * words (a few cycles; scalar functions' keys all fit), XXH3-64 beyond. Hits always compare the
 * full key, so the hash only has to spread keys, not identify them. */
static inline uint64_t cm_hash_words(const uint64_t *w, uint32_t nwords, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)nwords * 0x9E3779B97F4A7C15ull);
    for (uint32_t i = 0; i < nwords; i++) {
        h = (h ^ w[i]) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t cm_key_hash(const uint8_t *k, uint32_t klen, uint64_t seed)
{
    if (klen <= 40) {
        uint64_t w[5] = {0, 0, 0, 0, 0};
        memcpy(w, k, klen);
        return cm_hash_words(w, (klen + 7) / 8, seed);
    }
    return XXH3_64bits_withSeed(k, klen, seed);
}

/* Reserve `size` bytes (memory_size). Returns 0, or -1 (then every get misses, every put fails). */
int cm_mem_init(uint64_t size);

/* Largest entry (header + key + value) the ring accepts. */
uint64_t cm_mem_max_entry(void);

/*
 * Find (fn, key) and copy its value into v. `scratch` (8-byte aligned, scap bytes) receives the
 * raw entry for ring entries. Returns the value length, -1 on a miss, or -2 when v or scratch is
 * too small: *need is then the size that both must have for a retry.
 */
long cm_mem_get(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, uint8_t *v,
                uint32_t vcap, uint8_t *scratch, uint32_t scap, uint32_t *need);

/* Fast path for keys and values that fit an inline slot: `kw` holds the key in klen bytes,
 * zero-padded to whole words. Copies the value (which starts at the word after the key) into
 * vw and returns its length, or -1. */
long cm_mem_get_inline(uint32_t fn, uint64_t h, const uint64_t *kw, uint32_t klen, uint64_t *vw);

/* Store (fn, key) -> value; best effort (returns -1 when not stored: slot busy, too big).
 * `scratch` (8-byte aligned) must hold header + key + value + 8. */
int cm_mem_put(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, const uint8_t *v,
               uint32_t vlen, uint8_t *scratch, uint32_t scap);

#endif
