/*
 * kc_store_write.c - the keycache store's puts and deletes, group-committed (kc_store.h).
 *
 * What it does: queues writes for the writer thread, which runs every queued write in one LMDB
 * transaction, each in a child transaction (a 507 or 404 affects that write only), commits
 * once with sync and then reports each write's result (kc_write.done). A write is reported
 * only after the commit that contains it: durable when acknowledged, one fsync per batch, and
 * the threads that queue writes (the HTTP workers) never wait for a disk.
 * Also keeps the LMDB map from filling up (kc_store_check_map, make_room), and the store's
 * filesystem: when it is nearly full, a batch first evicts enough for LMDB to reuse the freed
 * pages instead of growing the file, even below max_size (keep_disk_room).
 *
 * What it does not do: no reads, no sweep (kc_store.c), no HTTP.
 *
 * DESIGN: the queue (wq_head/wq_tail) and wq_stop are guarded by wq_mu; a queued write belongs
 * to the writer thread until its done() call, after which the writer never touches it again
 * (it reads `next` first). kc_store_writer_stop lets the writer finish what is queued.
 */
#include "kc_store_int.h"
#include "kc_store_redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define MIB (1024ull * 1024)

/* ---- writes: group commit ------------------------------------------------------------------ */

/* Puts the entry in (a child of) the batch transaction. */
static int apply_put(struct kc_store *s, MDB_txn *txn, struct kc_write *op, uint64_t *evicted)
{
    MDB_val k = {op->klen, (void *)op->key}, v = {op->len, NULL};
    uint64_t bytes, freed = 0, need = op->klen + op->len;
    int rc;

    rc = kc_store_meta_bytes(s, txn, &bytes);
    if (rc != 0)
        return rc;
    rc = kc_store_remove_entry(s, txn, op->key, op->klen, &freed);
    if (rc == 0) {
        op->replaced = true;
        bytes -= freed < bytes ? freed : bytes;
    } else if (rc != -ENOENT) {
        return rc;
    }
    if (bytes + need > s->max_size) {
        rc = kc_store_remove_oldest(s, txn, &bytes, s->max_size - need, 0, SIZE_MAX, evicted);
        if (rc != 0)
            return rc;
        if (bytes + need > s->max_size)
            return -ENOSPC;
    }
    rc = mdb_put(txn, s->val, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return rc;
    if (op->len > 0)
        memcpy(v.mv_data, op->val, op->len);
    rc = kc_store_set_atime(s, txn, op->key, op->klen, kc_store_now_ms(), true);
    if (rc != 0)
        return rc;
    return kc_store_set_meta_bytes(s, txn, bytes + need);
}

static int apply_delete(struct kc_store *s, MDB_txn *txn, struct kc_write *op)
{
    uint64_t bytes, freed = 0;
    int rc;

    rc = kc_store_meta_bytes(s, txn, &bytes);
    if (rc == 0)
        rc = kc_store_remove_entry(s, txn, op->key, op->klen, &freed);
    if (rc == 0)
        rc = kc_store_set_meta_bytes(s, txn, bytes - (freed < bytes ? freed : bytes));
    return rc;
}

/* Runs the ops of the list `ops` that have `retry` set (all when `all`) in one transaction,
 * each in its own child transaction so a failing one (507, 404) leaves the others in; one
 * synced commit for all. Sets each op's rc to 0 or an LMDB / negative errno code. */
static void run_batch_once(struct kc_store *s, struct kc_write *ops, bool all)
{
    MDB_txn *txn, *child;
    uint64_t evicted = 0, ev;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (struct kc_write *op = ops; op != NULL; op = op->next) {
        if (!all && !op->retry)
            continue;
        op->replaced = false;
        if (rc != 0) {
            op->rc = rc;
            continue;
        }
        ev = 0;
        op->rc = mdb_txn_begin(s->env, txn, 0, &child);
        if (op->rc == 0) {
            op->rc = op->val != NULL ? apply_put(s, child, op, &ev) : apply_delete(s, child, op);
            if (op->rc == 0)
                op->rc = mdb_txn_commit(child);
            else
                mdb_txn_abort(child);
        }
        if (op->rc == 0)
            evicted += ev;
        else
            op->replaced = false;
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        if (rc == 0)
            __atomic_fetch_add(&s->evictions, evicted, __ATOMIC_RELAXED);
    }
    for (struct kc_write *op = ops; op != NULL; op = op->next) {
        if ((all || op->retry) && op->rc == 0 && rc != 0) {
            op->rc = rc;
            op->replaced = false;
        }
    }
}

/* Pages of the map in use: LMDB's high-water mark minus the pages on its free list (each
 * free-list record is a page-number list whose first word is its length). LMDB lets only a
 * read-only transaction open a cursor on the free list. */
static int map_used(struct kc_store *s, uint64_t *used, uint64_t *pages)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t freep = 0;
    size_t n;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc == 0)
        rc = mdb_cursor_open(txn, 0, &c); /* 0: LMDB's free-list database */
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    *pages = info.me_mapsize / st.ms_psize;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size >= sizeof(n)) {
            memcpy(&n, v.mv_data, sizeof(n));
            freep += n;
        }
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND)
        return rc;
    *used = info.me_last_pgno + 1 > freep ? info.me_last_pgno + 1 - freep : 0;
    return 0;
}

/* Ends an eviction transaction begun by make_room or evict_bytes: on success so far (rc == 0)
 * stores the new byte total and commits, counting n evictions; otherwise aborts. Returns 0 or
 * an LMDB code. */
static int end_eviction(struct kc_store *s, MDB_txn *txn, int rc, uint64_t bytes, uint64_t n)
{
    if (rc == 0)
        rc = kc_store_set_meta_bytes(s, txn, bytes);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0)
        __atomic_fetch_add(&s->evictions, n, __ATOMIC_RELAXED);
    return rc;
}

/* Evicts the least recently used 1/16 of the entries (at least 16) in one transaction; when
 * `only_if_full`, only if more than 3/4 of the map's pages are in use. LMDB needs free pages
 * even to delete (copy-on-write), so this must run before the map is full, not after.
 * Returns 0 or an LMDB code. */
static int make_room(struct kc_store *s, bool only_if_full)
{
    MDB_txn *txn;
    MDB_stat st;
    uint64_t bytes = 0, n = 0, used, pages;
    size_t count;
    int rc;

    if (only_if_full) {
        rc = map_used(s, &used, &pages);
        if (rc != 0 || used <= pages / 4 * 3)
            return rc;
    }
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_stat(txn, s->val, &st);
    if (rc == 0)
        rc = kc_store_meta_bytes(s, txn, &bytes);
    count = st.ms_entries / 16 > 16 ? st.ms_entries / 16 : 16;
    if (rc == 0)
        rc = kc_store_remove_oldest(s, txn, &bytes, 0, 0, count, &n);
    return end_eviction(s, txn, rc, bytes, n);
}

int kc_store_check_map(struct kc_store *s)
{
    MDB_envinfo info;
    MDB_stat st;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return 0;
    /* Cheap test first: the file never grew past 3/4 of the map. */
    if ((info.me_last_pgno + 1) <= info.me_mapsize / st.ms_psize / 4 * 3)
        return 0;
    return make_room(s, true);
}

/* Evicts least recently used entries worth `need` bytes in one transaction (their pages go to
 * LMDB's free list, which the next transaction reuses). 0 or an LMDB code. */
static int evict_bytes(struct kc_store *s, uint64_t need)
{
    MDB_txn *txn;
    uint64_t bytes = 0, n = 0;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    rc = kc_store_meta_bytes(s, txn, &bytes);
    if (rc == 0)
        rc = kc_store_remove_oldest(s, txn, &bytes, bytes > need ? bytes - need : 0, 0, SIZE_MAX,
                                    &n);
    return end_eviction(s, txn, rc, bytes, n);
}

/* The filesystem is "nearly full" below this much free space: 5 % of it (at most 1 GiB), and
 * at least four times what the batch adds. */
static uint64_t disk_reserve(uint64_t total, uint64_t need)
{
    uint64_t r = total / 20;

    if (r > 1024 * MIB)
        r = 1024 * MIB;
    return r > 4 * need ? r : 4 * need;
}

/* Free bytes on the store's filesystem, and its size. 0 or -errno. */
static int disk_space(struct kc_store *s, uint64_t *avail, uint64_t *total)
{
    struct statvfs vfs;

    if (fstatvfs(s->lock_fd, &vfs) != 0)
        return -errno;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    *total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    return 0;
}

/* Bytes on LMDB's free list: pages the file already has for new data (not all reusable at
 * once: the last transaction's are not, and a large value needs consecutive pages). */
static uint64_t free_list_bytes(struct kc_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    uint64_t used, pages;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0 ||
        map_used(s, &used, &pages) != 0 || info.me_last_pgno + 1 < used)
        return 0;
    return (info.me_last_pgno + 1 - used) * st.ms_psize;
}

/* Before a batch that adds `need` bytes: while the store's filesystem is nearly full, evict as
 * much as the batch adds, so the store stops growing and LMDB reuses the freed pages instead
 * of growing its file (it never shrinks it); twice as much when under a quarter of the
 * reserve is left and the free list is short. Logs when the filesystem becomes nearly full
 * and when it has room again (hysteresis: twice the reserve). */
static void keep_disk_room(struct kc_store *s, uint64_t need)
{
    uint64_t avail = 0, total = 0, reserve, evict = need;

    if (need == 0 || disk_space(s, &avail, &total) != 0)
        return;
    reserve = disk_reserve(total, need);
    if (avail >= reserve) {
        if (s->disk_low && avail >= 2 * reserve) {
            s->disk_low = false;
            fprintf(stderr, "cloudm keycache: %s: the filesystem has room again (%llu MiB free)\n",
                    s->dir, (unsigned long long)(avail / MIB));
        }
        return;
    }
    if (!s->disk_low) {
        s->disk_low = true;
        fprintf(stderr,
                "cloudm keycache: %s: the filesystem is nearly full (%llu KiB free of %llu MiB): "
                "evicting least recently used entries so that the store does not grow, below "
                "--max-size\n",
                s->dir, (unsigned long long)(avail / 1024), (unsigned long long)(total / MIB));
    }
    if (avail < reserve / 4 && free_list_bytes(s) < 4 * need)
        evict = 2 * need;
    evict_bytes(s, evict);
}

/* A write that failed for want of disk space: LMDB returns ENOSPC, or EIO when the write of
 * a page was cut short by a full filesystem. */
static bool disk_failure(struct kc_store *s, int rc, uint64_t need)
{
    uint64_t avail = 0, total = 0;

    if (rc == ENOSPC || rc == EDQUOT)
        return true;
    return rc == EIO && disk_space(s, &avail, &total) == 0 && avail < disk_reserve(total, need);
}

/* A commit failed for want of disk space, or succeeded: say so once per episode. */
static void note_disk_full(struct kc_store *s, bool full)
{
    if (full && !s->disk_full)
        fprintf(stderr,
                "cloudm keycache: %s: no space left on the device: PUTs get 507 until there is "
                "room (free space, or a smaller --max-size)\n",
                s->dir);
    else if (!full && s->disk_full)
        fprintf(stderr, "cloudm keycache: %s: writes succeed again\n", s->dir);
    s->disk_full = full;
}

/* One batch, after making room when the map is getting full or the filesystem nearly full;
 * writes that still found the map full are retried once after evicting more. */
static void run_batch(struct kc_store *s, struct kc_write *ops)
{
    bool retry = false, disk = false, full = false, ok = false;
    uint64_t need = 0;

    for (struct kc_write *op = ops; op != NULL; op = op->next)
        if (op->val != NULL)
            need += op->klen + op->len;
    kc_store_check_map(s);
    keep_disk_room(s, need);
    run_batch_once(s, ops, true);
    for (struct kc_write *op = ops; op != NULL; op = op->next) {
        if (disk_failure(s, op->rc, need))
            op->rc = ENOSPC;
        op->retry = op->rc == MDB_MAP_FULL || op->rc == ENOSPC;
        disk = disk || op->rc == ENOSPC;
        retry = retry || op->retry;
    }
    /* Map or disk full: evict, then retry those writes once. */
    if (retry && (disk ? evict_bytes(s, 2 * need) : make_room(s, false)) == 0) {
        run_batch_once(s, ops, false);
        for (struct kc_write *op = ops; op != NULL; op = op->next)
            if (op->retry && disk_failure(s, op->rc, need))
                op->rc = ENOSPC;
    }
    for (struct kc_write *op = ops; op != NULL; op = op->next) {
        op->rc = kc_store_map_error(op->rc);
        full = full || op->rc == -EDQUOT;
        ok = ok || op->rc == 0;
    }
    if (full || ok)
        note_disk_full(s, full);
}

/* The writer thread: takes every queued write, runs them as one batch, calls their `done`;
 * writes queued meanwhile form the next batch. Ends when stopped and the queue is empty. */
static void *writer(void *arg)
{
    struct kc_store *s = arg;
    struct kc_write *batch;

    pthread_mutex_lock(&s->wq_mu);
    for (;;) {
        while (s->wq_head == NULL && !s->wq_stop)
            pthread_cond_wait(&s->wq_cond, &s->wq_mu);
        if (s->wq_head == NULL)
            break;
        batch = s->wq_head;
        s->wq_head = NULL;
        s->wq_tail = &s->wq_head;
        pthread_mutex_unlock(&s->wq_mu);
        run_batch(s, batch);
        for (struct kc_write *w = batch, *next; w != NULL; w = next) {
            next = w->next; /* w belongs to its caller again once done is called */
            w->done(w);
        }
        pthread_mutex_lock(&s->wq_mu);
        s->batches++;
    }
    pthread_mutex_unlock(&s->wq_mu);
    return NULL;
}

int kc_store_writer_start(struct kc_store *s)
{
    sigset_t all, old;
    int rc;

    /* The writer takes no signals (the caller waits for them on its own thread). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&s->wq_thread, NULL, writer, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    s->wq_running = true;
    return 0;
}

void kc_store_stop_writes(struct kc_store *s)
{
    if (s->redis != NULL || !s->wq_running)
        return;
    pthread_mutex_lock(&s->wq_mu);
    s->wq_stop = true;
    pthread_cond_signal(&s->wq_cond);
    pthread_mutex_unlock(&s->wq_mu);
    pthread_join(s->wq_thread, NULL);
    s->wq_running = false;
}

int kc_store_write(struct kc_store *s, struct kc_write *w)
{
    if (w->klen == 0 || w->klen > KEY_MAX)
        return w->val != NULL ? -EINVAL : -ENOENT;
    if (s->redis != NULL)
        return kc_rstore_write(s->redis, w);
    if (w->val != NULL && w->klen + w->len > s->max_size)
        return -ENOSPC;
    w->rc = 0;
    w->replaced = false;
    w->retry = false;
    w->next = NULL;
    pthread_mutex_lock(&s->wq_mu);
    if (s->wq_stop) {
        pthread_mutex_unlock(&s->wq_mu);
        return -ESHUTDOWN;
    }
    *s->wq_tail = w;
    s->wq_tail = &w->next;
    pthread_cond_signal(&s->wq_cond);
    pthread_mutex_unlock(&s->wq_mu);
    return 0;
}

/* kc_store_put / kc_store_delete: queue and wait. */
struct waiter {
    struct kc_write w;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
};

static void wake(struct kc_write *w)
{
    struct waiter *x = w->ctx;

    pthread_mutex_lock(&x->mu);
    x->done = true;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->mu);
}

static int write_and_wait(struct kc_store *s, struct waiter *x)
{
    int rc;

    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cond, NULL);
    x->done = false;
    x->w.done = wake;
    x->w.ctx = x;
    rc = kc_store_write(s, &x->w);
    if (rc == 0) {
        pthread_mutex_lock(&x->mu);
        while (!x->done)
            pthread_cond_wait(&x->cond, &x->mu);
        pthread_mutex_unlock(&x->mu);
        rc = x->w.rc;
    }
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->mu);
    return rc;
}

int kc_store_put(struct kc_store *s, const char *key, size_t klen, const void *val, size_t len,
                 bool *replaced)
{
    struct waiter x;
    int rc;

    memset(&x, 0, sizeof(x));
    x.w.key = key;
    x.w.klen = klen;
    x.w.val = val != NULL ? val : ""; /* non-NULL marks a put */
    x.w.len = len;
    rc = write_and_wait(s, &x);
    *replaced = rc == 0 && x.w.replaced;
    return rc;
}

int kc_store_delete(struct kc_store *s, const char *key, size_t klen)
{
    struct waiter x;

    memset(&x, 0, sizeof(x));
    x.w.key = key;
    x.w.klen = klen;
    return write_and_wait(s, &x);
}
