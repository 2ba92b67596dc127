/*
 * ucrypto.c - libcloudm-crypto.so: the few cryptographic primitives the shim itself needs
 * (struct cm_crypto_api in cm_remote.h), on OpenSSL's libcrypto.
 *
 * What it does: SHA-256 of large key inputs (so remote keys stay collision-resistant against
 * whoever can write to the server), HMAC-SHA256 keyed digests and AES-256-GCM sealing for
 * `sensitive = yes` functions, random bytes for the per-user key. One-shot calls, no state.
 *
 * What it does not do: no network, no threads, no key storage (tier/crypto.c owns the per-user
 * key). Why a separate object: the shim must not bring libcrypto into every host program; this
 * one is dlopen()ed only when a configured function needs it, and unlike libcloudm-remote.so it
 * does not load libcurl or hiredis.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

#include "cm_remote.h"
#include "rcrypto.h"

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    SHA256(p, n, out);
}

static void hmac256(const uint8_t key[32], const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (HMAC(EVP_sha256(), key, 32, p, n, out, &len) == NULL)
        memset(out, 0, 32); /* never a usable digest: the caller's key then cannot match */
}

static int seal(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                size_t n, uint8_t *out)
{
    if (cm_random(out, CM_GCM_NONCE) < 0)
        return -1;
    return cm_gcm_seal(key, out, aad, aadlen, in, n, out + CM_GCM_NONCE, out + CM_GCM_NONCE + n);
}

static int open_(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                 size_t n, uint8_t *out)
{
    if (n < CM_SEAL_OVERHEAD)
        return -1;
    size_t len = n - CM_SEAL_OVERHEAD;
    return cm_gcm_open(key, in, aad, aadlen, in + CM_GCM_NONCE, len, in + CM_GCM_NONCE + len, out);
}

__attribute__((visibility("default"))) const struct cm_crypto_api cm_crypto_plugin = {
    .abi = CM_CRYPTO_ABI,
    .sha256 = sha256,
    .hmac256 = hmac256,
    .seal = seal,
    .open = open_,
    .random = cm_random,
};
