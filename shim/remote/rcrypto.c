/*
 * rcrypto.c - key derivation, remote keys and AES-256-GCM for the remote tier (Nettle).
 *
 * What it does: implements rcrypto.h with Nettle: HKDF-SHA512 with an empty salt (RFC 5869:
 * HashLen zero bytes), SHA-512 / HMAC-SHA512 of the canonical key bytes, AES-256-GCM with a
 * 12-byte nonce and a 16-byte tag; random bytes from getrandom(2).
 *
 * Why Nettle and not libcrypto: this code runs in every host process that has a remote tier
 * (libcloudm-remote.so). Loading libcrypto and initialising its providers costs 1.5-2 ms of
 * start-up per process, which one-call programs pay on every run; Nettle has no global state
 * and loads in a fraction of that. The algorithms and their results are the same (the tests
 * check them against sha512sum and the openssl command).
 *
 * What it does not do: choose nonces for the caller (cm_random does), keep any state of its
 * own, or decide what goes into the associated data (envelope.c does).
 */
#include "rcrypto.h"

#include <errno.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/random.h>

static void hkdf(const uint8_t *secret, size_t len, const char *info, uint8_t *out, size_t outlen)
{
    static const uint8_t zero_salt[SHA512_DIGEST_SIZE];
    struct hmac_sha512_ctx ctx;
    uint8_t prk[SHA512_DIGEST_SIZE];

    hmac_sha512_set_key(&ctx, sizeof(zero_salt), zero_salt);
    hkdf_extract(&ctx, (nettle_hash_update_func *)hmac_sha512_update,
                 (nettle_hash_digest_func *)hmac_sha512_digest, SHA512_DIGEST_SIZE, len, secret,
                 prk);
    hmac_sha512_set_key(&ctx, sizeof(prk), prk);
    hkdf_expand(&ctx, (nettle_hash_update_func *)hmac_sha512_update,
                (nettle_hash_digest_func *)hmac_sha512_digest, SHA512_DIGEST_SIZE, strlen(info),
                (const uint8_t *)info, outlen, out);
    explicit_bzero(prk, sizeof(prk));
    explicit_bzero(&ctx, sizeof(ctx));
}

int cm_rkeys_init(struct cm_rkeys *k, const uint8_t *secret, size_t len)
{
    memset(k, 0, sizeof(*k));
    if (len == 0)
        return 0;
    if (len > 0x7fffffff)
        return -1;
    hkdf(secret, len, "cloudm key v1", k->rk_mac, sizeof(k->rk_mac));
    hkdf(secret, len, "cloudm value v1", k->rk_enc, sizeof(k->rk_enc));
    k->rk_secret = 1;
    return 0;
}

void cm_rkeys_wipe(struct cm_rkeys *k)
{
    explicit_bzero(k, sizeof(*k));
}

int cm_rkey(const struct cm_rkeys *k, const uint8_t *key, size_t klen, uint8_t out[CM_RKEY_LEN])
{
    static const uint8_t empty[1];

    if (key == NULL)
        key = empty;
    if (!k->rk_secret) {
        struct sha512_ctx c;
        sha512_init(&c);
        sha512_update(&c, klen, key);
        sha512_digest(&c, CM_RKEY_LEN, out);
        return 0;
    }
    struct hmac_sha512_ctx c;
    hmac_sha512_set_key(&c, sizeof(k->rk_mac), k->rk_mac);
    hmac_sha512_update(&c, klen, key);
    hmac_sha512_digest(&c, CM_RKEY_LEN, out);
    explicit_bzero(&c, sizeof(c));
    return 0;
}

void cm_rkey_hex(const uint8_t raw[CM_RKEY_LEN], char hex[CM_RKEY_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < CM_RKEY_LEN; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[CM_RKEY_HEX] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int cm_rkey_unhex(const char *hex, size_t len, uint8_t raw[CM_RKEY_LEN])
{
    if (len != CM_RKEY_HEX)
        return -1;
    for (int i = 0; i < CM_RKEY_LEN; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int cm_gcm_seal(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[CM_GCM_TAG])
{
    struct gcm_aes256_ctx c;

    gcm_aes256_set_key(&c, key);
    gcm_aes256_set_iv(&c, CM_GCM_NONCE, nonce);
    gcm_aes256_update(&c, aadlen, aad);
    gcm_aes256_encrypt(&c, len, ct, pt);
    gcm_aes256_digest(&c, CM_GCM_TAG, tag);
    explicit_bzero(&c, sizeof(c));
    return 0;
}

int cm_gcm_open(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *ct, size_t len, const uint8_t tag[CM_GCM_TAG],
                uint8_t *pt)
{
    struct gcm_aes256_ctx c;
    uint8_t want[CM_GCM_TAG];

    gcm_aes256_set_key(&c, key);
    gcm_aes256_set_iv(&c, CM_GCM_NONCE, nonce);
    gcm_aes256_update(&c, aadlen, aad);
    gcm_aes256_decrypt(&c, len, pt, ct);
    gcm_aes256_digest(&c, CM_GCM_TAG, want);
    explicit_bzero(&c, sizeof(c));
    return memeql_sec(want, tag, CM_GCM_TAG) ? 0 : -1;
}

int cm_random(uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}
