/*
 * kc_store.h - the keycache's persistent store: values in LMDB, last-access times, expiry and
 * least-recently-used eviction under a size limit.
 *
 * What it does: get, put, delete of opaque values under "ns/key" store keys; durable puts (the
 * LMDB commit is synced before kc_store_put returns); reads are recorded in memory and written
 * to LMDB in batches (kc_store_flush); kc_store_sweep removes entries unused for `expire_ms`
 * and evicts the least recently used ones while the store is over `max_size`.
 *
 * What it does not do: no HTTP, no validation of keys (kc_proto does that). Its one thread is
 * the writer (group commit); the caller runs kc_store_flush/kc_store_sweep periodically
 * (keycache.c). All functions are thread-safe.
 */
#ifndef KC_STORE_H
#define KC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_store;

struct kc_store_opts {
    const char *dir;    /* the LMDB environment's directory (created 0700 with its parents) */
    uint64_t max_size;  /* store size limit: sum over entries of key + value bytes */
    uint64_t max_value; /* largest value accepted (sizes the map) */
    uint64_t expire_ms; /* remove entries not read nor written for this long; 0 = never */
    uint64_t map_size;  /* LMDB map size; 0 = 8 x max_size + 4 x max_value + 64 MiB */
    /* NULL or "": the LMDB store in `dir`. Else a redis:// or redis+cluster:// URL: every call
     * below goes to the Redis store (kc_store_redis.c; dir, max_size and map_size unused). */
    const char *redis_url;
    /* Called (from a reading thread, quickly, may be NULL) when enough reads are pending that
     * kc_store_flush should run now rather than at its next tick. */
    void (*flush_hint)(void *ctx);
    void *flush_hint_ctx;
};

/* Opens (creating when needed) the store. Returns 0 and *out, or -1 with a message in `err`
 * (directory not creatable, used by another keycache server, not an LMDB store, ...). */
int kc_store_open(const struct kc_store_opts *o, struct kc_store **out, char *err, size_t errsz);
/* Flushes pending access times and closes. `s` may be NULL. */
void kc_store_close(struct kc_store *s);

/*
 * Looks `key` (`klen` bytes) up. On a hit sets *len to the value's length, calls `copy` (when
 * not NULL) with the value while it is valid (inside a read transaction: copy it, do not keep
 * the pointer), records the access and returns `copy`'s result (0 when `copy` is NULL).
 * Returns -ENOENT on a miss (`copy` not called) or -EIO on a store error.
 */
int kc_store_get(struct kc_store *s, const char *key, size_t klen, size_t *len,
                 int (*copy)(void *ctx, const void *val, size_t len), void *ctx);

/*
 * Stores `len` bytes under `key`, durably (synced commit), evicting least recently used entries
 * first when the store would go over max_size. *replaced tells whether an entry was replaced.
 * Returns 0, -ENOSPC when it does not fit even after eviction (or the map is full), -EDQUOT
 * when the store's filesystem is full (even after evicting for room), -EIO.
 */
int kc_store_put(struct kc_store *s, const char *key, size_t klen, const void *val, size_t len,
                 bool *replaced);

/* Deletes `key`, durably. Returns 0, -ENOENT when absent, -EIO. */
int kc_store_delete(struct kc_store *s, const char *key, size_t klen);

/*
 * The same without waiting: a put (val != NULL) or a delete (val == NULL) for the store's
 * writer thread, which group-commits it with the others queued and then calls done(w) (on the
 * writer thread; w->rc and w->replaced are set as kc_store_put / kc_store_delete would return
 * them). The caller fills key, klen, val, len, done and ctx and keeps `w` and the bytes it
 * points to alive until done is called. Returns 0 when queued, or a negative errno at once
 * (done is then not called): -EINVAL bad key, -ENOSPC value larger than the store.
 */
struct kc_write {
    const char *key;
    size_t klen;
    const void *val; /* NULL = delete */
    size_t len;
    void (*done)(struct kc_write *w);
    void *ctx;
    int rc;        /* out */
    bool replaced; /* out: a put replaced an entry */
    /* private to kc_store */
    bool retry;
    struct kc_write *next;
};
int kc_store_write(struct kc_store *s, struct kc_write *w);

/* Commits the queued writes (their done is called) and stops the writer thread; later writes
 * are refused (-ESHUTDOWN). Idempotent; kc_store_close does it too. */
void kc_store_stop_writes(struct kc_store *s);

/* Writes the access times recorded since the last flush (one transaction). Returns 0, -EDQUOT
 * (the filesystem is full), or another negative errno (kc_store_map_error). */
int kc_store_flush(struct kc_store *s);

/* Flushes access times, removes entries older than expire_ms (relative to now) and evicts while
 * over max_size. Returns 0 or -EIO. */
int kc_store_sweep(struct kc_store *s);

struct kc_store_stats {
    uint64_t entries, bytes, max_bytes; /* current, from the store */
    uint64_t evictions, expiries;       /* since this process opened the store */
    uint64_t touches_dropped;           /* access times not recorded (pending table full) */
    uint64_t write_batches;             /* group commits (each holds one or more writes) */
};
void kc_store_stats(struct kc_store *s, struct kc_store_stats *st);

#endif
