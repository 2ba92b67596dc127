/*
 * kc_store_redis.c - the keycache's store on Redis or Redis Cluster (see kc_store_redis.h).
 *
 * What it does: several keycache servers behind a load balancer can share one Redis server or
 * Redis Cluster (`cloudm keycache --store redis://[user:password@]host[:port][/db]` or
 * `--store redis+cluster://host:port,...`). An entry "ns/key" is the Redis string "ns:key", the
 * very key the shim's own Redis backend uses, so machines reading Redis directly and machines
 * going through a keycache share entries. Reads are GETEX with the --expire TTL (so reading an
 * entry keeps it), writes SET ... EX, deletes DEL; with --expire 0 there is no TTL. Eviction is
 * Redis's own maxmemory-policy (allkeys-lru recommended): --max-size does not apply, and the
 * sweep has nothing to do. A write is answered once Redis acknowledged it: its durability is
 * the Redis server's (appendonly yes with appendfsync always gives what LMDB gives).
 *
 * Connections, AUTH/SELECT, time limits and cluster routing (MOVED, ASK, topology refresh) are
 * the remote tier's Redis code (shim/remote/redis.c, redis_cluster.c), compiled in here.
 *
 * What it does not do: no HTTP (kc_http.c), no LMDB (kc_store.c), no validation of keys
 * (kc_proto.c). Writes run on the calling thread (a Redis round trip, not an fsync), and their
 * done callback is called before kc_rstore_write returns.
 */
#include "kc_store_redis.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_proto.h"
#include "redis.h"

#define KC_RSTORE_KEY_MAX (KC_SKEY_MAX + 1)

#define RSTORE_TIMEOUT_NS (2ull * 1000000000) /* each command, connection included */

struct kc_rstore {
    struct cm_rpool pool;
    int cluster;
    int ttl;          /* --expire as an EX argument, or 0: no TTL */
    char ttl_s[24];
    uint64_t max_value;
    atomic_uint_fast64_t errors;
};

int kc_rstore_open(const struct kc_store_opts *o, struct kc_rstore **out, char *err,
                   size_t errsz)
{
    struct cm_rurl *u = calloc(1, sizeof(*u));
    struct kc_rstore *r = calloc(1, sizeof(*r));
    int rc = -1;

    if (u == NULL || r == NULL) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    if (cm_redis_parse_url(o->redis_url, u, err, errsz) < 0)
        goto out;
    r->cluster = u->ru_cluster;
    r->max_value = o->max_value;
    if (o->expire_ms) {
        uint64_t s = (o->expire_ms + 999) / 1000;
        r->ttl = 1;
        snprintf(r->ttl_s, sizeof(r->ttl_s), "%llu", (unsigned long long)s);
    }
    if (cm_rpool_init(&r->pool, u, RSTORE_TIMEOUT_NS, r->cluster, err, errsz) < 0)
        goto out;
    *out = r;
    r = NULL;
    rc = 0;
out:
    if (u != NULL)
        memset(u, 0, sizeof(*u)); /* the password */
    free(u);
    free(r);
    return rc;
}

void kc_rstore_close(struct kc_rstore *r)
{
    if (r == NULL)
        return;
    cm_rpool_close(&r->pool);
    free(r);
}

/* "ns/key" -> "ns:key" (the shim's Redis key for the same entry). */
static size_t redis_key(const char *key, size_t klen, char *out)
{
    memcpy(out, key, klen);
    out[klen] = '\0';
    char *slash = memchr(out, '/', klen);
    if (slash != NULL)
        *slash = ':';
    return klen;
}

/* One command on the key's node. 0 and *reply (not an error reply), -EIO otherwise. */
static int command(struct kc_rstore *r, int argc, const char **argv, const size_t *lens,
                   redisReply **reply)
{
    struct cm_rthread *t = cm_rpool_thread(&r->pool);
    uint64_t deadline = cm_rnow() + RSTORE_TIMEOUT_NS;
    long ms = (long)(RSTORE_TIMEOUT_NS / 1000000);
    char why[160];
    int rc;

    *reply = NULL;
    if (t == NULL)
        return -EIO;
    rc = r->cluster ? cm_rcluster_command(t, deadline, ms, argc, argv, lens, reply, why,
                                          sizeof(why))
                    : cm_rcommand(t, 0, deadline, ms, argc, argv, lens, reply, why, sizeof(why));
    if (rc == CM_BE_OK && (*reply)->type != REDIS_REPLY_ERROR)
        return 0;
    if (*reply != NULL) {
        freeReplyObject(*reply);
        *reply = NULL;
    }
    atomic_fetch_add(&r->errors, 1);
    return -EIO;
}

int kc_rstore_get(struct kc_rstore *r, const char *key, size_t klen, size_t *len,
                  int (*copy)(void *ctx, const void *val, size_t len), void *ctx)
{
    char k[KC_RSTORE_KEY_MAX];
    const char *argv[4] = {r->ttl ? "GETEX" : "GET", k, "EX", r->ttl_s};
    size_t lens[4] = {strlen(argv[0]), 0, 2, strlen(r->ttl_s)};
    redisReply *rep;
    int rc;

    if (klen >= sizeof(k))
        return -ENOENT;
    lens[1] = redis_key(key, klen, k);
    if (command(r, r->ttl ? 4 : 2, argv, lens, &rep) != 0)
        return -EIO;
    if (rep->type == REDIS_REPLY_NIL) {
        rc = -ENOENT;
    } else if (rep->type == REDIS_REPLY_STRING) {
        *len = rep->len;
        rc = copy != NULL ? copy(ctx, rep->str, rep->len) : 0;
    } else {
        rc = -EIO;
    }
    freeReplyObject(rep);
    return rc;
}

/* A put: EXISTS (for 201 vs 204) then SET. A delete: DEL. */
static int do_write(struct kc_rstore *r, struct kc_write *w)
{
    char k[KC_RSTORE_KEY_MAX];
    redisReply *rep;
    int rc;

    if (w->klen >= sizeof(k))
        return -EINVAL;
    size_t kl = redis_key(w->key, w->klen, k);
    if (w->val == NULL) {
        const char *argv[2] = {"DEL", k};
        size_t lens[2] = {3, kl};
        if (command(r, 2, argv, lens, &rep) != 0)
            return -EIO;
        rc = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? 0 : -ENOENT;
        freeReplyObject(rep);
        return rc;
    }
    if (w->len > r->max_value)
        return -ENOSPC;
    const char *ex[2] = {"EXISTS", k};
    size_t exl[2] = {6, kl};
    if (command(r, 2, ex, exl, &rep) != 0)
        return -EIO;
    w->replaced = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    freeReplyObject(rep);
    const char *argv[5] = {"SET", k, w->val, "EX", r->ttl_s};
    size_t lens[5] = {3, kl, w->len, 2, strlen(r->ttl_s)};
    if (command(r, r->ttl ? 5 : 3, argv, lens, &rep) != 0)
        return -EIO; /* e.g. OOM under maxmemory-policy noeviction */
    freeReplyObject(rep);
    return 0;
}

int kc_rstore_write(struct kc_rstore *r, struct kc_write *w)
{
    w->replaced = false;
    w->rc = do_write(r, w);
    if (w->rc == -EINVAL)
        return -EINVAL;
    w->done(w);
    return 0;
}

/* Entries and bytes from the server: DBSIZE and INFO memory of the node (a cluster's first
 * seed only: the numbers are that node's). */
void kc_rstore_stats(struct kc_rstore *r, struct kc_store_stats *st)
{
    struct cm_rthread *t = cm_rpool_thread(&r->pool);
    const char *a1[1] = {"DBSIZE"}, *a2[2] = {"INFO", "memory"};
    size_t l1[1] = {6}, l2[2] = {4, 6};
    redisReply *rep;
    char why[160];

    memset(st, 0, sizeof(*st));
    if (t == NULL)
        return;
    if (cm_rcommand(t, 0, cm_rnow() + RSTORE_TIMEOUT_NS, 2000, 1, a1, l1, &rep, why,
                    sizeof(why)) == CM_BE_OK) {
        if (rep->type == REDIS_REPLY_INTEGER)
            st->entries = (uint64_t)rep->integer;
        freeReplyObject(rep);
    }
    if (cm_rcommand(t, 0, cm_rnow() + RSTORE_TIMEOUT_NS, 2000, 2, a2, l2, &rep, why,
                    sizeof(why)) == CM_BE_OK) {
        if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) {
            const char *m = strstr(rep->str, "used_memory:"), *x = strstr(rep->str, "maxmemory:");
            if (m != NULL)
                st->bytes = strtoull(m + 12, NULL, 10);
            if (x != NULL)
                st->max_bytes = strtoull(x + 10, NULL, 10);
        }
        freeReplyObject(rep);
    }
}
