/*
 * fn.h - the per-variant descriptor the entry code and the dispatcher share.
 *
 * A "variant" is one implementation of one configured function: (config function, original
 * address). A function with two symbol versions reached by different callers has two variants,
 * each with its own stub, descriptor, key identity and statistics slot.
 *
 * DESIGN: descriptors live in a fixed static array (cm_fns) so stub i can reach descriptor i
 * with one RIP-relative lea and no relocation. A descriptor is written once, by bind() under the
 * hook lock, before its stub address is published into any GOT slot (release fence); after that
 * only `flags` may change (atomically) and `distinct` is counted with atomics. The first cache
 * line holds everything the hit path reads.
 */
#ifndef CM_FN_H
#define CM_FN_H

#include <stdint.h>

#include "cm_config.h"
#include "frame.h"

struct cm_object;

struct cm_fn {
    void *orig;                      /* CM_FN_ORIG: original implementation */
    uint32_t flags;                  /* CM_FN_FLAGS: CM_FN_BYPASS */
    uint32_t nstack;                 /* CM_FN_NSTACK: stack words to copy when calling orig */
    const struct cm_function *cfg;   /* its config entry */
    const struct cm_signature *sig;  /* &cfg->sig */
    uint64_t seed;                   /* XXH3 seed: hash of the identity prefix */
    uint32_t id;                     /* index in cm_fns */
    uint32_t func;                   /* index of cfg in the config's function array */
    uint8_t mode;                    /* effective enum cm_mode */
    uint8_t fast;                    /* scalar-only function: key and value fit one inline slot */
    uint8_t fast_n;                  /* keyed scalar parameters: one key word each (<= 4) */
    uint8_t fast_klen;               /* key bytes: 8 * fast_n */
    uint8_t fast_vlen;               /* value bytes (8 + writes + errno) */
    uint8_t fast_ret_sse;            /* the return value lives in xmm0 */
    uint8_t fast_ret_void;           /* no return value (value starts with the globals) */
    uint8_t fast_side;               /* writes or errno follow the return value */
    int16_t fast_src[5];             /* per key word: >= 0 byte offset in the frame, < 0 -1 - stack
                                        slot; the key of n words sits in words 5-n .. 4 */
    uint64_t fast_mask[5];           /* per key word: the bits of the declared width; 0 = not key */
    uint64_t min_ticks;              /* min_time in cm_ticks() units */
    const uint8_t *prefix;           /* canonical identity prefix of every key (malloc'd) */
    uint32_t prefix_len;
    const struct cm_object *provider;
    char version[64];                /* version of the definition, "" when unversioned */
    void *handle_fn[CM_MAX_PARAMS];  /* resolved handle(FUNC) per parameter */
    void *reads_addr[CM_MAX_GLOBALS];
    void *writes_addr[CM_MAX_GLOBALS];
    uint64_t distinct;               /* profile mode: distinct argument sets (atomic) */
    int seg_slot;                    /* statistics slot in the shared segment, -1 = none */
    uint8_t ident[16];               /* XXH3-128 of the identity prefix: leads shared-tier keys */
    uint64_t max_miss_ns;            /* longest miss seen (atomic): singleflight = auto */
    uint64_t seg_mean_ns;            /* mean miss over all processes, from the segment (cached) */
    uint32_t seg_mean_age;           /* misses since seg_mean_ns was read */
    uint64_t flushed[8];             /* counters already added to the segment (struct cm_stat) */
    uint8_t codeid[17];              /* identity = code: 'C' + 16-byte code identity (codeid.h) */
    uint8_t codeid_len;              /* 0: the key uses the object's identity (or none) */
};

union cm_fn_slot {
    struct cm_fn fn;
    char pad[CM_FN_SIZE];
};

extern union cm_fn_slot cm_fns[CM_MAX_VARIANTS];
extern uint32_t cm_nfns; /* variants bound so far (atomic) */
extern int cm_tier_memory; /* the memory tier is in use ([cache] tiers) */

#endif
