/*
 * redis.h - the connection layer shared by the Redis backends of the remote tier (redis.c:
 * one server, redis:// ; redis_cluster.c: Redis Cluster, redis+cluster://), over hiredis.
 *
 * What it declares: the parsed Redis URL, a per-thread connection pool (each thread that talks
 * to Redis owns its connections; nobody else ever touches them), connecting with AUTH and
 * SELECT under a deadline, running one command with SIGPIPE kept away from the host program,
 * and mapping hiredis failures and error replies onto enum cm_be_result.
 *
 * DESIGN: a struct cm_rthread belongs to one thread of one backend. It holds the thread's node
 * table (host, port, hiredis context) and, for a cluster, its own slot map, so the request path
 * takes no lock at all. The pool's mutex (rp_mu) guards only the list of threads, taken on a
 * thread's first request, at thread exit and at close. After fork the child bumps rp_gen and
 * moves the list aside without freeing anything (the sockets are the parent's); a cm_rthread
 * whose rt_gen is old is never used again. A context that failed (I/O error, timeout, protocol
 * error) is freed at once: its stream may be out of step, so the next request reconnects.
 *
 * What it does not do: routing, redirections or slot maps (redis_cluster.c), keys, TTLs and
 * result mapping of GET/SET (redis_backend.c), TLS (hiredis 0.14 has none).
 */
#ifndef CM_REDIS_H
#define CM_REDIS_H

#include <hiredis.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define CM_RHOST_MAX 255               /* host names and literal addresses, bytes */
#define CM_RSEEDS_MAX 32               /* host:port pairs in a redis+cluster:// URL */
#define CM_RNODES_MAX 1024             /* nodes a thread keeps connections to, at most */
#define CM_RSLOTS 16384                /* Redis Cluster hash slots */
#define CM_RKEY_MAX (64 + 1 + 128)     /* "<namespace>:" + 128 hex digits */
#define CM_RNODE_DOWN_NS 1000000000ull /* a node that failed is asked last for a while */

struct cm_raddr {
    char ra_host[CM_RHOST_MAX + 1];
    int ra_port;
};

/* redis://[user:password@]host[:port][/db] or redis+cluster://[user:password@]h1:p1,h2:p2... */
struct cm_rurl {
    int ru_cluster; /* redis+cluster:// */
    int ru_nseeds;  /* 1 for redis:// */
    struct cm_raddr ru_seeds[CM_RSEEDS_MAX];
    char ru_user[256];  /* "" : AUTH password only (or no AUTH) */
    char ru_pass[1100]; /* "" : no AUTH */
    int ru_db;          /* SELECT db (never for a cluster) */
};

/* Parses url (scheme included) into u. 0, or -1 with a one-line reason in err. rediss:// is
 * refused with the reason that this hiredis has no TLS. */
int cm_redis_parse_url(const char *url, struct cm_rurl *u, char *err, size_t errsz);

struct cm_rnode {
    struct cm_raddr rn_addr;
    redisContext *rn_ctx;   /* NULL: not connected */
    long rn_tmo_ms;         /* the socket timeout last set on rn_ctx */
    uint64_t rn_down_until; /* monotonic ns: it failed recently, ask the others first */
};

struct cm_rpool;

/* One thread's connections (and, for a cluster, its slot map). */
struct cm_rthread {
    struct cm_rpool *rt_pool;
    uint64_t rt_gen;                      /* rp_gen when created */
    struct cm_rthread *rt_next, *rt_prev; /* rp_list */
    int rt_nnodes, rt_capnodes;
    struct cm_rnode *rt_nodes;
    uint16_t *rt_slots; /* cluster: node index + 1 per slot, 0 unknown */
    int rt_map_stale;   /* cluster: refresh the map before the next request */
};

struct cm_rpool {
    struct cm_rurl rp_url;
    uint64_t rp_timeout_ns; /* remote_timeout: connect, and each command of a get */
    int rp_cluster;         /* allocate rt_slots */
    pthread_key_t rp_key;
    pthread_mutex_t rp_mu; /* rp_list */
    struct cm_rthread *rp_list;
    uint64_t rp_gen;                   /* bumped in a forked child */
    struct cm_rthread *rp_orphans[16]; /* lists moved aside by forks (reachable for LSan) */
};

/* Sets up the pool (no I/O). 0, or -1 with err. */
int cm_rpool_init(struct cm_rpool *p, const struct cm_rurl *u, uint64_t timeout_ns, int cluster,
                  char *err, size_t errsz);
/* The calling thread's state, created on first use. NULL when out of memory. */
struct cm_rthread *cm_rpool_thread(struct cm_rpool *p);
/* Frees every thread's connections and the pool's own resources (not p itself). */
void cm_rpool_close(struct cm_rpool *p);
/* Forked child: forget every connection without closing it. */
void cm_rpool_atfork_child(struct cm_rpool *p);

/* Index of the node host:port in t's table, added (unconnected) when new. -1 when the table is
 * full or out of memory. */
int cm_rthread_node(struct cm_rthread *t, const char *host, int port);
/* Closes node i's connection (after a failure, or a node that left). */
void cm_rthread_drop(struct cm_rthread *t, int i);

/* Runs one command on node i of t, connecting first when needed (connect, AUTH, SELECT, all
 * bounded by deadline_ns, an absolute CLOCK_MONOTONIC time), with tmo_ms as the socket timeout.
 * On CM_BE_OK *reply is the server's reply, which may be an error reply (the caller frees it
 * with freeReplyObject). Otherwise the connection is dropped, *reply is NULL, why says what
 * happened, and the result is CM_BE_TIMEOUT, CM_BE_AUTH (AUTH refused) or CM_BE_ERROR. */
int cm_rcommand(struct cm_rthread *t, int i, uint64_t deadline_ns, long tmo_ms, int argc,
                const char **argv, const size_t *lens, redisReply **reply, char *why, size_t whysz);

/* Runs a one-key command (argv[1] is the key) on a cluster's master for that key's slot,
 * following MOVED and ASK redirections and refreshing the slot map after failures, all before
 * deadline_ns. CM_BE_OK with a reply that is not a redirection (it may be another error reply),
 * or a failure as for cm_rcommand. t must come from a pool set up with cluster = 1. */
int cm_rcluster_command(struct cm_rthread *t, uint64_t deadline_ns, long tmo_ms, int argc,
                        const char **argv, const size_t *lens, redisReply **reply, char *why,
                        size_t whysz);

/* How a backend sends a one-key command (argv[1] is the key): cm_rcommand on node 0 for one
 * server, cm_rcluster_command for a cluster. Results as for cm_rcommand. */
typedef int cm_rsend_fn(struct cm_rthread *t, uint64_t deadline_ns, long tmo_ms, int argc,
                        const char **argv, const size_t *lens, redisReply **reply, char *why,
                        size_t whysz);

/* What the single-server and the cluster backends keep: the pool, the key prefix, the TTL, the
 * lookup time limit and how commands are sent. */
struct cm_rbackend {
    struct cm_backend rb_base;
    cm_rsend_fn *rb_send;
    struct cm_rpool rb_pool;
    char rb_ns[65];
    char rb_ttl[24]; /* remote_expire as an EX argument */
    long rb_tmo_ms;  /* remote_timeout */
};

/* Sets one up from the backend conf (URL, token_file as the password when the URL has none,
 * namespace, TTL, time limit); cluster says which kind of URL is expected, send how its
 * commands go out. NULL with err. */
struct cm_backend *cm_rbackend_open(const struct cm_backend_conf *conf, int cluster,
                                    const struct cm_backend_ops *ops, cm_rsend_fn *send, char *err,
                                    size_t errsz);
/* be_get (GETEX key EX ttl), be_put (SET key value EX ttl), be_close and be_atfork_child of
 * both backends. */
int cm_rbackend_get(struct cm_backend *b, const char *hexkey, struct cm_rbuf *body, char *why,
                    size_t whysz);
int cm_rbackend_put(struct cm_backend *b, const char *hexkey, const uint8_t *data, size_t len,
                    uint64_t deadline_ns, char *why, size_t whysz);
void cm_rbackend_close(struct cm_backend *b);
void cm_rbackend_atfork_child(struct cm_backend *b);

/* Result for an error reply: CM_BE_AUTH for NOAUTH / WRONGPASS / NOPERM, else CM_BE_ERROR;
 * why gets the server's message. */
int cm_rreply_error(const redisReply *r, char *why, size_t whysz);

/* Copies a bulk string reply into body within its cap. CM_BE_OK or CM_BE_ERROR (too large,
 * out of memory). */
int cm_rreply_body(const redisReply *r, struct cm_rbuf *body, char *why, size_t whysz);

/* "<ns>:<hexkey>" into key (CM_RKEY_MAX + 1 bytes); its length. */
size_t cm_rkey_name(const char *ns, const char *hexkey, char *key);

/* The TTL in seconds for remote_expire (0: the 30-day default), as a decimal string. */
void cm_rttl(uint64_t expire_ns, char out[24]);

/* Milliseconds from now until deadline_ns, at least 1 (0 when it has passed). */
long cm_rleft_ms(uint64_t deadline_ns);

/* The time limit of a write of len bytes: 1 s + 2 x get_ms + 1 ms per KB, never past
 * deadline_ns when it is not 0 (the flush at close). 0 when that deadline has passed. */
long cm_rput_ms(long get_ms, size_t len, uint64_t deadline_ns);

#endif
