/*
 * kc_http.c - the keycache's libmicrohttpd daemon and request handler (kc_http.h).
 *
 * What it does: on the first call of a request, classifies it (kc_auth for the token, then
 * kc_proto) and answers at once unless it is a PUT; a PUT reserves its announced length from
 * the upload budget, collects the body in a buffer that grows with the bytes received (never
 * beyond Content-Length, which kc_proto capped at --max-value) and stores it on the final call.
 * Every answer is counted in kc_metrics.
 *
 * What it does not do: no option parsing, no signals, no store maintenance. Errors that
 * libmicrohttpd answers by itself (request line or headers over the memory limit, malformed
 * HTTP, connection limits) do not reach the handler and are not counted.
 *
 * DESIGN
 * - Threads: libmicrohttpd's thread pool (opts.threads) runs the handler; state per request
 *   lives in `struct req` (*con_cls), freed in the completion callback. Shared state is the
 *   store (thread-safe), the read-only token table, and two relaxed atomics here: `inflight`
 *   (requests between first call and completion, for a graceful stop), `reserved` (upload
 *   bytes promised to PUTs in progress) and `sending` (copies of GET values over 64 KiB not yet
 *   sent), each bounded by opts.upload_budget (503 beyond it): memory stays bounded however
 *   many clients upload or read large values at once. Smaller values are bounded by the
 *   connection limit (64 KiB each).
 * - PUT and DELETE: on the final call the write goes to the store's writer thread
 *   (kc_store_write) and the connection is suspended; the writer's done callback stores the
 *   result (`written`, release) and resumes it; the handler, called again, answers. The worker
 *   thread never waits for the disk, and q stays alive until then (a suspended connection is
 *   not completed).
 * - Errors for a request that announces a body (413 and 411 for a PUT, any error for another
 *   method with a body) are sent from the first call, before any body byte is read;
 *   libmicrohttpd then closes the connection instead of reading the body. Everything else is
 *   answered on the final call, after libmicrohttpd has read the whole request, so the
 *   connection stays alive (answering earlier makes libmicrohttpd close it).
 */
#include "kc_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kc_auth.h"
#include "kc_conns.h"
#include "kc_metrics.h"
#include "kc_proto.h"
#include "kc_store.h"

#define BODY_CHUNK (64 * 1024)  /* first buffer size for a PUT body; then it doubles */
#define SMALL_VALUE (64 * 1024) /* GET values up to this size are not counted in `sending` */

struct kc_http {
    struct MHD_Daemon *d;
    struct kc_http_opts o;
    struct kc_conns *conns; /* open connections and their header deadlines */
    unsigned port;
    int inflight;      /* atomic */
    uint64_t reserved; /* atomic: PUT body bytes announced by requests being received */
    uint64_t sending;  /* atomic: bytes of large GET values being sent */
};

struct req {
    struct kc_verdict v;
    char *body;
    size_t len, cap;
    uint64_t reserved; /* taken from kc_http.reserved */
    bool failed;       /* a reply was queued before the body was complete */
    bool submitted;    /* PUT/DELETE: handed to the store's writer, connection suspended */
    int written;       /* atomic: the writer reported the result (w.rc, w.replaced) */
    struct kc_write w;
    struct MHD_Connection *conn;
};

int kc_http_has_tls(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static enum MHD_Result queue(struct MHD_Connection *c, struct MHD_Response *r, int status,
                             enum kc_method m)
{
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES)
        kc_metrics_request(m, status);
    return ret;
}

/* A one-line text answer (`reason` is a static string ending in "\n"). */
static enum MHD_Result reply_text(struct MHD_Connection *c, int status, const char *reason,
                                  const struct kc_verdict *v)
{
    struct MHD_Response *r;

    r = MHD_create_response_from_buffer(strlen(reason), (void *)reason, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (v != NULL && v->allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, v->allow);
    if (v != NULL && v->www_auth)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (v != NULL && v->close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return queue(c, r, status, v != NULL ? v->method : KC_M_OTHER);
}

static enum MHD_Result reply_empty(struct MHD_Connection *c, int status, enum kc_method m)
{
    return queue(c, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), status, m);
}

/* HEAD: the headers of a GET, no body; libmicrohttpd never calls this reader for HEAD. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* A GET body: the value copied out of LMDB, with what it took from the download budget. */
struct out {
    struct kc_http *h;
    uint64_t reserved; /* 0 for small values */
    char data[];
};

static bool take(uint64_t *budget_used, uint64_t n, uint64_t budget)
{
    uint64_t cur = __atomic_load_n(budget_used, __ATOMIC_RELAXED);

    do {
        if (cur + n > budget)
            return false;
    } while (!__atomic_compare_exchange_n(budget_used, &cur, cur + n, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return true;
}

static void free_out(void *cls)
{
    struct out *o = cls;

    if (o->reserved != 0)
        __atomic_fetch_sub(&o->h->sending, o->reserved, __ATOMIC_RELAXED);
    free(o);
}

/* kc_store_get's copy callback: values over SMALL_VALUE count against the download budget, so
 * many slow readers of large values cannot pin unbounded memory (-EBUSY -> 503). */
static int copy_out(void *ctx, const void *val, size_t len)
{
    struct out **po = ctx, *o;
    struct kc_http *h = (*po)->h;
    uint64_t res = len > SMALL_VALUE ? len : 0;

    if (res != 0 && !take(&h->sending, res, h->o.upload_budget))
        return -EBUSY;
    o = malloc(sizeof(*o) + len);
    if (o == NULL) {
        if (res != 0)
            __atomic_fetch_sub(&h->sending, res, __ATOMIC_RELAXED);
        return -ENOMEM;
    }
    o->h = h;
    o->reserved = res;
    memcpy(o->data, val, len);
    *po = o;
    return 0;
}

static enum MHD_Result do_get(struct kc_http *h, struct MHD_Connection *c, struct req *q)
{
    struct MHD_Response *r;
    bool head = q->v.action == KC_ACT_HEAD;
    struct out proto = {h, 0}, *o = &proto;
    size_t len = 0;
    int rc;

    rc = kc_store_get(h->o.store, q->v.skey, q->v.skey_len, &len, head ? NULL : copy_out, &o);
    if (rc == -ENOENT) {
        kc_metrics_miss();
        return reply_text(c, 404, "not found\n", &q->v);
    }
    if (rc == -EBUSY)
        return reply_text(c, 503, "server busy: too many large values being sent, retry\n", &q->v);
    if (rc != 0)
        return reply_text(c, 500, "store error\n", &q->v);
    if (head)
        r = MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL);
    else
        r = MHD_create_response_from_buffer_with_free_callback_cls(len, o->data, free_out, o);
    if (r == NULL) {
        if (!head)
            free_out(o);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    kc_metrics_hit(head ? 0 : len);
    return queue(c, r, 200, q->v.method);
}

static enum MHD_Result do_metrics(struct kc_http *h, struct MHD_Connection *c, struct req *q)
{
    struct kc_store_stats st;
    struct MHD_Response *r;
    size_t len;
    char *page;

    kc_store_stats(h->o.store, &st);
    page = kc_metrics_render(&st, &len);
    if (page == NULL)
        return reply_text(c, 500, "out of memory\n", &q->v);
    r = MHD_create_response_from_buffer_with_free_callback(len, page, free);
    if (r == NULL) {
        free(page);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    return queue(c, r, 200, q->v.method);
}

/* The store's writer thread: the write is committed (or failed); wake the connection, whose
 * handler is then called again and answers (answer_write). */
static void write_done(struct kc_write *w)
{
    struct req *q = w->ctx;

    __atomic_store_n(&q->written, 1, __ATOMIC_RELEASE);
    MHD_resume_connection(q->conn);
}

/* PUT and DELETE, final call: hand the write to the store's writer thread and suspend the
 * connection meanwhile, so this worker thread goes on serving other connections. */
static enum MHD_Result submit_write(struct kc_http *h, struct MHD_Connection *c, struct req *q)
{
    int rc;

    if (q->v.action == KC_ACT_PUT && q->len != q->v.length) {
        q->failed = true;
        return reply_text(c, 400, "body shorter than Content-Length\n", &q->v);
    }
    q->submitted = true;
    q->conn = c;
    q->w.key = q->v.skey;
    q->w.klen = q->v.skey_len;
    q->w.val = q->v.action == KC_ACT_PUT ? (q->body != NULL ? q->body : "") : NULL;
    q->w.len = q->len;
    q->w.done = write_done;
    q->w.ctx = q;
    MHD_suspend_connection(c);
    rc = kc_store_write(h->o.store, &q->w);
    if (rc != 0) {
        q->w.rc = rc; /* refused at once: answer on the next call all the same */
        write_done(&q->w);
    }
    return MHD_YES;
}

static enum MHD_Result answer_write(struct MHD_Connection *c, struct req *q)
{
    int rc = q->w.rc;

    q->failed = true;
    if (rc == -ENOENT && q->v.action == KC_ACT_DELETE)
        return reply_text(c, 404, "not found\n", &q->v);
    if (rc == -ENOSPC)
        return reply_text(c, 507, "store full: the value does not fit even after eviction\n",
                          &q->v);
    if (rc == -EDQUOT)
        return reply_text(c, 507, "disk full: no space left on the store's filesystem\n", &q->v);
    if (rc != 0)
        return reply_text(c, 500, "store error\n", &q->v);
    if (q->v.action == KC_ACT_DELETE)
        return reply_empty(c, 204, q->v.method);
    kc_metrics_bytes_in(q->len);
    return reply_empty(c, q->w.replaced ? 204 : 201, q->v.method);
}

/* MHD_get_connection_values callback: counts the framing headers (libmicrohttpd's look-up
 * returns only the first of several). */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct kc_request *rq = cls;

    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        rq->content_lengths++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        rq->transfer_encodings++;
    return MHD_YES;
}

/* First call (headers read, no body yet): classify. Answers now only errors of requests that
 * announce a body (and 503 for a PUT over the budget); the rest waits for the final call. */
static enum MHD_Result first_call(struct kc_http *h, struct MHD_Connection *c, struct req *q,
                                  const char *url, const char *method)
{
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    struct kc_request rq;
    const char *tok = NULL;
    size_t toklen = 0;

    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.url = url;
    if (!kc_bearer_token(auth, &tok, &toklen))
        tok = NULL;
    rq.role = kc_auth_role(h->o.auth, tok, toklen);
    if (h->o.auth != NULL && tok == NULL && auth != NULL)
        rq.role = KC_ROLE_UNKNOWN; /* an Authorization header we cannot use */
    rq.content_length =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    rq.transfer_encoding =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &rq);
    rq.max_value = h->o.max_value;
    kc_classify(&rq, &q->v);

    if (q->v.action != KC_ACT_PUT) {
        /* Answer errors at once when a body is announced (the connection then closes without
         * reading it) or cannot be delimited (Connection: close); otherwise on the final call,
         * so the connection stays alive. */
        if (q->v.action == KC_ACT_REPLY &&
            (q->v.close || (rq.content_length != NULL && strcmp(rq.content_length, "0") != 0) ||
             rq.transfer_encoding != NULL)) {
            q->failed = true;
            return reply_text(c, q->v.status, q->v.reason, &q->v);
        }
        return MHD_YES;
    }
    /* Reserve the body's length from the budget, or 503 before reading it. */
    if (!take(&h->reserved, q->v.length, h->o.upload_budget)) {
        q->failed = true;
        return reply_text(c, 503, "server busy: too many uploads in progress, retry\n", &q->v);
    }
    q->reserved = q->v.length;
    return MHD_YES;
}

/* Appends `n` bytes of body; the buffer grows by doubling, capped at the announced length. */
static int append(struct req *q, const char *data, size_t n)
{
    if (n > q->v.length - q->len)
        return -1; /* more than Content-Length: libmicrohttpd does not let this happen */
    if (q->len + n > q->cap) {
        size_t cap = q->cap == 0 ? BODY_CHUNK : q->cap * 2;
        char *nb;

        if (cap < q->len + n)
            cap = q->len + n;
        if (cap > q->v.length)
            cap = (size_t)q->v.length;
        nb = realloc(q->body, cap);
        if (nb == NULL)
            return -1;
        q->body = nb;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct kc_http *h = cls;
    struct req *q = *con_cls;

    (void)version;
    if (q == NULL) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        if (ci != NULL)
            kc_conns_headers_done(ci->socket_context);
        q = calloc(1, sizeof(*q));
        if (q == NULL)
            return MHD_NO;
        *con_cls = q;
        __atomic_fetch_add(&h->inflight, 1, __ATOMIC_RELAXED);
        return first_call(h, c, q, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (q->failed || q->v.action != KC_ACT_PUT)
            return MHD_YES; /* already answered, or a body nobody asked for: discard */
        if (append(q, upload_data, n) != 0) {
            q->failed = true;
            return reply_text(c, 500, "out of memory\n", &q->v);
        }
        return MHD_YES;
    }
    if (q->submitted) {
        if (__atomic_load_n(&q->written, __ATOMIC_ACQUIRE) == 0 || q->failed)
            return MHD_YES; /* not resumed by the writer yet (should not happen), or answered */
        return answer_write(c, q);
    }
    if (q->failed)
        return MHD_YES;
    switch (q->v.action) {
    case KC_ACT_PUT:
    case KC_ACT_DELETE:
        return submit_write(h, c, q);
    case KC_ACT_REPLY:
        break;
    case KC_ACT_HEALTH:
        q->failed = true;
        return reply_text(c, 200, "ok\n", &q->v);
    case KC_ACT_METRICS:
        q->failed = true;
        return do_metrics(h, c, q);
    case KC_ACT_GET:
    case KC_ACT_HEAD:
        q->failed = true;
        return do_get(h, c, q);
    }
    q->failed = true;
    return reply_text(c, q->v.status, q->v.reason, &q->v);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct kc_http *h = cls;
    struct req *q = *con_cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    (void)toe;
    if (ci != NULL)
        kc_conns_request_done(h->conns, ci->socket_context);
    if (q == NULL)
        return;
    if (q->reserved != 0)
        __atomic_fetch_sub(&h->reserved, q->reserved, __ATOMIC_RELAXED);
    free(q->body);
    free(q);
    *con_cls = NULL;
    __atomic_fetch_sub(&h->inflight, 1, __ATOMIC_RELAXED);
}

/* Connection opened or closed (before libmicrohttpd closes its socket): the header deadlines'
 * table follows. */
static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    struct kc_http *h = cls;
    const union MHD_ConnectionInfo *ci;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        kc_metrics_connection(); /* cloudm_keycache_connections_total */
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci != NULL ? kc_conns_open(h->conns, ci->connect_fd) : NULL;
    } else {
        kc_conns_close(h->conns, *socket_context);
        *socket_context = NULL;
    }
}

unsigned kc_http_reap(struct kc_http *h)
{
    unsigned n = kc_conns_reap(h->conns);

    if (n != 0)
        kc_metrics_header_timeouts(n);
    return n;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("cloudm keycache: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int kc_http_start(const struct kc_http_opts *o, struct kc_http **out, char *err, size_t errsz)
{
    struct kc_http *h;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    /* Optional options (thread pool, TLS) go in an array; unused slots stay MHD_OPTION_END. */
    struct MHD_OptionItem extra[4] = {{MHD_OPTION_END, 0, NULL}};
    int n = 0;

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    h->o = *o;
    h->conns = kc_conns_new(o->header_ns);
    if (h->conns == NULL) {
        snprintf(err, errsz, "out of memory");
        free(h);
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else
        flags |= MHD_USE_POLL;
    if (o->addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls_cert_pem != NULL)
        flags |= MHD_USE_TLS;
    if (o->threads > 1)
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL};
    if (o->tls_cert_pem != NULL) {
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert_pem};
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key_pem};
    }
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                            NULL, MHD_OPTION_SOCK_ADDR, o->addr, MHD_OPTION_CONNECTION_LIMIT,
                            o->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->header_limit,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION,
                            notify_conn, h, MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errsz, "cannot start the HTTP server (address in use or not available?)");
        kc_conns_free(h->conns);
        free(h);
        return -1;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : 0;
    *out = h;
    return 0;
}

unsigned kc_http_port(struct kc_http *h)
{
    return h->port;
}

void kc_http_stop(struct kc_http *h, unsigned grace_ms)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    MHD_socket fd;

    if (h == NULL)
        return;
    fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (unsigned waited = 0; waited < grace_ms; waited += 10) {
        if (__atomic_load_n(&h->inflight, __ATOMIC_RELAXED) == 0)
            break;
        nanosleep(&ts, NULL);
    }
    /* Writes still queued complete now, while their suspended connections still exist. */
    kc_store_stop_writes(h->o.store);
    MHD_stop_daemon(h->d);
    kc_conns_free(h->conns);
    free(h);
}
