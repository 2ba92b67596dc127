/*
 * rcrypto.h - the remote tier's keys and cryptography (Nettle).
 *
 * What it does: derives the two secret keys from secret_file (HKDF-SHA512, infos
 * "cloudm key v1" and "cloudm value v1"), turns canonical key bytes into the 64-byte remote key
 * (SHA-512, or HMAC-SHA512 under the derived key when there is a secret) and its 128-char
 * lowercase hex form, and seals/opens AES-256-GCM payloads.
 *
 * What it does not do: no envelope layout (envelope.c), no I/O, no key storage beyond the
 * struct the caller owns. Every function is thread-safe (no shared state).
 */
#ifndef CM_RCRYPTO_H
#define CM_RCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CM_RKEY_LEN 64  /* raw remote key: SHA-512 / HMAC-SHA512 output */
#define CM_RKEY_HEX 128 /* its lowercase hex form, without the NUL */
#define CM_GCM_NONCE 12
#define CM_GCM_TAG 16

struct cm_rkeys {
    int rk_secret;      /* 1 when a secret was given: HMAC keys and encryption */
    uint8_t rk_mac[64]; /* HKDF-SHA512(secret, info "cloudm key v1") */
    uint8_t rk_enc[32]; /* HKDF-SHA512(secret, info "cloudm value v1"): AES-256 key */
};

/* No secret (len 0) or derive both keys from secret[0..len). 0 (-1 kept for the interface). */
int cm_rkeys_init(struct cm_rkeys *k, const uint8_t *secret, size_t len);
/* Wipes the derived keys. */
void cm_rkeys_wipe(struct cm_rkeys *k);

/* out = SHA-512(key) or HMAC-SHA512(rk_mac, key). 0 (-1 kept for the interface). */
int cm_rkey(const struct cm_rkeys *k, const uint8_t *key, size_t klen, uint8_t out[CM_RKEY_LEN]);
/* Lowercase hex of the raw remote key into hex[129] (NUL-terminated). */
void cm_rkey_hex(const uint8_t raw[CM_RKEY_LEN], char hex[CM_RKEY_HEX + 1]);
/* Parses 128 lowercase hex chars into raw. 0, or -1 when it is not exactly that. */
int cm_rkey_unhex(const char *hex, size_t len, uint8_t raw[CM_RKEY_LEN]);

/* AES-256-GCM: ct (len bytes) and tag from pt under key/nonce with associated data aad.
 * ct may equal pt. 0. */
int cm_gcm_seal(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[CM_GCM_TAG]);
/* The inverse; 0 when the tag verifies, -1 otherwise (pt contents then undefined). */
int cm_gcm_open(const uint8_t key[32], const uint8_t nonce[CM_GCM_NONCE], const uint8_t *aad,
                size_t aadlen, const uint8_t *ct, size_t len, const uint8_t tag[CM_GCM_TAG],
                uint8_t *pt);
/* Fills buf with cryptographically random bytes. 0, or -1. */
int cm_random(uint8_t *buf, size_t len);

#endif
