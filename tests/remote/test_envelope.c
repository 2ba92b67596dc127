/*
 * test_envelope.c - unit tests of the remote tier's network-free parts (static lib cm_envelope):
 * envelope round trips, rejection of every corruption, key derivation against independent
 * computations (sha512sum, openssl kdf / dgst), and the circuit breaker with a fake clock.
 *
 * What it does not do: any network I/O (plugin_driver.c and test_plugin.sh do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "breaker.h"
#include "cm_test.h"
#include "envelope.h"
#include "rcrypto.h"

static const uint8_t SIG[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char SECRET[] = "correct horse battery staple\n";

static void make_keys(struct cm_rkeys *k, int secret)
{
    int rc = cm_rkeys_init(k, (const uint8_t *)SECRET, secret ? strlen(SECRET) : 0);

    if (rc != 0)
        abort();
}

/* Encodes "value-<n bytes>" under a key derived from "key bytes"; returns the length. */
static long encode(const struct cm_rkeys *k, uint8_t *rkey, uint8_t *out, size_t outsz,
                   uint8_t *val, uint32_t vlen)
{
    static const uint8_t key[] = "canonical key bytes";

    for (uint32_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(i * 7 + 3);
    if (cm_rkey(k, key, sizeof(key) - 1, rkey) != 0)
        return -100;
    return cm_env_encode(k, rkey, SIG, val, vlen, out, outsz);
}

static void roundtrip(int secret, uint32_t vlen)
{
    struct cm_rkeys k;
    uint8_t rkey[CM_RKEY_LEN], val[4096], out[4096 + 128];
    const uint8_t *got = NULL;
    long n, m;

    make_keys(&k, secret);
    n = encode(&k, rkey, out, sizeof(out), val, vlen);
    ASSERT_EQ_INT(n, (long)cm_env_size(vlen, secret));
    REQUIRE(n > 0);
    if (!secret && vlen > 0)
        ASSERT_EQ_MEM(out + CM_ENV_HDR, val, vlen); /* documented: stored in the clear */
    if (secret && vlen >= 16)
        ASSERT_TRUE(memcmp(out + CM_ENV_HDR, val, 16) != 0);
    m = cm_env_decode(&k, rkey, SIG, out, (size_t)n, &got);
    ASSERT_EQ_INT(m, vlen);
    REQUIRE(m == vlen);
    if (vlen > 0)
        ASSERT_EQ_MEM(got, val, vlen);
}

static void test_roundtrip_clear(void)
{
    roundtrip(0, 0);
    roundtrip(0, 1);
    roundtrip(0, 1000);
}

static void test_roundtrip_encrypted(void)
{
    roundtrip(1, 0);
    roundtrip(1, 1);
    roundtrip(1, 4000);
}

/* Two encryptions of one value differ (random nonce). */
static void test_nonce_random(void)
{
    struct cm_rkeys k;
    uint8_t rkey[CM_RKEY_LEN], val[64], a[256], b[256];
    long n;

    make_keys(&k, 1);
    n = encode(&k, rkey, a, sizeof(a), val, 64);
    ASSERT_EQ_INT(encode(&k, rkey, b, sizeof(b), val, 64), n);
    ASSERT_TRUE(memcmp(a + 48, b + 48, 12) != 0);
}

static void corruptions(int secret)
{
    struct cm_rkeys k;
    uint8_t rkey[CM_RKEY_LEN], val[300], good[512], bad[600];
    const uint8_t *got;
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    long n;
    int accepted = 0;

    make_keys(&k, secret);
    n = encode(&k, rkey, good, sizeof(good), val, 300);
    REQUIRE(n > 0);
    for (long i = 0; i < n; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            memcpy(bad, good, (size_t)n);
            bad[i] ^= masks[m];
            got = NULL;
            if (cm_env_decode(&k, rkey, SIG, bad, (size_t)n, &got) >= 0) {
                accepted++;
                ASSERT_MSG(0, "flip 0x%02x at byte %ld accepted", masks[m], i);
            }
            ASSERT_EQ_PTR(got, NULL);
        }
    }
    for (long len = 0; len < n; len++) {
        memcpy(bad, good, (size_t)n);
        if (cm_env_decode(&k, rkey, SIG, bad, (size_t)len, &got) >= 0)
            ASSERT_MSG(0, "truncation to %ld bytes accepted", len);
    }
    for (long extra = 1; extra <= 40; extra++) {
        memcpy(bad, good, (size_t)n);
        memset(bad + n, (int)extra, (size_t)extra);
        if (cm_env_decode(&k, rkey, SIG, bad, (size_t)(n + extra), &got) >= 0)
            ASSERT_MSG(0, "extension by %ld bytes accepted", extra);
    }
    ASSERT_EQ_INT(accepted, 0);
    /* The good one still decodes (the loop above worked on copies). */
    ASSERT_EQ_INT(cm_env_decode(&k, rkey, SIG, good, (size_t)n, &got), 300);
}

static void test_corruptions_clear(void)
{
    corruptions(0);
}

static void test_corruptions_encrypted(void)
{
    corruptions(1);
}

static void test_wrong_sig_and_key(void)
{
    struct cm_rkeys k;
    uint8_t rkey[CM_RKEY_LEN], other[CM_RKEY_LEN], sig2[16], val[100], env[512], copy[512];
    const uint8_t *got;
    long n;

    for (int secret = 0; secret <= 1; secret++) {
        make_keys(&k, secret);
        n = encode(&k, rkey, env, sizeof(env), val, 100);
        REQUIRE(n > 0);
        memcpy(sig2, SIG, 16);
        sig2[15] ^= 1;
        memcpy(copy, env, (size_t)n);
        ASSERT_EQ_INT(cm_env_decode(&k, rkey, sig2, copy, (size_t)n, &got), CM_ENV_E_SIG);
        REQUIRE(cm_rkey(&k, (const uint8_t *)"another key", 11, other) == 0);
        memcpy(copy, env, (size_t)n);
        ASSERT_EQ_INT(cm_env_decode(&k, other, SIG, copy, (size_t)n, &got), CM_ENV_E_KEY);
        /* Same first 16 bytes, other key: in the clear the binding cannot tell, encrypted the
         * associated data (the whole remote key) does. */
        memcpy(other, rkey, CM_RKEY_LEN);
        other[40] ^= 1;
        memcpy(copy, env, (size_t)n);
        if (secret)
            ASSERT_EQ_INT(cm_env_decode(&k, other, SIG, copy, (size_t)n, &got), CM_ENV_E_TAG);
    }
}

static void test_tampered_ciphertext(void)
{
    struct cm_rkeys k, k2;
    uint8_t rkey[CM_RKEY_LEN], val[100], env[512], copy[512];
    const uint8_t *got;
    long n;

    make_keys(&k, 1);
    n = encode(&k, rkey, env, sizeof(env), val, 100);
    REQUIRE(n > 0);
    for (long i = CM_ENV_HDR; i < n - CM_ENV_SUM; i++) {
        memcpy(copy, env, (size_t)n);
        copy[i] ^= 0x20;
        cm_env_reseal(copy, (size_t)n); /* only the tag can catch it now */
        ASSERT_EQ_INT(cm_env_decode(&k, rkey, SIG, copy, (size_t)n, &got), CM_ENV_E_TAG);
    }
    /* Header change with a fixed checksum: the tag covers the header too (nonce here). */
    memcpy(copy, env, (size_t)n);
    copy[50] ^= 1;
    cm_env_reseal(copy, (size_t)n);
    ASSERT_EQ_INT(cm_env_decode(&k, rkey, SIG, copy, (size_t)n, &got), CM_ENV_E_TAG);
    /* Another secret. */
    REQUIRE(cm_rkeys_init(&k2, (const uint8_t *)"other", 5) == 0);
    memcpy(copy, env, (size_t)n);
    ASSERT_EQ_INT(cm_env_decode(&k2, rkey, SIG, copy, (size_t)n, &got), CM_ENV_E_TAG);
}

static void test_encryption_flag_mismatch(void)
{
    struct cm_rkeys clear, enc;
    uint8_t rkey[CM_RKEY_LEN], val[50], env[512];
    const uint8_t *got;
    long n;

    make_keys(&clear, 0);
    make_keys(&enc, 1);
    n = encode(&clear, rkey, env, sizeof(env), val, 50);
    REQUIRE(n > 0);
    ASSERT_EQ_INT(cm_env_decode(&enc, rkey, SIG, env, (size_t)n, &got), CM_ENV_E_CLEAR);
    n = encode(&enc, rkey, env, sizeof(env), val, 50);
    REQUIRE(n > 0);
    ASSERT_EQ_INT(cm_env_decode(&clear, rkey, SIG, env, (size_t)n, &got), CM_ENV_E_ENCRYPTED);
}

/* Runs a shell command and returns its first output line (static buffer). */
static const char *sh(const char *cmd)
{
    static char line[1024];
    FILE *p = popen(cmd, "r");

    line[0] = '\0';
    if (p == NULL)
        return line;
    if (fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_sha512_matches_sha512sum(void)
{
    char path[] = "/tmp/cm_envtest.XXXXXX", cmd[128], hex[CM_RKEY_HEX + 1];
    uint8_t bytes[300], raw[CM_RKEY_LEN];
    struct cm_rkeys k;
    int fd = mkstemp(path);

    REQUIRE(fd >= 0);
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(i ^ 0x5a);
    REQUIRE(write(fd, bytes, sizeof(bytes)) == (ssize_t)sizeof(bytes));
    close(fd);
    make_keys(&k, 0);
    REQUIRE(cm_rkey(&k, bytes, sizeof(bytes), raw) == 0);
    cm_rkey_hex(raw, hex);
    snprintf(cmd, sizeof(cmd), "sha512sum %s | cut -d' ' -f1", path);
    ASSERT_EQ_STR(hex, sh(cmd));
    unlink(path);
    /* Known vector: SHA-512("abc"). */
    REQUIRE(cm_rkey(&k, (const uint8_t *)"abc", 3, raw) == 0);
    cm_rkey_hex(raw, hex);
    ASSERT_EQ_STR(hex, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    /* unhex inverts hex, and rejects what is not 128 lowercase hex chars. */
    {
        uint8_t back[CM_RKEY_LEN];

        ASSERT_EQ_INT(cm_rkey_unhex(hex, strlen(hex), back), 0);
        ASSERT_EQ_MEM(back, raw, CM_RKEY_LEN);
        hex[5] = 'A';
        ASSERT_EQ_INT(cm_rkey_unhex(hex, strlen(hex), back), -1);
        ASSERT_EQ_INT(cm_rkey_unhex(hex, 127, back), -1);
    }
}

/* HKDF-SHA512 keys equal `openssl kdf`, and the HMAC remote key equals `openssl dgst -mac`. */
static void test_hmac_matches_openssl(void)
{
    char path[] = "/tmp/cm_envtest.XXXXXX", cmd[1024], mac_hex[129], enc_hex[65], hex[129];
    char want[200];
    const char *out;
    uint8_t raw[CM_RKEY_LEN];
    struct cm_rkeys k;
    static const uint8_t key[] = "some canonical key \x01\x02\x03";
    int fd = mkstemp(path), j = 0;

    REQUIRE(fd >= 0);
    REQUIRE(write(fd, key, sizeof(key) - 1) == (ssize_t)(sizeof(key) - 1));
    close(fd);
    REQUIRE(cm_rkeys_init(&k, (const uint8_t *)"s3cret", 6) == 0);
    hex_of(k.rk_mac, 64, mac_hex);
    hex_of(k.rk_enc, 32, enc_hex);
    /* openssl kdf prints uppercase hex with colons. */
    out = sh("openssl kdf -keylen 64 -kdfopt digest:SHA512 -kdfopt key:s3cret "
             "-kdfopt 'info:cloudm key v1' HKDF 2>&1 | tr -d ':\\n' | tr A-F a-f");
    ASSERT_EQ_STR(out, mac_hex);
    out = sh("openssl kdf -keylen 32 -kdfopt digest:SHA512 -kdfopt key:s3cret "
             "-kdfopt 'info:cloudm value v1' HKDF 2>&1 | tr -d ':\\n' | tr A-F a-f");
    ASSERT_EQ_STR(out, enc_hex);
    REQUIRE(cm_rkey(&k, key, sizeof(key) - 1, raw) == 0);
    cm_rkey_hex(raw, hex);
    snprintf(cmd, sizeof(cmd),
             "openssl dgst -sha512 -mac HMAC -macopt hexkey:%s %s 2>&1 | "
             "awk '{print $NF}'",
             mac_hex, path);
    out = sh(cmd);
    for (; out[j] != '\0' && j < (int)sizeof(want) - 1; j++)
        want[j] = out[j];
    want[j] = '\0';
    ASSERT_EQ_STR(hex, want);
    /* And differs from the plain SHA-512 (no secret). */
    {
        struct cm_rkeys plain;
        uint8_t raw2[CM_RKEY_LEN];

        make_keys(&plain, 0);
        REQUIRE(cm_rkey(&plain, key, sizeof(key) - 1, raw2) == 0);
        ASSERT_TRUE(memcmp(raw, raw2, CM_RKEY_LEN) != 0);
    }
    unlink(path);
}

#define S 1000000000ull

static void test_breaker(void)
{
    struct cm_breaker b;
    uint64_t t = 100 * S;

    cm_breaker_init(&b);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ_INT(cm_breaker_allow(&b, t), CM_BRK_ALLOW);
        ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_ALLOW, 0, t), CM_BRK_NONE);
    }
    /* A success (a 404, say) resets the run of failures. */
    ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_ALLOW, 1, t), CM_BRK_NONE);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_ALLOW, 0, t), CM_BRK_NONE);
    ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_ALLOW, 0, t), CM_BRK_OPENED);
    ASSERT_EQ_UINT(atomic_load(&b.br_opens), 1);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t), CM_BRK_DENY);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + S - 1), CM_BRK_DENY);
    /* Stale failures while open change nothing. */
    ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_ALLOW, 0, t + S / 2), CM_BRK_NONE);
    ASSERT_EQ_UINT(cm_breaker_retry_at(&b), t + S);
    /* Exactly one probe after the back-off. */
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + S), CM_BRK_PROBE);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + S), CM_BRK_DENY);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + 5 * S), CM_BRK_DENY);
    /* Failed probe: open again for 2 s, not counted as a new opening. */
    ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_PROBE, 0, t + S), CM_BRK_NONE);
    ASSERT_EQ_UINT(atomic_load(&b.br_opens), 1);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + 3 * S - 1), CM_BRK_DENY);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + 3 * S), CM_BRK_PROBE);
    ASSERT_EQ_INT(cm_breaker_report(&b, CM_BRK_PROBE, 1, t + 3 * S), CM_BRK_CLOSED_AGAIN);
    ASSERT_EQ_INT(cm_breaker_allow(&b, t + 3 * S), CM_BRK_ALLOW);
    ASSERT_EQ_UINT(atomic_load(&b.br_backoff), S);
    /* The back-off doubles up to 60 s. */
    for (int i = 0; i < 5; i++)
        cm_breaker_report(&b, CM_BRK_ALLOW, 0, t);
    for (int i = 0; i < 10; i++) {
        uint64_t at = cm_breaker_retry_at(&b);

        ASSERT_EQ_INT(cm_breaker_allow(&b, at), CM_BRK_PROBE);
        cm_breaker_report(&b, CM_BRK_PROBE, 0, at);
    }
    ASSERT_EQ_UINT(atomic_load(&b.br_backoff), CM_BRK_BACKOFF_MAX);
    ASSERT_EQ_UINT(atomic_load(&b.br_opens), 2);
}

int main(void)
{
    RUN_TEST(test_roundtrip_clear);
    RUN_TEST(test_roundtrip_encrypted);
    RUN_TEST(test_nonce_random);
    RUN_TEST(test_corruptions_clear);
    RUN_TEST(test_corruptions_encrypted);
    RUN_TEST(test_wrong_sig_and_key);
    RUN_TEST(test_tampered_ciphertext);
    RUN_TEST(test_encryption_flag_mismatch);
    RUN_TEST(test_sha512_matches_sha512sum);
    RUN_TEST(test_hmac_matches_openssl);
    RUN_TEST(test_breaker);
    return cm_test_summary();
}
