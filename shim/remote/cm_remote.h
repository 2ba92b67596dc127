/*
 * cm_remote.h - the remote tier's two halves and what they offer.
 *
 * libcloudm-remote.so (hostkeys.c, envelope.c, rcrypto.c): what the host process needs, and
 * nothing that talks to a network. The shim dlopen()s it only when `[cache] remote` is set (so
 * programs without a remote never load a crypto library; this one is on Nettle) and uses its
 * one exported table, `cm_remote_keys` (struct cm_remote_keys_api): derive the remote key of a call (hex SHA-512,
 * or HMAC-SHA512 under secret_file), wrap a value in its envelope (encrypted under
 * secret_file), check and open an envelope that came back. Integrity stays in the host.
 *
 * The remote client (struct cm_remote_api, plugin.c with the backends http.c, redis*.c, the
 * breakers and the writer; static library cm_rclient): runs in the cloudm agent
 * (tools/agent/), which moves envelopes between the channel (shim/chan/) and the server with
 * get_raw/put_raw and never sees a secret; the test drivers use the whole client in process
 * (get/put).
 *
 * Threads: get()/get_raw() from any thread, concurrently; put() never blocks; put_raw() from
 * one thread; close() once. The client never calls back into its user except through struct
 * cm_remote_host.
 */
#ifndef CM_REMOTE_H
#define CM_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#define CM_REMOTE_ABI 2
#define CM_REMOTE_KEYS_ABI 1

/* get_raw() results besides a length. */
enum { CM_RAW_MISS = -1, CM_RAW_ERROR = -2, CM_RAW_SKIPPED = -3, CM_RAW_TIMEOUT = -4,
       CM_RAW_AUTH = -5 };

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
    const char *ca_file; /* remote_ca: NULL or "" the system CA store, else a PEM file of the
                            CAs an https:// server's certificate must chain to */
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
    /* The envelope stored under the hex remote key, written into out (at most cap bytes, never
     * reallocated: a larger body is an error). Length, or a CM_RAW_* value. Read breaker. */
    long (*get_raw)(struct cm_remote *r, const char *hex, uint8_t *out, size_t cap);
    /* PUTs an envelope now, under the write breaker. 0: done (sent, or failed for good and
     * counted; *attempts counts failures); 1: try again at *retry_at (breaker open or a
     * transient failure). */
    int (*put_raw)(struct cm_remote *r, const char *hex, const uint8_t *env, size_t len,
                   uint32_t *attempts, uint64_t *retry_at);
    /* States of the read and write breakers (0 closed, 1 open, 2 probing). */
    void (*breakers)(struct cm_remote *r, int *rd, int *wr);
};

/* ---- libcloudm-remote.so: the host's half --------------------------------------------------- */

#define CM_REMOTE_HEX 128 /* hex remote key, without the NUL */

struct cm_remote_keys; /* opaque: the derived keys */

struct cm_remote_keys_api {
    int abi; /* CM_REMOTE_KEYS_ABI */
    /* Reads secret_file ("" or NULL: none) and derives the keys. NULL with a reason in err. */
    struct cm_remote_keys *(*open)(const char *secret_file, char *err, size_t errsz);
    /* The remote key of the canonical key bytes: raw (64 bytes) and hex (129, NUL-ended).
     * 0, or -1 (crypto failure). */
    int (*key)(const struct cm_remote_keys *k, const uint8_t *key, uint32_t klen, uint8_t raw[64],
               char hex[CM_REMOTE_HEX + 1]);
    /* Encoded size of a vlen-byte value. */
    size_t (*env_size)(const struct cm_remote_keys *k, uint32_t vlen);
    /* Envelope of val for raw key and signature digest sig into out. Length, or -1. */
    long (*encode)(const struct cm_remote_keys *k, const uint8_t raw[64], const uint8_t sig[16],
                   const uint8_t *val, uint32_t vlen, uint8_t *out, size_t outsz);
    /* Checks (and decrypts in place) an envelope; value length and *val inside env, or a
     * negative reason (strerror()). Never returns a value that failed a check. */
    long (*decode)(const struct cm_remote_keys *k, const uint8_t raw[64], const uint8_t sig[16],
                   uint8_t *env, size_t len, const uint8_t **val);
    const char *(*strerror)(long err);
};

/*
 * The crypto plugin, libcloudm-crypto.so (ucrypto.c): Nettle only, no network, no threads.
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
