/*
 * kc_proto.c - classifies one keycache request (kc_proto.h): method, path, role, body length.
 *
 * What it does: the protocol's decisions, in the documented order, as a pure function over the
 * strings it is given; the Bearer token parser.
 *
 * What it does not do: no I/O, no allocation, no global state. Every input string may be
 * anything (it is fuzzed: tests/fuzz/fuzz_keycache.c); outputs are static strings or copies into
 * the verdict, bounded by KC_SKEY_MAX.
 */
#include "kc_proto.h"

#include <string.h>
#include <strings.h>

#define ALLOW_ENTRY "GET, HEAD, PUT, DELETE"
#define ALLOW_READ "GET, HEAD"

enum kc_method kc_method_of(const char *method)
{
    if (method == NULL)
        return KC_M_OTHER;
    if (strcmp(method, "GET") == 0)
        return KC_M_GET;
    if (strcmp(method, "HEAD") == 0)
        return KC_M_HEAD;
    if (strcmp(method, "PUT") == 0)
        return KC_M_PUT;
    if (strcmp(method, "DELETE") == 0)
        return KC_M_DELETE;
    return KC_M_OTHER;
}

static void reply(struct kc_verdict *v, int status, const char *reason)
{
    v->action = KC_ACT_REPLY;
    v->status = status;
    v->reason = reason;
}

static bool ns_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool hex_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "/<ns>/<key>" -> v->skey "ns/key"; the reason of a 400 otherwise. */
static const char *parse_entry(const char *url, struct kc_verdict *v)
{
    size_t n = 0, k = 0;
    const char *p;

    if (url[0] != '/')
        return "malformed path: must start with /\n";
    p = url + 1;
    while (n <= KC_NS_MAX && ns_char(p[n]))
        n++;
    if (n == 0 || n > KC_NS_MAX)
        return "malformed path: namespace must be 1 to 64 of A-Z a-z 0-9 . _ -\n";
    if (p[n] != '/')
        return p[n] == '\0' ? "malformed path: expected /<namespace>/<key>\n"
                            : "malformed path: namespace must be 1 to 64 of A-Z a-z 0-9 . _ -\n";
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return "malformed path: namespace cannot be . or ..\n";
    p += n + 1;
    while (k <= KC_KEY_LEN && hex_char(p[k]))
        k++;
    if (k != KC_KEY_LEN || p[k] != '\0')
        return "malformed path: key must be 128 lowercase hex digits\n";
    memcpy(v->skey, url + 1, n + 1 + KC_KEY_LEN);
    v->skey[n + 1 + KC_KEY_LEN] = '\0';
    v->skey_len = n + 1 + KC_KEY_LEN;
    return NULL;
}

/* Content-Length: 1*DIGIT, no sign, no spaces inside (MHD strips the outer ones). Returns 0 and
 * *out, or -1 when it is not a number or does not fit in 63 bits. */
static int parse_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (UINT64_MAX / 2 - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* How many headers of one kind: the count given, or 1 when only the value is given. */
static unsigned count(unsigned n, const char *value)
{
    return n == 0 && value != NULL ? 1 : n;
}

/* A request whose body cannot be delimited without guessing (RFC 9112 section 6.3): two
 * parsers (a proxy and this server) could frame it differently and read the rest as another
 * request, so it is refused and the connection closed. Returns the reason and sets *status,
 * or NULL. Several identical Content-Length values are refused too (RFC 9112 allows either). */
static const char *framing_error(const struct kc_request *rq, int *status)
{
    unsigned ncl = count(rq->content_lengths, rq->content_length);
    unsigned nte = count(rq->transfer_encodings, rq->transfer_encoding);

    *status = 400;
    if (ncl > 1)
        return "bad request: several Content-Length headers\n";
    if (nte > 1)
        return "bad request: several Transfer-Encoding headers\n";
    if (nte == 1 && ncl == 1)
        return "bad request: both Transfer-Encoding and Content-Length\n";
    if (nte == 1 &&
        (rq->transfer_encoding == NULL || strcasecmp(rq->transfer_encoding, "chunked") != 0)) {
        *status = 501;
        return "transfer coding not implemented: send Content-Length (or chunked)\n";
    }
    return NULL;
}

void kc_classify(const struct kc_request *rq, struct kc_verdict *v)
{
    const char *url = rq->url != NULL ? rq->url : "";
    const char *why;
    bool write;
    int status;

    memset(v, 0, sizeof(*v));
    v->method = kc_method_of(rq->method);
    why = framing_error(rq, &status);
    if (why != NULL) {
        reply(v, status, why);
        v->close = true;
        return;
    }
    if (v->method == KC_M_OTHER) {
        reply(v, 405, "method not allowed\n");
        v->allow =
            strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0 ? ALLOW_READ : ALLOW_ENTRY;
        return;
    }
    write = v->method == KC_M_PUT || v->method == KC_M_DELETE;
    if (strcmp(url, "/healthz") == 0) {
        if (write) {
            reply(v, 405, "method not allowed\n");
            v->allow = ALLOW_READ;
        } else {
            v->action = KC_ACT_HEALTH;
        }
        return;
    }
    if (rq->role == KC_ROLE_MISSING || rq->role == KC_ROLE_UNKNOWN) {
        reply(v, 401,
              rq->role == KC_ROLE_MISSING ? "missing token: send Authorization: Bearer TOKEN\n"
                                          : "unknown token\n");
        v->www_auth = true;
        return;
    }
    if (strcmp(url, "/metrics") == 0) {
        if (write) {
            reply(v, 405, "method not allowed\n");
            v->allow = ALLOW_READ;
        } else {
            v->action = KC_ACT_METRICS;
        }
        return;
    }
    why = parse_entry(url, v);
    if (why != NULL) {
        reply(v, 400, why);
        v->skey[0] = '\0';
        v->skey_len = 0;
        return;
    }
    if (write && rq->role != KC_ROLE_RW) {
        reply(v, 403, "read-only token cannot write\n");
        return;
    }
    switch (v->method) {
    case KC_M_GET:
        v->action = KC_ACT_GET;
        return;
    case KC_M_HEAD:
        v->action = KC_ACT_HEAD;
        return;
    case KC_M_DELETE:
        v->action = KC_ACT_DELETE;
        return;
    default:
        break;
    }
    /* PUT */
    if (rq->transfer_encoding != NULL || rq->transfer_encodings != 0) { /* chunked (only) */
        reply(v, 411, "length required: chunked uploads are not accepted, send Content-Length\n");
        return;
    }
    if (rq->content_length == NULL) {
        reply(v, 411, "length required: send Content-Length\n");
        return;
    }
    if (parse_length(rq->content_length, &v->length) != 0) {
        reply(v, 400, "malformed Content-Length\n");
        return;
    }
    if (v->length > rq->max_value) {
        reply(v, 413, "value too large: longer than the server's --max-value\n");
        v->length = 0;
        return;
    }
    v->action = KC_ACT_PUT;
}

bool kc_bearer_token(const char *h, const char **tok, size_t *len)
{
    size_t n = 0;

    if (h == NULL)
        return false;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return false;
    h += 7;
    while (*h == ' ' || *h == '\t')
        h++;
    while (h[n] > ' ' && h[n] < 0x7f && n <= KC_TOKEN_MAX)
        n++;
    if (n == 0 || n > KC_TOKEN_MAX)
        return false;
    for (size_t i = n; h[i] != '\0'; i++)
        if (h[i] != ' ' && h[i] != '\t')
            return false;
    *tok = h;
    *len = n;
    return true;
}
