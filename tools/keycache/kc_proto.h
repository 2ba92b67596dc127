/*
 * kc_proto.h - the keycache wire protocol as a pure function: a request's method, path and the
 * few headers that matter -> the action to take, or the status and one-line reason to answer.
 *
 * What it does: validates the method, the path (/<namespace>/<key>, /healthz, /metrics), the
 * caller's role (decided by kc_auth from the Bearer token), Content-Length and
 * Transfer-Encoding of a PUT against the value limit, in a fixed order (docs/keycache.md);
 * extracts the Bearer token from an Authorization header.
 *
 * What it does not do: no I/O, no allocation, no global state, no clock: the same inputs always
 * give the same verdict, so it can be unit-tested and fuzzed without a server. It never looks
 * the key up (kc_store) nor checks the token (kc_auth).
 */
#ifndef KC_PROTO_H
#define KC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_NS_MAX 64   /* namespace: [A-Za-z0-9._-]{1,64} */
#define KC_KEY_LEN 128 /* key: exactly 128 lowercase hex digits (a SHA-512) */
/* "ns/key": the store's key for an entry (the namespace, a slash, the key). */
#define KC_SKEY_MAX (KC_NS_MAX + 1 + KC_KEY_LEN)

enum kc_action {
    KC_ACT_REPLY,   /* answer kc_verdict.status with kc_verdict.reason, nothing else to do */
    KC_ACT_GET,     /* read the entry, body = value */
    KC_ACT_HEAD,    /* read the entry, headers only */
    KC_ACT_PUT,     /* read content_length bytes, store them */
    KC_ACT_DELETE,  /* delete the entry */
    KC_ACT_HEALTH,  /* 200 "ok\n" */
    KC_ACT_METRICS, /* Prometheus text (GET) or its headers (HEAD) */
};

/* What the caller is allowed to do, decided before classification (kc_auth). */
enum kc_role {
    KC_ROLE_MISSING, /* no usable Authorization: Bearer header */
    KC_ROLE_UNKNOWN, /* a token that is not in the token file */
    KC_ROLE_RO,      /* read: GET, HEAD, /metrics */
    KC_ROLE_RW,      /* read and write; also everyone when the server has no token file */
};

/* Methods we count separately (metrics); everything else is KC_M_OTHER. */
enum kc_method { KC_M_GET, KC_M_HEAD, KC_M_PUT, KC_M_DELETE, KC_M_OTHER, KC_M_COUNT };

struct kc_request {
    const char *method;            /* as received, e.g. "GET" */
    const char *url;               /* the path, query string already removed */
    enum kc_role role;             /* from kc_auth */
    const char *content_length;    /* header value or NULL (the first, when several) */
    const char *transfer_encoding; /* header value or NULL (the first, when several) */
    unsigned content_lengths;      /* how many Content-Length headers (0: 1 if content_length) */
    unsigned transfer_encodings;   /* how many Transfer-Encoding headers (likewise) */
    uint64_t max_value;            /* --max-value in bytes */
};

struct kc_verdict {
    enum kc_action action;
    enum kc_method method;
    int status;                 /* KC_ACT_REPLY: the HTTP status; otherwise 0 */
    const char *reason;         /* KC_ACT_REPLY: one line ending in "\n" (static string) */
    const char *allow;          /* status 405: the Allow header value; NULL otherwise */
    bool www_auth;              /* status 401: send WWW-Authenticate: Bearer */
    bool close;                 /* the body cannot be delimited: answer at once, then close */
    uint64_t length;            /* KC_ACT_PUT: the announced body length (<= max_value) */
    size_t skey_len;            /* entry actions: strlen(skey) */
    char skey[KC_SKEY_MAX + 1]; /* entry actions: "ns/key", NUL-terminated */
};

/* The method's metrics index; never fails. */
enum kc_method kc_method_of(const char *method);

/* Classifies `rq` into `v` (always filled in). Order of checks: message framing (RFC 9112
 * section 6: several Content-Length or Transfer-Encoding headers, or both kinds, 400; a
 * Transfer-Encoding other than chunked, 501; these set `close`), unknown method (405),
 * /healthz (no auth), missing or unknown token (401), malformed path (400), method not allowed
 * on /healthz or /metrics (405), read-only token writing (403), PUT: chunked or no
 * Content-Length (411), bad Content-Length (400), longer than max_value (413). */
void kc_classify(const struct kc_request *rq, struct kc_verdict *v);

/* The token of an "Authorization: Bearer TOKEN" header value (`h` may be NULL): sets *tok and
 * *len and returns true, or returns false when there is no usable Bearer token. The scheme is
 * case-insensitive; surrounding spaces are ignored; the token is 1..KC_TOKEN_MAX visible ASCII
 * characters. */
#define KC_TOKEN_MAX 256
bool kc_bearer_token(const char *h, const char **tok, size_t *len);

#endif
