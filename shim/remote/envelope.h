/*
 * envelope.h - the byte format of a value stored on the remote tier (docs/remote.md, "Envelope").
 *
 * What it does: encodes a value into an envelope bound to its remote key and signature digest,
 * in the clear or AES-256-GCM encrypted, and decodes/validates one coming back from a server.
 * Layout (little-endian): 64-byte header (magic "CMRV", version, flags, reserved, sig[16],
 * keybind[16], vlen u32, plen u32, nonce[12], reserved u32), plen payload bytes, 8-byte XXH3-64
 * of everything before it.
 *
 * What it does not do: no I/O, no allocation, no key derivation (rcrypto.h). Pure functions over
 * caller-owned buffers, so unit tests and the fuzzer use them without a network.
 */
#ifndef CM_ENVELOPE_H
#define CM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "rcrypto.h"

#define CM_ENV_MAGIC "CMRV"
#define CM_ENV_VERSION 1
#define CM_ENV_HDR 64     /* header bytes */
#define CM_ENV_SUM 8      /* trailing XXH3-64 */
#define CM_ENV_F_ENC 0x01 /* payload = AES-256-GCM(value) || tag */
#define CM_ENV_MAX_VALUE (0xffffffffu - CM_ENV_HDR - CM_ENV_SUM - CM_GCM_TAG)

/* Why a decode failed (negative return values of cm_env_decode). */
#define CM_ENV_ERRORS(X)                                                                           \
    X(SHORT, -1, "shorter than header and checksum")                                               \
    X(MAGIC, -2, "wrong magic")                                                                    \
    X(VERSION, -3, "unknown format version")                                                       \
    X(FLAGS, -4, "unknown flags or non-zero reserved bytes")                                       \
    X(LENGTH, -5, "lengths disagree with each other or with the body")                             \
    X(CHECKSUM, -6, "checksum mismatch")                                                           \
    X(KEY, -7, "bound to another key")                                                             \
    X(SIG, -8, "made for another signature")                                                       \
    X(CLEAR, -9, "stored in the clear but a secret is configured")                                 \
    X(ENCRYPTED, -10, "encrypted but no secret is configured")                                     \
    X(TAG, -11, "authentication tag mismatch (wrong secret or tampered)")                          \
    X(CRYPTO, -12, "crypto library failure")

enum cm_env_err {
#define CM_ENV_ENUM(name, val, msg) CM_ENV_E_##name = val,
    CM_ENV_ERRORS(CM_ENV_ENUM)
#undef CM_ENV_ENUM
};

/* Encoded size of a value of vlen bytes (encrypted or not). */
static inline size_t cm_env_size(uint32_t vlen, int encrypted)
{
    return (size_t)CM_ENV_HDR + vlen + (encrypted ? CM_GCM_TAG : 0) + CM_ENV_SUM;
}

/* Encodes val (vlen <= CM_ENV_MAX_VALUE) for remote key rkey and signature sig into out
 * (outsz >= cm_env_size(vlen, k->rk_secret)); encrypted iff k->rk_secret. Returns the encoded
 * length, or -1 (too small a buffer, too large a value, crypto failure). */
long cm_env_encode(const struct cm_rkeys *k, const uint8_t rkey[CM_RKEY_LEN], const uint8_t sig[16],
                   const uint8_t *val, uint32_t vlen, uint8_t *out, size_t outsz);

/* Validates env (len bytes, as received) for rkey and sig, decrypting in place when encrypted.
 * Returns the value length and sets *val to it (inside env), or a negative enum cm_env_err.
 * Never returns a value that failed any check. */
long cm_env_decode(const struct cm_rkeys *k, const uint8_t rkey[CM_RKEY_LEN], const uint8_t sig[16],
                   uint8_t *env, size_t len, const uint8_t **val);

/* Recomputes the trailing checksum of an envelope of len bytes (len >= header + checksum); for
 * test servers that tamper with a payload and want only the tag to catch it. */
void cm_env_reseal(uint8_t *env, size_t len);

/* A static message for an enum cm_env_err value. */
const char *cm_env_strerror(long err);

#endif
