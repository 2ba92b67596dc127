/*
 * redis_cluster.c - the Redis Cluster backend of the remote tier
 * (redis+cluster://[user:password@]host:port,host:port,...): slot routing on top of hiredis.
 *
 * What it does: hashes each key to one of 16384 slots (CRC16/XMODEM of the key, or of its
 * {hashtag} when it has a non-empty one), sends the command to the master that owns the slot
 * according to the thread's slot map (from `CLUSTER SLOTS`, asked of any reachable node, the
 * URL's nodes as a fallback), and follows redirections: `MOVED` updates the slot and retries at
 * once (the whole map is refreshed before the thread's next request), `ASK` sends `ASKING` and
 * then the command to the named node, once. A connection error or timeout marks the map stale;
 * the command is retried after a refresh. Every attempt of one get stays within remote_timeout
 * (a put within its own limit), and there are at most REDIRECTS_MAX attempts.
 * Commands, TTLs and result mapping are those of redis_backend.c (`GETEX key EX ttl`,
 * `SET key value EX ttl`), which sends them through cm_rcluster_command for this backend.
 *
 * DESIGN: each thread has its own slot map and node connections (struct cm_rthread, redis.h),
 * so routing takes no lock and a refresh by one thread never races another's request; the price
 * is one `CLUSTER SLOTS` per thread after start and after each topology change.
 *
 * What it does not do: read from replicas, pipeline, or multi-key commands. TLS: as redis.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#define REDIRECTS_MAX 5

static uint16_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* CRC16/XMODEM: polynomial 0x1021, initial value 0, no reflection (the Redis Cluster spec). */
static void crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);

        for (int b = 0; b < 8; b++)
            c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
        crc_table[i] = c;
    }
}

static uint16_t crc16(const char *s, size_t n)
{
    uint16_t c = 0;

    for (size_t i = 0; i < n; i++)
        c = (uint16_t)((c << 8) ^ crc_table[((c >> 8) ^ (uint8_t)s[i]) & 0xff]);
    return c;
}

/* The slot of a key: only the part between the first '{' and the next '}' counts when that part
 * is not empty. */
static int key_slot(const char *key, size_t n)
{
    const char *open = memchr(key, '{', n);

    if (open != NULL) {
        size_t off = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', n - off);

        if (close != NULL && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (CM_RSLOTS - 1);
    }
    return crc16(key, n) & (CM_RSLOTS - 1);
}

/* Fills the thread's slot map from one node's `CLUSTER SLOTS`. 0 or -1. */
static int load_map(struct cm_rthread *t, int from, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return -1;
    memset(t->rt_slots, 0, CM_RSLOTS * sizeof(*t->rt_slots));
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *m;
        const char *host;
        int node;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        m = e->element[2];
        if (m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING ||
            m->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        host = m->element[0]->str;
        /* An empty or unknown endpoint means "the node you asked". */
        if (host[0] == '\0' || strcmp(host, "?") == 0)
            host = t->rt_nodes[from].rn_addr.ra_host;
        node = cm_rthread_node(t, host, (int)m->element[1]->integer);
        if (node < 0)
            continue;
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++) {
            if (s >= 0 && s < CM_RSLOTS)
                t->rt_slots[s] = (uint16_t)(node + 1);
        }
    }
    return 0;
}

/* Asks the nodes for the slot map, within the deadline: first those that did not fail in the
 * last second (in table order: the URL's nodes first), then the others. CM_BE_OK or the last
 * failure. */
static int refresh(struct cm_rthread *t, uint64_t deadline_ns, char *why, size_t whysz)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    const size_t lens[2] = {7, 5};
    int rc = CM_BE_ERROR, n = t->rt_nnodes;
    uint64_t now = cm_rnow();

    for (int k = 0; k < 2 * n; k++) {
        int i = k % n, down = t->rt_nodes[i].rn_down_until > now;
        long left = cm_rleft_ms(deadline_ns);
        redisReply *r;

        if (down != (k >= n))
            continue;
        if (k >= n && t->rt_nodes[i].rn_down_until >= now + CM_RNODE_DOWN_NS)
            continue; /* failed already in the first pass */
        if (left <= 0) {
            snprintf(why, whysz, "redis cluster: no time left to refresh the slot map");
            return CM_BE_TIMEOUT;
        }
        rc = cm_rcommand(t, i, deadline_ns, left, 2, argv, lens, &r, why, whysz);
        if (rc == CM_BE_AUTH)
            return rc;
        if (rc != CM_BE_OK)
            continue;
        if (r->type == REDIS_REPLY_ERROR) {
            rc = cm_rreply_error(r, why, whysz);
        } else if (load_map(t, i, r) < 0) {
            snprintf(why, whysz, "redis cluster: bad CLUSTER SLOTS reply");
            rc = CM_BE_ERROR;
        } else {
            freeReplyObject(r);
            t->rt_map_stale = 0;
            return CM_BE_OK;
        }
        freeReplyObject(r);
        if (rc == CM_BE_AUTH)
            return rc;
    }
    return rc;
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node index, or -1. */
static int redirect_node(struct cm_rthread *t, const char *msg)
{
    const char *addr = strchr(msg, ' ');
    const char *colon;
    char host[CM_RHOST_MAX + 1];
    size_t hlen;

    if (addr == NULL)
        return -1;
    addr = strchr(addr + 1, ' ');
    if (addr == NULL)
        return -1;
    addr++;
    colon = strrchr(addr, ':');
    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - addr);
    if (hlen > 1 && addr[0] == '[' && addr[hlen - 1] == ']') {
        addr++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen > CM_RHOST_MAX)
        return -1;
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    return cm_rthread_node(t, host, atoi(colon + 1));
}

/* Routes one command to the slot owner (see redis.h). */
int cm_rcluster_command(struct cm_rthread *t, uint64_t deadline_ns, long tmo_ms, int argc,
                        const char **argv, const size_t *lens, redisReply **reply, char *why,
                        size_t whysz)
{
    int slot = key_slot(argv[1], lens[1]), asking = -1, asked = 0, moved = 0;
    int rc = CM_BE_ERROR;

    *reply = NULL;
    for (int attempt = 0; attempt < REDIRECTS_MAX; attempt++) {
        long left = cm_rleft_ms(deadline_ns);
        redisReply *r;
        int node;

        if (left <= 0) {
            if (rc == CM_BE_ERROR && attempt > 0)
                return rc;
            snprintf(why, whysz, "redis cluster: timed out after %d attempts", attempt);
            return CM_BE_TIMEOUT;
        }
        if (t->rt_map_stale && asking < 0) {
            rc = refresh(t, deadline_ns, why, whysz);
            if (rc == CM_BE_AUTH || rc == CM_BE_TIMEOUT)
                return rc;
            /* No node answered: go on with the old map (or the first seed), it may work. */
        }
        node = asking >= 0 ? asking : t->rt_slots[slot] - 1;
        if (node < 0)
            node = 0;
        if (asking >= 0) {
            const char *a[1] = {"ASKING"};
            const size_t al[1] = {6};

            rc = cm_rcommand(t, node, deadline_ns, left, 1, a, al, &r, why, whysz);
            if (rc == CM_BE_OK) {
                if (r->type == REDIS_REPLY_ERROR)
                    rc = cm_rreply_error(r, why, whysz);
                freeReplyObject(r);
            }
            if (rc != CM_BE_OK)
                return rc;
            asking = -1;
        }
        rc = cm_rcommand(t, node, deadline_ns, left < tmo_ms ? left : tmo_ms, argc, argv, lens, &r,
                         why, whysz);
        if (rc == CM_BE_AUTH)
            return rc;
        if (rc != CM_BE_OK) {
            /* The node is gone or stuck: refresh the map from another node and retry. */
            t->rt_map_stale = 1;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && r->str != NULL && strncmp(r->str, "MOVED ", 6) == 0) {
            int to = redirect_node(t, r->str);

            freeReplyObject(r);
            if (to < 0) {
                snprintf(why, whysz, "redis cluster: unreadable MOVED");
                return CM_BE_ERROR;
            }
            /* Retry at once on the new owner; the whole map is reloaded next time. */
            t->rt_slots[slot] = (uint16_t)(to + 1);
            moved = 1;
            snprintf(why, whysz, "redis cluster: too many MOVED redirections");
            rc = CM_BE_ERROR;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && r->str != NULL && strncmp(r->str, "ASK ", 4) == 0) {
            int to = redirect_node(t, r->str);

            freeReplyObject(r);
            if (to < 0 || asked) {
                snprintf(why, whysz, "redis cluster: %s",
                         asked ? "ASK after ASK" : "unreadable ASK");
                return CM_BE_ERROR;
            }
            asked = 1;
            asking = to;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && r->str != NULL &&
            (strncmp(r->str, "CLUSTERDOWN", 11) == 0 || strncmp(r->str, "TRYAGAIN", 8) == 0))
            moved = 1; /* a failover in progress: ask again next time */
        if (moved)
            t->rt_map_stale = 1;
        *reply = r;
        return CM_BE_OK;
    }
    if (moved)
        t->rt_map_stale = 1;
    return rc;
}

static struct cm_backend *rc_open(const struct cm_backend_conf *conf, char *err, size_t errsz)
{
    pthread_once(&crc_once, crc_init);
    return cm_rbackend_open(conf, 1, &cm_redis_cluster_backend, cm_rcluster_command, err, errsz);
}

const struct cm_backend_ops cm_redis_cluster_backend = {
    .be_scheme = "redis+cluster://",
    .be_open = rc_open,
    .be_get = cm_rbackend_get,
    .be_put = cm_rbackend_put,
    .be_close = cm_rbackend_close,
    .be_atfork_child = cm_rbackend_atfork_child,
};
