/*
 * ucrypto.c - libcloudm-crypto.so: the few cryptographic primitives the shim itself needs
 * (struct cm_crypto_api in cm_remote.h), on OpenSSL's libcrypto.
 *
 * What it does: SHA-256 of large key inputs (so remote keys stay collision-resistant against
 * whoever can write to the server), HMAC-SHA256 keyed digests and AES-256-GCM sealing for
 * `sensitive = yes` functions, random bytes for the per-user key.
 *
 * What it does not do: no network, no threads of its own, no key storage (tier/crypto.c owns
 * the per-user key). Why a separate object: the shim must not bring libcrypto into every host
 * program; this one is dlopen()ed only when a configured function needs it, and unlike
 * libcloudm-remote.so it does not load libcurl or hiredis.
 *
 * DESIGN: a sensitive hit costs one HMAC and one GCM open. Creating OpenSSL contexts and
 * scheduling keys per call costs microseconds, so each thread keeps its own contexts, keyed once
 * (EVP_MAC_CTX re-initialised with its key kept; EVP_CIPHER_CTX given only a new nonce per
 * call), freed by a thread-exit destructor. A context is re-keyed when a call brings another key.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cm_remote.h"
#include "rcrypto.h"

struct tctx {
    EVP_MAC_CTX *mac;
    uint8_t mac_key[32];
    EVP_CIPHER_CTX *gcm[2]; /* 0: open, 1: seal */
    uint8_t gcm_key[2][32];
    int mac_ok, gcm_ok[2];
};

static pthread_key_t tkey;
static pthread_once_t tonce = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;

static void tctx_free(void *p)
{
    struct tctx *t = p;
    EVP_MAC_CTX_free(t->mac);
    EVP_CIPHER_CTX_free(t->gcm[0]);
    EVP_CIPHER_CTX_free(t->gcm[1]);
    OPENSSL_cleanse(t, sizeof(*t));
    free(t);
}

static void tinit(void)
{
    pthread_key_create(&tkey, tctx_free);
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static struct tctx *self(void)
{
    pthread_once(&tonce, tinit);
    struct tctx *t = pthread_getspecific(tkey);
    if (!t && (t = calloc(1, sizeof(*t))) != NULL && pthread_setspecific(tkey, t) != 0) {
        free(t);
        t = NULL;
    }
    return t;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    SHA256(p, n, out);
}

static void hmac256(const uint8_t key[32], const void *p, size_t n, uint8_t out[32])
{
    struct tctx *t = self();
    size_t len = 0;
    int ok = 0;
    if (t && hmac_alg) {
        OSSL_PARAM prm[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end()};
        if (!t->mac)
            t->mac = EVP_MAC_CTX_new(hmac_alg);
        if (t->mac && (!t->mac_ok || memcmp(t->mac_key, key, 32) != 0)) {
            t->mac_ok = EVP_MAC_init(t->mac, key, 32, prm) == 1;
            memcpy(t->mac_key, key, 32);
        } else if (t->mac) {
            t->mac_ok = EVP_MAC_init(t->mac, NULL, 0, NULL) == 1; /* same key, fresh state */
        }
        ok = t->mac_ok && EVP_MAC_update(t->mac, p, n) == 1 &&
             EVP_MAC_final(t->mac, out, &len, 32) == 1 && len == 32;
    }
    if (!ok)
        memset(out, 0, 32); /* never a usable digest: the caller's key then cannot match */
}

/* The thread's GCM context for direction enc, keyed with key; NULL on failure. */
static EVP_CIPHER_CTX *gcm_ctx(const uint8_t key[32], int enc)
{
    struct tctx *t = self();
    if (!t)
        return NULL;
    if (!t->gcm[enc] && !(t->gcm[enc] = EVP_CIPHER_CTX_new()))
        return NULL;
    if (!t->gcm_ok[enc] || memcmp(t->gcm_key[enc], key, 32) != 0) {
        EVP_CIPHER_CTX *c = t->gcm[enc];
        t->gcm_ok[enc] = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
                         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, CM_GCM_NONCE, NULL) == 1 &&
                         EVP_CipherInit_ex(c, NULL, NULL, key, NULL, enc) == 1;
        memcpy(t->gcm_key[enc], key, 32);
    }
    return t->gcm_ok[enc] ? t->gcm[enc] : NULL;
}

/* One GCM pass with the thread's keyed context: only the nonce is new. */
static int gcm(int enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *aad,
               size_t aadlen, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = gcm_ctx(key, enc);
    int n;
    if (!c || len > 0x7fffffff || aadlen > 0x7fffffff)
        return -1;
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) != 1)
        return -1;
    if (aadlen > 0 && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
        return -1;
    if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
        return -1;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CM_GCM_TAG, tag) != 1)
        return -1;
    if (EVP_CipherFinal_ex(c, out + len, &n) != 1)
        return -1;
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CM_GCM_TAG, tag) != 1)
        return -1;
    return 0;
}

static int seal(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                size_t n, uint8_t *out)
{
    if (cm_random(out, CM_GCM_NONCE) < 0)
        return -1;
    return gcm(1, key, out, aad, aadlen, in, n, out + CM_GCM_NONCE, out + CM_GCM_NONCE + n);
}

static int open_(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                 size_t n, uint8_t *out)
{
    if (n < CM_SEAL_OVERHEAD)
        return -1;
    size_t len = n - CM_SEAL_OVERHEAD;
    uint8_t tag[CM_GCM_TAG];
    memcpy(tag, in + CM_GCM_NONCE + len, sizeof(tag));
    return gcm(0, key, in, aad, aadlen, in + CM_GCM_NONCE, len, out, tag);
}

__attribute__((visibility("default"))) const struct cm_crypto_api cm_crypto_plugin = {
    .abi = CM_CRYPTO_ABI,
    .sha256 = sha256,
    .hmac256 = hmac256,
    .seal = seal,
    .open = open_,
    .random = cm_random,
};
