/*
 * fuzz_keycache.c - libFuzzer target for the keycache's request classifier (tools/kc_proto.c).
 *
 * What it does: splits the input at '\n' into method, path, Authorization, Content-Length and
 * Transfer-Encoding (missing fields are absent headers; a field "-" is an absent header too);
 * the first byte picks the caller's role, --max-value and the number of each framing header. Runs
 * kc_bearer_token and kc_classify and checks what they promise: every verdict is either an action
 * or one of the documented statuses with a one-line reason; 405 carries Allow and 401
 * WWW-Authenticate, nothing else does; a body two parsers could delimit differently (several
 * Content-Length or Transfer-Encoding headers, or both; the counts come from the first byte too) is
 * always a 400 with close; an entry action's store key is exactly the path without its leading
 * slash and has the documented shape; a PUT's length is the Content-Length and at most --max-value;
 * writes never pass for a read-only role; /healthz never needs a token; a token lies inside its
 * header.
 *
 * What it does not do: no server and no token table (roles come from the input).
 * Build and run: tests/fuzz/run_keycache.sh SECONDS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc_proto.h"

#define FIELDS 5

static int valid_status(int s)
{
    static const int ok[] = {200, 400, 401, 403, 405, 411, 413, 501};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (ok[i] == s)
            return 1;
    return 0;
}

static void check_skey(const struct kc_verdict *v, const char *url)
{
    const char *slash;
    size_t n;

    if (v->skey_len != strlen(v->skey) || v->skey_len > KC_SKEY_MAX)
        __builtin_trap();
    if (url[0] != '/' || strcmp(url + 1, v->skey) != 0)
        __builtin_trap();
    slash = strchr(v->skey, '/');
    if (slash == NULL)
        __builtin_trap();
    n = (size_t)(slash - v->skey);
    if (n < 1 || n > KC_NS_MAX || strlen(slash + 1) != KC_KEY_LEN)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
                   v->skey[i]) == NULL)
            __builtin_trap();
    for (const char *p = slash + 1; *p != '\0'; p++)
        if (strchr("0123456789abcdef", *p) == NULL)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t limits[] = {0, 1, 1024, 64ull << 20};
    char *buf, *field[FIELDS] = {NULL};
    struct kc_request rq;
    struct kc_verdict v;
    const char *tok;
    size_t toklen;
    int nf = 0;

    if (size < 1)
        return 0;
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    for (char *p = buf; nf < FIELDS;) {
        char *nl = strchr(p, '\n');

        field[nf++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    for (int i = 2; i < FIELDS; i++)
        if (field[i] != NULL && strcmp(field[i], "-") == 0)
            field[i] = NULL;

    memset(&rq, 0, sizeof(rq));
    rq.method = field[0];
    rq.url = field[1];
    rq.role = (enum kc_role)(data[0] & 3);
    rq.content_length = field[3];
    rq.transfer_encoding = field[4];
    rq.max_value = limits[(data[0] >> 2) & 3];
    rq.content_lengths = (data[0] >> 4) & 3; /* 0: one when the field is there */
    rq.transfer_encodings = (data[0] >> 6) & 3;

    if (kc_bearer_token(field[2], &tok, &toklen)) {
        if (toklen < 1 || toklen > KC_TOKEN_MAX || tok < field[2] ||
            tok + toklen > field[2] + strlen(field[2]))
            __builtin_trap();
        for (size_t i = 0; i < toklen; i++)
            if (tok[i] <= ' ' || tok[i] >= 0x7f)
                __builtin_trap();
    }

    kc_classify(&rq, &v);
    if (v.method != kc_method_of(rq.method))
        __builtin_trap();
    /* framing (RFC 9112 6.3): never an action on an ambiguous body; close only for those */
    {
        unsigned ncl =
            rq.content_lengths == 0 && rq.content_length != NULL ? 1 : rq.content_lengths;
        unsigned nte =
            rq.transfer_encodings == 0 && rq.transfer_encoding != NULL ? 1 : rq.transfer_encodings;
        int ambiguous = ncl > 1 || nte > 1 || (ncl == 1 && nte == 1);

        if (ambiguous && !(v.action == KC_ACT_REPLY && v.status == 400 && v.close))
            __builtin_trap();
        if (v.close && !(v.action == KC_ACT_REPLY && (v.status == 400 || v.status == 501)))
            __builtin_trap();
    }
    if (v.action == KC_ACT_REPLY) {
        size_t n;

        if (!valid_status(v.status) || v.status == 200 || v.reason == NULL)
            __builtin_trap();
        n = strlen(v.reason);
        if (n < 2 || v.reason[n - 1] != '\n' || strchr(v.reason, '\n') != v.reason + n - 1)
            __builtin_trap();
        if ((v.status == 405) != (v.allow != NULL) || (v.status == 401) != v.www_auth)
            __builtin_trap();
        if (v.length != 0)
            __builtin_trap();
        if (v.skey_len != 0) /* 403, 411, 413 keep the entry's key */
            check_skey(&v, rq.url);
    } else {
        const char *url = rq.url != NULL ? rq.url : "";

        if (v.status != 0 || v.allow != NULL || v.www_auth)
            __builtin_trap();
        switch (v.action) {
        case KC_ACT_HEALTH:
            if (strcmp(url, "/healthz") != 0)
                __builtin_trap();
            break;
        case KC_ACT_METRICS:
            if (strcmp(url, "/metrics") != 0 || rq.role < KC_ROLE_RO)
                __builtin_trap();
            break;
        case KC_ACT_GET:
        case KC_ACT_HEAD:
            if (rq.role < KC_ROLE_RO)
                __builtin_trap();
            check_skey(&v, url);
            break;
        case KC_ACT_PUT:
            if (rq.role != KC_ROLE_RW || v.length > rq.max_value || rq.content_length == NULL ||
                strtoull(rq.content_length, NULL, 10) != v.length)
                __builtin_trap();
            check_skey(&v, url);
            break;
        case KC_ACT_DELETE:
            if (rq.role != KC_ROLE_RW)
                __builtin_trap();
            check_skey(&v, url);
            break;
        default:
            __builtin_trap();
        }
    }
    /* /healthz answers without a token whatever the role */
    if (rq.url != NULL && strcmp(rq.url, "/healthz") == 0 && v.status == 401)
        __builtin_trap();
    free(buf);
    return 0;
}
