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
#include <sys/types.h>

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
#define SEG_VERSION                                                                                \
    4u /* 2: blob entries (SEG_BLOB_FLAG), the ring's file space grown on demand; 3: the profile   \
          table (sh_prof_off, sh_prof_slots); 4: the index is a growing table of 64-byte slots     \
          (seg_ix.c) with inline values */
#define SEG_HDR_BYTES                                                                              \
    4096u                     /* header region (struct seg_hdr + reserved: remote counters at      \
                                 256 (seg_remote.c), blob counters at 512 (seg_blob.c),            \
                                 quarantine table in the last 512 bytes (seg_quar.c)) */
#define SEG_FLIGHT_SLOTS 256u /* single-flight claim slots */
#define SEG_FLIGHT_PROBE 16u  /* slots probed per key */
#define SEG_FN_SLOTS 512u     /* per-function statistics slots */
#define SEG_FN_NAME 48u       /* bytes of a function name kept (47 + NUL) */
#define SEG_PROBE 32u /* index slots probed at most per key (a probe ends at a never-used slot) */
#define SEG_IX_INIT_LG 12u           /* the index starts with 2^12 slots (256 KiB) */
#define SEG_INLINE_MAX 24u           /* values up to this many bytes live in their index slot */
#define SEG_MIN_SIZE (1ull << 20)    /* 1 MiB */
#define SEG_MAX_SIZE (1ull << 36)    /* 64 GiB: ring positions fit SEG_POS_BITS with margin */
#define SEG_BLOB_FLAG 0x80000000u    /* se_klen: the value is a blob reference (seg_blob.c) */
#define SEG_BLOB_MIN (256u << 10)    /* entries above this (or a quarter of the ring) go to blobs */
#define SEG_BLOB_REF 32u             /* bytes of a blob reference: magic, length, checksum, id */
#define SEG_VALUE_MAX (1ull << 30)   /* largest value the segment holds (in a blob file) */
#define SEG_ALLOC_CHUNK (2ull << 20) /* the ring's file space is allocated ahead by this much */
#define SEG_RING_FIRST (1ull << 20)  /* ring bytes allocated at creation */
#define SEG_PROF_DIV 1024u           /* profile table slots: one per KiB of segment (0.8 %) */
#define SEG_PROF_MIN 1024u
#define SEG_PROF_PROBE 16u    /* slots probed per key digest */
#define SEG_PROF_RUN_BITS 16u /* low bits of a profile word: the run that recorded it */

/* The header. Only `head` and the counters change after creation. */
struct seg_hdr {
    uint64_t sh_magic;
    uint64_t sh_format; /* SEG_FORMAT */
    uint32_t sh_version;
    uint32_t sh_pad0;
    uint64_t sh_size; /* bytes of the file */
    uint64_t sh_flight_off, sh_fn_off, sh_index_off;
    uint64_t sh_slots; /* index slots reserved (a power of two); only 2^(sh_ix >> 56) are used */
    uint64_t sh_ring_off, sh_ring_size;
    uint64_t sh_ring_alloc; /* ring bytes allocated in the file (fallocate), grows by chunks up to
                               sh_ring_size as the ring's first lap advances (seg.c) */
    uint64_t sh_prof_off;   /* the profile table: sh_prof_slots words (seg_prof.c) */
    uint64_t sh_prof_slots; /* a power of two: size / SEG_PROF_DIV, at least SEG_PROF_MIN */
    uint64_t sh_ix; /* the index's size and growth: (lg << 56) | migration cursor (seg_ix.c);
                       changes only when the index grows, so this line stays read-mostly */
    uint64_t sh_pad1[2];
    /* cache line 2: the ring head, alone (every put CASes it) */
    uint64_t sh_head;    /* monotonically increasing ring position of the next free byte */
    uint64_t sh_ix_used; /* index slots holding an entry (approximate: a writer killed between
                            its store and its count skews it by one; clamped) */
    uint64_t sh_pad2[6];
    /* cache line 3: counters, relaxed atomics */
    uint64_t sh_evictions;
    uint64_t sh_csum_failures;
    uint64_t sh_flight_waits;
    uint64_t sh_flight_takeovers;
    uint64_t sh_puts;      /* entries published */
    uint64_t sh_put_drops; /* puts not published (bucket contended) */
    uint64_t sh_lapped;    /* writers that found their entry overwritten before publishing */
    uint64_t sh_clock;     /* index stores, for the age stamps of slots (seg_ix.c) */
};
_Static_assert(sizeof(struct seg_hdr) == 256, "seg_hdr layout");

/* Blob counters (seg_blob.c), relaxed atomics, in the header's reserved area (bytes 256..4095;
 * the remote counters of seg_remote.c take 256..335). */
#define SEG_BLOBCNT_OFF 512u
struct seg_blobcnt {
    uint64_t sb_puts;         /* blob files written and published */
    uint64_t sb_errors;       /* blob stores that failed (ENOSPC, I/O): never a SIGBUS */
    uint64_t sb_evictions;    /* blob files removed to stay within the blob budget */
    uint64_t sb_bad;          /* blob references whose file was missing or failed its checks */
    uint64_t sb_ring_nospace; /* ring stores dropped: the file system had no space to grow */
    uint64_t sb_ix_nospace;   /* index growths refused: the file system had no space */
    uint64_t sb_pad[2];
};
_Static_assert(SEG_BLOBCNT_OFF + sizeof(struct seg_blobcnt) <= SEG_HDR_BYTES, "blob counters");
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

/*
 * One index slot, one cache line (seg_ix.c). ss_ctl = seq (bits 0..31, odd while a writer owns
 * the slot) | kind (32..33) | inline value length (34..39) | age stamp (40..63); 0 = never used.
 * Inline: ss_aux is the checksum, ss_v the value (zero-padded). Ring: ss_aux is the entry's ring
 * position. Dead (a tombstone): probes go on past it, stores reuse it.
 */
struct seg_slot {
    uint64_t ss_ctl;
    uint64_t ss_h0, ss_h1; /* the 128-bit key digest */
    uint64_t ss_fn;        /* fn_ident */
    uint64_t ss_aux;
    uint64_t ss_v[3];
};
_Static_assert(sizeof(struct seg_slot) == 64, "seg_slot layout");
_Static_assert(SEG_INLINE_MAX <= sizeof(((struct seg_slot *)0)->ss_v), "inline values fit");
#define SEG_K_INLINE 1u
#define SEG_K_RING 2u
#define SEG_K_DEAD 3u
#define SEG_IX_CURSOR ((1ull << 56) - 1)

static inline unsigned seg_ctl_kind(uint64_t c)
{
    return (unsigned)(c >> 32) & 3u;
}

static inline uint64_t seg_ctl_make(uint32_t seq, unsigned kind, uint64_t vlen, uint64_t stamp)
{
    return seq | (uint64_t)kind << 32 | (vlen & 63) << 34 | (stamp & 0xffffff) << 40;
}

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
     ((uint64_t)sizeof(struct seg_flight) << 8) ^ ((uint64_t)SEG_PROBE << 2) ^                     \
     ((uint64_t)SEG_FN_SLOTS << 20) ^ ((uint64_t)SEG_FLIGHT_SLOTS << 44) ^                         \
     ((uint64_t)sizeof(struct seg_slot) << 12) ^ ((uint64_t)SEG_IX_INIT_LG << 26) ^                \
     ((uint64_t)SEG_INLINE_MAX << 52) ^ ((uint64_t)SEG_PROF_DIV << 48) ^                           \
     ((uint64_t)SEG_PROF_RUN_BITS << 36))

/* One process's mapping. */
struct cm_seg {
    uint8_t *base;
    uint64_t size;
    struct seg_hdr *hdr;
    struct seg_flight *flight;
    struct seg_fn *fns;
    struct seg_slot *slots; /* the index: sh_slots reserved, 2^(sh_ix >> 56) in use */
    unsigned ix_lg_min, ix_lg_max;
    uint32_t ix_grow_fail; /* growths refused (no space): retried every 256th time */
    uint64_t *prof;        /* profile table: prof_mask + 1 words */
    uint64_t prof_mask;
    uint8_t *ring;
    uint64_t ring_size; /* multiple of 64 */
    uint64_t max_entry; /* key + value bytes, blob values included */
    uint64_t ring_max;  /* largest entry kept in the ring; larger values go to blob files */
    uint64_t blob_size; /* budget of the blob directory, bytes */
    char blobdir[1024]; /* "<segment path>.blobs" */
    char path[1024];    /* the segment file, reopened only to grow the ring (seg_file) */
    dev_t dev;          /* the mapped inode: a reopened path must still name it */
    ino_t ino;
    int sandboxed; /* cm_seg_sandboxed: no file is opened any more (no growth, no blobs) */
};

/* A descriptor of the mapped segment file, opened by path for one operation (the mapping keeps
 * none): the caller closes it. -errno, or -ESTALE when the path names another file now. */
int seg_file(const struct cm_seg *s);

/* ---- seg_blob.c: values too large for the ring, one immutable file each. */
/* Write v into a new blob file and fill ref (SEG_BLOB_REF bytes). 0 or -errno. */
int seg_blob_write(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *v, uint64_t vlen,
                   uint8_t *ref);
/* Map and verify the blob a reference names: view->v then points into a private read-only
 * mapping of the (immutable) file. 0, or -1 (a miss: missing, replaced or corrupt). */
int seg_blob_map(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *ref,
                 struct cm_seg_view *view);
/* Remove every blob file; returns how many. */
long seg_blob_clear(struct cm_seg *s);
/* Files and bytes in the blob directory. */
void seg_blob_usage(struct cm_seg *s, uint64_t *files, uint64_t *bytes);

static inline struct seg_blobcnt *seg_blobcnt(const struct cm_seg *s)
{
    return (struct seg_blobcnt *)(s->base + SEG_BLOBCNT_OFF);
}

static inline uint64_t seg_align8(uint64_t x)
{
    return (x + 7) & ~(uint64_t)7;
}

static inline uint64_t seg_ent_total(uint64_t klen, uint64_t vlen)
{
    return seg_align8(sizeof(struct seg_ent) + seg_align8(klen) + vlen);
}

/* Intact (invariant R of seg.c) and fully reserved. */
static inline int seg_ent_live(const struct cm_seg *s, uint64_t pos, uint64_t head)
{
    return (pos & 7) == 0 && pos <= head && head - pos >= sizeof(struct seg_ent) &&
           head - pos <= s->ring_size; /* (pos & 7): a corrupt slot */
}

static inline struct seg_ent *seg_ent_at(const struct cm_seg *s, uint64_t pos)
{
    return (struct seg_ent *)(s->ring + pos % s->ring_size);
}

/* 1 when the ring entry at pos is still intact (the ring has not lapped it). */
static inline int seg_ring_live(const struct cm_seg *s, uint64_t pos)
{
    uint64_t head = __atomic_load_n(&s->hdr->sh_head, __ATOMIC_ACQUIRE);
    return seg_ent_live(s, pos, head) &&
           pos % s->ring_size + sizeof(struct seg_ent) <= s->ring_size;
}

/* ---- seg_ix.c: the index. */
/* How seg_ix_lookup probes a ring entry that a slot (control word c) names: seg.c's. */
typedef long (*seg_ring_probe_fn)(struct cm_seg *s, struct seg_slot *sl, uint64_t c, uint64_t pos,
                                  uint64_t h0, uint64_t h1, const uint8_t *key, uint32_t klen,
                                  uint8_t *v, uint32_t vcap, uint32_t *need,
                                  struct cm_seg_view *view);
/* Looks (h0, h1) up; returns as cm_seg_lookup. */
long seg_ix_lookup(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *key, uint32_t klen,
                   uint8_t *v, uint32_t vcap, uint32_t *need, struct cm_seg_view *view,
                   seg_ring_probe_fn probe);
/* seg_ix_lookup with no view and room for 40 bytes, and the quarantine check
 * (cm_seg_lookup_small). */
long seg_ix_lookup_small(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn_ident,
                         const uint8_t *key, uint32_t klen, uint64_t v[5], seg_ring_probe_fn probe);

/* ---- seg_quar.c: the quarantine table, in the header's reserved area. */
#define SEG_QUAR_N 64u                                /* words: a count, then idents */
#define SEG_QUAR_OFF (SEG_HDR_BYTES - 8 * SEG_QUAR_N) /* the last 512 bytes of the header */
/* How many functions the segment has quarantined (the table's word 0). */
static inline uint64_t seg_quar_count(const struct cm_seg *s)
{
    return __atomic_load_n((const uint64_t *)(s->base + SEG_QUAR_OFF), __ATOMIC_ACQUIRE);
}
/* Publishes an inline value (vlen <= SEG_INLINE_MAX) or a ring entry at `pos`. 0 or -errno. */
int seg_ix_put_inline(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, const uint8_t *v,
                      uint32_t vlen);
int seg_ix_put_ring(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn, uint64_t pos);
/* Turns the slot into a tombstone if its control word is still c. */
void seg_ix_drop(struct cm_seg *s, struct seg_slot *sl, uint64_t c);
/* Drops the entries of the functions in ids (all when nids == 0). Returns how many. */
long seg_ix_clear(struct cm_seg *s, const uint64_t *ids, unsigned nids);
/* Live entries and the bytes they hold (slots plus ring bytes); the slots in use. */
void seg_ix_usage(struct cm_seg *s, uint64_t *entries, uint64_t *used, uint64_t *slots);

/* ---- seg_open.c: allocates file bytes [off, off + len) of the segment (posix_fallocate
 * through seg_file). 0, or -errno (-EPERM when sandboxed). */
int seg_alloc(struct cm_seg *s, uint64_t off, uint64_t len);

/* Computes the layout of a segment of `size` bytes into l (offsets, buckets, ring). Returns 0,
 * or -EINVAL when size is out of range. */
int cm_seg_layout(uint64_t size, struct seg_hdr *l);

#endif
