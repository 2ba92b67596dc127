/*
 * kc_http.h - the keycache's HTTP side: a libmicrohttpd daemon whose handler turns requests
 * into kc_proto verdicts and kc_store operations.
 *
 * What it does: starts and stops the daemon with the connection limits, timeouts and TLS it is
 * given; answers each request (docs/keycache.md); counts requests in kc_metrics.
 *
 * What it does not do: no option parsing, no signals, no store maintenance (keycache.c).
 */
#ifndef KC_HTTP_H
#define KC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct kc_store;
struct kc_auth;
struct kc_http;

struct kc_http_opts {
    const struct sockaddr *addr; /* where to listen */
    socklen_t addrlen;
    unsigned threads;         /* worker threads (MHD thread pool) */
    unsigned max_connections; /* all clients together */
    unsigned max_per_ip;      /* per client address */
    unsigned timeout_s;       /* idle connection timeout, seconds */
    uint64_t header_ns;       /* a request's line and headers must be complete within this */
    size_t header_limit;      /* per-connection memory: request line + headers must fit */
    uint64_t max_value;       /* PUT bodies longer than this get 413 */
    uint64_t upload_budget;   /* PUT body bytes being received at once, and (separately)
                                 GET values over 64 KiB being sent at once: 503 beyond */
    const char *tls_cert_pem; /* both NULL, or both PEM text (kept alive by the caller) */
    const char *tls_key_pem;
    struct kc_store *store;
    const struct kc_auth *auth; /* NULL = no token file: everyone may read and write */
};

/* Starts listening. Returns 0 and *out, or -1 with a message in `err`. */
int kc_http_start(const struct kc_http_opts *o, struct kc_http **out, char *err, size_t errsz);
/* The port actually bound (useful with port 0). */
unsigned kc_http_port(struct kc_http *h);
/* Closes the connections whose request headers are late (--header-timeout); call it about
 * every second. Returns how many. */
unsigned kc_http_reap(struct kc_http *h);
/* True when libmicrohttpd was built with TLS. */
int kc_http_has_tls(void);
/* Stops accepting new connections, waits up to `grace_ms` for requests being handled to end,
 * commits the store's queued writes and stops its writer (kc_store_stop_writes: their
 * connections are answered), then stops the daemon and frees `h`. */
void kc_http_stop(struct kc_http *h, unsigned grace_ms);

#endif
