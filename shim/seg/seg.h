/*
 * seg.h - the machine-wide shared-memory segment: a crash-safe cache shared by every process of
 * one user, plus live per-function statistics. Used by libcloudm.so (the shared tier) and by
 * the `cloudm stats` / `cloudm clear` commands (the same module reads what it writes).
 *
 * What it does: opens or creates the segment file (mode 0600; refuses one owned by another user
 * or writable by group/others; replaces a segment of another format or size atomically unless
 * live processes still use it), looks entries up without taking any lock, stores entries,
 * evicts when full, coordinates single-flight between processes, and keeps per-function
 * counters that any process can read.
 *
 * What it does not do: decide what is cached or build keys (the shim), print anything (errors
 * come back as codes plus a one-line message in a caller buffer), touch the host's errno
 * (every function preserves it).
 *
 * Keys are identified by the 128-bit XXH3 hash of the canonical key bytes; entries with values
 * of up to 24 bytes are matched on that digest alone (kept inline in the index, one cache line),
 * larger ones also compare the key bytes in full (docs/keys.md: collision probability). Every entry
 * carries an XXH3 checksum over its header fields, key and value, verified on every read.
 */
#ifndef CM_SEG_H
#define CM_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "remote/cm_remote.h"

struct cm_seg; /* one process's mapping of a segment */

struct cm_seg_opts {
    const char *path;   /* file path, already expanded (no %u) */
    uint64_t size;      /* total bytes when creating (shared_size); ignored when opening */
    uint64_t max_entry; /* largest entry (key + value) accepted by cm_seg_put; entries above
                           the ring's limit (256 KiB or a quarter of the ring) are stored as
                           blob files in "<path>.blobs/" (0: 1 GiB) */
    uint64_t blob_size; /* bytes of blob files in all (0: 2 GiB); oldest removed first */
    int create;         /* 1: create (or replace an unused one of another format); 0: open an
                           existing segment only, read-write (the tools) */
};

/*
 * Open or create. Returns 0 and *out, or a negative code with a one-line reason in err:
 *   -EPERM   owned by another user, or writable by group or others (refused, never used)
 *   -EBUSY   another format or size, still mapped by live processes (left alone)
 *   -ENOENT  create == 0 and there is no segment
 *   -EINVAL  not a segment (bad magic) and create == 0
 *   other -errno from the system
 */
int cm_seg_open(const struct cm_seg_opts *o, struct cm_seg **out, char *err, size_t errlen);
void cm_seg_close(struct cm_seg *s);
/* Withdraw a mapping other threads may still be reading: its range becomes anonymous zero
 * memory (lookups running meanwhile miss, stores land nowhere) and the file is released. `s`
 * stays allocated and must not be used for anything else. */
void cm_seg_withdraw(struct cm_seg *s);

/*
 * Look up: copy the value of (h, key) into v. Returns the value length, -1 on a miss, -2 when
 * vcap is too small (*need set to the value length). Takes no lock, never blocks, makes no
 * system call; an entry that fails its checksum or was overwritten while being copied is a
 * miss (a bad checksum is counted and the entry dropped).
 */
long cm_seg_get(struct cm_seg *s, const uint8_t h[16], const uint8_t *key, uint32_t klen,
                uint8_t *v, uint32_t vcap, uint32_t *need);

/* Largest key + value cm_seg_put accepts (blob files included). */
uint64_t cm_seg_max_entry(const struct cm_seg *s);

/* A value as a lookup found it: copied into the caller's buffer, or mapped from a blob file. */
struct cm_seg_view {
    const uint8_t *v; /* the value */
    uint64_t len;
    void *map; /* blob mapping to release with cm_seg_view_done(), or NULL */
    size_t maplen;
    int kept;         /* with map: a handle of the kept mappings (seg_bmap.c); else unused */
    int defer_verify; /* in: a blob's checksum is left to the caller (one pass: copy + verify) */
    int unverified;   /* out: it was; the value's XXH3-64 with `seed` must equal `csum` */
    uint64_t seed, csum;
};

/*
 * Like cm_seg_get, but a value held in a blob file is not copied: view->v points into a
 * read-only mapping of the file, verified (length, key hash, checksum) before it is returned.
 * Inline values are copied into v as by cm_seg_get and view->v = v. Returns the value length,
 * -1 on a miss, -2 when vcap is too small for an inline value (*need set). Blob hits make
 * system calls (open, fstat, mmap, close); inline hits make none.
 */
long cm_seg_lookup(struct cm_seg *s, const uint8_t h[16], const uint8_t *key, uint32_t klen,
                   uint8_t *v, uint32_t vcap, uint32_t *need, struct cm_seg_view *view);
/* cm_seg_lookup for the scalar fast path (tier/shared.c): the digest as its two words (the
 * digest's bytes 0-7 and 8-15, little-endian), no view, room for 40 bytes (a larger value is a
 * miss), and a hit refused with CM_SEG_QUARANTINED while fn_ident is quarantined
 * (cm_seg_quarantined; the common case, nothing quarantined, is one load). Returns the value
 * length or a negative number. */
#define CM_SEG_QUARANTINED (-3)
long cm_seg_lookup_small(struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t fn_ident,
                         const uint8_t *key, uint32_t klen, uint64_t v[5]);
/* Release what cm_seg_lookup mapped (nothing for inline values). */
void cm_seg_view_done(struct cm_seg_view *view);

/* Store (best effort). `fn_ident` tags the entry with its function (for `cloudm clear
 * --function`). Returns 0, -E2BIG over max_entry, or another negative code when not stored. */
int cm_seg_put(struct cm_seg *s, const uint8_t h[16], uint64_t fn_ident, const uint8_t *key,
               uint32_t klen, const uint8_t *v, uint32_t vlen);

/*
 * Single-flight. cm_seg_flight_claim: 1 = the caller computes h (and must call
 * cm_seg_flight_done after storing, or on failure); 0 = some live process or thread already
 * computes it: call cm_seg_flight_wait. -1 = no slot free (compute without coordination).
 * cm_seg_flight_wait: returns 1 once the claim is released (look the entry up again), 0 when the
 * timeout passed or the claimer died (its claim is then broken: the caller may claim it).
 * The wait polls with back-off; it never waits on a lock a dead process can hold.
 */
int cm_seg_flight_claim(struct cm_seg *s, const uint8_t h[16], uint32_t *ticket);
void cm_seg_flight_done(struct cm_seg *s, uint32_t ticket);
int cm_seg_flight_wait(struct cm_seg *s, const uint8_t h[16], uint64_t timeout_ns);
/* After cm_seg_flight_claim returns 1, look the key up once more before computing: the previous
 * claimer may have stored it just before releasing. Single-flight is best effort (see
 * seg_flight.c): rarely, two claimers both win and compute the same value. */

/* Per-function statistics, in the segment, added with relaxed atomics. */
struct cm_seg_fnstat {
    uint64_t calls, hit_mem, hit_shared, hit_remote, misses, errors, miss_ns, saved_ns;
};

/* The stats slot of a function (same ident + name in any process = same slot); -1 if full. */
int cm_seg_fn_slot(struct cm_seg *s, uint64_t fn_ident, const char *name);
void cm_seg_fn_add(struct cm_seg *s, int slot, const struct cm_seg_fnstat *delta);

struct cm_seg_info {
    uint64_t size;          /* bytes of the segment */
    uint64_t data_size;     /* bytes available to entries */
    uint64_t used;          /* bytes held by live entries (approximate under concurrency) */
    uint64_t entries;       /* live entries (approximate) */
    uint64_t evictions;     /* entries evicted to make room */
    uint64_t csum_failures; /* entries that failed their checksum */
    uint64_t flight_waits;  /* single-flight waits, and waits that ended by takeover */
    uint64_t flight_takeovers;
    uint64_t allocated;  /* bytes of RAM or disk the segment file occupies (st_blocks) */
    uint64_t blob_files; /* blob files beside the segment, and their bytes */
    uint64_t blob_bytes;
    uint64_t blob_size; /* the blob budget */
    uint64_t blob_puts, blob_errors, blob_evictions, blob_bad;
    uint64_t ring_alloc;   /* ring bytes allocated so far (grows with the first lap) */
    uint64_t ring_nospace; /* ring stores dropped because the file system was full */
    uint64_t ring_max;     /* largest entry kept in the ring */
    uint64_t max_entry;    /* largest entry stored at all */
    uint64_t ix_slots;     /* index slots in use (the index grows by doubling) */
    uint64_t ix_max;       /* index slots it may grow to */
    uint64_t ix_nospace;   /* index growths refused because the file system was full */
};
void cm_seg_get_info(struct cm_seg *s, struct cm_seg_info *info);

/* Calls cb for every function slot in use. */
void cm_seg_fn_foreach(struct cm_seg *s,
                       void (*cb)(void *ctx, const char *name, uint64_t fn_ident,
                                  const struct cm_seg_fnstat *st),
                       void *ctx);

/* Drop every entry (name == NULL) or those of the functions called `name`, safely while other
 * processes use the segment. Returns the number of entries dropped. */
long cm_seg_clear(struct cm_seg *s, const char *name);

/* Where the index (the part in use) and the entry ring lie in the file (byte offsets and
 * lengths), for tests and diagnostics. */
void cm_seg_regions(struct cm_seg *s, uint64_t *index_off, uint64_t *index_len, uint64_t *ring_off,
                    uint64_t *ring_len);

/* ---- seg_prof: the profile table (cloudm profile across runs). Only key digests are kept.
 * Note the 64-bit digest h of a distinct call made by profiling run `run` (nonzero). Returns 1
 * when an earlier run recorded the same call, 0 when it is new (now recorded) or this run's own,
 * -1 when it could not be recorded (its slots are full). Lock-free; never blocks. */
int cm_seg_prof_note(struct cm_seg *s, uint64_t h, uint16_t run);

/* Forget every recorded call (`cloudm profile --reset`); returns how many were recorded. */
uint64_t cm_seg_prof_reset(struct cm_seg *s);

/* ---- seg_quar: functions quarantined by `verify` (a re-checked hit differed), so that every
 * process stops serving them until `cloudm clear --function NAME`. Keyed by the same fn_ident
 * as the statistics slots; at most 63 functions at once (more are quarantined per process
 * only). */
/* Mark fn_ident quarantined. Returns 0, or -ENOSPC when the table is full. */
int cm_seg_quarantine(struct cm_seg *s, uint64_t fn_ident);
/* 1 when fn_ident is quarantined. No lock, no system call. */
int cm_seg_quarantined(struct cm_seg *s, uint64_t fn_ident);
/* Lift the quarantine of every function called `name` (NULL: of all). Returns how many. */
int cm_seg_unquarantine(struct cm_seg *s, const char *name);

/* ---- seg_remote: the remote tier's live counters in the shared segment, for `cloudm stats`.
 */
/* Add one process's remote counters (relaxed atomics). */
void cm_seg_remote_add(struct cm_seg *s, const struct cm_remote_counters *c);

/* Read the totals over every process that added its counters. */
void cm_seg_remote_get(struct cm_seg *s, struct cm_remote_counters *c);

/* The host entered a sandbox (seccomp): from now on the segment opens no file (the ring stops
 * growing, blob values are neither written nor read: stores needing either are dropped, such
 * lookups miss). Entries already in the mapped ring keep working. */
void cm_seg_sandboxed(struct cm_seg *s);

/* ---- seg_hash: XXH3 of large buffers with the widest vector code the CPU runs (xxHash's own
 * code built for SSE2, AVX2 and AVX-512; the variant is chosen at the first call by cpuid: no
 * system call, no libc call, safe from a constructor). Each returns exactly what the xxHash
 * function named beside it returns, for every input. Below 241 bytes XXH3 uses no vector code:
 * the inline xxHash functions are as fast there and need no call. */
struct cm_h128 {
    uint64_t lo, hi; /* XXH128_hash_t's low64 and high64 */
};
struct cm_xxh3_state { /* an XXH3_state_t (checked in seg_hash_impl.h) */
    _Alignas(64) unsigned char opaque[576];
};
uint64_t cm_xxh3_64(const void *p, size_t n, uint64_t seed);            /* XXH3_64bits_withSeed */
struct cm_h128 cm_xxh3_128(const void *p, size_t n);                    /* XXH3_128bits */
void cm_xxh3_reset(struct cm_xxh3_state *st, uint64_t seed);            /* ..._reset_withSeed */
void cm_xxh3_update(struct cm_xxh3_state *st, const void *p, size_t n); /* XXH3_64bits_update */
uint64_t cm_xxh3_digest(const struct cm_xxh3_state *st);                /* XXH3_64bits_digest */
/* cm_xxh3_update(st, src, n) and memcpy(dst, src, n) in one pass (small chunks: each is hashed,
 * then copied while it is in L1), so a large value is read from memory once while it is checked
 * and copied. The source is read twice, so it must not change meanwhile: callers copy only from
 * values nothing rewrites (blob files), or check afterwards that nothing did (the memory tier's
 * ring: cm_mem_view_ok); otherwise the copy may differ from what was hashed. */
void cm_xxh3_copy(struct cm_xxh3_state *st, void *dst, const void *src, size_t n);
/* The variant in use: "avx512", "avx2" or "sse2". */
const char *cm_xxh3_impl(void);
/* Tests and benchmarks: use that variant ("auto": the widest again). 0, -ENOTSUP when this CPU
 * (or its kernel) cannot run it, -EINVAL for an unknown name. */
int cm_xxh3_force(const char *name);

#endif
