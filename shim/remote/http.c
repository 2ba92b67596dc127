/*
 * http.c - the HTTP(S) backend of the remote tier, over libcurl: `GET` and `PUT`
 * {url}/{namespace}/{hexkey}, for the cloudm keycache server or any plain store (nginx WebDAV).
 *
 * What it does: keeps one CURL easy handle per thread and backend (a pthread key), so repeated
 * calls reuse their keep-alive connection; sends `Authorization: Bearer` when a token is set;
 * bounds every GET by the configured timeout (connect and total) and its body by a size cap;
 * maps statuses to enum cm_be_result (200 ok, 404 miss, 401/403 auth, else error).
 *
 * DESIGN: a handle is created by the thread that uses it and registered in the backend's list
 * (hb_mu, taken only on creation, thread exit and close; never on a request). A thread's handle
 * is cleaned up when the thread exits (key destructor) or at close (the whole list). After fork
 * the child bumps hb_gen and moves the list aside without cleaning anything: the handles' sockets
 * belong to the parent; a handle whose hc_gen is old is never used again and the child opens new
 * connections. Moved-aside lists stay reachable (hb_orphans) so leak checkers stay quiet.
 * CURLOPT_NOSIGNAL is set: no SIGALRM, no signal handler installed in the host program.
 * Proxies from the environment are ignored (CURLOPT_PROXY ""), redirects are not followed.
 *
 * What it does not do: look inside values, retry, or decide about the circuit breaker.
 */
#include "backend.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define URL_MAX 2048
#define ORPHAN_SLOTS 16

struct hconn {
    CURL *hc_curl;
    struct http *hc_http;
    uint64_t hc_gen; /* hb_gen when created: older ones belong to a parent */
    struct hconn *hc_next, *hc_prev;
    struct cm_rbuf *hc_body; /* where the running GET writes; NULL discards (PUT) */
    const uint8_t *hc_up;    /* the running PUT's body */
    size_t hc_uplen, hc_upoff;
};

struct http {
    struct cm_backend hb_base;
    char *hb_prefix; /* "{url}/{ns}/", no doubled slash */
    size_t hb_prefix_len;
    struct curl_slist *hb_hdrs;
    long hb_timeout_ms;
    curl_off_t hb_max_body;
    char *hb_ca; /* NULL: the system CA store */
    pthread_key_t hb_key;
    pthread_mutex_t hb_mu; /* hb_conns */
    struct hconn *hb_conns;
    uint64_t hb_gen; /* bumped in a forked child */
    struct hconn *hb_orphans[ORPHAN_SLOTS];
};

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
    struct hconn *c = arg;
    struct cm_rbuf *b = c->hc_body;
    size_t len = size * n;

    if (b == NULL)
        return len;
    if (len > b->b_max - b->b_len)
        return 0; /* larger than any valid envelope: CURLE_WRITE_ERROR */
    if (b->b_len + len > b->b_cap) {
        size_t cap = b->b_cap ? b->b_cap : 4096;
        uint8_t *p;

        while (cap < b->b_len + len)
            cap *= 2;
        if (cap > b->b_max)
            cap = b->b_max;
        p = realloc(b->b_data, cap);
        if (p == NULL)
            return 0;
        b->b_data = p;
        b->b_cap = cap;
    }
    memcpy(b->b_data + b->b_len, data, len);
    b->b_len += len;
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct hconn *c = arg;
    size_t len = size * n, left = c->hc_uplen - c->hc_upoff;

    if (len > left)
        len = left;
    memcpy(buf, c->hc_up + c->hc_upoff, len);
    c->hc_upoff += len;
    return len;
}

static void unlink_conn(struct http *h, struct hconn *c)
{
    if (c->hc_prev != NULL)
        c->hc_prev->hc_next = c->hc_next;
    else
        h->hb_conns = c->hc_next;
    if (c->hc_next != NULL)
        c->hc_next->hc_prev = c->hc_prev;
}

/* Thread exit: this thread's handle goes, unless it was inherited from a parent process. */
static void conn_destroy(void *arg)
{
    struct hconn *c = arg;
    struct http *h = c->hc_http;

    if (c->hc_gen != h->hb_gen)
        return;
    pthread_mutex_lock(&h->hb_mu);
    unlink_conn(h, c);
    pthread_mutex_unlock(&h->hb_mu);
    curl_easy_cleanup(c->hc_curl);
    free(c);
}

static struct hconn *conn_get(struct http *h)
{
    struct hconn *c = pthread_getspecific(h->hb_key);
    CURL *e;

    if (c != NULL && c->hc_gen == h->hb_gen)
        return c;
    c = calloc(1, sizeof(*c));
    e = curl_easy_init();
    if (c == NULL || e == NULL)
        goto fail;
    c->hc_curl = e;
    c->hc_http = h;
    c->hc_gen = h->hb_gen;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hb_hdrs);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->hb_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->hb_timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* A name lookup that outlives the timeout is abandoned, not waited for: without this, curl
     * joins the resolver thread when the request times out, and a resolver that never answers
     * holds the request for its own retries (10 s and more) whatever remote_timeout says. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, h->hb_max_body);
    if (h->hb_ca != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->hb_ca);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, c);
    if (pthread_setspecific(h->hb_key, c) != 0)
        goto fail;
    pthread_mutex_lock(&h->hb_mu);
    c->hc_next = h->hb_conns;
    if (h->hb_conns != NULL)
        h->hb_conns->hc_prev = c;
    h->hb_conns = c;
    pthread_mutex_unlock(&h->hb_mu);
    return c;
fail:
    if (e != NULL)
        curl_easy_cleanup(e);
    free(c);
    return NULL;
}

static struct cm_backend *http_open(const struct cm_backend_conf *conf, char *err, size_t errsz)
{
    struct http *h = calloc(1, sizeof(*h));
    const char *u = conf->bc_url, *host = strstr(u, "://");
    size_t ulen = strlen(u);
    int n;

    if (h == NULL) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    h->hb_base.be_ops = &cm_http_backend;
    pthread_mutex_init(&h->hb_mu, NULL);
    if (host == NULL || host[3] == '\0' || host[3] == '/') {
        snprintf(err, errsz, "remote URL '%s' has no host", u);
        goto fail;
    }
    for (const char *p = u; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#') {
            snprintf(err, errsz,
                     "remote URL '%s': spaces, control characters, '?' and '#' are "
                     "not allowed",
                     u);
            goto fail;
        }
    }
    while (ulen > 0 && u[ulen - 1] == '/')
        ulen--;
    if (ulen + strlen(conf->bc_ns) + 2 > URL_MAX) {
        snprintf(err, errsz, "remote URL too long (at most %d characters)", URL_MAX);
        goto fail;
    }
    h->hb_prefix = malloc(URL_MAX + 1);
    if (h->hb_prefix == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    n = snprintf(h->hb_prefix, URL_MAX + 1, "%.*s/%s/", (int)ulen, u, conf->bc_ns);
    h->hb_prefix_len = (size_t)n;
    /* No "Expect: 100-continue" round trip before PUT bodies. */
    h->hb_hdrs = curl_slist_append(NULL, "Expect:");
    if (h->hb_hdrs != NULL && conf->bc_token[0] != '\0') {
        char auth[1100];
        struct curl_slist *l;

        if (strlen(conf->bc_token) > 1024) {
            snprintf(err, errsz, "token longer than 1024 bytes");
            goto fail;
        }
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", conf->bc_token);
        l = curl_slist_append(h->hb_hdrs, auth);
        memset(auth, 0, sizeof(auth));
        if (l == NULL) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        h->hb_hdrs = l;
    }
    if (h->hb_hdrs == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    h->hb_timeout_ms = (long)((conf->bc_timeout_ns + 999999) / 1000000);
    if (h->hb_timeout_ms < 1)
        h->hb_timeout_ms = 1;
    h->hb_max_body = (curl_off_t)conf->bc_max_body;
    if (conf->bc_ca != NULL && conf->bc_ca[0] != '\0') {
        if (access(conf->bc_ca, R_OK) != 0) {
            snprintf(err, errsz, "remote_ca '%s': %s", conf->bc_ca, strerror(errno));
            goto fail;
        }
        h->hb_ca = strdup(conf->bc_ca);
        if (h->hb_ca == NULL) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
    }
    if (pthread_key_create(&h->hb_key, conn_destroy) != 0) {
        snprintf(err, errsz, "pthread_key_create failed");
        goto fail;
    }
    return &h->hb_base;
fail:
    curl_slist_free_all(h->hb_hdrs);
    free(h->hb_prefix);
    free(h->hb_ca);
    pthread_mutex_destroy(&h->hb_mu);
    free(h);
    return NULL;
}

static void make_url(struct http *h, const char *hexkey, char *url)
{
    memcpy(url, h->hb_prefix, h->hb_prefix_len);
    memcpy(url + h->hb_prefix_len, hexkey, 128);
    url[h->hb_prefix_len + 128] = '\0';
}

static int failed(CURLcode rc, char *why, size_t whysz)
{
    snprintf(why, whysz, "%s", curl_easy_strerror(rc));
    return rc == CURLE_OPERATION_TIMEDOUT ? CM_BE_TIMEOUT : CM_BE_ERROR;
}

static int http_get(struct cm_backend *b, const char *hexkey, struct cm_rbuf *body, char *why,
                    size_t whysz)
{
    struct http *h = (struct http *)b;
    struct hconn *c = conn_get(h);
    char url[URL_MAX + 130];
    long status = 0;
    CURLcode rc;

    if (c == NULL) {
        snprintf(why, whysz, "cannot create a curl handle");
        return CM_BE_ERROR;
    }
    make_url(h, hexkey, url);
    body->b_len = 0;
    c->hc_body = body;
    curl_easy_setopt(c->hc_curl, CURLOPT_URL, url);
    curl_easy_setopt(c->hc_curl, CURLOPT_HTTPGET, 1L);
    rc = curl_easy_perform(c->hc_curl);
    c->hc_body = NULL;
    if (rc != CURLE_OK)
        return failed(rc, why, whysz);
    curl_easy_getinfo(c->hc_curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
        return CM_BE_OK;
    if (status == 404)
        return CM_BE_MISS;
    snprintf(why, whysz, "GET answered %ld", status);
    return status == 401 || status == 403 ? CM_BE_AUTH : CM_BE_ERROR;
}

static int http_put(struct cm_backend *b, const char *hexkey, const uint8_t *data, size_t len,
                    uint64_t deadline_ns, char *why, size_t whysz)
{
    struct http *h = (struct http *)b;
    struct hconn *c = conn_get(h);
    char url[URL_MAX + 130];
    long status = 0, ms;
    CURLcode rc;

    if (c == NULL) {
        snprintf(why, whysz, "cannot create a curl handle");
        return CM_BE_ERROR;
    }
    /* A PUT may carry up to max_value bytes: allow 1 s plus 1 ms per KB on top of the GET
     * limit, and never past the caller's deadline (the flush at close). */
    ms = 1000 + 2 * h->hb_timeout_ms + (long)(len / 1000);
    if (deadline_ns != 0) {
        uint64_t now = cm_rnow();
        long left = deadline_ns > now ? (long)((deadline_ns - now) / 1000000) : 0;

        if (left < 1) {
            snprintf(why, whysz, "flush deadline passed");
            return CM_BE_TIMEOUT;
        }
        if (left < ms)
            ms = left;
    }
    make_url(h, hexkey, url);
    c->hc_body = NULL;
    c->hc_up = data;
    c->hc_uplen = len;
    c->hc_upoff = 0;
    curl_easy_setopt(c->hc_curl, CURLOPT_URL, url);
    curl_easy_setopt(c->hc_curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c->hc_curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->hc_curl, CURLOPT_TIMEOUT_MS, ms);
    rc = curl_easy_perform(c->hc_curl);
    curl_easy_setopt(c->hc_curl, CURLOPT_TIMEOUT_MS, h->hb_timeout_ms);
    c->hc_up = NULL;
    if (rc != CURLE_OK)
        return failed(rc, why, whysz);
    curl_easy_getinfo(c->hc_curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return CM_BE_OK;
    snprintf(why, whysz, "PUT answered %ld", status);
    if (status == 401 || status == 403)
        return CM_BE_AUTH;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return CM_BE_REFUSED;
    return CM_BE_ERROR;
}

static void http_close(struct cm_backend *b)
{
    struct http *h = (struct http *)b;
    struct hconn *c, *next;

    pthread_key_delete(h->hb_key);
    for (c = h->hb_conns; c != NULL; c = next) {
        next = c->hc_next;
        curl_easy_cleanup(c->hc_curl);
        free(c);
    }
    curl_slist_free_all(h->hb_hdrs);
    free(h->hb_prefix);
    free(h->hb_ca);
    pthread_mutex_destroy(&h->hb_mu);
    free(h);
}

static void http_atfork_child(struct cm_backend *b)
{
    struct http *h = (struct http *)b;

    h->hb_gen++;
    for (int i = 0; i < ORPHAN_SLOTS && h->hb_conns != NULL; i++) {
        if (h->hb_orphans[i] == NULL) {
            h->hb_orphans[i] = h->hb_conns;
            break;
        }
    }
    h->hb_conns = NULL;
    pthread_mutex_init(&h->hb_mu, NULL);
}

const struct cm_backend_ops cm_http_backend = {
    .be_scheme = "http://",
    .be_open = http_open,
    .be_get = http_get,
    .be_put = http_put,
    .be_close = http_close,
    .be_atfork_child = http_atfork_child,
};
