/*
 * kc_entry.c - the keycache store's entry operations inside an LMDB write transaction: the
 * size kept in "meta", removing one entry or the oldest ones from "val", "atime" and "lru",
 * setting an access time, and mapping LMDB's codes to errnos (kc_store_int.h).
 *
 * What it does not do: it opens no environment and no transaction of its own, starts no thread
 * and never commits: kc_store.c (open, reads, sweep) and kc_store_write.c (group-committed
 * writes) call it inside the transactions they own. It calls neither of them.
 */
#include "kc_store_int.h"

#include <errno.h>
#include <lmdb.h>
#include <string.h>
#include <time.h>

uint64_t kc_store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t from_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- meta ------------------------------------------------------------------------------- */

int kc_store_meta_bytes(struct kc_store *s, MDB_txn *txn, uint64_t *bytes)
{
    MDB_val k = {5, "bytes"}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);

    if (rc == MDB_NOTFOUND) {
        *bytes = 0;
        return 0;
    }
    if (rc != 0 || v.mv_size != sizeof(uint64_t))
        return -EIO;
    memcpy(bytes, v.mv_data, sizeof(*bytes));
    return 0;
}

int kc_store_set_meta_bytes(struct kc_store *s, MDB_txn *txn, uint64_t bytes)
{
    MDB_val k = {5, "bytes"}, v = {sizeof(bytes), &bytes};

    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* ---- entries inside a write transaction --------------------------------------------------- */

static int lru_key(unsigned char *buf, uint64_t ms, const char *key, size_t klen)
{
    be64(buf, ms);
    memcpy(buf + 8, key, klen);
    return 0;
}

/* Removes `key` from the three entry databases; *freed = key + value bytes. */
int kc_store_remove_entry(struct kc_store *s, MDB_txn *txn, const char *key, size_t klen,
                          uint64_t *freed)
{
    MDB_val k = {klen, (void *)key}, v, lk;
    unsigned char lbuf[8 + KEY_MAX];
    uint64_t ms;
    int rc;

    rc = mdb_get(txn, s->val, &k, &v);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc != 0)
        return rc;
    *freed = klen + v.mv_size;
    rc = mdb_del(txn, s->val, &k, NULL);
    if (rc != 0)
        return rc;
    rc = mdb_get(txn, s->atime, &k, &v);
    if (rc == 0 && v.mv_size == sizeof(ms)) {
        memcpy(&ms, v.mv_data, sizeof(ms));
        lru_key(lbuf, ms, key, klen);
        lk.mv_size = 8 + klen;
        lk.mv_data = lbuf;
        rc = mdb_del(txn, s->lru, &lk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    rc = mdb_del(txn, s->atime, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Removes entries from the head of "lru" (oldest first). Stops when *bytes <= limit, when the
 * head is not older than `older_than` (0 = no age condition), or after `max` removals.
 * Adds the removals to *n. */
int kc_store_remove_oldest(struct kc_store *s, MDB_txn *txn, uint64_t *bytes, uint64_t limit,
                           uint64_t older_than, size_t max, uint64_t *n)
{
    MDB_cursor *c;
    MDB_val k, v;
    char key[KEY_MAX];
    int rc = 0;

    rc = mdb_cursor_open(txn, s->lru, &c);
    if (rc != 0)
        return rc;
    while (max-- > 0 && (older_than != 0 || *bytes > limit)) {
        uint64_t freed = 0;
        size_t klen;

        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        if (k.mv_size <= 8 || k.mv_size > 8 + KEY_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (older_than != 0 && from_be64(k.mv_data) >= older_than)
            break;
        klen = k.mv_size - 8;
        memcpy(key, (char *)k.mv_data + 8, klen);
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        rc = kc_store_remove_entry(s, txn, key, klen, &freed);
        if (rc == -ENOENT)
            rc = 0; /* an index entry without its value: already gone */
        if (rc != 0)
            break;
        *bytes -= freed < *bytes ? freed : *bytes;
        (*n)++;
    }
    mdb_cursor_close(c);
    return rc;
}

int kc_store_map_error(int rc)
{
    if (rc == 0)
        return 0;
    if (rc == -ENOENT || rc == -ENOSPC || rc == -ENOMEM || rc == -EDQUOT)
        return rc;
    if (rc == ENOSPC || rc == EDQUOT) /* LMDB returns the errno of a failed write as is */
        return -EDQUOT;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
        return -ENOSPC;
    return -EIO;
}

/* Sets `key`'s access time to `ms` when it exists and is older (write transaction). */
int kc_store_set_atime(struct kc_store *s, MDB_txn *txn, const char *key, size_t klen, uint64_t ms,
                       bool create)
{
    MDB_val k = {klen, (void *)key}, v, lk = {8 + klen, NULL}, empty = {0, ""};
    unsigned char lbuf[8 + KEY_MAX];
    uint64_t old;
    int rc;

    lk.mv_data = lbuf;
    rc = mdb_get(txn, s->atime, &k, &v);
    if (rc == MDB_NOTFOUND && !create)
        return 0; /* deleted since it was read */
    if (rc == 0) {
        if (v.mv_size != sizeof(old))
            return MDB_CORRUPTED;
        memcpy(&old, v.mv_data, sizeof(old));
        if (old >= ms)
            return 0;
        lru_key(lbuf, old, key, klen);
        rc = mdb_del(txn, s->lru, &lk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    v.mv_size = sizeof(ms);
    v.mv_data = &ms;
    rc = mdb_put(txn, s->atime, &k, &v, 0);
    if (rc != 0)
        return rc;
    lru_key(lbuf, ms, key, klen);
    return mdb_put(txn, s->lru, &lk, &empty, 0);
}
