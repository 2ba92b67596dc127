/*
 * hostkeys.c - libcloudm-remote.so's one export, struct cm_remote_keys_api (cm_remote.h): what a
 * host process needs to use the remote tier through its agent.
 *
 * What it does: reads secret_file and derives the keys (rcrypto.c), turns canonical key bytes
 * into the remote key, wraps values in envelopes and checks envelopes coming back (envelope.c).
 * The secret never leaves the host process: the agent only ever sees hex keys and envelopes.
 *
 * What it does not do: no network, no thread, no descriptor kept (the secret file is read and
 * closed in open()), no allocation after open(), no exit handler (Nettle has no global state).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_remote.h"
#include "envelope.h"
#include "rcrypto.h"

#define SECRET_MAX 65536

struct cm_remote_keys {
    struct cm_rkeys k;
};

static struct cm_remote_keys *k_open(const char *secret_file, char *err, size_t errsz)
{
    struct cm_remote_keys *rk;
    uint8_t *secret = NULL;
    ssize_t n = 0;

    rk = calloc(1, sizeof(*rk));
    if (rk == NULL) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (secret_file != NULL && secret_file[0] != '\0') {
        int fd = open(secret_file, O_RDONLY | O_CLOEXEC);
        secret = malloc(SECRET_MAX + 1);
        if (fd < 0 || secret == NULL) {
            snprintf(err, errsz, "cannot open secret_file '%s'", secret_file);
            goto fail_fd;
        }
        for (ssize_t got; n <= SECRET_MAX; n += got) {
            got = read(fd, secret + n, (size_t)(SECRET_MAX + 1 - n));
            if (got <= 0) {
                if (got < 0)
                    n = -1;
                break;
            }
        }
        close(fd);
        if (n < 0 || n > SECRET_MAX) {
            snprintf(err, errsz, "secret_file '%s': unreadable or larger than %d bytes",
                     secret_file, SECRET_MAX);
            goto fail;
        }
        if (n == 0) {
            snprintf(err, errsz, "secret_file '%s' is empty", secret_file);
            goto fail;
        }
        if (0) {
        fail_fd:
            if (fd >= 0)
                close(fd);
            goto fail;
        }
    }
    if (cm_rkeys_init(&rk->k, secret, (size_t)n) < 0) {
        snprintf(err, errsz, "key derivation failed");
        goto fail;
    }
    if (secret != NULL) {
        memset(secret, 0, SECRET_MAX + 1);
        free(secret);
    }
    return rk;
fail:
    if (secret != NULL) {
        memset(secret, 0, SECRET_MAX + 1);
        free(secret);
    }
    free(rk);
    return NULL;
}

static int k_key(const struct cm_remote_keys *k, const uint8_t *key, uint32_t klen, uint8_t raw[64],
                 char hex[CM_REMOTE_HEX + 1])
{
    if (cm_rkey(&k->k, key, klen, raw) < 0)
        return -1;
    cm_rkey_hex(raw, hex);
    return 0;
}

static size_t k_env_size(const struct cm_remote_keys *k, uint32_t vlen)
{
    return cm_env_size(vlen, k->k.rk_secret);
}

static long k_encode(const struct cm_remote_keys *k, const uint8_t raw[64], const uint8_t sig[16],
                     const uint8_t *val, uint32_t vlen, uint8_t *out, size_t outsz)
{
    return cm_env_encode(&k->k, raw, sig, val, vlen, out, outsz);
}

static long k_decode(const struct cm_remote_keys *k, const uint8_t raw[64], const uint8_t sig[16],
                     uint8_t *env, size_t len, const uint8_t **val)
{
    return cm_env_decode(&k->k, raw, sig, env, len, val);
}

/* The one exported symbol (exports.map). */
__attribute__((visibility("default"))) const struct cm_remote_keys_api cm_remote_keys = {
    .abi = CM_REMOTE_KEYS_ABI,
    .open = k_open,
    .key = k_key,
    .env_size = k_env_size,
    .encode = k_encode,
    .decode = k_decode,
    .strerror = cm_env_strerror,
};
