/*
 * kc_store.c - the keycache store on LMDB (kc_store.h).
 *
 * What it does: keeps four LMDB databases in one environment and changes them together, each
 * operation inside one transaction (group commit puts several in one), so a crash at any
 * moment leaves them consistent:
 *   "val"   store key -> value bytes
 *   "atime" store key -> last access, u64 milliseconds since the epoch (native order)
 *   "lru"   big-endian u64 last access, then the store key -> empty: entries oldest first
 *   "meta"  "bytes" -> u64, the store size (sum over entries of key + value length)
 * Puts and deletes commit with LMDB's sync on (durable when they return). Reads never open a
 * write transaction: a hit records its key and time in an in-memory table, written to "atime"
 * and "lru" by kc_store_flush (the caller runs it every second or so).
 *
 * What it does not do: no HTTP, no key validation, no threads of its own.
 *
 * DESIGN
 * - LRU is exact up to the flush: entries are evicted in the order of their last recorded
 *   access; a read not yet flushed (at most one flush interval old) does not count yet. A crash
 *   loses the unflushed access times only (expiry then comes a little earlier).
 * - Pending access times live in kc_touch (bounded: when its table is full, further reads are
 *   not recorded until the next flush, counted in touches_dropped).
 * - A put first removes the old entry, then evicts from the head of "lru" until the new entry
 *   fits under max_size, then inserts, all in one transaction: the store never exceeds
 *   max_size. A value that cannot fit even in an empty store is -ENOSPC (507).
 * - Puts and deletes are group-committed by the writer thread: kc_store_write.c.
 * - The map is 8 x max_size + 4 x max_value + 64 MiB of address space (the file only grows as
 *   pages are used): LMDB's overhead (three copies of the key, page fill) can be several times
 *   the counted size for values of a few bytes. Should it still get more than 3/4 used, every
 *   batch and sweep evicts the least recently used 1/16 of the entries first
 *   (kc_store_write.c): LMDB needs free pages even to delete.
 * - One server per directory: an flock on DIR/keycache.lock, held while open.
 * - Reads use one read-only transaction per thread, reset after each read and renewed for the
 *   next (MDB_NOTLS; the store keeps a list of them, guarded by rt_mu, to abort at close). The
 *   map holds up to 1024 readers: more than enough for the worker threads.
 */
#include "kc_store.h"

#include "kc_store_int.h"
#include "kc_store_redis.h"
#include "kc_touch.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_BATCH 1024 /* deletions per sweep transaction */
#define MIB (1024ull * 1024)

/* A worker thread's read transaction, kept reset between reads and renewed for the next one
 * (cheaper than begin/abort: no allocation, the reader slot is kept). Registered in the store
 * so kc_store_close can abort those of threads that have exited. */
struct rtxn {
    MDB_txn *txn;
    struct rtxn *next;
};

static uint64_t next_store_id = 1; /* atomic */
static __thread uint64_t tl_store_id;
static __thread struct rtxn *tl_rtxn;



static int mkdirs(char *path)
{
    struct stat st;

    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;

        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *p = c;
            return -errno;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}


/* ---- open / close ------------------------------------------------------------------------- */

static int open_dbs(struct kc_store *s, char *err, size_t errsz)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t bytes = 0;
    MDB_val mk = {5, "bytes"};
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    rc = mdb_dbi_open(txn, "val", MDB_CREATE, &s->val);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "atime", MDB_CREATE, &s->atime);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "lru", MDB_CREATE, &s->lru);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc != 0)
        goto abort;
    rc = mdb_get(txn, s->meta, &mk, &v);
    if (rc == MDB_NOTFOUND) {
        /* A new store (or one from before "meta"): count it once. */
        rc = mdb_cursor_open(txn, s->val, &c);
        if (rc != 0)
            goto abort;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            bytes += k.mv_size + v.mv_size;
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND)
            goto abort;
        rc = kc_store_set_meta_bytes(s, txn, bytes);
        if (rc != 0)
            goto abort;
    } else if (rc != 0) {
        goto abort;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        goto fail;
    return 0;

abort:
    mdb_txn_abort(txn);
fail:
    snprintf(err, errsz, "cannot open the store: %s", mdb_strerror(rc));
    return -1;
}

int kc_store_open(const struct kc_store_opts *o, struct kc_store **out, char *err, size_t errsz)
{
    struct kc_store *s;
    char path[4096];
    uint64_t map;
    int rc, dead;

    if (o->redis_url != NULL && o->redis_url[0] != '\0') {
        if ((s = calloc(1, sizeof(*s))) == NULL) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        if (kc_rstore_open(o, &s->redis, err, errsz) != 0) {
            free(s);
            return -1;
        }
        *out = s;
        return 0;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    s->lock_fd = -1;
    s->max_size = o->max_size;
    s->expire_ms = o->expire_ms;
    s->wq_tail = &s->wq_head;
    pthread_mutex_init(&s->wq_mu, NULL);
    pthread_cond_init(&s->wq_cond, NULL);
    pthread_mutex_init(&s->rt_mu, NULL);
    s->id = __atomic_fetch_add(&next_store_id, 1, __ATOMIC_RELAXED);
    s->touch = kc_touch_new(o->flush_hint, o->flush_hint_ctx);
    if (s->touch == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (snprintf(path, sizeof(path), "%s", o->dir) >= (int)sizeof(path) - 32) {
        snprintf(err, errsz, "%s: path too long", o->dir);
        goto fail;
    }
    snprintf(s->dir, sizeof(s->dir), "%s", o->dir);
    rc = mkdirs(path);
    if (rc != 0) {
        snprintf(err, errsz, "%s: cannot create the directory: %s", o->dir, strerror(-rc));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/keycache.lock", o->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errsz, "%s: another keycache server uses this directory", o->dir);
        goto fail;
    }
    if (o->max_size > (1ull << 42) || o->max_value > (1ull << 40)) {
        snprintf(err, errsz, "store too large for this server (at most 4T)");
        goto fail;
    }
    map = o->map_size != 0 ? o->map_size : 8 * o->max_size + 4 * o->max_value + 64 * MIB;
    map = (map + 65535) & ~65535ull;
    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 4);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, 1024);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, (size_t)map);
    if (rc != 0) {
        snprintf(err, errsz, "cannot set up LMDB: %s", mdb_strerror(rc));
        goto fail;
    }
    /* Sync stays on: a put is on disk when kc_store_put returns. */
    rc = mdb_env_open(s->env, o->dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        snprintf(err, errsz, "%s: cannot open the store: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    mdb_reader_check(s->env, &dead); /* reader slots of a killed server */
    if (open_dbs(s, err, errsz) != 0)
        goto fail;
    if (kc_store_writer_start(s) != 0) {
        snprintf(err, errsz, "cannot start the writer thread");
        goto fail;
    }
    *out = s;
    return 0;

fail:
    kc_store_close(s);
    return -1;
}

void kc_store_close(struct kc_store *s)
{
    if (s == NULL)
        return;
    if (s->redis != NULL) {
        kc_rstore_close(s->redis);
        free(s);
        return;
    }
    kc_store_stop_writes(s);
    if (s->env != NULL) {
        kc_store_flush(s);
        for (struct rtxn *r = s->rtxns, *next; r != NULL; r = next) {
            next = r->next;
            mdb_txn_abort(r->txn);
            free(r);
        }
        mdb_env_close(s->env);
    }
    pthread_mutex_destroy(&s->rt_mu);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    kc_touch_free(s->touch);
    pthread_mutex_destroy(&s->wq_mu);
    pthread_cond_destroy(&s->wq_cond);
    free(s);
}

/* ---- access times ------------------------------------------------------------------------- */


struct flush_ctx {
    struct kc_store *s;
    MDB_txn *txn; /* begun on the first key */
};

static int flush_one(void *ctx, const char *key, size_t klen, uint64_t ms)
{
    struct flush_ctx *f = ctx;
    int rc;

    if (f->txn == NULL) {
        rc = mdb_txn_begin(f->s->env, NULL, 0, &f->txn);
        if (rc != 0) {
            f->txn = NULL;
            return rc;
        }
    }
    return kc_store_set_atime(f->s, f->txn, key, klen, ms, false);
}

int kc_store_flush(struct kc_store *s)
{
    struct flush_ctx f = {s, NULL};
    int rc;

    if (s->redis != NULL)
        return 0; /* Redis refreshes the TTL itself (GETEX) */

    rc = kc_touch_drain(s->touch, flush_one, &f);
    if (f.txn != NULL) {
        if (rc == 0)
            rc = mdb_txn_commit(f.txn);
        else
            mdb_txn_abort(f.txn);
    }
    return kc_store_map_error(rc);
}

/* This thread's read transaction on `s`, renewed; give it back with read_end(). */
static int read_begin(struct kc_store *s, MDB_txn **txn)
{
    struct rtxn *r;
    int rc;

    if (tl_store_id == s->id && tl_rtxn != NULL) {
        rc = mdb_txn_renew(tl_rtxn->txn);
        if (rc == 0)
            *txn = tl_rtxn->txn;
        return rc;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return rc;
    }
    pthread_mutex_lock(&s->rt_mu);
    r->next = s->rtxns;
    s->rtxns = r;
    pthread_mutex_unlock(&s->rt_mu);
    tl_store_id = s->id;
    tl_rtxn = r;
    *txn = r->txn;
    return 0;
}

static void read_end(MDB_txn *txn)
{
    mdb_txn_reset(txn);
}

int kc_store_get(struct kc_store *s, const char *key, size_t klen, size_t *len,
                 int (*copy)(void *ctx, const void *val, size_t len), void *ctx)
{
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key}, v;
    int rc;

    if (s->redis != NULL)
        return kc_rstore_get(s->redis, key, klen, len, copy, ctx);

    if (klen == 0 || klen > KEY_MAX)
        return -ENOENT;
    rc = read_begin(s, &txn);
    if (rc != 0)
        return -EIO;
    rc = mdb_get(txn, s->val, &k, &v);
    if (rc != 0) {
        read_end(txn);
        return rc == MDB_NOTFOUND ? -ENOENT : -EIO;
    }
    *len = v.mv_size;
    rc = copy != NULL ? copy(ctx, v.mv_data, v.mv_size) : 0;
    read_end(txn);
    if (rc == 0)
        kc_touch_record(s->touch, key, klen, kc_store_now_ms());
    return rc;
}

/* One batch of expiry (older_than != 0) or eviction; *more when the batch was full. */
static int sweep_batch(struct kc_store *s, uint64_t older_than, uint64_t *count, bool *more)
{
    MDB_txn *txn;
    uint64_t bytes, before, n = 0;
    int rc;

    *more = false;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return -EIO;
    rc = kc_store_meta_bytes(s, txn, &bytes);
    before = bytes;
    if (rc == 0)
        rc = kc_store_remove_oldest(s, txn, &bytes, s->max_size, older_than, SWEEP_BATCH, &n);
    if (rc == 0 && bytes != before)
        rc = kc_store_set_meta_bytes(s, txn, bytes);
    if (rc != 0 || n == 0) {
        mdb_txn_abort(txn);
        return rc == 0 ? 0 : -EIO;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return -EIO;
    __atomic_fetch_add(count, n, __ATOMIC_RELAXED);
    *more = n == SWEEP_BATCH;
    return 0;
}

int kc_store_sweep(struct kc_store *s)
{
    uint64_t now = kc_store_now_ms();
    bool more = true;
    int rc;

    if (s->redis != NULL)
        return 0; /* TTLs and maxmemory-policy are the server's */

    rc = kc_store_flush(s);
    if (rc == 0 && kc_store_check_map(s) != 0)
        rc = -EIO;
    if (rc == 0 && s->expire_ms != 0 && now > s->expire_ms)
        for (more = true; rc == 0 && more;)
            rc = sweep_batch(s, now - s->expire_ms, &s->expiries, &more);
    for (more = true; rc == 0 && more;)
        rc = sweep_batch(s, 0, &s->evictions, &more);
    return rc;
}

void kc_store_stats(struct kc_store *s, struct kc_store_stats *st)
{
    MDB_txn *txn;
    MDB_stat ms;

    if (s->redis != NULL) {
        kc_rstore_stats(s->redis, st);
        return;
    }
    memset(st, 0, sizeof(*st));
    st->max_bytes = s->max_size;
    if (read_begin(s, &txn) == 0) {
        if (mdb_stat(txn, s->val, &ms) == 0)
            st->entries = ms.ms_entries;
        kc_store_meta_bytes(s, txn, &st->bytes);
        read_end(txn);
    }
    st->evictions = __atomic_load_n(&s->evictions, __ATOMIC_RELAXED);
    st->expiries = __atomic_load_n(&s->expiries, __ATOMIC_RELAXED);
    st->touches_dropped = kc_touch_dropped(s->touch);
    pthread_mutex_lock(&s->wq_mu);
    st->write_batches = s->batches;
    pthread_mutex_unlock(&s->wq_mu);
}
