/*
 * kc_store_int.h - what kc_store.c (open, reads, access times, sweep) and kc_store_write.c
 * (group-committed puts and deletes) share: the store's struct and the helpers that change
 * entries inside a write transaction (kc_entry.c). Private to the three files.
 *
 * What it does not do: no public API (kc_store.h is that).
 */
#ifndef KC_STORE_INT_H
#define KC_STORE_INT_H

#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_store.h"

#define KEY_MAX 255 /* longest store key (kc_proto's is 193) */

struct kc_store {
    struct kc_rstore *redis; /* --store redis://...: everything goes there (kc_store_redis.c) */
    MDB_env *env;
    MDB_dbi val, atime, lru, meta;
    uint64_t max_size, expire_ms;
    int lock_fd;
    struct kc_touch *touch;              /* reads not yet written to "atime" / "lru" */
    uint64_t evictions, expiries;        /* relaxed atomics */
    pthread_mutex_t wq_mu;               /* guards the write queue and the fields below */
    pthread_cond_t wq_cond;              /* the queue is not empty, or wq_stop */
    struct kc_write *wq_head, **wq_tail; /* writes waiting for the next batch */
    bool wq_stop;                        /* the writer thread drains the queue and ends */
    bool wq_running;                     /* the writer thread was started */
    pthread_t wq_thread;                 /* the writer */
    uint64_t batches;                    /* batches committed (stats) */
    bool disk_low;                       /* writer: the filesystem is nearly full (logged) */
    bool disk_full;                      /* writer: a commit found it full (logged) */
    char dir[PATH_MAX];                  /* the store directory, for messages */
    uint64_t id;                         /* tells this store's cached read txns apart */
    pthread_mutex_t rt_mu;               /* guards rtxns */
    struct rtxn *rtxns;                  /* every thread's cached read transaction */
};

/* Milliseconds since the epoch (CLOCK_REALTIME: access times survive restarts). */
uint64_t kc_store_now_ms(void);
/* The store size kept in "meta" (0 when absent). 0 or -EIO. */
int kc_store_meta_bytes(struct kc_store *s, MDB_txn *txn, uint64_t *bytes);
int kc_store_set_meta_bytes(struct kc_store *s, MDB_txn *txn, uint64_t bytes);
/* Removes `key` from "val", "atime" and "lru"; *freed = key + value bytes. 0, -ENOENT or an
 * LMDB code. */
int kc_store_remove_entry(struct kc_store *s, MDB_txn *txn, const char *key, size_t klen,
                          uint64_t *freed);
/* Removes entries oldest first while *bytes > limit (or, when older_than != 0, while the
 * oldest is older than it), at most `max`; adds them to *n and lowers *bytes. */
int kc_store_remove_oldest(struct kc_store *s, MDB_txn *txn, uint64_t *bytes, uint64_t limit,
                           uint64_t older_than, size_t max, uint64_t *n);
/* Sets `key`'s access time to `ms` when newer (creating it when `create`). */
int kc_store_set_atime(struct kc_store *s, MDB_txn *txn, const char *key, size_t klen, uint64_t ms,
                       bool create);
/* LMDB or negative errno -> 0, -ENOENT, -ENOSPC (store or map full), -EDQUOT (the
 * filesystem is full: ENOSPC or EDQUOT from a write), -ENOMEM or -EIO. */
int kc_store_map_error(int rc);
/* Evicts when the LMDB map is more than 3/4 used (kc_store_write.c). 0 or an LMDB code. */
int kc_store_check_map(struct kc_store *s);
/* Starts the writer thread (kc_store_write.c; kc_store_stop_writes stops it). */
int kc_store_writer_start(struct kc_store *s);

#endif
