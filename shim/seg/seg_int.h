/*
 * seg_int.h - the shared segment's on-disk/in-memory layout and helpers shared by seg.c
 * (entries), seg_open.c (open/create/replace) and seg_flight.c (single-flight, function stats).
 *
 * What it does: pins the versioned layout (every struct has a _Static_assert on its size; the
 * format word mixes those sizes with SEG_VERSION), defines the process-local `struct cm_seg`
 * and the index-word encoding. What it does not do: any I/O. Not for use outside shim/seg*.c.
 *
 * The DESIGN of the segment is described in seg.c.
 */
#ifndef CM_SEG_INT_H
#define CM_SEG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "seg.h"

/* ThreadSanitizer does not model fences: under it every data access is sequentially consistent
 * instead (stronger than the protocol needs, and checkable). Same convention as memtier.h. */
#ifdef __SANITIZE_THREAD__
#define SEG_MO __ATOMIC_SEQ_CST
#define SEG_FENCE(order) ((void)0)
#else
#define SEG_MO __ATOMIC_RELAXED
#define SEG_FENCE(order) __atomic_thread_fence(order)
#endif

#define SEG_MAGIC 0x47534d44554f4c43ull /* "CLOUDMSG" little-endian */
#define SEG_VERSION 1u
#define SEG_HDR_BYTES                                                                              \
    4096u                         /* header region (struct seg_hdr + reserved: remote counters at  \
                                     256 (seg_remote.c), quarantine table in the last 512 bytes    \
                                     (seg_quar.c)) */
#define SEG_FLIGHT_SLOTS 256u     /* single-flight claim slots */
#define SEG_FLIGHT_PROBE 16u      /* slots probed per key */
#define SEG_FN_SLOTS 512u         /* per-function statistics slots */
#define SEG_FN_NAME 48u           /* bytes of a function name kept (47 + NUL) */
#define SEG_WAYS 8u               /* index words per 64-byte bucket */
#define SEG_MIN_SIZE (1ull << 20) /* 1 MiB */
#define SEG_MAX_SIZE (1ull << 36) /* 64 GiB: ring positions fit SEG_POS_BITS with margin */
#define SEG_POS_BITS 36u          /* index word: ring position / 8, modulo 2^36 (512 GiB) */
#define SEG_POS_MASK ((1ull << SEG_POS_BITS) - 1)

/* The header. Only `head` and the counters change after creation. */
struct seg_hdr {
    uint64_t sh_magic;
    uint64_t sh_format; /* SEG_FORMAT */
    uint32_t sh_version;
    uint32_t sh_pad0;
    uint64_t sh_size; /* bytes of the file */
    uint64_t sh_flight_off, sh_fn_off, sh_index_off, sh_buckets, sh_ring_off, sh_ring_size;
    uint64_t sh_pad1[6];
    /* cache line 2: the ring head, alone (every put CASes it) */
    uint64_t sh_head; /* monotonically increasing ring position of the next free byte */
    uint64_t sh_pad2[7];
    /* cache line 3: counters, relaxed atomics */
    uint64_t sh_evictions;
    uint64_t sh_csum_failures;
    uint64_t sh_flight_waits;
    uint64_t sh_flight_takeovers;
    uint64_t sh_puts;      /* entries published */
    uint64_t sh_put_drops; /* puts not published (bucket contended) */
    uint64_t sh_lapped;    /* writers that found their entry overwritten before publishing */
    uint64_t sh_pad3;
};
_Static_assert(sizeof(struct seg_hdr) == 256, "seg_hdr layout");
_Static_assert(offsetof(struct seg_hdr, sh_head) == 128, "sh_head on its own line");

/* One entry in the ring, 8-byte aligned, followed by the key (padded to 8) and the value (padded
 * to 8). Written before it is published; never modified after. */
struct seg_ent {
    uint64_t se_pos;       /* the entry's own ring position: a stale index word cannot alias it */
    uint64_t se_h0, se_h1; /* 128-bit key hash */
    uint64_t se_fn;        /* fn_ident (cloudm clear --function) */
    uint64_t se_csum;      /* see seg_csum() */
    uint32_t se_klen, se_vlen;
};
_Static_assert(sizeof(struct seg_ent) == 48, "seg_ent layout");

/* A single-flight claim: fs_word = (32-bit key tag << 32) | pid, 0 = free; set by one CAS. */
struct seg_flight {
    uint64_t fs_word;
    uint64_t fs_start_ns; /* CLOCK_MONOTONIC when claimed (written after the CAS; 0 = unknown) */
    uint32_t fs_tid;
    uint32_t fs_pad;
    uint64_t fs_pad2[5];
};
_Static_assert(sizeof(struct seg_flight) == 64, "seg_flight layout");

/* A function's statistics slot: fn_ident claimed by CAS, then the name, then fn_ready = 1. */
struct seg_fn {
    uint64_t sf_ident; /* 0 = free */
    uint64_t sf_ready; /* 1 once sf_name is complete */
    uint64_t sf_name[SEG_FN_NAME / 8];
    uint64_t sf_c[8]; /* struct cm_seg_fnstat, field by field */
};
_Static_assert(sizeof(struct seg_fn) == 128, "seg_fn layout");
_Static_assert(sizeof(struct cm_seg_fnstat) == 64, "cm_seg_fnstat is 8 counters");

#define SEG_FORMAT                                                                                 \
    (((uint64_t)SEG_VERSION << 56) ^ ((uint64_t)sizeof(struct seg_hdr) << 40) ^                    \
     ((uint64_t)sizeof(struct seg_ent) << 30) ^ ((uint64_t)sizeof(struct seg_fn) << 18) ^          \
     ((uint64_t)sizeof(struct seg_flight) << 8) ^ ((uint64_t)SEG_WAYS << 2) ^                      \
     ((uint64_t)SEG_FN_SLOTS << 20) ^ ((uint64_t)SEG_FLIGHT_SLOTS << 44) ^ SEG_POS_BITS)

/* One process's mapping. */
struct cm_seg {
    int fd; /* open while mapped: holds the shared flock that marks us a live user */
    uint8_t *base;
    uint64_t size;
    struct seg_hdr *hdr;
    struct seg_flight *flight;
    struct seg_fn *fns;
    uint64_t *index; /* buckets * SEG_WAYS words */
    uint64_t bmask;  /* buckets - 1 */
    uint8_t *ring;
    uint64_t ring_size; /* multiple of 64 */
    uint64_t max_entry; /* key + value bytes */
};

static inline uint64_t seg_align8(uint64_t x)
{
    return (x + 7) & ~(uint64_t)7;
}

/* Index tag: 28 high bits of the word, never 0 (so a used word is never 0). */
static inline uint64_t seg_tag(uint64_t h1)
{
    return (h1 >> 36) | 1;
}

static inline uint64_t seg_word(uint64_t tag, uint64_t pos)
{
    return (tag << SEG_POS_BITS) | ((pos >> 3) & SEG_POS_MASK);
}

/* The full position an index word names: the largest P <= head with the stored low bits. For a
 * live entry (head - P <= ring_size < 2^39) this is exact; for a stale word it may alias, which
 * the entry's se_pos check and checksum catch. */
static inline uint64_t seg_word_pos(uint64_t w, uint64_t head)
{
    uint64_t d = ((head >> 3) - (w & SEG_POS_MASK)) & SEG_POS_MASK;
    return (head & ~(uint64_t)7) - (d << 3);
}

static inline uint64_t seg_ent_total(uint64_t klen, uint64_t vlen)
{
    return seg_align8(sizeof(struct seg_ent) + seg_align8(klen) + vlen);
}

/* Computes the layout of a segment of `size` bytes into l (offsets, buckets, ring). Returns 0,
 * or -EINVAL when size is out of range. */
int cm_seg_layout(uint64_t size, struct seg_hdr *l);

#endif
