/*
 * backend.h - the remote tier's storage backends behind one small interface.
 *
 * What it does: declares what plugin.c needs from a store (open, get, put, close, and a fork
 * hook) and a table that picks a backend by URL scheme. One backend exists now, HTTP(S) over
 * libcurl (http.c: the keycache server or any GET/PUT store such as nginx WebDAV); a Redis
 * backend (redis://) slots in beside it.
 *
 * Contract for implementations: get() and put() are called concurrently from many threads
 * (put() from the writer thread only) and must keep per-thread connections; neither may raise
 * signals (curl: CURLOPT_NOSIGNAL). They return enum cm_be_result and may write a short reason
 * for failures into why. The values are opaque envelopes (envelope.h); backends never look
 * inside.
 */
#ifndef CM_BACKEND_H
#define CM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer with a hard cap (b_max). */
struct cm_rbuf {
    uint8_t *b_data;
    size_t b_len, b_cap, b_max;
};

enum cm_be_result {
    CM_BE_OK = 0,       /* get: 200 and the body in `body`; put: 2xx */
    CM_BE_MISS = 1,     /* get: 404 */
    CM_BE_ERROR = -1,   /* transport error, 5xx, unexpected status, body too large: retryable */
    CM_BE_TIMEOUT = -2, /* the request hit its time limit */
    CM_BE_AUTH = -3,    /* 401 or 403 */
    CM_BE_REFUSED = -4, /* put: another 4xx (411, 413, 507...): retrying will not help */
};

struct cm_backend_conf {
    const char *bc_url;     /* as configured, scheme included */
    const char *bc_ns;      /* validated namespace */
    const char *bc_token;   /* "" or the bearer token */
    uint64_t bc_timeout_ns; /* each get: connect + transfer */
    uint64_t bc_max_body;   /* a get body larger than this is an error */
    uint64_t bc_expire_ns;  /* remote_expire: Redis TTL, set on write, refreshed on read */
    const char *bc_ca;      /* "" or a PEM CA file for https:// (remote_ca) */
};

struct cm_backend;

struct cm_backend_ops {
    const char *be_scheme; /* URL prefix it serves, e.g. "http://" */
    struct cm_backend *(*be_open)(const struct cm_backend_conf *c, char *err, size_t errsz);
    int (*be_get)(struct cm_backend *b, const char *hexkey, struct cm_rbuf *body, char *why,
                  size_t whysz);
    /* deadline_ns: 0 for the backend's own limit, else an absolute CLOCK_MONOTONIC time. */
    int (*be_put)(struct cm_backend *b, const char *hexkey, const uint8_t *data, size_t len,
                  uint64_t deadline_ns, char *why, size_t whysz);
    void (*be_close)(struct cm_backend *b);
    /* In a forked child (single thread, from pthread_atfork): forget every connection without
     * closing it (its socket is the parent's); later calls open new ones. No locks taken. */
    void (*be_atfork_child)(struct cm_backend *b);
};

/* Every backend object starts with this. */
struct cm_backend {
    const struct cm_backend_ops *be_ops;
};

extern const struct cm_backend_ops cm_http_backend;
extern const struct cm_backend_ops cm_redis_backend, cm_redis_cluster_backend; /* redis*.c */

/* The backend whose scheme prefixes url (case-insensitive), or NULL. */
const struct cm_backend_ops *cm_backend_find(const char *url);

/* Monotonic clock, ns. */
uint64_t cm_rnow(void);

#endif
