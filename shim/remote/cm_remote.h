/*
 * cm_remote.h - the interface between the preloaded shim and its remote tier.
 *
 * What it is: the remote tier (HTTP keycache, plain HTTP stores, and later Redis) lives in its
 * own shared object, libcloudm-remote.so, which the shim dlopen()s only when `[cache] remote` is
 * set, so that programs without a remote never load libcurl or OpenSSL. The plugin exports one
 * symbol, `cm_remote_plugin` (struct cm_remote_api); everything else in it is hidden.
 *
 * Division of work: the shim builds the canonical key bytes of a call (docs/keys.md) and the
 * canonical value bytes, and decides when to ask the remote tier. The plugin derives the remote
 * key (hex SHA-512, or HMAC-SHA512 under secret_file), wraps values in the envelope
 * (docs/remote.md), encrypts them (AES-256-GCM under secret_file), talks to the backend, runs the
 * circuit breaker and the background writer, and counts what happened.
 *
 * Threads: get() is called synchronously from any application thread, concurrently; put() from
 * any thread and never blocks; close() once, at exit. The plugin never calls back into the shim
 * except through struct cm_remote_host.
 */
#ifndef CM_REMOTE_H
#define CM_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#define CM_REMOTE_ABI 1

/* What the shim lends the plugin. */
struct cm_remote_host {
    /* One line on stderr, "cloudm: " prefixed; printf-style. */
    void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
    /* Mark the calling thread as running inside cloudm (its calls to hooked functions go
     * straight to the originals). Every thread the plugin creates calls it first. */
    void (*thread_enter)(void);
};

enum cm_remote_access {
    CM_REMOTE_READWRITE = 0,
    CM_REMOTE_READONLY = 1, /* remote_mode = readonly: never PUT */
    CM_REMOTE_WRITEONLY = 2 /* remote_mode = writeonly: never GET */
};

struct cm_remote_opts {
    const char *url;           /* [cache] remote: http(s)://host[:port][/prefix] (redis:// later) */
    const char *ns;            /* [cache] namespace, [A-Za-z0-9._-]{1,64} */
    const char *token_file;    /* "" or a file whose first line is the bearer token */
    const char *secret_file;   /* "" or a file holding the secret (its whole content) */
    uint64_t timeout_ns;       /* remote_timeout: each GET, connect + transfer (default 250 ms) */
    uint64_t flush_timeout_ns; /* flush_timeout: the writer's drain at close (default 10 s) */
    uint64_t queue_entries;    /* remote_queue: writes queued at most (default 4096) */
    uint64_t queue_bytes;      /* remote_queue_bytes: bytes queued at most (default 64 MiB) */
    uint64_t max_value;        /* values larger than this are never sent (default 64 MiB) */
    enum cm_remote_access access;
    uint64_t expire_ns; /* remote_expire: disuse expiry where the backend sets it (Redis
                           TTL, refreshed on read), default 30 days */
};

/* Process-wide counters, monotonic. */
struct cm_remote_counters {
    uint64_t hits;          /* GET answered with a valid envelope */
    uint64_t misses;        /* GET answered 404 */
    uint64_t errors;        /* GET failed: transport error, bad status, bad envelope, bad tag */
    uint64_t timeouts;      /* GET that hit remote_timeout (also counted in errors) */
    uint64_t skipped;       /* GET not attempted because the breaker was open */
    uint64_t puts;          /* writes acknowledged by the server (2xx) */
    uint64_t put_errors;    /* writes the server refused or that failed */
    uint64_t dropped;       /* writes dropped: queue full, breaker open at flush, flush timeout */
    uint64_t auth_errors;   /* 401/403 answers (also counted in errors or put_errors) */
    uint64_t breaker_opens; /* times the breaker opened */
};

struct cm_remote; /* opaque */

struct cm_remote_api {
    int abi; /* CM_REMOTE_ABI */
    /* Set up (read token and secret files, parse the URL, no network I/O). NULL and a one-line
     * reason in err on failure. */
    struct cm_remote *(*open)(const struct cm_remote_opts *o, const struct cm_remote_host *h,
                              char *err, size_t errsz);
    /* Look up the value stored under the canonical key bytes `key` (klen) for a function whose
     * signature digest is `sig`. On a hit returns the value length and sets *val to a buffer of
     * the calling thread, valid until its next get(). -1: miss. -2: error or breaker open. */
    long (*get)(struct cm_remote *r, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
                const uint8_t **val);
    /* Queue a write (copied); never blocks, never does I/O on the caller's thread.
     * 0 queued, -1 dropped (counted). */
    int (*put)(struct cm_remote *r, const uint8_t *key, uint32_t klen, const uint8_t sig[16],
               const uint8_t *val, uint32_t vlen);
    void (*counters)(struct cm_remote *r, struct cm_remote_counters *out);
    /* Drain the write queue within flush_timeout, stop the writer, release the connections.
     * The handle itself stays valid for counters() afterwards (the shim reads the final counts
     * after close); get() and put() are never called after close(). */
    void (*close)(struct cm_remote *r);
};

/*
 * The crypto plugin, libcloudm-crypto.so (ucrypto.c): libcrypto only, no network, no threads.
 * The shim dlopen()s it only when a function's keys need a cryptographic digest (the remote tier
 * is on: large inputs enter remote keys as SHA-256) or a function is `sensitive` (keyed digests
 * and sealed values in the local tiers). It exports one symbol, `cm_crypto_plugin`.
 */
#define CM_CRYPTO_ABI 1
#define CM_SEAL_OVERHEAD 28u /* 12-byte nonce + 16-byte tag added by seal() */

struct cm_crypto_api {
    int abi; /* CM_CRYPTO_ABI */
    /* SHA-256 (SHA-NI where the CPU has it). */
    void (*sha256)(const void *p, size_t n, uint8_t out[32]);
    /* HMAC-SHA256 under a 32-byte key. */
    void (*hmac256)(const uint8_t key[32], const void *p, size_t n, uint8_t out[32]);
    /* AES-256-GCM: out = nonce(12, random) || ciphertext(n) || tag(16), aad authenticated.
     * 0, or -1. */
    int (*seal)(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                size_t n, uint8_t *out);
    /* The inverse: in holds n >= CM_SEAL_OVERHEAD bytes, out receives n - 28 bytes. 0 when
     * the tag verifies, -1 otherwise (out undefined). */
    int (*open)(const uint8_t key[32], const uint8_t *aad, size_t aadlen, const uint8_t *in,
                size_t n, uint8_t *out);
    /* Cryptographically random bytes: 0, or -1. */
    int (*random)(uint8_t *buf, size_t n);
};

#endif
