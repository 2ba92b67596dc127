/*
 * keycache.c - `cloudm keycache`: the shared remote cache server (HTTP + LMDB).
 *
 * What it does: parses the options, refuses a non-loopback address without a token file, opens
 * the store (kc_store), loads the tokens (kc_auth), starts the HTTP daemon (kc_http), writes
 * the ready file, then runs the store's maintenance on the main thread (access-time flush every
 * second, sweep every --sweep-interval) until SIGTERM or SIGINT; then stops accepting, lets the
 * requests being handled finish (up to 5 s), closes the store and exits 0.
 *
 * What it does not do: no daemonizing (run it under a supervisor), no request handling (kc_http)
 * and no store logic (kc_store). Protocol and operation: docs/keycache.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cm_config.h"
#include "kc_auth.h"
#include "keycache.h"
#include "kc_http.h"
#include "kc_store.h"

#define CMD "keycache"
#define MIB (1024ull * 1024)
#define FLUSH_NS 1000000000ull   /* access times are written at least this often */
#define STOP_GRACE_MS 5000       /* in-flight requests get this long at shutdown */
#define HEADER_LIMIT (32 * 1024) /* per-connection memory: request line + headers */
#define PEM_MAX (1024 * 1024)    /* certificate or key file */

void cm_usage_keycache(FILE *f)
{
    fprintf(f,
            "Usage: cloudm keycache [OPTIONS]\n"
            "       cloudm keycache --init DIR [--listen HOST:PORT]\n"
            "\n"
            "Run the shared remote cache server (HTTP, values stored in LMDB) in the\n"
            "foreground until SIGTERM or SIGINT. Protocol: docs/keycache.md.\n"
            "\n"
            "With --init DIR it serves nothing: it creates a team secret (the clients'\n"
            "secret_file) and rw and ro tokens in DIR, and prints the server's command and\n"
            "the lines of each client's config.\n"
            "\n"
            "Options:\n"
            "  --init DIR              create a team secret and tokens in DIR, print the setup\n"
            "  --listen HOST:PORT      address to listen on (default 127.0.0.1:7878; port 0 =\n"
            "                          any free port); a non-loopback HOST needs --token-file\n"
            "  --ready-file PATH       once listening, write \"HOST:PORT\" (the real port) there\n"
            "  --data DIR              store directory (default ~/.cache/cloudm/keycache)\n"
            "  --store URL             keep entries in Redis instead: redis://[USER:PASS@]HOST\n"
            "                          [:PORT][/DB] or redis+cluster://HOST:PORT,... (several\n"
            "                          keycache servers may share one; --expire becomes the\n"
            "                          TTL, eviction is Redis's maxmemory-policy)\n"
            "  --max-size SIZE         store size limit, key + value bytes (default 10G)\n"
            "  --expire TIME           drop entries not read nor written for TIME (default 30d;\n"
            "                          0 = never)\n"
            "  --max-value SIZE        largest value accepted (default 64M)\n"
            "  --token-file PATH       tokens, one per line: 'ro TOKEN' or 'rw TOKEN'\n"
            "  --tls-cert PATH         serve HTTPS with this PEM certificate (needs --tls-key)\n"
            "  --tls-key PATH          PEM private key for --tls-cert\n"
            "  --threads N             worker threads (default 2)\n"
            "  --sweep-interval TIME   how often expiry and eviction run (default 1m)\n"
            "  --idle-timeout TIME     drop connections idle this long (default 10s)\n"
            "  --header-timeout TIME   a request's line and headers must arrive within TIME\n"
            "                          of the connection or of the previous answer, however\n"
            "                          slowly they trickle (default 10s)\n"
            "  --max-connections N     connections at once, all clients (default 1000)\n"
            "  --max-per-ip N          connections at once from one address (default 1/10 of\n"
            "                          --max-connections, at least 1)\n"
            "  --max-buffered SIZE     PUT bodies buffered at once, all clients; the same again\n"
            "                          for GET values over 64K being sent (default 4 x\n"
            "                          --max-value, at least 256M); 503 beyond\n"
            "  --map-size SIZE         LMDB map size (default 8 x --max-size + 4 x\n"
            "                          --max-value + 64M; address space, not disk)\n"
            "  -h, --help              show this help\n"
            "\n"
            "SIZE: 4096, 64K, 10M, 2G, 1T. TIME: 500ms, 10s, 5m, 2h, 30d.\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 when the server cannot start,\n"
            "2 on a usage error.\n");
}

struct kc_opts {
    const char *listen, *ready_file, *data, *token_file, *tls_cert, *tls_key, *store, *init;
    uint64_t max_size, max_value, expire_ns, sweep_ns, idle_ns, header_ns, max_buffered, map_size;
    unsigned threads, max_conn, max_per_ip;
};

static int usage_error(const char *fmt, const char *opt, const char *val)
{
    fprintf(stderr, "cloudm " CMD ": ");
    fprintf(stderr, fmt, opt, val);
    fputc('\n', stderr);
    return KC_EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct kc_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:7878";
    o->max_size = 10ull << 30;
    o->max_value = 64 * MIB;
    o->expire_ns = 30ull * 86400 * 1000000000ull;
    o->sweep_ns = 60ull * 1000000000ull;
    o->idle_ns = 10ull * 1000000000ull;
    o->header_ns = 10ull * 1000000000ull;
    o->threads = 2;
    o->max_conn = 1000;
    o->max_per_ip = 0; /* 0: a tenth of max_conn, decided after parsing */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        static const char *const names[] = {
            "--listen",          "--ready-file", "--data",           "--max-size",
            "--expire",          "--max-value",  "--token-file",     "--tls-cert",
            "--tls-key",         "--threads",    "--sweep-interval", "--idle-timeout",
            "--max-connections", "--max-per-ip", "--max-buffered",   "--map-size",
            "--store",           "--init",       "--header-timeout"};
        const char *name = NULL;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cm_usage_keycache(stdout);
            return 1;
        }
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (cm_is_option(a, names[k]))
                name = names[k];
        if (name == NULL)
            return usage_error("unknown %s '%s' (cloudm help keycache)",
                               a[0] == '-' ? "option" : "argument", a);
        v = cm_option_value(argc, argv, &i, CMD, strlen(name));
        if (v == NULL)
            return KC_EXIT_USAGE;
        if (v[0] == '\0')
            return usage_error("option '%s' needs a value%s", name, "");
        if (strcmp(name, "--listen") == 0) {
            o->listen = v;
        } else if (strcmp(name, "--init") == 0) {
            o->init = v;
        } else if (strcmp(name, "--ready-file") == 0) {
            o->ready_file = v;
        } else if (strcmp(name, "--data") == 0) {
            o->data = v;
        } else if (strcmp(name, "--store") == 0) {
            if (strncmp(v, "redis://", 8) != 0 && strncmp(v, "redis+cluster://", 16) != 0 &&
                strcmp(v, "lmdb") != 0)
                return usage_error("invalid %s '%s' (lmdb, redis://... or redis+cluster://...)",
                                   name, v);
            o->store = strcmp(v, "lmdb") == 0 ? NULL : v;
        } else if (strcmp(name, "--token-file") == 0) {
            o->token_file = v;
        } else if (strcmp(name, "--tls-cert") == 0) {
            o->tls_cert = v;
        } else if (strcmp(name, "--tls-key") == 0) {
            o->tls_key = v;
        } else if (strcmp(name, "--max-size") == 0) {
            if (cm_parse_size(v, &o->max_size) != 0 || o->max_size < 4096 ||
                o->max_size > (4ull << 40))
                return usage_error("invalid %s '%s' (a size like 512M or 10G, 4K to 4T)", name, v);
        } else if (strcmp(name, "--max-value") == 0) {
            if (cm_parse_size(v, &o->max_value) != 0 || o->max_value > (1ull << 32))
                return usage_error("invalid %s '%s' (a size like 64M, at most 4G)", name, v);
        } else if (strcmp(name, "--max-buffered") == 0) {
            if (cm_parse_size(v, &o->max_buffered) != 0 || o->max_buffered == 0)
                return usage_error("invalid %s '%s' (a size like 256M)", name, v);
        } else if (strcmp(name, "--map-size") == 0) {
            if (cm_parse_size(v, &o->map_size) != 0 || o->map_size < 1024 * 1024 ||
                o->map_size > (1ull << 46))
                return usage_error("invalid %s '%s' (a size like 64G, 1M to 64T)", name, v);
        } else if (strcmp(name, "--expire") == 0) {
            if (cm_parse_time(v, &o->expire_ns) != 0)
                return usage_error("invalid %s '%s' (a time like 30d, 12h or 0 = never)", name, v);
        } else if (strcmp(name, "--sweep-interval") == 0) {
            if (cm_parse_time(v, &o->sweep_ns) != 0 || o->sweep_ns < 10000000ull)
                return usage_error("invalid %s '%s' (a time like 1m or 500ms, at least 10ms)", name,
                                   v);
        } else if (strcmp(name, "--idle-timeout") == 0) {
            if (cm_parse_time(v, &o->idle_ns) != 0 || o->idle_ns < 1000000000ull ||
                o->idle_ns > 86400ull * 1000000000ull)
                return usage_error("invalid %s '%s' (a time like 10s, 1s to 1d)", name, v);
        } else if (strcmp(name, "--header-timeout") == 0) {
            if (cm_parse_time(v, &o->header_ns) != 0 || o->header_ns < 1000000000ull ||
                o->header_ns > 3600ull * 1000000000ull)
                return usage_error("invalid %s '%s' (a time like 10s, 1s to 1h)", name, v);
        } else if (strcmp(name, "--threads") == 0) {
            if (parse_uint(v, 1, 256, &o->threads) != 0)
                return usage_error("invalid %s '%s' (1 to 256)", name, v);
        } else if (strcmp(name, "--max-connections") == 0) {
            if (parse_uint(v, 1, 1000000, &o->max_conn) != 0)
                return usage_error("invalid %s '%s' (1 to 1000000)", name, v);
        } else if (parse_uint(v, 1, 1000000, &o->max_per_ip) != 0) {
            return usage_error("invalid %s '%s' (1 to 1000000)", name, v);
        }
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return usage_error("%s needs %s too", o->tls_cert != NULL ? "--tls-cert" : "--tls-key",
                           o->tls_cert != NULL ? "--tls-key" : "--tls-cert");
    if (o->max_value > o->max_size)
        o->max_value = o->max_size;
    if (o->max_per_ip == 0) /* one address may not take all connections (Slowloris) */
        o->max_per_ip = o->max_conn / 10 > 0 ? o->max_conn / 10 : 1;
    if (o->max_buffered == 0)
        o->max_buffered = o->max_value * 4 > 256 * MIB ? o->max_value * 4 : 256 * MIB;
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" -> a socket address. Returns 0, or -1 after a message. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *given = s, *colon, *port;
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int rc;

    colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0')
        goto bad;
    port = colon + 1;
    if (s[0] == '[') {
        if (colon[-1] != ']')
            goto bad;
        s++;
        hl = (size_t)(colon - 1 - s);
    } else {
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= sizeof(host))
        goto bad;
    memcpy(host, s, hl);
    host[hl] = '\0';
    for (const char *p = port; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            goto bad;
    if (strlen(port) > 5 || atoi(port) > 65535)
        goto bad;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "cloudm " CMD ": --listen '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    fprintf(stderr, "cloudm " CMD ": invalid --listen '%s' (HOST:PORT, e.g. 127.0.0.1:7878)\n",
            given);
    return -1;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        const uint8_t *b = in6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
    }
    return false;
}

/* The numeric host of `ss` ("127.0.0.1", "[::1]"). */
static void host_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char a[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
        snprintf(buf, size, "[%s]", a);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
        snprintf(buf, size, "%s", a);
    }
}

/* Reads a whole PEM file (at most PEM_MAX bytes) into a NUL-terminated malloc'ed string. */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "cloudm " CMD ": %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(PEM_MAX + 1);
    n = buf != NULL ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n > PEM_MAX) {
        fprintf(stderr, "cloudm " CMD ": %s: empty, unreadable or larger than 1 MiB\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int write_ready(const char *path, const char *host, unsigned port)
{
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "%s:%u\n", host, port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;

        unlink(tmp);
        return -e;
    }
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pthread_t main_thread;

/* kc_store's flush hint: wake the maintenance loop (SIGUSR1 is blocked everywhere and taken by
 * sigtimedwait in serve()). */
static void wake_main(void *ctx)
{
    (void)ctx;
    pthread_kill(main_thread, SIGUSR1);
}

/* A maintenance step's result: a failure is logged when it starts (not every second while it
 * lasts), and the end of it too. */
static void maintenance_result(const char *what, int rc, bool *failing)
{
    if (rc != 0 && !*failing)
        fprintf(stderr, "cloudm " CMD ": %s failed: %s (said once until it succeeds)\n", what,
                rc == -EDQUOT ? "no space left on the store's filesystem" : "store error");
    else if (rc == 0 && *failing)
        fprintf(stderr, "cloudm " CMD ": %s succeeds again\n", what);
    *failing = rc != 0;
}

/* Maintenance on the main thread until SIGTERM/SIGINT: close connections whose headers are
 * late and flush access times every tick (at most a second) or when woken, sweep every
 * sweep_ns. */
static void serve(struct kc_store *store, struct kc_http *http, uint64_t sweep_ns)
{
    uint64_t tick = sweep_ns < FLUSH_NS ? sweep_ns : FLUSH_NS;
    uint64_t next_sweep = mono_ns() + sweep_ns;
    struct timespec ts = {(time_t)(tick / 1000000000ull), (long)(tick % 1000000000ull)};
    bool sweep_failing = false, flush_failing = false;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return;
        kc_http_reap(http);
        if (mono_ns() >= next_sweep) {
            maintenance_result("sweep", kc_store_sweep(store), &sweep_failing);
            next_sweep = mono_ns() + sweep_ns;
        } else {
            maintenance_result("access-time flush", kc_store_flush(store), &flush_failing);
        }
    }
}

int cm_cmd_keycache(int argc, char **argv)
{
    struct kc_opts o;
    struct kc_store_opts so;
    struct kc_http_opts ho;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    struct kc_store *store = NULL;
    struct kc_auth *auth = NULL;
    struct kc_http *http = NULL;
    char err[512], host[INET6_ADDRSTRLEN + 2], defdir[PATH_MAX];
    char *cert = NULL, *key = NULL;
    sigset_t set;
    int rc, ret = KC_EXIT_FAIL;

    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (o.init != NULL)
        return kc_init(o.init, o.listen);
    if (parse_listen(o.listen, &ss, &sslen) != 0)
        return KC_EXIT_USAGE;
    if (o.token_file == NULL && !is_loopback(&ss)) {
        fprintf(stderr,
                "cloudm " CMD ": refusing to listen on non-loopback address '%s' without "
                "--token-file\n",
                o.listen);
        return KC_EXIT_USAGE;
    }
    if (o.token_file != NULL && kc_auth_load(o.token_file, &auth, err, sizeof(err)) != 0) {
        fprintf(stderr, "cloudm " CMD ": --token-file %s\n", err);
        return KC_EXIT_USAGE;
    }
    if (o.tls_cert != NULL) {
        if (!kc_http_has_tls()) {
            fprintf(stderr, "cloudm " CMD ": this libmicrohttpd has no TLS support\n");
            goto out;
        }
        cert = read_pem(o.tls_cert);
        key = cert != NULL ? read_pem(o.tls_key) : NULL;
        if (key == NULL)
            goto out;
    }
    if (o.data == NULL) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

        if (xdg != NULL && xdg[0] == '/')
            snprintf(defdir, sizeof(defdir), "%s/cloudm/keycache", xdg);
        else if (home != NULL && home[0] == '/')
            snprintf(defdir, sizeof(defdir), "%s/.cache/cloudm/keycache", home);
        else {
            fprintf(stderr, "cloudm " CMD ": no --data and no $HOME\n");
            goto out;
        }
        o.data = defdir;
    }
    so.dir = o.data;
    so.max_size = o.max_size;
    so.max_value = o.max_value;
    so.expire_ms = o.expire_ns / 1000000ull;
    so.map_size = o.map_size;
    so.redis_url = o.store;
    so.flush_hint = wake_main;
    so.flush_hint_ctx = NULL;
    main_thread = pthread_self();
    /* Block the signals serve() waits for before any thread exists: every thread inherits it. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (kc_store_open(&so, &store, err, sizeof(err)) != 0) {
        fprintf(stderr, "cloudm " CMD ": %s\n", err);
        goto out;
    }

    signal(SIGPIPE, SIG_IGN);

    memset(&ho, 0, sizeof(ho));
    ho.addr = (const struct sockaddr *)&ss;
    ho.addrlen = sslen;
    ho.threads = o.threads;
    ho.max_connections = o.max_conn;
    ho.max_per_ip = o.max_per_ip;
    ho.timeout_s = (unsigned)(o.idle_ns / 1000000000ull);
    ho.header_ns = o.header_ns;
    ho.header_limit = HEADER_LIMIT;
    ho.max_value = o.max_value;
    ho.upload_budget = o.max_buffered;
    ho.tls_cert_pem = cert;
    ho.tls_key_pem = key;
    ho.store = store;
    ho.auth = auth;
    if (kc_http_start(&ho, &http, err, sizeof(err)) != 0) {
        fprintf(stderr, "cloudm " CMD ": %s: %s\n", o.listen, err);
        goto out;
    }
    host_text(&ss, host, sizeof(host));
    if (o.ready_file != NULL) {
        rc = write_ready(o.ready_file, host, kc_http_port(http));
        if (rc != 0) {
            fprintf(stderr, "cloudm " CMD ": --ready-file %s: %s\n", o.ready_file, strerror(-rc));
            goto out;
        }
    }
    fprintf(stderr, "cloudm " CMD ": listening on %s://%s:%u, store %s\n",
            cert != NULL ? "https" : "http", host, kc_http_port(http),
            o.store != NULL ? "in Redis" : o.data);
    serve(store, http, o.sweep_ns);
    ret = 0;
out:
    kc_http_stop(http, STOP_GRACE_MS);
    kc_store_close(store);
    kc_auth_free(auth);
    free(cert);
    free(key);
    return ret;
}
