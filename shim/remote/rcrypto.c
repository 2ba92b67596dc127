/*
 * rcrypto.c - key derivation, remote keys and AES-256-GCM for the remote tier (libcrypto).
 *
 * What it does: implements rcrypto.h with OpenSSL 3 one-shot and EVP calls: HKDF-SHA512 with an
 * empty salt (RFC 5869: HashLen zero bytes), SHA-512 / HMAC-SHA512 of the canonical key bytes,
 * AES-256-GCM with a 12-byte nonce and a 16-byte tag.
 *
 * What it does not do: choose nonces for the caller (cm_random does, RAND_bytes), keep any state
 * of its own, or decide what goes into the associated data (envelope.c does).
 */
#include "rcrypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

static int hkdf(const uint8_t *secret, size_t len, const char *info, uint8_t *out, size_t outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t n = outlen;
    int rc = -1;

    if (ctx == NULL)
        return -1;
    if (EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha512()) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, (int)len) <= 0 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) <= 0)
        goto out;
    if (EVP_PKEY_derive(ctx, out, &n) <= 0 || n != outlen)
        goto out;
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int cm_rkeys_init(struct cm_rkeys *k, const uint8_t *secret, size_t len)
{
    memset(k, 0, sizeof(*k));
    if (len == 0)
        return 0;
    if (len > 0x7fffffff)
        return -1;
    if (hkdf(secret, len, "cloudm key v1", k->rk_mac, sizeof(k->rk_mac)) < 0 ||
        hkdf(secret, len, "cloudm value v1", k->rk_enc, sizeof(k->rk_enc)) < 0) {
        cm_rkeys_wipe(k);
        return -1;
    }
    k->rk_secret = 1;
    return 0;
}

void cm_rkeys_wipe(struct cm_rkeys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

int cm_rkey(const struct cm_rkeys *k, const uint8_t *key, size_t klen, uint8_t out[CM_RKEY_LEN])
{
    unsigned int n = 0;
    static const uint8_t empty[1];

    if (key == NULL)
        key = empty;
    if (!k->rk_secret)
        return SHA512(key, klen, out) != NULL ? 0 : -1;
    if (HMAC(EVP_sha512(), k->rk_mac, sizeof(k->rk_mac), key, klen, out, &n) == NULL ||
        n != CM_RKEY_LEN)
        return -1;
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

/* One GCM pass; enc = 1 seals (writes tag), 0 opens (checks tag). */
static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE],
               const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len, uint8_t *out,
               uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n, rc = -1;

    if (ctx == NULL)
        return -1;
    if (len > 0x7fffffff || aadlen > 0x7fffffff)
        goto out;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CM_GCM_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        goto out;
    if (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CM_GCM_TAG, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CM_GCM_TAG, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int cm_gcm_seal(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[CM_GCM_TAG])
{
    return gcm(1, key, nonce, aad, aadlen, pt, len, ct, tag);
}

int cm_gcm_open(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *ct, size_t len, const uint8_t tag[CM_GCM_TAG],
                uint8_t *pt)
{
    return gcm(0, key, nonce, aad, aadlen, ct, len, pt, (uint8_t *)tag);
}

int cm_random(uint8_t *buf, size_t len)
{
    return len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1 ? -1 : 0;
}
