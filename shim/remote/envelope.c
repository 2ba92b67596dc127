/*
 * envelope.c - encode and validate remote-tier value envelopes (layout in envelope.h and
 * docs/remote.md).
 *
 * What it does: writes the header, the payload (the value, or its AES-256-GCM ciphertext and tag
 * with associated data = raw remote key || header) and the XXH3-64 checksum; on the way back it
 * checks, in this order, size, magic, version, flags and reserved bytes, lengths, checksum, key
 * binding, signature, encryption flag against the configuration, and the GCM tag.
 *
 * What it does not do: no allocation and no I/O; the checksum detects accidents (truncation,
 * bit flips, another object), only the GCM tag resists a malicious server.
 */
#include "envelope.h"

#include <string.h>
#include <xxhash.h>

/* Header offsets. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_FLAGS = 5,
    OFF_RES1 = 6,   /* u16, zero */
    OFF_SIG = 8,    /* 16 bytes */
    OFF_KEY = 24,   /* 16 bytes: the first 16 bytes of the raw remote key */
    OFF_VLEN = 40,  /* u32: value length */
    OFF_PLEN = 44,  /* u32: payload length (vlen, or vlen + 16 when encrypted) */
    OFF_NONCE = 48, /* 12 bytes, zero in the clear */
    OFF_RES2 = 60,  /* u32, zero */
};
_Static_assert(OFF_RES2 + 4 == CM_ENV_HDR, "header layout");

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Associated data of the GCM payload: the raw remote key, then the header. */
static void make_aad(const uint8_t rkey[CM_RKEY_LEN], const uint8_t *hdr,
                     uint8_t aad[CM_RKEY_LEN + CM_ENV_HDR])
{
    memcpy(aad, rkey, CM_RKEY_LEN);
    memcpy(aad + CM_RKEY_LEN, hdr, CM_ENV_HDR);
}

long cm_env_encode(const struct cm_rkeys *k, const uint8_t rkey[CM_RKEY_LEN], const uint8_t sig[16],
                   const uint8_t *val, uint32_t vlen, uint8_t *out, size_t outsz)
{
    int enc = k->rk_secret;
    uint32_t plen = vlen + (enc ? CM_GCM_TAG : 0);
    size_t total;

    if (vlen > CM_ENV_MAX_VALUE)
        return -1;
    total = cm_env_size(vlen, enc);
    if (outsz < total)
        return -1;
    memset(out, 0, CM_ENV_HDR);
    memcpy(out + OFF_MAGIC, CM_ENV_MAGIC, 4);
    out[OFF_VERSION] = CM_ENV_VERSION;
    out[OFF_FLAGS] = enc ? CM_ENV_F_ENC : 0;
    memcpy(out + OFF_SIG, sig, 16);
    memcpy(out + OFF_KEY, rkey, 16);
    put32(out + OFF_VLEN, vlen);
    put32(out + OFF_PLEN, plen);
    if (enc) {
        uint8_t aad[CM_RKEY_LEN + CM_ENV_HDR];

        if (cm_random(out + OFF_NONCE, CM_GCM_NONCE) < 0)
            return -1;
        make_aad(rkey, out, aad);
        if (cm_gcm_seal(k->rk_enc, out + OFF_NONCE, aad, sizeof(aad), val, vlen, out + CM_ENV_HDR,
                        out + CM_ENV_HDR + vlen) < 0)
            return -1;
    } else if (vlen > 0) {
        memcpy(out + CM_ENV_HDR, val, vlen);
    }
    put64(out + CM_ENV_HDR + plen, XXH3_64bits(out, CM_ENV_HDR + plen));
    return (long)total;
}

long cm_env_decode(const struct cm_rkeys *k, const uint8_t rkey[CM_RKEY_LEN], const uint8_t sig[16],
                   uint8_t *env, size_t len, const uint8_t **val)
{
    uint32_t vlen, plen;
    int enc;

    if (len < CM_ENV_HDR + CM_ENV_SUM)
        return CM_ENV_E_SHORT;
    if (memcmp(env + OFF_MAGIC, CM_ENV_MAGIC, 4) != 0)
        return CM_ENV_E_MAGIC;
    if (env[OFF_VERSION] != CM_ENV_VERSION)
        return CM_ENV_E_VERSION;
    if ((env[OFF_FLAGS] & ~CM_ENV_F_ENC) != 0 || !all_zero(env + OFF_RES1, 2) ||
        !all_zero(env + OFF_RES2, 4))
        return CM_ENV_E_FLAGS;
    enc = (env[OFF_FLAGS] & CM_ENV_F_ENC) != 0;
    vlen = get32(env + OFF_VLEN);
    plen = get32(env + OFF_PLEN);
    if (vlen > CM_ENV_MAX_VALUE || plen != vlen + (enc ? CM_GCM_TAG : 0) ||
        len != (size_t)CM_ENV_HDR + plen + CM_ENV_SUM)
        return CM_ENV_E_LENGTH;
    if (!enc && !all_zero(env + OFF_NONCE, CM_GCM_NONCE))
        return CM_ENV_E_FLAGS;
    if (get64(env + CM_ENV_HDR + plen) != XXH3_64bits(env, CM_ENV_HDR + plen))
        return CM_ENV_E_CHECKSUM;
    if (memcmp(env + OFF_KEY, rkey, 16) != 0)
        return CM_ENV_E_KEY;
    if (memcmp(env + OFF_SIG, sig, 16) != 0)
        return CM_ENV_E_SIG;
    if (k->rk_secret && !enc)
        return CM_ENV_E_CLEAR;
    if (!k->rk_secret && enc)
        return CM_ENV_E_ENCRYPTED;
    if (enc) {
        uint8_t aad[CM_RKEY_LEN + CM_ENV_HDR];

        make_aad(rkey, env, aad);
        if (cm_gcm_open(k->rk_enc, env + OFF_NONCE, aad, sizeof(aad), env + CM_ENV_HDR, vlen,
                        env + CM_ENV_HDR + vlen, env + CM_ENV_HDR) < 0)
            return CM_ENV_E_TAG;
    }
    *val = env + CM_ENV_HDR;
    return (long)vlen;
}

void cm_env_reseal(uint8_t *env, size_t len)
{
    if (len < CM_ENV_HDR + CM_ENV_SUM)
        return;
    put64(env + len - CM_ENV_SUM, XXH3_64bits(env, len - CM_ENV_SUM));
}

const char *cm_env_strerror(long err)
{
    switch (err) {
#define CM_ENV_MSG(name, v, msg)                                                                   \
    case v:                                                                                        \
        return msg;
        CM_ENV_ERRORS(CM_ENV_MSG)
#undef CM_ENV_MSG
    default:
        return "no error";
    }
}
