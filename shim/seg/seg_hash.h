/*
 * seg_hash.h - inside shim/seg/ only: the table of one vector variant of the large-buffer XXH3
 * functions (seg_hash_impl.h builds one per variant, seg_hash.c chooses). The interface for
 * everyone else is the cm_xxh3_* section of seg.h.
 */
#ifndef CM_SEG_HASH_H
#define CM_SEG_HASH_H

#include "seg.h"

#define SEG_HASH_CHUNK 4096u /* bytes hashed then copied at a time by cm_xxh3_copy */

struct seg_hash_ops {
    uint64_t (*h64)(const void *p, size_t n, uint64_t seed);
    struct cm_h128 (*h128)(const void *p, size_t n);
    void (*reset)(void *st, uint64_t seed);
    void (*update)(void *st, const void *p, size_t n);
    void (*copy)(void *st, void *dst, const void *src, size_t n);
    uint64_t (*digest)(const void *st);
};

extern const struct seg_hash_ops seg_hash_ops_sse2, seg_hash_ops_avx2, seg_hash_ops_avx512;

#endif
