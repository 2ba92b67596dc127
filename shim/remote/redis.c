/*
 * redis.c - the hiredis connection layer of the Redis backends (redis.h): per-thread
 * connections (connect with a timeout, AUTH [user] password, SELECT db), one command with a
 * deadline, reply checks, key names and TTLs. Shared by the single-server backend
 * (redis_backend.c), the cluster backend (redis_cluster.c) and the keycache's Redis store.
 *
 * DESIGN: see redis.h for the per-thread pool. hiredis 0.14 writes with write(2), so a server
 * that closed the connection would raise SIGPIPE in the host program: every command runs with
 * SIGPIPE blocked in the calling thread, and a SIGPIPE it caused is consumed before the mask is
 * restored (a SIGPIPE already pending is left alone). The get timeout bounds the connect and
 * each socket read/write (SO_RCVTIMEO/SO_SNDTIMEO), as closely as a blocking client allows.
 *
 * What it does not do: URLs (redis_url.c), backend operations (redis_backend.c), TLS,
 * Sentinel, pipelining, retries, or look inside values.
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

#define TTL_DEFAULT_S (30ull * 86400)

/* --- per-thread pool ------------------------------------------------------------------------ */

static void unlink_thread(struct cm_rpool *p, struct cm_rthread *t)
{
    if (t->rt_prev != NULL)
        t->rt_prev->rt_next = t->rt_next;
    else
        p->rp_list = t->rt_next;
    if (t->rt_next != NULL)
        t->rt_next->rt_prev = t->rt_prev;
}

static void free_thread(struct cm_rthread *t)
{
    for (int i = 0; i < t->rt_nnodes; i++) {
        if (t->rt_nodes[i].rn_ctx != NULL)
            redisFree(t->rt_nodes[i].rn_ctx);
    }
    free(t->rt_nodes);
    free(t->rt_slots);
    free(t);
}

/* Thread exit: its connections go, unless they were inherited from a parent process. */
static void thread_gone(void *arg)
{
    struct cm_rthread *t = arg;
    struct cm_rpool *p = t->rt_pool;

    if (t->rt_gen != p->rp_gen)
        return;
    pthread_mutex_lock(&p->rp_mu);
    unlink_thread(p, t);
    pthread_mutex_unlock(&p->rp_mu);
    free_thread(t);
}

int cm_rpool_init(struct cm_rpool *p, const struct cm_rurl *u, uint64_t timeout_ns, int cluster,
                  char *err, size_t errsz)
{
    memset(p, 0, sizeof(*p));
    p->rp_url = *u;
    p->rp_timeout_ns = timeout_ns;
    p->rp_cluster = cluster;
    if (pthread_key_create(&p->rp_key, thread_gone) != 0) {
        snprintf(err, errsz, "pthread_key_create failed");
        return -1;
    }
    pthread_mutex_init(&p->rp_mu, NULL);
    return 0;
}

struct cm_rthread *cm_rpool_thread(struct cm_rpool *p)
{
    struct cm_rthread *t = pthread_getspecific(p->rp_key);

    if (t != NULL && t->rt_gen == p->rp_gen)
        return t;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->rt_pool = p;
    t->rt_gen = p->rp_gen;
    if (p->rp_cluster) {
        t->rt_slots = calloc(CM_RSLOTS, sizeof(*t->rt_slots));
        t->rt_map_stale = 1;
        if (t->rt_slots == NULL)
            goto fail;
    }
    for (int i = 0; i < p->rp_url.ru_nseeds; i++) {
        if (cm_rthread_node(t, p->rp_url.ru_seeds[i].ra_host, p->rp_url.ru_seeds[i].ra_port) < 0)
            goto fail;
    }
    if (pthread_setspecific(p->rp_key, t) != 0)
        goto fail;
    pthread_mutex_lock(&p->rp_mu);
    t->rt_next = p->rp_list;
    if (p->rp_list != NULL)
        p->rp_list->rt_prev = t;
    p->rp_list = t;
    pthread_mutex_unlock(&p->rp_mu);
    return t;
fail:
    free_thread(t);
    return NULL;
}

void cm_rpool_close(struct cm_rpool *p)
{
    struct cm_rthread *t, *next;

    pthread_key_delete(p->rp_key);
    for (t = p->rp_list; t != NULL; t = next) {
        next = t->rt_next;
        free_thread(t);
    }
    p->rp_list = NULL;
    pthread_mutex_destroy(&p->rp_mu);
    memset(p->rp_url.ru_pass, 0, sizeof(p->rp_url.ru_pass));
}

void cm_rpool_atfork_child(struct cm_rpool *p)
{
    p->rp_gen++;
    for (size_t i = 0; i < sizeof(p->rp_orphans) / sizeof(p->rp_orphans[0]); i++) {
        if (p->rp_list != NULL && p->rp_orphans[i] == NULL) {
            p->rp_orphans[i] = p->rp_list;
            break;
        }
    }
    p->rp_list = NULL;
    pthread_mutex_init(&p->rp_mu, NULL);
}

int cm_rthread_node(struct cm_rthread *t, const char *host, int port)
{
    size_t hlen = strlen(host);

    if (hlen == 0 || hlen > CM_RHOST_MAX || port < 1 || port > 65535)
        return -1;
    for (int i = 0; i < t->rt_nnodes; i++) {
        if (t->rt_nodes[i].rn_addr.ra_port == port &&
            strcmp(t->rt_nodes[i].rn_addr.ra_host, host) == 0)
            return i;
    }
    if (t->rt_nnodes == t->rt_capnodes) {
        int cap = t->rt_capnodes ? t->rt_capnodes * 2 : 8;
        struct cm_rnode *n;

        if (t->rt_nnodes >= CM_RNODES_MAX)
            return -1;
        if (cap > CM_RNODES_MAX)
            cap = CM_RNODES_MAX;
        n = realloc(t->rt_nodes, (size_t)cap * sizeof(*n));
        if (n == NULL)
            return -1;
        t->rt_nodes = n;
        t->rt_capnodes = cap;
    }
    memset(&t->rt_nodes[t->rt_nnodes], 0, sizeof(t->rt_nodes[0]));
    memcpy(t->rt_nodes[t->rt_nnodes].rn_addr.ra_host, host, hlen + 1);
    t->rt_nodes[t->rt_nnodes].rn_addr.ra_port = port;
    return t->rt_nnodes++;
}

void cm_rthread_drop(struct cm_rthread *t, int i)
{
    if (i >= 0 && i < t->rt_nnodes && t->rt_nodes[i].rn_ctx != NULL) {
        redisFree(t->rt_nodes[i].rn_ctx);
        t->rt_nodes[i].rn_ctx = NULL;
    }
}

/* --- commands ------------------------------------------------------------------------------- */

long cm_rleft_ms(uint64_t deadline_ns)
{
    uint64_t now = cm_rnow();

    if (now >= deadline_ns)
        return 0;
    return (long)((deadline_ns - now + 999999) / 1000000);
}

static struct timeval ms_tv(long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return tv;
}

/* A failed context: TIMEOUT when the socket timed out, else ERROR; why gets hiredis's text. */
static int ctx_failure(const redisContext *c, char *why, size_t whysz)
{
    snprintf(why, whysz, "redis %s:%d: %s", c->tcp.host ? c->tcp.host : "?", c->tcp.port,
             c->errstr[0] ? c->errstr : "connection failed");
    if (c->err == REDIS_ERR_IO &&
        (strcmp(c->errstr, strerror(EAGAIN)) == 0 || strcmp(c->errstr, strerror(ETIMEDOUT)) == 0 ||
         strstr(c->errstr, "timed out") != NULL))
        return CM_BE_TIMEOUT;
    return CM_BE_ERROR;
}

int cm_rreply_error(const redisReply *r, char *why, size_t whysz)
{
    const char *s = r->str ? r->str : "";

    snprintf(why, whysz, "redis: %.*s", (int)(r->len > 120 ? 120 : r->len), s);
    if (strncmp(s, "NOAUTH", 6) == 0 || strncmp(s, "WRONGPASS", 9) == 0 ||
        strncmp(s, "NOPERM", 6) == 0 || strncmp(s, "ERR invalid password", 20) == 0 ||
        strncmp(s, "ERR AUTH", 8) == 0)
        return CM_BE_AUTH;
    return CM_BE_ERROR;
}

/* Sends one command with SIGPIPE blocked in this thread; consumes a SIGPIPE it raised. */
static redisReply *run(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    sigset_t pipe_set, old, pending;
    int was_pending;
    redisReply *r;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    r = redisCommandArgv(c, argc, argv, lens);
    if (!was_pending) {
        struct timespec zero = {0, 0};
        int saved = errno;

        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &zero);
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* Connects node n: TCP within the deadline, then AUTH and SELECT. */
static int connect_node(struct cm_rthread *t, struct cm_rnode *n, uint64_t deadline_ns, char *why,
                        size_t whysz)
{
    const struct cm_rurl *u = &t->rt_pool->rp_url;
    long ms = cm_rleft_ms(deadline_ns);
    redisContext *c;
    redisReply *r;
    int rc;

    if (ms <= 0) {
        snprintf(why, whysz, "redis %s:%d: no time left to connect", n->rn_addr.ra_host,
                 n->rn_addr.ra_port);
        return CM_BE_TIMEOUT;
    }
    c = redisConnectWithTimeout(n->rn_addr.ra_host, n->rn_addr.ra_port, ms_tv(ms));
    if (c == NULL) {
        snprintf(why, whysz, "redis: out of memory");
        return CM_BE_ERROR;
    }
    if (c->err != 0) {
        rc = ctx_failure(c, why, whysz);
        redisFree(c);
        return rc;
    }
    ms = cm_rleft_ms(deadline_ns);
    if (ms <= 0 || redisSetTimeout(c, ms_tv(ms)) != REDIS_OK) {
        snprintf(why, whysz, "redis %s:%d: timed out while connecting", n->rn_addr.ra_host,
                 n->rn_addr.ra_port);
        redisFree(c);
        return CM_BE_TIMEOUT;
    }
    n->rn_tmo_ms = ms;
    if (u->ru_pass[0] != '\0') {
        const char *argv[3] = {"AUTH", u->ru_user, u->ru_pass};
        size_t lens[3] = {4, strlen(u->ru_user), strlen(u->ru_pass)};

        if (u->ru_user[0] == '\0') {
            argv[1] = u->ru_pass;
            lens[1] = lens[2];
        }
        r = run(c, u->ru_user[0] != '\0' ? 3 : 2, argv, lens);
        if (r == NULL)
            goto ctx_fail;
        rc = r->type == REDIS_REPLY_ERROR ? cm_rreply_error(r, why, whysz) : CM_BE_OK;
        if (r->type == REDIS_REPLY_ERROR && rc == CM_BE_ERROR &&
            strstr(r->str ? r->str : "", "password") != NULL)
            rc = CM_BE_AUTH;
        freeReplyObject(r);
        if (rc != CM_BE_OK)
            goto fail;
    }
    if (u->ru_db != 0 && !u->ru_cluster) {
        char db[16];
        const char *argv[2] = {"SELECT", db};
        size_t lens[2];

        lens[1] = (size_t)snprintf(db, sizeof(db), "%d", u->ru_db);
        lens[0] = 6;
        r = run(c, 2, argv, lens);
        if (r == NULL)
            goto ctx_fail;
        rc = r->type == REDIS_REPLY_ERROR ? cm_rreply_error(r, why, whysz) : CM_BE_OK;
        freeReplyObject(r);
        if (rc != CM_BE_OK)
            goto fail;
    }
    n->rn_ctx = c;
    return CM_BE_OK;
ctx_fail:
    rc = ctx_failure(c, why, whysz);
fail:
    redisFree(c);
    return rc;
}

int cm_rcommand(struct cm_rthread *t, int i, uint64_t deadline_ns, long tmo_ms, int argc,
                const char **argv, const size_t *lens, redisReply **reply, char *why, size_t whysz)
{
    struct cm_rnode *n = &t->rt_nodes[i];
    long left;
    int rc;

    *reply = NULL;
    if (n->rn_ctx == NULL) {
        rc = connect_node(t, n, deadline_ns, why, whysz);
        if (rc != CM_BE_OK) {
            n->rn_down_until = cm_rnow() + CM_RNODE_DOWN_NS;
            return rc;
        }
        /* What the connection took comes off this command's time. */
        left = cm_rleft_ms(deadline_ns);
        if (left < tmo_ms)
            tmo_ms = left;
    }
    if (tmo_ms < 1)
        tmo_ms = 1;
    if (n->rn_tmo_ms != tmo_ms) {
        if (redisSetTimeout(n->rn_ctx, ms_tv(tmo_ms)) != REDIS_OK) {
            rc = ctx_failure(n->rn_ctx, why, whysz);
            cm_rthread_drop(t, i);
            return rc;
        }
        n->rn_tmo_ms = tmo_ms;
    }
    *reply = run(n->rn_ctx, argc, argv, lens);
    if (*reply == NULL) {
        rc = ctx_failure(n->rn_ctx, why, whysz);
        cm_rthread_drop(t, i);
        n->rn_down_until = cm_rnow() + CM_RNODE_DOWN_NS;
        return rc;
    }
    n->rn_down_until = 0;
    return CM_BE_OK;
}

int cm_rreply_body(const redisReply *r, struct cm_rbuf *body, char *why, size_t whysz)
{
    body->b_len = 0;
    if (r->len > body->b_max) {
        snprintf(why, whysz, "redis: value of %zu bytes is larger than any envelope", r->len);
        return CM_BE_ERROR;
    }
    if (r->len > body->b_cap) {
        uint8_t *p = realloc(body->b_data, r->len);

        if (p == NULL) {
            snprintf(why, whysz, "out of memory");
            return CM_BE_ERROR;
        }
        body->b_data = p;
        body->b_cap = r->len;
    }
    if (r->len > 0)
        memcpy(body->b_data, r->str, r->len);
    body->b_len = r->len;
    return CM_BE_OK;
}

size_t cm_rkey_name(const char *ns, const char *hexkey, char *key)
{
    size_t n = strlen(ns);

    if (n > 64)
        n = 64;
    memcpy(key, ns, n);
    key[n] = ':';
    memcpy(key + n + 1, hexkey, 128);
    key[n + 129] = '\0';
    return n + 129;
}

void cm_rttl(uint64_t expire_ns, char out[24])
{
    uint64_t s = expire_ns ? expire_ns / 1000000000u : TTL_DEFAULT_S;

    snprintf(out, 24, "%llu", (unsigned long long)(s ? s : 1));
}
