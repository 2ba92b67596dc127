/*
 * tier.h - the interface of shim/tier/: the cache tiers as the dispatcher sees them. The
 * process's memory tier (memtier.c), the shared tier over the segment (shared.c: full keys,
 * single-flight policy, live statistics) and the remote tier's shim side (remote_tier.c: loads
 * libcloudm-remote.so and forwards to it).
 *
 * What it does not do: no segment format (shim/seg/), no network (shim/remote/). tier/
 * includes seg/, remote/'s cm_remote.h and base/.
 */
#ifndef CM_TIER_H
#define CM_TIER_H

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#include "cm_config.h"
#include "remote/cm_remote.h"
#include "base/base.h"
#include "seg/seg.h"

/* ---- memtier: the per-process memory tier (see memtier.c for the design).
 *
 * The slot layout and the lookup for inline entries live here, as static inline functions, so
 * the dispatcher's hit path compiles into one function with no call.
 */
/* ThreadSanitizer does not model fences: under it, every access is sequentially consistent
 * instead, which is stronger than the protocol needs and keeps it checkable. */
#ifdef __SANITIZE_THREAD__
#define MO_DATA __ATOMIC_SEQ_CST
#define FENCE(order) ((void)0)
#else
#define MO_DATA __ATOMIC_RELAXED
#define FENCE(order) __atomic_thread_fence(order)
#endif

#define INLINE_MAX 40u /* bytes of key (padded to words) + value stored inside a slot */

struct cm_slot {
    uint32_t seq; /* seqlock: odd while being written */
    uint32_t fn;  /* variant id + 1; 0 = empty */
    uint64_t hash;
    uint32_t klen; /* bit 31: entry lives in the ring */
    uint32_t vlen;
    union {
        uint64_t w[5]; /* inline: key words (zero-padded), then value */
        struct {
            uint64_t pos; /* ring position of the entry */
            uint64_t total;
        } r;
    } u;
};
_Static_assert(sizeof(struct cm_slot) == 64, "slot must be one cache line");

/* The index lookups probe: a one-set stand-in (always in cache, never faulting) until the tier
 * stores its first entry, then the real index (memtier.c, "Empty tier"). */
extern struct cm_slot *cm_mem_slots __attribute__((visibility("hidden")));
extern unsigned cm_mem_shift __attribute__((visibility("hidden")));

/* The two-way set of a hash: its high bits (the hashes below mix upwards). The shift is loaded
 * first (acquire; published last): a new shift always comes with the new index, and the old
 * shift (63) picks set 0 of either. cm_mem_set_at: with a shift the caller loaded so (63: the
 * empty tier's stand-in, no real index has it). */
static inline struct cm_slot *cm_mem_set_at(uint64_t h, unsigned shift)
{
    return &__atomic_load_n(&cm_mem_slots, __ATOMIC_RELAXED)[(h >> shift) & ~(uint64_t)1];
}

static inline struct cm_slot *cm_mem_set(uint64_t h)
{
    return cm_mem_set_at(h, __atomic_load_n(&cm_mem_shift, __ATOMIC_ACQUIRE));
}

/* Index hash of a key made of words (the fast path's keys, and short canonical keys padded to
 * words): one multiply per word, the high bits of which pick the set. Hits always compare the
 * full key, so the hash only spreads keys, it never identifies them. */
static inline uint64_t cm_hash_words(const uint64_t *w, uint32_t nwords, uint64_t seed)
{
    uint64_t h = seed;
    for (uint32_t i = 0; i < nwords; i++)
        h = (((h << 32) | (h >> 32)) ^ w[i]) * 0x9E3779B97F4A7C15ull;
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

/*
 * Word entries (the dispatcher's scalar fast path) use their own inline layout: the value in the
 * first words of the slot, the key's n words in the last n, so for each key length the
 * comparison and the copy of the value are straight-line code.
 */
/* Probe one slot for a key of exactly n words (n a compile-time constant: the dispatcher
 * instantiates it per key length), held in kw[5-n .. 4]. Copies the value words into vw and
 * returns the value length, or -1. No lock, no call, no system call. */
static inline __attribute__((always_inline)) long cm_mem_slot_get_n(struct cm_slot *s, uint32_t fn1,
                                                                    uint64_t h, const uint64_t *kw,
                                                                    const int n, uint64_t *vw)
{
    uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    if ((seq & 1) || __atomic_load_n(&s->fn, MO_DATA) != fn1 ||
        __atomic_load_n(&s->hash, MO_DATA) != h ||
        __atomic_load_n(&s->klen, MO_DATA) != 8u * (uint32_t)n)
        return -1;
    uint32_t vlen = __atomic_load_n(&s->vlen, MO_DATA);
    uint64_t diff = 0;
    for (int i = 5 - n; i < 5; i++)
        diff |= __atomic_load_n(&s->u.w[i], MO_DATA) ^ kw[i];
    vw[0] = __atomic_load_n(&s->u.w[0], MO_DATA);
    if (vlen > 8) /* most values are one return register: copy the rest only when present */
        for (int i = 1; i < 5 - n; i++)
            vw[i] = __atomic_load_n(&s->u.w[i], MO_DATA);
    FENCE(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->seq, MO_DATA) != seq || diff)
        return -1;
    return vlen;
}

/* Store a word entry: the key in the words of `probe` whose `kmask` is non-zero (the last
 * klen / 8 words), the value in the first words of vw (vlen <= 40 - klen). */
int cm_mem_put_words(uint32_t fn, uint64_t h, const uint64_t *probe, const uint64_t *kmask,
                     uint32_t klen, const uint64_t *vw, uint32_t vlen);

/* Reserve `size` bytes (memory_size). Returns 0, or -1 (then every get misses, every put fails). */
int cm_mem_init(uint64_t size);

/*
 * Commit the index's pages ahead of use (MADV_POPULATE_WRITE; an atomic add of 0 per page where
 * the kernel lacks it), at most `budget` bytes per call from *cursor (0 to start). Never changes
 * a byte, so it is safe while other threads read and write slots. For a background thread: a
 * page first read then written costs two faults on the hit path otherwise. Returns 1 while more
 * remains, 0 when done (or there is no tier), -errno on failure.
 */
int cm_mem_prefault(uint64_t *cursor, uint64_t budget);

/* Map every page of the index not yet written to the shared zero page (MADV_POPULATE_READ, one
 * system call, about 0.5 ms for the default 16 MiB index, no memory used): a lookup then never
 * takes a page fault to find a page empty. Called once per process by the shared tier when
 * the process turns out to read many entries from the segment (shared.c). Returns 1 when it
 * did, 0 while the tier is empty (lookups probe the stand-in: nothing to map yet). */
int cm_mem_map_index(void);

/* Largest entry (header + key + value) the ring accepts. */
uint64_t cm_mem_max_entry(void);

/*
 * Find (fn, key) and copy its value into v. `scratch` (8-byte aligned, scap bytes) receives the
 * raw entry for ring entries. Returns the value length, -1 on a miss, or -2 when v or scratch is
 * too small: *need is then the size that both must have for a retry.
 */
long cm_mem_get(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, uint8_t *v, uint32_t vcap,
                uint8_t *scratch, uint32_t scap, uint32_t *need);

/*
 * Checksumming while copying: a large value is verified in the same pass that copies it to the
 * caller (each chunk is hashed, then copied while it is still in L1: cm_xxh3_copy), so a hit
 * reads the value once. The hash runs over [from, end) of the source in order. The source must
 * not change while it is copied, or the change must be detected afterwards (cm_mem_view_ok).
 * cm_hcopy_finish() says whether the digest is `want`; if not, the destinations hold garbage and
 * the caller must run the original.
 */
struct cm_hcopy {
    struct cm_xxh3_state st; /* XXH3 with the CPU's widest vector code (seg.h) */
    const uint8_t *done;     /* source bytes before this are hashed */
    const uint8_t *end;
    uint64_t want;
};
void cm_hcopy_start(struct cm_hcopy *c, const uint8_t *from, const uint8_t *end, uint64_t seed,
                    uint64_t want);
void cm_hcopy_copy(void *ctx, void *dst, const uint8_t *src, size_t n); /* restore's copier */
int cm_hcopy_finish(struct cm_hcopy *c);                                /* 1: the digest matched */

/* A large memory-tier value where it lies in the ring (see cm_mem_view). */
struct cm_memview {
    const uint8_t *v; /* the value */
    uint32_t vlen;
    const uint8_t *kv; /* key and value: what the checksum covers */
    uint64_t seed, csum, pos;
};

/*
 * A large value without copying it: find (fn, key) among ring entries, check header and key
 * where they lie and fill mv. The caller restores from mv->v through a cm_hcopy over
 * [mv->kv, mv->v + vlen) with mv->seed and mv->csum, then asks cm_mem_view_ok(mv->pos): only if
 * the digest matched and that returns 1 were the bytes it copied right and stable; if not, what
 * it wrote is garbage and the call must run the original (so the caller must not use a view when
 * an output is also an input: inout). Returns the value length or -1.
 */
long cm_mem_view(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, struct cm_memview *mv);
int cm_mem_view_ok(uint64_t pos);

/* Store (fn, key) -> value; best effort (returns -1 when not stored: slot busy, too big).
 * `scratch` (8-byte aligned) must hold header + key + value + 8. */
int cm_mem_put(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, const uint8_t *v,
               uint32_t vlen, uint8_t *scratch, uint32_t scap);

/* ---- shared: the shared tier as the dispatcher sees it: full keys, lookups, stores,
 * single-flight and live statistics on top of the segment (seg.h).
 */
extern struct cm_seg *cm_shared_seg __attribute__((visibility("hidden"))); /* NULL: off */

/* Open the segment named by the config (one message and no tier on any failure). */
void cm_shared_init(const struct cm_config *cfg);

/* Register a new variant's statistics slot (called by bind). */
void cm_shared_bind(struct cm_fn *fn);

/* The full key of a call: the 16-byte digest of the identity prefix ‖ canonical argument bytes,
 * and its XXH3-128. */
struct cm_fullkey {
    const uint8_t *k; /* ident || canonical argument bytes (what the remote tier keys by) */
    uint32_t len;
    uint8_t h[16];     /* XXH3-128 of the shared tier's key bytes */
    uint8_t sensitive; /* the shared tier's key bytes are sk, a keyed digest of k */
    uint8_t sk[32];
};

/* Build fk from the argument bytes; `buf` (cap bytes) is used when it is large enough, else a
 * per-thread scratch buffer. Returns 0 or -1. */
int cm_shared_key(const struct cm_fn *fn, const uint8_t *args, uint32_t alen, uint8_t *buf,
                  uint32_t cap, struct cm_fullkey *fk);

/* Look up; on success view->v points to the value: a per-thread copy (small values, and every
 * value of a sensitive function, decrypted), or a verified read-only mapping of a blob file.
 * Release with cm_seg_view_done(view). Returns its length or -1. */
long cm_shared_get(const struct cm_fullkey *fk, struct cm_seg_view *view, int defer);
/* The scalar fast path's lookup (dispatch.c; fn->fast_sh): the key is fn's identity and the
 * words kw[5 - fast_n .. 4] (masked to their declared widths) at those widths, the bytes
 * cm_shared_key would build from the same call. On a hit the value (at most 40 bytes, verified
 * like every hit) goes to vw and the key's digest to h (for cm_shared_fill_wanted). Returns its
 * length or a negative number (a miss, or a value that does not fit), CM_SHARED_QUARANTINED for
 * a hit on a function the segment has quarantined (not served: the caller quarantines it here
 * too). No system call. */
#define CM_SHARED_QUARANTINED CM_SEG_QUARANTINED
long cm_shared_get_words(const struct cm_fn *fn, const uint64_t kw[5], uint64_t vw[5],
                         uint8_t h[16]);
/* defer: a blob's checksum is not verified by the lookup (view->unverified): the caller verifies
 * it with a cm_hcopy while restoring (never for a sensitive function: it is decrypted). */

/* Values at least this large are not copied into the memory tier when the shared tier answers
 * (a blob hit is already one copy from the mapping; filling would fault in as many pages). */
#define CM_SHARED_NOFILL (256u << 10)

/* 1 when a shared hit on the key of digest h should fill the memory tier: on the second shared hit
 * of the same key in this thread (a per-thread filter of 1024 recent keys), not the first. A fresh
 * process reading many keys once (the cross-run case) then pays no page fault of the memory tier;
 * keys it reads again move to the memory tier on their second hit. */
#define CM_SEEN_SLOTS 1024u
static inline int cm_shared_fill_wanted(const uint8_t h[16])
{
    uint64_t *seen = (uint64_t *)cm_tls_scratch(CM_SCRATCH_SEEN, CM_SEEN_SLOTS * sizeof(uint64_t));
    uint64_t h0, h1;
    if (!seen)
        return 1;
    memcpy(&h0, h, 8);
    memcpy(&h1, h + 8, 8);
    h1 |= 1; /* 0 = an empty filter slot */
    uint64_t *slot = &seen[h0 & (CM_SEEN_SLOTS - 1)];
    if (*slot == h1)
        return 1;
    *slot = h1;
    return 0;
}

void cm_shared_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen);

/*
 * Single-flight around computing fk. Returns CM_FLIGHT_COMPUTE_DONE (the caller computes, then
 * calls cm_shared_flight_end(ticket)), CM_FLIGHT_COMPUTE (compute, nothing to release) or
 * CM_FLIGHT_LOOK_AGAIN (another process finished computing: look the entry up again).
 */
enum { CM_FLIGHT_COMPUTE = 0, CM_FLIGHT_COMPUTE_DONE = 1, CM_FLIGHT_LOOK_AGAIN = 2 };
int cm_shared_flight_begin(struct cm_fn *fn, const struct cm_fullkey *fk, uint32_t *ticket,
                           const void *frame);
/* `frame`: the call's depth on the stack (where its stack arguments start, cm_frame.stack):
 * claims of this thread's calls whose depth is at or below it were abandoned (longjmp,
 * exception) and are released first. */
void cm_shared_flight_end(uint32_t ticket);

/* The process's credentials changed (setuid family, setgroups): withdraw the old identity's
 * segment (no thread can reach it afterwards) and open the new identity's, if allowed. */
void cm_shared_identity_changed(void);

/* The process is about to sandbox itself (CM_SANDBOX_FILTER or CM_SANDBOX_STRICT, base.h):
 * records it (no single-flight waits from now on); under strict mode the shared tier and the
 * TSC are turned off too. Never undone. (The remote tier is the caller's to turn off.) */
void cm_shared_sandbox(int level);

/* Record a miss's duration (for singleflight = auto and the wait bound). */
void cm_shared_note_miss(struct cm_fn *fn, uint64_t ns);

/* Mean duration of a miss of this function over every process that pushed statistics to the
 * segment (0 when unknown): what a hit saved, for a process that never ran the function. */
uint64_t cm_shared_mean_miss_ns(const struct cm_fn *fn);

/* Push this process's counters to the segment: at most once a second from slow paths, and at
 * exit. `when`: CM_FLUSH_HIT on every 8th shared or remote hit of a thread (callers use
 * cm_shared_flush_hit, which counts them), CM_FLUSH_MISS after a miss (every time: a miss ran
 * the function anyway), CM_FLUSH_EXIT (push now). HIT and MISS read the clock, and push when
 * the last push is a second old. */
enum { CM_FLUSH_HIT = 0, CM_FLUSH_EXIT = 1, CM_FLUSH_MISS = 2 };
void cm_shared_flush_stats(int when);

/* cm_shared_flush_stats(CM_FLUSH_HIT), with its count of the thread's hits inline: the call
 * (and the clock) only every 8th. */
extern __thread unsigned cm_shared_hit_events __attribute__((tls_model("initial-exec")));
static inline void cm_shared_flush_hit(void)
{
    if (__builtin_expect((++cm_shared_hit_events & 7) == 0, 0))
        cm_shared_flush_stats(CM_FLUSH_HIT);
}

/* Profile mode: note the digest of a distinct call of this process in the segment's profile
 * table. 1: an earlier run (another process) made it; 0: new; -1: unknown (no segment, or its
 * slots are full). */
int cm_shared_prof_note(uint64_t h);

/* The same from the memory tier's hit path (every 64th hit of a thread and function): at most
 * once a second, and never counted as shared-tier activity (prefault). */
void cm_shared_stats_tick(void);

/* ---- crypto: libcloudm-crypto.so (SHA-256 for remote keys, sealing for sensitive functions)
 * and the per-user key of sensitive functions (docs/security.md).
 */
extern const struct cm_crypto_api *cm_crypto; /* NULL: not loaded */

/* Load the crypto library when the config needs it (a remote tier, or a sensitive function), and
 * the per-user key when some function is sensitive. One message on any failure. */
void cm_crypto_init(const struct cm_config *cfg);

/* Non-zero once the per-user key is loaded: sensitive functions can use the shared tier. */
int cm_sens_ready(void);

/* Keyed digest (HMAC-SHA256 under the per-user key) of a sensitive call's canonical key. */
void cm_sens_digest(const uint8_t *k, uint32_t klen, uint8_t out[32]);

/* Seal v under the per-user key, bound to the keyed digest `sk`: out receives vlen +
 * CM_SEAL_OVERHEAD bytes. 0 or -1. */
int cm_sens_seal(const uint8_t sk[32], const uint8_t *v, uint32_t vlen, uint8_t *out);

/* Open a sealed value into out (n - CM_SEAL_OVERHEAD bytes). 0, or -1 (forged, corrupt, other
 * key). */
int cm_sens_open(const uint8_t sk[32], const uint8_t *in, uint32_t n, uint8_t *out);

/* Path of the per-user key file (for `cloudm check` and the docs). 0 or -1. */
int cm_sens_key_path(char *buf, size_t n);

/* ---- remote_tier: the remote tier as the dispatcher sees it: load the plugin, look up, store,
 * and the process's remote counters.
 *
 * The remote client itself (keys, envelope, encryption, HTTP, breaker, writer) is the plugin
 * libcloudm-remote.so (shim/remote/, interface shim/remote/cm_remote.h), loaded only when
 * `[cache] remote` is set.
 */
/* Non-zero when the tier is up and may be read / written (remote_mode applied). */
extern int cm_remote_reads __attribute__((visibility("hidden")));
extern int cm_remote_writes __attribute__((visibility("hidden")));

/* Load and open the plugin named by the config (one message and no tier on any failure). */
void cm_remote_init(const struct cm_config *cfg);

extern uint64_t cm_remote_max_value; /* remote_max_value: larger values are never sent */

/* Non-zero when the remote tier encrypts values (secret_file): sensitive functions may use it. */
int cm_remote_has_secret(void);

/* Look fk up; on a hit *v points to a per-thread buffer. Returns its length or -1. */
long cm_remote_get(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t **v);

/* Queue a store (never blocks). */
void cm_remote_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen);

/* The plugin's counters (all zero when the tier is off). Returns 1 when the tier is on. */
int cm_remote_counters(struct cm_remote_counters *c, const char **url);

/* At exit: flush the write queue (flush_timeout), then add this process's remote counters to
 * the shared segment's (for `cloudm stats`). */
void cm_remote_fini(void);

/* In a fork child: its report counts its own remote lookups and stores, not the parent's. */
void cm_remote_after_fork(void);

#endif
