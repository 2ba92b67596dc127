/*
 * ucrypto.c - libcloudm-crypto.so: the few cryptographic primitives the shim itself needs
 * (struct cm_crypto_api in cm_remote.h), on Nettle.
 *
 * What it does: SHA-256 of large key inputs (so remote keys stay collision-resistant against
 * whoever can write to the server), HMAC-SHA256 keyed digests and AES-256-GCM sealing for
 * `sensitive = yes` functions, random bytes for the per-user key.
 *
 * What it does not do: no network, no threads of its own, no key storage (tier/crypto.c owns
 * the per-user key). Why a separate object: the shim must not bring a crypto library into every
 * host program; this one is dlopen()ed only when a configured function needs it. Why Nettle:
 * no global state to initialise (libcrypto's providers cost 1.5-2 ms at each process start),
 * SHA-NI and AES-NI used where the CPU has them (Debian builds it "fat").
 *
 * DESIGN: a sensitive hit costs one HMAC and one GCM open. Scheduling keys per call costs
 * microseconds, so each thread keeps its own contexts, keyed once (an HMAC context is keyed
 * again by its own digest; a GCM context gets only a new nonce per call), freed by a thread-exit
 * destructor. A context is re-keyed when a call brings another key.
 */
#include <nettle/gcm.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cm_remote.h"
#include "rcrypto.h"

struct tctx {
    struct hmac_sha256_ctx mac; /* keyed with mac_key; a digest leaves it keyed again */
    uint8_t mac_key[32];
    struct gcm_aes256_ctx gcm; /* keyed with gcm_key; each call sets a new nonce */
    uint8_t gcm_key[32];
    int mac_ok, gcm_ok;
};

static pthread_key_t tkey;
static pthread_once_t tonce = PTHREAD_ONCE_INIT;

static void tctx_free(void *p)
{
    explicit_bzero(p, sizeof(struct tctx));
    free(p);
}

static void tinit(void)
{
    pthread_key_create(&tkey, tctx_free);
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
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, 32, out);
}

static void hmac256(const uint8_t key[32], const void *p, size_t n, uint8_t out[32])
{
    struct tctx *t = self();
    if (t == NULL) {
        memset(out, 0, 32); /* never a usable digest: the caller's key then cannot match */
        return;
    }
    if (!t->mac_ok || memcmp(t->mac_key, key, 32) != 0) {
        hmac_sha256_set_key(&t->mac, 32, key);
        memcpy(t->mac_key, key, 32);
        t->mac_ok = 1;
    }
    hmac_sha256_update(&t->mac, n, p);
    hmac_sha256_digest(&t->mac, 32, out);
}

/* One GCM pass with the thread's keyed context: only the nonce is new. */
static int gcm(int enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *aad,
               size_t aadlen, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    struct tctx *t = self();
    uint8_t want[CM_GCM_TAG];
    if (t == NULL)
        return -1;
    if (!t->gcm_ok || memcmp(t->gcm_key, key, 32) != 0) {
        gcm_aes256_set_key(&t->gcm, key);
        memcpy(t->gcm_key, key, 32);
        t->gcm_ok = 1;
    }
    gcm_aes256_set_iv(&t->gcm, CM_GCM_NONCE, nonce);
    gcm_aes256_update(&t->gcm, aadlen, aad);
    if (enc) {
        gcm_aes256_encrypt(&t->gcm, len, out, in);
        gcm_aes256_digest(&t->gcm, CM_GCM_TAG, tag);
        return 0;
    }
    gcm_aes256_decrypt(&t->gcm, len, out, in);
    gcm_aes256_digest(&t->gcm, CM_GCM_TAG, want);
    return memeql_sec(want, tag, CM_GCM_TAG) ? 0 : -1;
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
