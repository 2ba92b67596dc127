/*
 * redis_backend.c - the remote tier's single-server Redis backend (redis://): the backend
 * operations of backend.h over the connection layer of redis.c. Stores an entry with
 * `SET <ns>:<hexkey> value EX ttl` and reads it with `GETEX <ns>:<hexkey> EX ttl`, so an entry
 * read at least once per remote_expire stays (GETEX needs Redis >= 6.2). Results: bulk string
 * -> OK, nil -> MISS, error reply -> ERROR (NOAUTH/WRONGPASS/NOPERM -> AUTH), I/O error ->
 * ERROR, socket timeout -> TIMEOUT. The cluster backend (redis_cluster.c) reuses its open, get,
 * put and close with its own way of sending a command (struct cm_rbackend's rb_send).
 *
 * What it does not do: connections, URLs (redis.c, redis_url.c), retries (the breaker and the
 * writer decide).
 */
#include "redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

/* --- the single-server backend --------------------------------------------------------------- */

struct cm_backend *cm_rbackend_open(const struct cm_backend_conf *conf, int cluster,
                                    const struct cm_backend_ops *ops, cm_rsend_fn *send, char *err,
                                    size_t errsz)
{
    struct cm_rbackend *b = NULL;
    struct cm_rurl *u = malloc(sizeof(*u));

    if (u == NULL) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (cm_redis_parse_url(conf->bc_url, u, err, errsz) < 0)
        goto out;
    if (u->ru_cluster != cluster) {
        snprintf(err, errsz, "internal: a %s URL reached the %s backend",
                 u->ru_cluster ? "cluster" : "single-server",
                 cluster ? "cluster" : "single-server");
        goto out;
    }
    /* A token_file supplies the password when the URL has none. */
    if (u->ru_pass[0] == '\0' && conf->bc_token[0] != '\0')
        snprintf(u->ru_pass, sizeof(u->ru_pass), "%s", conf->bc_token);
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    b->rb_base.be_ops = ops;
    b->rb_send = send;
    snprintf(b->rb_ns, sizeof(b->rb_ns), "%s", conf->bc_ns);
    cm_rttl(conf->bc_expire_ns, b->rb_ttl);
    b->rb_tmo_ms = (long)((conf->bc_timeout_ns + 999999) / 1000000);
    if (b->rb_tmo_ms < 1)
        b->rb_tmo_ms = 1;
    if (cm_rpool_init(&b->rb_pool, u, conf->bc_timeout_ns, cluster, err, errsz) < 0) {
        free(b);
        b = NULL;
    }
out:
    memset(u, 0, sizeof(*u)); /* the password */
    free(u);
    return b != NULL ? &b->rb_base : NULL;
}

/* The result of a GETEX reply (body filled on a hit); frees the reply. */
static int get_result(redisReply *r, struct cm_rbuf *body, char *why, size_t whysz)
{
    int rc;

    switch (r->type) {
    case REDIS_REPLY_STRING:
        rc = cm_rreply_body(r, body, why, whysz);
        break;
    case REDIS_REPLY_NIL:
        rc = CM_BE_MISS;
        break;
    case REDIS_REPLY_ERROR:
        rc = cm_rreply_error(r, why, whysz);
        break;
    default:
        snprintf(why, whysz, "redis: GETEX answered type %d", r->type);
        rc = CM_BE_ERROR;
        break;
    }
    freeReplyObject(r);
    return rc;
}

/* The result of a SET reply (an OOM refusal is CM_BE_REFUSED); frees the reply. */
static int put_result(redisReply *r, char *why, size_t whysz)
{
    int rc = CM_BE_OK;

    if (r->type == REDIS_REPLY_ERROR) {
        rc = cm_rreply_error(r, why, whysz);
        /* OOM under maxmemory-policy noeviction: the server is fine, the write will not fit. */
        if (rc == CM_BE_ERROR && r->str != NULL && strncmp(r->str, "OOM", 3) == 0)
            rc = CM_BE_REFUSED;
    }
    freeReplyObject(r);
    return rc;
}

int cm_rbackend_get(struct cm_backend *b, const char *hexkey, struct cm_rbuf *body, char *why,
                    size_t whysz)
{
    struct cm_rbackend *s = (struct cm_rbackend *)b;
    struct cm_rthread *t = cm_rpool_thread(&s->rb_pool);
    char key[CM_RKEY_MAX + 1];
    const char *argv[4] = {"GETEX", key, "EX", s->rb_ttl};
    size_t lens[4] = {5, 0, 2, strlen(s->rb_ttl)};
    redisReply *r;
    int rc;

    body->b_len = 0;
    if (t == NULL) {
        snprintf(why, whysz, "out of memory");
        return CM_BE_ERROR;
    }
    lens[1] = cm_rkey_name(s->rb_ns, hexkey, key);
    rc = s->rb_send(t, cm_rnow() + s->rb_pool.rp_timeout_ns, s->rb_tmo_ms, 4, argv, lens, &r, why,
                    whysz);
    if (rc != CM_BE_OK)
        return rc;
    return get_result(r, body, why, whysz);
}

long cm_rput_ms(long get_ms, size_t len, uint64_t deadline_ns)
{
    long ms = 1000 + 2 * get_ms + (long)(len / 1000);

    if (deadline_ns != 0) {
        long left = cm_rleft_ms(deadline_ns);

        if (left < ms)
            ms = left;
    }
    return ms;
}

int cm_rbackend_put(struct cm_backend *b, const char *hexkey, const uint8_t *data, size_t len,
                    uint64_t deadline_ns, char *why, size_t whysz)
{
    struct cm_rbackend *s = (struct cm_rbackend *)b;
    struct cm_rthread *t = cm_rpool_thread(&s->rb_pool);
    char key[CM_RKEY_MAX + 1];
    const char *argv[5] = {"SET", key, (const char *)data, "EX", s->rb_ttl};
    size_t lens[5] = {3, 0, len, 2, strlen(s->rb_ttl)};
    long ms = cm_rput_ms(s->rb_tmo_ms, len, deadline_ns);
    redisReply *r;
    int rc;

    if (t == NULL) {
        snprintf(why, whysz, "out of memory");
        return CM_BE_ERROR;
    }
    if (ms <= 0) {
        snprintf(why, whysz, "flush deadline passed");
        return CM_BE_TIMEOUT;
    }
    lens[1] = cm_rkey_name(s->rb_ns, hexkey, key);
    rc = s->rb_send(t, cm_rnow() + (uint64_t)ms * 1000000u, ms, 5, argv, lens, &r, why, whysz);
    if (rc != CM_BE_OK)
        return rc;
    return put_result(r, why, whysz);
}

/* One server: every command goes to node 0. */
static int rs_send(struct cm_rthread *t, uint64_t deadline_ns, long tmo_ms, int argc,
                   const char **argv, const size_t *lens, redisReply **reply, char *why,
                   size_t whysz)
{
    return cm_rcommand(t, 0, deadline_ns, tmo_ms, argc, argv, lens, reply, why, whysz);
}

static struct cm_backend *rs_open(const struct cm_backend_conf *conf, char *err, size_t errsz)
{
    return cm_rbackend_open(conf, 0, &cm_redis_backend, rs_send, err, errsz);
}

void cm_rbackend_close(struct cm_backend *b)
{
    struct cm_rbackend *s = (struct cm_rbackend *)b;

    cm_rpool_close(&s->rb_pool);
    free(s);
}

void cm_rbackend_atfork_child(struct cm_backend *b)
{
    cm_rpool_atfork_child(&((struct cm_rbackend *)b)->rb_pool);
}

const struct cm_backend_ops cm_redis_backend = {
    .be_scheme = "redis://",
    .be_open = rs_open,
    .be_get = cm_rbackend_get,
    .be_put = cm_rbackend_put,
    .be_close = cm_rbackend_close,
    .be_atfork_child = cm_rbackend_atfork_child,
};
