/*
 * plugin.c - the remote client (struct cm_remote_api, cm_remote.h), tying keys, envelope,
 * backend, breakers and writer together. It runs in the cloudm agent (tools/agent/, through
 * get_raw/put_raw: envelopes in and out, checked by the host) and in the test drivers (through
 * get/put: the whole client in one process).
 *
 * What it does: open() reads the token and secret files, validates the namespace, picks the
 * backend by URL scheme and sets everything up without network I/O; get() asks the breaker,
 * derives the remote key, fetches, validates and (when encrypted) decrypts into a per-thread
 * buffer; put() queues; the writer thread's callback encodes and PUTs; counters are atomics.
 *
 * DESIGN: counters are relaxed atomics (monotonic, read by counters()). Per-thread state (the
 * GET body buffer that get()'s result points into) hangs off a pthread key per instance and is
 * registered in rm_tls (rm_mu): a thread's exit frees its own (key destructor), close()
 * frees the rest. Fork: one
 * pthread_atfork per process; the prepare handler takes the registry lock (g_mu) so the list of
 * instances is consistent in the child, whose handler resets each instance's writer, backend
 * connections and rm_mu without taking them. libcurl's global init runs once (pthread_once).
 *
 * close() releases everything but the handle itself (a few hundred bytes, never freed), which
 * stays valid for counters() so the shim can report the final counts.
 *
 * What it does not do: build canonical keys or values (the shim does), log more than one line
 * per breaker transition, or ever return a value that failed a check.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "breaker.h"
#include "cm_remote.h"
#include "envelope.h"
#include "rcrypto.h"
#include "writer.h"

#define SECRET_MAX 65536
#define PUT_ATTEMPTS 3

struct rtls {
    struct cm_rbuf t_body;
    struct rtls *t_next;
    struct cm_remote *t_owner;
};

struct cm_remote {
    struct cm_remote_host rm_host;
    char rm_url[256]; /* for log lines */
    enum cm_remote_access rm_access;
    uint64_t rm_max_value;
    uint64_t rm_flush_ns; /* flush_timeout */
    int rm_closed;        /* close() ran: only counters() may follow */
    struct cm_rkeys rm_keys;
    struct cm_backend *rm_be;
    struct cm_breaker rm_brk;  /* reads */
    struct cm_breaker rm_wbrk; /* writes: a server answering PUTs but stalling GETs opens only
                                  the read breaker */
    struct cm_writer *rm_wr;
    pthread_key_t rm_key;  /* struct rtls of the calling thread */
    pthread_mutex_t rm_mu; /* rm_tls */
    struct rtls *rm_tls;
    struct cm_rbuf rm_wbuf;    /* the writer thread's envelope buffer */
    struct cm_remote *rm_next; /* g_list */
    _Atomic uint64_t c_hits, c_misses, c_errors, c_timeouts, c_skipped, c_puts, c_put_errors,
        c_dropped, c_auth_errors;
    atomic_int rm_said_read_auth, rm_said_write_refused; /* their one log line was printed */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_curl_ok;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* g_list */
static struct cm_remote *g_list;

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_mu);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&g_mu);
}

static void atfork_child(void)
{
    for (struct cm_remote *r = g_list; r != NULL; r = r->rm_next) {
        int probing = CM_BRK_PROBING;

        /* A probe in flight belongs to a parent thread that does not exist here: without
         * this the child's breaker would wait for its answer forever. */
        atomic_compare_exchange_strong(&r->rm_brk.br_state, &probing, CM_BRK_OPEN);
        /* The child's report counts the child's requests, not the parent's. */
        atomic_store(&r->c_hits, 0);
        atomic_store(&r->c_misses, 0);
        atomic_store(&r->c_errors, 0);
        atomic_store(&r->c_timeouts, 0);
        atomic_store(&r->c_skipped, 0);
        atomic_store(&r->c_puts, 0);
        atomic_store(&r->c_put_errors, 0);
        atomic_store(&r->c_dropped, 0);
        atomic_store(&r->c_auth_errors, 0);
        atomic_store(&r->rm_brk.br_opens, 0);
        atomic_store(&r->rm_wbrk.br_opens, 0);
        cm_writer_atfork_child(r->rm_wr);
        r->rm_be->be_ops->be_atfork_child(r->rm_be);
        pthread_mutex_init(&r->rm_mu, NULL);
    }
    pthread_mutex_init(&g_mu, NULL);
}

static void global_init(void)
{
    g_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void rlog(struct cm_remote *r, const char *fmt, const char *a, const char *b)
{
    if (r->rm_host.log != NULL)
        r->rm_host.log(fmt, a, b);
}

/* Reads at most max bytes of path into buf (NUL-terminated). Length, or -1 with err set. */
static long read_file(const char *what, const char *path, char *buf, size_t max, char *err,
                      size_t errsz)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        snprintf(err, errsz, "cannot open %s '%s'", what, path);
        return -1;
    }
    n = fread(buf, 1, max, f);
    if (ferror(f) || (n == max && fgetc(f) != EOF)) {
        snprintf(err, errsz, "%s '%s': unreadable or larger than %zu bytes", what, path, max - 1);
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

static int valid_ns(const char *ns)
{
    size_t n = 0;

    for (; ns[n] != '\0'; n++) {
        char c = ns[n];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64 && strcmp(ns, ".") != 0 && strcmp(ns, "..") != 0;
}

static void report_on(struct cm_remote *r, struct cm_breaker *b, int ticket, int ok,
                      const char *why)
{
    uint64_t now = cm_rnow();
    int ev = cm_breaker_report(b, ticket, ok, now);
    int rd = b == &r->rm_brk;
    uint32_t unsaid;
    char more[300];

    /* Many threads can make the breaker flap (requests that started before it opened close
     * it again): one line per second at most, saying how many changes it did not show. */
    if (ev == CM_BRK_NONE || !cm_breaker_log_due(b, now, &unsaid))
        return;
    if (ev == CM_BRK_OPENED) {
        snprintf(more, sizeof(more), "%s", why[0] ? why : "?");
        if (unsaid != 0)
            snprintf(more, sizeof(more), "%.200s; %u more changes in the last second not shown",
                     why[0] ? why : "?", unsaid);
        rlog(r,
             rd ? "remote %s: 5 failures in a row (last: %s); not asking it for 1 s, then probing"
                : "remote %s: 5 failed stores in a row (last: %s); not writing to it for 1 s, "
                  "then probing",
             r->rm_url, more);
    } else {
        snprintf(more, sizeof(more), "%s", rd ? "answering" : "accepting stores");
        if (unsaid != 0)
            snprintf(more, sizeof(more), "%s (%u more changes in the last second not shown)",
                     rd ? "answering" : "accepting stores", unsaid);
        rlog(r, "remote %s: %s again; breaker closed", r->rm_url, more);
    }
}

static void report(struct cm_remote *r, int ticket, int ok, const char *why)
{
    report_on(r, &r->rm_brk, ticket, ok, why);
}

/* A read that failed (rc: the backend's result, or CM_BE_OK with an envelope that did not
 * decode): counted as an error (a timeout and an auth refusal also as such, the refusal said
 * once) and reported to the read breaker. */
static void read_failed(struct cm_remote *r, int ticket, int rc, const char *why)
{
    if (rc == CM_BE_TIMEOUT) {
        atomic_fetch_add_explicit(&r->c_timeouts, 1, memory_order_relaxed);
    } else if (rc == CM_BE_AUTH) {
        atomic_fetch_add_explicit(&r->c_auth_errors, 1, memory_order_relaxed);
        if (!atomic_exchange(&r->rm_said_read_auth, 1))
            rlog(r, "remote %s refuses to be read with this token (%s): check token_file",
                 r->rm_url, why[0] ? why : "401/403");
    }
    atomic_fetch_add_explicit(&r->c_errors, 1, memory_order_relaxed);
    report(r, ticket, 0, why);
}

static int writer_send(void *ctx, struct cm_witem *it, uint64_t deadline, uint64_t *retry_at);
static int send_env(struct cm_remote *r, const char *hex, const uint8_t *env, size_t len,
                    uint64_t deadline, uint32_t *attempts, uint64_t *retry_at);
static void tls_destroy(void *arg);

static struct cm_remote *r_open(const struct cm_remote_opts *o, const struct cm_remote_host *h,
                                char *err, size_t errsz)
{
    struct cm_remote *r = NULL;
    const struct cm_backend_ops *ops;
    struct cm_backend_conf bc;
    struct cm_writer_cbs cbs;
    char token[1100] = "", *secret = NULL;
    long slen = 0;

    pthread_once(&g_once, global_init);
    if (!g_curl_ok) {
        snprintf(err, errsz, "curl_global_init failed");
        return NULL;
    }
    if (o->url == NULL || (ops = cm_backend_find(o->url)) == NULL) {
        snprintf(
            err, errsz,
            "remote '%s': unsupported URL scheme (http://, https://, redis://, redis+cluster://)",
            o->url ? o->url : "");
        return NULL;
    }
    if (o->ns == NULL || !valid_ns(o->ns)) {
        snprintf(err, errsz, "namespace '%s' is not [A-Za-z0-9._-]{1,64}", o->ns ? o->ns : "");
        return NULL;
    }
    if (o->token_file != NULL && o->token_file[0] != '\0') {
        size_t n;

        if (read_file("token_file", o->token_file, token, sizeof(token), err, errsz) < 0)
            return NULL;
        n = strcspn(token, "\r\n");
        token[n] = '\0';
        while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t'))
            token[--n] = '\0';
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)token[i] < ' ' || (unsigned char)token[i] == 127) {
                snprintf(err, errsz, "token_file '%s': control character in the token",
                         o->token_file);
                goto fail;
            }
        }
        if (n == 0) {
            snprintf(err, errsz, "token_file '%s': empty first line", o->token_file);
            goto fail;
        }
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (o->secret_file != NULL && o->secret_file[0] != '\0') {
        secret = malloc(SECRET_MAX + 1);
        if (secret == NULL) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        slen = read_file("secret_file", o->secret_file, secret, SECRET_MAX + 1, err, errsz);
        if (slen < 0)
            goto fail;
        if (slen == 0) {
            snprintf(err, errsz, "secret_file '%s' is empty", o->secret_file);
            goto fail;
        }
    }
    if (cm_rkeys_init(&r->rm_keys, (const uint8_t *)secret, (size_t)(slen > 0 ? slen : 0)) < 0) {
        snprintf(err, errsz, "key derivation failed");
        goto fail;
    }
    if (h != NULL)
        r->rm_host = *h;
    snprintf(r->rm_url, sizeof(r->rm_url), "%s", o->url);
    r->rm_access = o->access;
    r->rm_flush_ns = o->flush_timeout_ns ? o->flush_timeout_ns : 10000000000ull;
    r->rm_max_value = o->max_value ? o->max_value : 64u << 20;
    if (r->rm_max_value > CM_ENV_MAX_VALUE)
        r->rm_max_value = CM_ENV_MAX_VALUE;
    cm_breaker_init(&r->rm_brk);
    cm_breaker_init(&r->rm_wbrk);
    bc.bc_url = o->url;
    bc.bc_ns = o->ns;
    bc.bc_token = token;
    bc.bc_timeout_ns = o->timeout_ns ? o->timeout_ns : 250000000u;
    bc.bc_max_body = cm_env_size((uint32_t)r->rm_max_value, 1);
    bc.bc_expire_ns = o->expire_ns;
    bc.bc_ca = o->ca_file != NULL ? o->ca_file : "";
    r->rm_be = ops->be_open(&bc, err, errsz);
    if (r->rm_be == NULL)
        goto fail;
    cbs.ctx = r;
    cbs.send = writer_send;
    cbs.thread_enter = r->rm_host.thread_enter;
    cbs.dropped = &r->c_dropped;
    r->rm_wr = cm_writer_new(&cbs, o->queue_entries ? o->queue_entries : 4096,
                             o->queue_bytes ? o->queue_bytes : 64u << 20);
    if (r->rm_wr == NULL || pthread_key_create(&r->rm_key, tls_destroy) != 0) {
        snprintf(err, errsz, "out of memory");
        if (r->rm_wr != NULL)
            cm_writer_close(r->rm_wr, 0);
        r->rm_be->be_ops->be_close(r->rm_be);
        goto fail;
    }
    r->rm_wbuf.b_max = bc.bc_max_body;
    pthread_mutex_init(&r->rm_mu, NULL);
    pthread_mutex_lock(&g_mu);
    r->rm_next = g_list;
    g_list = r;
    pthread_mutex_unlock(&g_mu);
    memset(token, 0, sizeof(token));
    if (secret != NULL) {
        memset(secret, 0, (size_t)slen);
        free(secret);
    }
    return r;
fail:
    memset(token, 0, sizeof(token));
    if (secret != NULL) {
        memset(secret, 0, SECRET_MAX + 1);
        free(secret);
    }
    if (r != NULL)
        cm_rkeys_wipe(&r->rm_keys);
    free(r);
    return NULL;
}

/* Thread exit: its buffer goes (the list would otherwise grow with every thread ever seen). */
static void tls_destroy(void *arg)
{
    struct rtls *t = arg, **pp;
    struct cm_remote *r = t->t_owner;

    pthread_mutex_lock(&r->rm_mu);
    for (pp = &r->rm_tls; *pp != NULL; pp = &(*pp)->t_next) {
        if (*pp == t) {
            *pp = t->t_next;
            break;
        }
    }
    pthread_mutex_unlock(&r->rm_mu);
    free(t->t_body.b_data);
    free(t);
}

static struct rtls *tls_get(struct cm_remote *r)
{
    struct rtls *t = pthread_getspecific(r->rm_key);

    if (t != NULL)
        return t;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->t_body.b_max = r->rm_wbuf.b_max;
    t->t_owner = r;
    if (pthread_setspecific(r->rm_key, t) != 0) {
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&r->rm_mu);
    t->t_next = r->rm_tls;
    r->rm_tls = t;
    pthread_mutex_unlock(&r->rm_mu);
    return t;
}

static long r_get(struct cm_remote *r, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
                  const uint8_t **val)
{
    uint8_t raw[CM_RKEY_LEN];
    char hex[CM_RKEY_HEX + 1], why[160] = "";
    struct rtls *t;
    long n;
    int ticket, rc;

    if (r == NULL || r->rm_closed || r->rm_access == CM_REMOTE_WRITEONLY)
        return -1;
    ticket = cm_breaker_allow(&r->rm_brk, cm_rnow());
    if (ticket == CM_BRK_DENY) {
        atomic_fetch_add_explicit(&r->c_skipped, 1, memory_order_relaxed);
        return -2;
    }
    t = tls_get(r);
    if (t == NULL || cm_rkey(&r->rm_keys, key, klen, raw) < 0) {
        /* Not the server's fault, but a probe ticket must be answered. */
        if (ticket == CM_BRK_PROBE)
            cm_breaker_report(&r->rm_brk, ticket, 0, cm_rnow());
        atomic_fetch_add_explicit(&r->c_errors, 1, memory_order_relaxed);
        return -2;
    }
    cm_rkey_hex(raw, hex);
    rc = r->rm_be->be_ops->be_get(r->rm_be, hex, &t->t_body, why, sizeof(why));
    switch (rc) {
    case CM_BE_OK:
        n = cm_env_decode(&r->rm_keys, raw, sig, t->t_body.b_data, t->t_body.b_len, val);
        if (n >= 0) {
            atomic_fetch_add_explicit(&r->c_hits, 1, memory_order_relaxed);
            report(r, ticket, 1, "");
            return n;
        }
        snprintf(why, sizeof(why), "bad envelope: %s", cm_env_strerror(n));
        break;
    case CM_BE_MISS:
        atomic_fetch_add_explicit(&r->c_misses, 1, memory_order_relaxed);
        report(r, ticket, 1, "");
        return -1;
    default:
        break;
    }
    read_failed(r, ticket, rc, why);
    return -2;
}

static int r_put(struct cm_remote *r, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
                 const uint8_t *val, uint32_t vlen)
{
    if (r == NULL || r->rm_closed || r->rm_access == CM_REMOTE_READONLY)
        return 0;
    if (vlen > r->rm_max_value) {
        atomic_fetch_add_explicit(&r->c_dropped, 1, memory_order_relaxed);
        return -1;
    }
    return cm_writer_push(r->rm_wr, key, klen, sig, val, vlen);
}

/* Writer thread: encode one queued write and PUT it. */
static int writer_send(void *ctx, struct cm_witem *it, uint64_t deadline, uint64_t *retry_at)
{
    struct cm_remote *r = ctx;
    struct cm_rbuf *b = &r->rm_wbuf;
    uint8_t raw[CM_RKEY_LEN];
    char hex[CM_RKEY_HEX + 1];
    size_t need = cm_env_size(it->wi_vlen, r->rm_keys.rk_secret);
    long n;

    if (b->b_cap < need) {
        uint8_t *p = realloc(b->b_data, need);

        if (p == NULL)
            goto local_failure;
        b->b_data = p;
        b->b_cap = need;
    }
    if (cm_rkey(&r->rm_keys, it->wi_data, it->wi_klen, raw) < 0)
        goto local_failure;
    n = cm_env_encode(&r->rm_keys, raw, it->wi_sig, it->wi_data + it->wi_klen, it->wi_vlen,
                      b->b_data, b->b_cap);
    if (n < 0)
        goto local_failure;
    cm_rkey_hex(raw, hex);
    return send_env(r, hex, b->b_data, (size_t)n, deadline, &it->wi_attempts, retry_at);
local_failure:
    atomic_fetch_add_explicit(&r->c_put_errors, 1, memory_order_relaxed);
    return CM_WRITER_DONE;
}

/* ---- raw access for the agent: envelopes in and out, the host checks them ---------------- */

static long r_get_raw(struct cm_remote *r, const char *hex, uint8_t *out, size_t cap)
{
    size_t max = cap < r->rm_wbuf.b_max ? cap : r->rm_wbuf.b_max;
    /* A fixed buffer (b_cap == b_max): the backend never reallocates, and a body that does not
     * fit is an error whatever its Content-Length said. */
    struct cm_rbuf body = {out, 0, max, max};
    char why[160] = "";
    int ticket, rc;

    if (r == NULL || r->rm_closed)
        return CM_RAW_ERROR;
    ticket = cm_breaker_allow(&r->rm_brk, cm_rnow());
    if (ticket == CM_BRK_DENY) {
        atomic_fetch_add_explicit(&r->c_skipped, 1, memory_order_relaxed);
        return CM_RAW_SKIPPED;
    }
    rc = r->rm_be->be_ops->be_get(r->rm_be, hex, &body, why, sizeof(why));
    switch (rc) {
    case CM_BE_OK:
        atomic_fetch_add_explicit(&r->c_hits, 1, memory_order_relaxed);
        report(r, ticket, 1, "");
        return (long)body.b_len;
    case CM_BE_MISS:
        atomic_fetch_add_explicit(&r->c_misses, 1, memory_order_relaxed);
        report(r, ticket, 1, "");
        return CM_RAW_MISS;
    default:
        break;
    }
    read_failed(r, ticket, rc, why);
    return rc == CM_BE_TIMEOUT ? CM_RAW_TIMEOUT : rc == CM_BE_AUTH ? CM_RAW_AUTH : CM_RAW_ERROR;
}

/* One PUT of an encoded envelope under the write breaker. CM_WRITER_DONE (sent, or failed for
 * good: counted) or CM_WRITER_RETRY with *retry_at. */
static int send_env(struct cm_remote *r, const char *hex, const uint8_t *env, size_t len,
                    uint64_t deadline, uint32_t *attempts, uint64_t *retry_at)
{
    char why[160] = "";
    uint64_t limit;
    int ticket = cm_breaker_allow(&r->rm_wbrk, cm_rnow()), rc;

    if (ticket == CM_BRK_DENY) {
        uint64_t soon = cm_rnow() + 10000000; /* a probe may be in flight: do not spin */

        *retry_at = cm_breaker_retry_at(&r->rm_wbrk);
        if (*retry_at < soon)
            *retry_at = soon;
        return CM_WRITER_RETRY;
    }
    /* No PUT outlives flush_timeout, so one in flight when close() starts cannot hold the
     * exit longer than the flush budget. */
    limit = cm_rnow() + r->rm_flush_ns;
    if (deadline == 0 || deadline > limit)
        deadline = limit;
    rc = r->rm_be->be_ops->be_put(r->rm_be, hex, env, len, deadline, why, sizeof(why));
    if (rc == CM_BE_OK) {
        atomic_fetch_add_explicit(&r->c_puts, 1, memory_order_relaxed);
        report_on(r, &r->rm_wbrk, ticket, 1, "");
        return CM_WRITER_DONE;
    }
    if (rc == CM_BE_AUTH || rc == CM_BE_REFUSED) {
        /* The server is up and said no: retrying will not change its mind. */
        if (rc == CM_BE_AUTH)
            atomic_fetch_add_explicit(&r->c_auth_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->c_put_errors, 1, memory_order_relaxed);
        if (!atomic_exchange(&r->rm_said_write_refused, 1))
            rlog(r, "remote %s refuses stores (%s); they are counted as store errors", r->rm_url,
                 why[0] ? why : "4xx");
        if (ticket == CM_BRK_PROBE)
            report_on(r, &r->rm_wbrk, ticket, 1, "");
        return CM_WRITER_DONE;
    }
    report_on(r, &r->rm_wbrk, ticket, 0, why);
    if (++*attempts >= PUT_ATTEMPTS) {
        atomic_fetch_add_explicit(&r->c_put_errors, 1, memory_order_relaxed);
        return CM_WRITER_DONE;
    }
    *retry_at = cm_rnow() + 100000000ull * *attempts;
    return CM_WRITER_RETRY;
}

static int r_put_raw(struct cm_remote *r, const char *hex, const uint8_t *env, size_t len,
                     uint32_t *attempts, uint64_t *retry_at)
{
    if (r == NULL || r->rm_closed)
        return CM_WRITER_DONE;
    return send_env(r, hex, env, len, 0, attempts, retry_at);
}

static void r_breakers(struct cm_remote *r, int *rd, int *wr)
{
    *rd = atomic_load(&r->rm_brk.br_state);
    *wr = atomic_load(&r->rm_wbrk.br_state);
}

static void r_counters(struct cm_remote *r, struct cm_remote_counters *out)
{
    memset(out, 0, sizeof(*out));
    if (r == NULL)
        return;
    out->hits = atomic_load(&r->c_hits);
    out->misses = atomic_load(&r->c_misses);
    out->errors = atomic_load(&r->c_errors);
    out->timeouts = atomic_load(&r->c_timeouts);
    out->skipped = atomic_load(&r->c_skipped);
    out->puts = atomic_load(&r->c_puts);
    out->put_errors = atomic_load(&r->c_put_errors);
    out->dropped = atomic_load(&r->c_dropped);
    out->auth_errors = atomic_load(&r->c_auth_errors);
    out->breaker_opens = atomic_load(&r->rm_brk.br_opens) + atomic_load(&r->rm_wbrk.br_opens);
}

static void r_close(struct cm_remote *r)
{
    struct cm_remote **pp;
    struct rtls *t, *next;

    if (r == NULL || r->rm_closed)
        return;
    r->rm_closed = 1;
    cm_writer_close(r->rm_wr, r->rm_flush_ns);
    r->rm_wr = NULL;
    pthread_mutex_lock(&g_mu);
    for (pp = &g_list; *pp != NULL; pp = &(*pp)->rm_next) {
        if (*pp == r) {
            *pp = r->rm_next;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    r->rm_be->be_ops->be_close(r->rm_be);
    r->rm_be = NULL;
    pthread_key_delete(r->rm_key);
    for (t = r->rm_tls; t != NULL; t = next) {
        next = t->t_next;
        free(t->t_body.b_data);
        free(t);
    }
    r->rm_tls = NULL;
    free(r->rm_wbuf.b_data);
    r->rm_wbuf.b_data = NULL;
    pthread_mutex_destroy(&r->rm_mu);
    cm_rkeys_wipe(&r->rm_keys);
    /* r itself stays: the shim reads the final counters after close (cm_remote.h). */
}

/* The one exported symbol (exports.map). */
__attribute__((visibility("default"))) const struct cm_remote_api cm_remote_plugin = {
    .abi = CM_REMOTE_ABI,
    .open = r_open,
    .get = r_get,
    .put = r_put,
    .counters = r_counters,
    .close = r_close,
    .get_raw = r_get_raw,
    .put_raw = r_put_raw,
    .breakers = r_breakers,
};
