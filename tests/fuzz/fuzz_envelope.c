/*
 * fuzz_envelope.c - libFuzzer target for the remote tier's envelope decoder (shim/remote/
 * envelope.c), the code that parses whatever a remote server sends back.
 *
 * What it does: input byte 0 picks the variant (bit 0: a secret is configured, bit 1: recompute
 * the checksum first so mutations reach the later checks, bit 2: adopt the input's key binding
 * and signature as the expected ones so the encryption flag and the GCM tag are reached); the
 * rest is the body. Invariants: a successful decode returns a value inside the body whose
 * length matches the header, and in the clear re-encoding that value gives back the exact body
 * (so nothing else can ever be accepted). With CM_FUZZ_WRITE_SEEDS=DIR set,
 * LLVMFuzzerInitialize writes valid envelopes to DIR as a seed corpus.
 *
 * What it does not do: fuzz the network code. Built and run by tests/remote/fuzz_envelope.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "rcrypto.h"

static struct cm_rkeys k_clear, k_secret;
static uint8_t rkey[CM_RKEY_LEN], sig[16];

static void write_seed(const char *dir, int n, uint8_t variant, const uint8_t *env, long len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/seed%d", dir, n);
    f = fopen(path, "wb");
    if (f == NULL)
        return;
    fputc(variant, f);
    fwrite(env, 1, (size_t)len, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("CM_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    cm_rkeys_init(&k_clear, NULL, 0);
    cm_rkeys_init(&k_secret, (const uint8_t *)"fuzz secret", 11);
    cm_rkey(&k_clear, (const uint8_t *)"fuzz key", 8, rkey);
    memset(sig, 0x5a, sizeof(sig));
    if (dir != NULL) {
        static const uint32_t lens[] = {0, 1, 17, 200};
        uint8_t val[200], env[512];
        int n = 0;

        for (size_t i = 0; i < sizeof(val); i++)
            val[i] = (uint8_t)(i * 11);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            long len = cm_env_encode(&k_clear, rkey, sig, val, lens[i], env, sizeof(env));

            write_seed(dir, n++, 0, env, len);
            len = cm_env_encode(&k_secret, rkey, sig, val, lens[i], env, sizeof(env));
            write_seed(dir, n++, 1, env, len);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *env, *again, key[CM_RKEY_LEN], want_sig[16];
    const struct cm_rkeys *k;
    const uint8_t *val = NULL;
    size_t len;
    long n;

    if (size < 1)
        return 0;
    k = (data[0] & 1) ? &k_secret : &k_clear;
    len = size - 1;
    env = malloc(len + 1);
    if (env == NULL)
        return 0;
    memcpy(env, data + 1, len);
    memcpy(key, rkey, sizeof(key));
    memcpy(want_sig, sig, sizeof(want_sig));
    if ((data[0] & 2) != 0)
        cm_env_reseal(env, len);
    if ((data[0] & 4) != 0 && len >= CM_ENV_HDR) {
        memcpy(key, env + 24, 16);
        memcpy(want_sig, env + 8, 16);
    }
    n = cm_env_decode(k, key, want_sig, env, len, &val);
    if (n >= 0) {
        if (val != env + CM_ENV_HDR || (size_t)n + CM_ENV_HDR + CM_ENV_SUM > len)
            __builtin_trap();
        if (!k->rk_secret) {
            again = malloc(len + 1);
            if (again == NULL)
                __builtin_trap();
            if (cm_env_encode(k, key, want_sig, val, (uint32_t)n, again, len) != (long)len ||
                memcmp(again, env, len) != 0)
                __builtin_trap();
            free(again);
        }
    } else if (n < CM_ENV_E_CRYPTO || val != NULL) {
        __builtin_trap();
    }
    free(env);
    return 0;
}
