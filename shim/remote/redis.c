/*
 * redis.c - the Redis backend of the remote tier (redis://, one server) and the hiredis
 * connection layer it shares with redis_cluster.c (redis.h).
 *
 * What it does: parses redis:// URLs; keeps per-thread connections (connect with a timeout,
 * AUTH [user] password, SELECT db); stores entries with `SET <ns>:<hexkey> value EX ttl` and
 * reads them with `GETEX <ns>:<hexkey> EX ttl`, so an entry read at least once per
 * remote_expire stays (GETEX needs Redis >= 6.2). Results: bulk string -> OK, nil -> MISS,
 * error reply -> ERROR (NOAUTH/WRONGPASS/NOPERM -> AUTH), I/O error -> ERROR, socket timeout ->
 * TIMEOUT.
 *
 * DESIGN: see redis.h for the per-thread pool. hiredis 0.14 writes with write(2), so a server
 * that closed the connection would raise SIGPIPE in the host program: every command runs with
 * SIGPIPE blocked in the calling thread, and a SIGPIPE it caused is consumed before the mask is
 * restored (a SIGPIPE already pending is left alone). The get timeout bounds the connect and
 * each socket read/write (SO_RCVTIMEO/SO_SNDTIMEO), as closely as a blocking client allows.
 *
 * What it does not do: TLS (rediss:// is refused at open: hiredis 0.14 has no TLS), Sentinel,
 * pipelining, retries (the breaker and the writer decide), or look inside values.
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

/* --- URL ---------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes). -1 on a bad escape, a NUL or overflow. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* "host[:port]" or "[v6]:port" in s[0..n) into a. */
static int parse_hostport(const char *s, size_t n, struct cm_raddr *a, char *err, size_t errsz)
{
    size_t hlen = n;
    const char *port = NULL;
    const char *h = s;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (close == NULL)
            goto bad;
        h = s + 1;
        hlen = (size_t)(close - s) - 1;
        if ((size_t)(close - s) + 1 < n) {
            if (close[1] != ':')
                goto bad;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);

        if (colon != NULL) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0 || hlen > CM_RHOST_MAX)
        goto bad;
    memcpy(a->ra_host, h, hlen);
    a->ra_host[hlen] = '\0';
    a->ra_port = 6379;
    if (port != NULL) {
        long v = 0;

        if (port == s + n)
            goto bad;
        for (const char *p = port; p < s + n; p++) {
            if (*p < '0' || *p > '9')
                goto bad;
            v = v * 10 + (*p - '0');
            if (v > 65535)
                goto bad;
        }
        if (v < 1)
            goto bad;
        a->ra_port = (int)v;
    }
    return 0;
bad:
    snprintf(err, errsz, "remote URL: bad host or port '%.*s'", (int)(n > 300 ? 300 : n), s);
    return -1;
}

int cm_redis_parse_url(const char *url, struct cm_rurl *u, char *err, size_t errsz)
{
    const char *p, *end, *at, *slash;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(err, errsz,
                 "rediss:// needs hiredis >= 1.0 with TLS; Debian 12 ships 0.14 "
                 "(use redis:// on a trusted network, or a TLS tunnel such as stunnel)");
        return -1;
    }
    if (strncasecmp(url, "redis+cluster://", 16) == 0) {
        u->ru_cluster = 1;
        p = url + 16;
    } else if (strncasecmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else {
        snprintf(err, errsz, "remote URL '%s' is not redis:// or redis+cluster://", url);
        return -1;
    }
    for (const char *q = url; *q != '\0'; q++) {
        if ((unsigned char)*q <= ' ' || *q == '?' || *q == '#') {
            snprintf(err, errsz,
                     "remote URL: spaces, control characters, '?' and '#' are not "
                     "allowed");
            return -1;
        }
    }
    end = p + strlen(p);
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = end;
    at = memrchr(p, '@', (size_t)(slash - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));

        if (colon == NULL) {
            /* redis://password@host, as redis-cli -u accepts */
            if (pct_decode(p, (size_t)(at - p), u->ru_pass, sizeof(u->ru_pass)) < 0)
                goto badauth;
        } else if (pct_decode(p, (size_t)(colon - p), u->ru_user, sizeof(u->ru_user)) < 0 ||
                   pct_decode(colon + 1, (size_t)(at - colon - 1), u->ru_pass, sizeof(u->ru_pass)) <
                       0) {
            goto badauth;
        }
        p = at + 1;
    }
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *e = comma != NULL ? comma : slash;

        if (u->ru_nseeds == CM_RSEEDS_MAX) {
            snprintf(err, errsz, "remote URL: more than %d hosts", CM_RSEEDS_MAX);
            return -1;
        }
        if (parse_hostport(p, (size_t)(e - p), &u->ru_seeds[u->ru_nseeds], err, errsz) < 0)
            return -1;
        u->ru_nseeds++;
        p = comma != NULL ? comma + 1 : slash;
        if (comma != NULL && p == slash) {
            snprintf(err, errsz, "remote URL: empty host after ','");
            return -1;
        }
    }
    if (u->ru_nseeds == 0) {
        snprintf(err, errsz, "remote URL '%s' has no host", url);
        return -1;
    }
    if (u->ru_nseeds > 1 && !u->ru_cluster) {
        snprintf(err, errsz, "remote URL: several hosts need redis+cluster://");
        return -1;
    }
    if (*slash == '/' && slash[1] != '\0') {
        long db = 0;

        for (const char *q = slash + 1; *q != '\0'; q++) {
            if (*q < '0' || *q > '9' || db > 100000) {
                snprintf(err, errsz, "remote URL: the path must be a database number");
                return -1;
            }
            db = db * 10 + (*q - '0');
        }
        if (u->ru_cluster && db != 0) {
            snprintf(err, errsz, "remote URL: Redis Cluster has database 0 only");
            return -1;
        }
        u->ru_db = (int)db;
    }
    return 0;
badauth:
    snprintf(err, errsz,
             "remote URL: bad user or password (percent-encode '@', ':', '/', "
             "'%%')");
    return -1;
}

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

/* --- the single-server backend --------------------------------------------------------------- */

struct cm_backend *cm_rbackend_open(const struct cm_backend_conf *conf, int cluster,
                                    const struct cm_backend_ops *ops, char *err, size_t errsz)
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

int cm_rget_result(redisReply *r, struct cm_rbuf *body, char *why, size_t whysz)
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

int cm_rput_result(redisReply *r, char *why, size_t whysz)
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

static int rs_get(struct cm_backend *b, const char *hexkey, struct cm_rbuf *body, char *why,
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
    rc = cm_rcommand(t, 0, cm_rnow() + s->rb_pool.rp_timeout_ns, s->rb_tmo_ms, 4, argv, lens, &r,
                     why, whysz);
    if (rc != CM_BE_OK)
        return rc;
    return cm_rget_result(r, body, why, whysz);
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

static int rs_put(struct cm_backend *b, const char *hexkey, const uint8_t *data, size_t len,
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
    rc = cm_rcommand(t, 0, cm_rnow() + (uint64_t)ms * 1000000u, ms, 5, argv, lens, &r, why, whysz);
    if (rc != CM_BE_OK)
        return rc;
    return cm_rput_result(r, why, whysz);
}

static struct cm_backend *rs_open(const struct cm_backend_conf *conf, char *err, size_t errsz)
{
    return cm_rbackend_open(conf, 0, &cm_redis_backend, err, errsz);
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
    .be_get = rs_get,
    .be_put = rs_put,
    .be_close = cm_rbackend_close,
    .be_atfork_child = cm_rbackend_atfork_child,
};
