/*
 * test_kc_proto.c - unit tests of the keycache's pure parts: kc_classify and kc_bearer_token
 * (kc_proto.c) and the token table (kc_auth.c), without a server.
 *
 * What it does: one assertion per protocol rule (docs/keycache.md): paths, methods, the order
 * of checks, Content-Length handling, roles; token file parsing and errors.
 *
 * What it does not do: no HTTP (tests/keycache/protocol.t runs against a real server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_test.h"
#include "kc_auth.h"
#include "kc_proto.h"

static char key[KC_KEY_LEN + 1];
static char path[512];

static const char *entry(const char *ns)
{
    snprintf(path, sizeof(path), "/%s/%s", ns, key);
    return path;
}

static struct kc_verdict classify(const char *method, const char *url, enum kc_role role,
                                  const char *cl, const char *te)
{
    struct kc_request rq = {.method = method,
                            .url = url,
                            .role = role,
                            .content_length = cl,
                            .transfer_encoding = te,
                            .max_value = 1024};
    struct kc_verdict v;

    kc_classify(&rq, &v);
    return v;
}

static void test_entry_actions(void)
{
    struct kc_verdict v;

    v = classify("GET", entry("ns"), KC_ROLE_RO, NULL, NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_GET);
    ASSERT_EQ_INT(v.skey_len, 3 + KC_KEY_LEN);
    ASSERT_EQ_INT(strncmp(v.skey, "ns/", 3), 0);
    ASSERT_EQ_INT(strcmp(v.skey + 3, key), 0);
    v = classify("HEAD", entry("a.b_c-D9"), KC_ROLE_RO, NULL, NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_HEAD);
    v = classify("DELETE", entry("ns"), KC_ROLE_RW, NULL, NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_DELETE);
    v = classify("PUT", entry("ns"), KC_ROLE_RW, "17", NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_PUT);
    ASSERT_EQ_UINT(v.length, 17);
    v = classify("PUT", entry("ns"), KC_ROLE_RW, "0", NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_PUT);
    ASSERT_EQ_UINT(v.length, 0);
}

static void test_paths(void)
{
    char ns64[65], ns65[66], buf[512];
    struct kc_verdict v;

    memset(ns64, 'n', 64);
    ns64[64] = '\0';
    memset(ns65, 'n', 65);
    ns65[65] = '\0';
    ASSERT_EQ_INT(classify("GET", entry(ns64), KC_ROLE_RO, NULL, NULL).action, KC_ACT_GET);
    v = classify("GET", entry(ns65), KC_ROLE_RO, NULL, NULL);
    ASSERT_EQ_INT(v.status, 400);
    ASSERT_EQ_INT(v.skey_len, 0);
    ASSERT_EQ_INT(classify("GET", entry("a/b"), KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", entry(""), KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", entry(".."), KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", entry("a b"), KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", "/", KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", "", KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", "/ns", KC_ROLE_RO, NULL, NULL).status, 400);
    ASSERT_EQ_INT(classify("GET", "/ns/", KC_ROLE_RO, NULL, NULL).status, 400);
    /* key: 127 or 129 digits, upper case, a trailing slash */
    snprintf(buf, sizeof(buf), "/ns/%.127s", key);
    ASSERT_EQ_INT(classify("GET", buf, KC_ROLE_RO, NULL, NULL).status, 400);
    snprintf(buf, sizeof(buf), "/ns/%s0", key);
    ASSERT_EQ_INT(classify("GET", buf, KC_ROLE_RO, NULL, NULL).status, 400);
    snprintf(buf, sizeof(buf), "/ns/%s/", key);
    ASSERT_EQ_INT(classify("GET", buf, KC_ROLE_RO, NULL, NULL).status, 400);
    snprintf(buf, sizeof(buf), "/ns/A%.127s", key);
    ASSERT_EQ_INT(classify("GET", buf, KC_ROLE_RO, NULL, NULL).status, 400);
    v = classify("GET", "/ns/xyz", KC_ROLE_RO, NULL, NULL);
    ASSERT_EQ_INT(v.action, KC_ACT_REPLY);
    ASSERT_TRUE(strstr(v.reason, "128 lowercase hex") != NULL);
    ASSERT_TRUE(v.reason[strlen(v.reason) - 1] == '\n');
}

static void test_methods(void)
{
    struct kc_verdict v;

    v = classify("POST", entry("ns"), KC_ROLE_RW, NULL, NULL);
    ASSERT_EQ_INT(v.status, 405);
    ASSERT_EQ_INT(strcmp(v.allow, "GET, HEAD, PUT, DELETE"), 0);
    ASSERT_EQ_INT(v.method, KC_M_OTHER);
    /* 405 comes before auth */
    ASSERT_EQ_INT(classify("PATCH", entry("ns"), KC_ROLE_MISSING, NULL, NULL).status, 405);
    ASSERT_EQ_INT(classify("get", entry("ns"), KC_ROLE_RW, NULL, NULL).status, 405);
    v = classify("PUT", "/healthz", KC_ROLE_RW, "1", NULL);
    ASSERT_EQ_INT(v.status, 405);
    ASSERT_EQ_INT(strcmp(v.allow, "GET, HEAD"), 0);
    v = classify("DELETE", "/metrics", KC_ROLE_RW, NULL, NULL);
    ASSERT_EQ_INT(v.status, 405);
    ASSERT_EQ_INT(strcmp(v.allow, "GET, HEAD"), 0);
}

static void test_auth_order(void)
{
    struct kc_verdict v;

    /* healthz needs no token */
    ASSERT_EQ_INT(classify("GET", "/healthz", KC_ROLE_MISSING, NULL, NULL).action, KC_ACT_HEALTH);
    ASSERT_EQ_INT(classify("HEAD", "/healthz", KC_ROLE_UNKNOWN, NULL, NULL).action, KC_ACT_HEALTH);
    v = classify("GET", "/metrics", KC_ROLE_MISSING, NULL, NULL);
    ASSERT_EQ_INT(v.status, 401);
    ASSERT_TRUE(v.www_auth);
    ASSERT_EQ_INT(classify("GET", "/metrics", KC_ROLE_RO, NULL, NULL).action, KC_ACT_METRICS);
    v = classify("GET", entry("ns"), KC_ROLE_UNKNOWN, NULL, NULL);
    ASSERT_EQ_INT(v.status, 401);
    ASSERT_TRUE(strstr(v.reason, "unknown token") != NULL);
    /* 401 before 400: no information about paths without a token */
    ASSERT_EQ_INT(classify("GET", "/bad", KC_ROLE_MISSING, NULL, NULL).status, 401);
    /* 400 before 403 */
    ASSERT_EQ_INT(classify("PUT", "/bad", KC_ROLE_RO, "1", NULL).status, 400);
    v = classify("PUT", entry("ns"), KC_ROLE_RO, "1", NULL);
    ASSERT_EQ_INT(v.status, 403);
    ASSERT_TRUE(!v.www_auth);
    ASSERT_EQ_INT(classify("DELETE", entry("ns"), KC_ROLE_RO, NULL, NULL).status, 403);
    /* 403 before 411/413 */
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RO, NULL, NULL).status, 403);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RO, "99999", NULL).status, 403);
}

static void test_lengths(void)
{
    struct kc_verdict v;

    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, NULL, NULL).status, 411);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, NULL, "chunked").status, 411);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "5", "chunked").status, 400);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "1024", NULL).action, KC_ACT_PUT);
    v = classify("PUT", entry("ns"), KC_ROLE_RW, "1025", NULL);
    ASSERT_EQ_INT(v.status, 413);
    ASSERT_EQ_UINT(v.length, 0);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "99999999999999999999999", NULL).status,
                  400);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "-1", NULL).status, 400);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "", NULL).status, 400);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "1 2", NULL).status, 400);
    ASSERT_EQ_INT(classify("PUT", entry("ns"), KC_ROLE_RW, "0x10", NULL).status, 400);
}

/* Issue 16 items 10 and 11: a body that two parsers could delimit differently is refused
 * first, whatever the method, path or token, and the connection is closed. */
static struct kc_verdict framed(const char *method, const char *cl, unsigned ncl, const char *te,
                                unsigned nte)
{
    struct kc_request rq;
    struct kc_verdict v;

    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.url = entry("ns");
    rq.role = KC_ROLE_RW;
    rq.content_length = cl;
    rq.content_lengths = ncl;
    rq.transfer_encoding = te;
    rq.transfer_encodings = nte;
    rq.max_value = 1024;
    kc_classify(&rq, &v);
    return v;
}

static void test_item10_conflicting_content_length(void)
{
    struct kc_verdict v = framed("PUT", "3", 2, NULL, 0);

    ASSERT_EQ_INT(v.status, 400);
    ASSERT_EQ_INT(v.close, 1);
    ASSERT_EQ_INT(strcmp(v.reason, "bad request: several Content-Length headers\n"), 0);
    ASSERT_EQ_INT(framed("GET", "3", 2, NULL, 0).status, 400);
    ASSERT_EQ_INT(framed("BREW", "3", 3, NULL, 0).status, 400);
    ASSERT_EQ_INT(framed("PUT", NULL, 0, "chunked", 2).status, 400);
    v = framed("PUT", "3", 1, NULL, 0);
    ASSERT_EQ_INT(v.action, KC_ACT_PUT);
    ASSERT_EQ_INT(v.close, 0);
    v = framed("PUT", "3", 0, NULL, 0); /* a count of 0 with a value means one header */
    ASSERT_EQ_INT(v.action, KC_ACT_PUT);
}

static void test_item11_transfer_encoding_identity(void)
{
    struct kc_verdict v = framed("PUT", "3", 1, "identity", 1);

    ASSERT_EQ_INT(v.status, 400);
    ASSERT_EQ_INT(v.close, 1);
    ASSERT_EQ_INT(framed("GET", "3", 1, "identity", 1).status, 400);
    ASSERT_EQ_INT(framed("PUT", "3", 1, "chunked", 1).status, 400);
    v = framed("PUT", NULL, 0, "identity", 1);
    ASSERT_EQ_INT(v.status, 501);
    ASSERT_EQ_INT(v.close, 1);
    ASSERT_EQ_INT(framed("GET", NULL, 0, "gzip, chunked", 1).status, 501);
    v = framed("PUT", NULL, 0, "Chunked", 1);
    ASSERT_EQ_INT(v.status, 411);
    ASSERT_EQ_INT(v.close, 0);
    ASSERT_EQ_INT(framed("GET", NULL, 0, "chunked", 1).action, KC_ACT_GET);
}

static void test_bearer(void)
{
    const char *t;
    size_t n;
    char longtok[KC_TOKEN_MAX + 20];

    ASSERT_TRUE(kc_bearer_token("Bearer abc", &t, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(strncmp(t, "abc", 3), 0);
    ASSERT_TRUE(kc_bearer_token("  bearer   x.y-z  ", &t, &n));
    ASSERT_EQ_INT(n, 5);
    ASSERT_TRUE(!kc_bearer_token(NULL, &t, &n));
    ASSERT_TRUE(!kc_bearer_token("Basic abc", &t, &n));
    ASSERT_TRUE(!kc_bearer_token("Bearer", &t, &n));
    ASSERT_TRUE(!kc_bearer_token("Bearer ", &t, &n));
    ASSERT_TRUE(!kc_bearer_token("Bearerabc", &t, &n));
    ASSERT_TRUE(!kc_bearer_token("Bearer a b", &t, &n));
    strcpy(longtok, "Bearer ");
    memset(longtok + 7, 'x', KC_TOKEN_MAX + 1);
    longtok[7 + KC_TOKEN_MAX + 1] = '\0';
    ASSERT_TRUE(!kc_bearer_token(longtok, &t, &n));
    longtok[7 + KC_TOKEN_MAX] = '\0';
    ASSERT_TRUE(kc_bearer_token(longtok, &t, &n));
    ASSERT_EQ_INT(n, KC_TOKEN_MAX);
}

static int write_file(const char *text, char *name)
{
    int fd;

    strcpy(name, "/tmp/kc_tokens.XXXXXX");
    fd = mkstemp(name);
    if (fd < 0)
        return -1;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int load(const char *text, struct kc_auth **a, char *err, size_t errsz)
{
    char name[64];
    int rc;

    if (write_file(text, name) != 0)
        return -99;
    rc = kc_auth_load(name, a, err, errsz);
    unlink(name);
    return rc;
}

static void test_auth_file(void)
{
    struct kc_auth *a = NULL;
    char err[256];

    ASSERT_EQ_INT(load("# tokens\n\nrw writer-1\n  ro   reader \t\nro abc\n", &a, err, sizeof(err)),
                  0);
    ASSERT_EQ_INT(kc_auth_role(a, "writer-1", 8), KC_ROLE_RW);
    ASSERT_EQ_INT(kc_auth_role(a, "reader", 6), KC_ROLE_RO);
    ASSERT_EQ_INT(kc_auth_role(a, "abc", 3), KC_ROLE_RO);
    ASSERT_EQ_INT(kc_auth_role(a, "ab", 2), KC_ROLE_UNKNOWN);
    ASSERT_EQ_INT(kc_auth_role(a, "abcd", 4), KC_ROLE_UNKNOWN);
    ASSERT_EQ_INT(kc_auth_role(a, "writer-2", 8), KC_ROLE_UNKNOWN);
    ASSERT_EQ_INT(kc_auth_role(a, "writer-1x", 9), KC_ROLE_UNKNOWN);
    ASSERT_EQ_INT(kc_auth_role(a, NULL, 0), KC_ROLE_MISSING);
    ASSERT_EQ_INT(kc_auth_role(NULL, "x", 1), KC_ROLE_RW);
    kc_auth_free(a);

    ASSERT_EQ_INT(load("rw a b\n", &a, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, ":1: expected") != NULL);
    ASSERT_EQ_INT(load("ro ok\nadmin t\n", &a, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, ":2: unknown access 'admin'") != NULL);
    ASSERT_EQ_INT(load("rw\n", &a, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, ":1: missing token") != NULL);
    ASSERT_EQ_INT(load("# nothing\n\n", &a, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "no token") != NULL);
    ASSERT_EQ_INT(kc_auth_load("/nonexistent/tokens", &a, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "No such file") != NULL);
}

int main(void)
{
    for (int i = 0; i < KC_KEY_LEN; i++)
        key[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
    key[KC_KEY_LEN] = '\0';
    RUN_TEST(test_entry_actions);
    RUN_TEST(test_paths);
    RUN_TEST(test_methods);
    RUN_TEST(test_auth_order);
    RUN_TEST(test_lengths);
    RUN_TEST(test_item10_conflicting_content_length);
    RUN_TEST(test_item11_transfer_encoding_identity);
    RUN_TEST(test_bearer);
    RUN_TEST(test_auth_file);
    return cm_test_summary();
}
