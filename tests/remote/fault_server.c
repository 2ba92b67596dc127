/*
 * fault_server.c - a tiny HTTP store for testing the remote tier's client, with injectable
 * faults (libmicrohttpd). Listens on 127.0.0.1 only, on a port of its choosing by default.
 *
 * What it does: stores PUT bodies in memory under their path and answers GETs from them
 * (mode `store`), or answers GETs wrongly in one of several ways (see usage()); counts PUTs and
 * GETs and lists stored paths on /_stats and /_keys; switches mode at run time on /_mode/NAME.
 * It knows the envelope format (static lib cm_envelope) only to forge or tamper with envelopes.
 *
 * What it does not do: persist anything, implement the keycache's status codes beyond what the
 * client needs (200, 201, 204, 400, 401, 404, 500), or serve anything but loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "envelope.h"
#include "rcrypto.h"

#define BUCKETS 4096
#define MAX_BODY (256u << 20)

enum mode {
    M_STORE,
    M_TRUNCATED,
    M_WRONGLEN,
    M_GARBAGE,
    M_OTHERSIG,
    M_TAMPER,
    M_SWAP,
    M_E500,
    M_E401,
    M_SLOWGET,
    M_ENDLESS,
    M_FLAKY,
    M_STALL,
    M_COUNT
};
static const char *const mode_names[M_COUNT] = {"store",    "truncated", "wronglen", "garbage",
                                                "othersig", "tamper",    "swap",     "e500",
                                                "e401",     "slowget",   "endless",
                                                "flaky",    "stall"};

struct entry {
    struct entry *next;
    char *path;
    uint8_t *data;
    size_t len;
};

struct upload {
    uint8_t *data;
    size_t len, cap;
    int too_big;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static size_t n_entries;
static _Atomic int g_mode;
static _Atomic uint64_t n_puts, n_gets;
static const char *g_token;

/* Reads a whole PEM file (TLS options); NULL on failure. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = calloc(1, (size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fault_server [--mode MODE] [--port N] [--ready-file PATH] [--token TOKEN]\n"
               "\n"
               "A test HTTP store on 127.0.0.1 for the cloudm remote tier. PUT /<path> stores the\n"
               "body (201 new, 204 replaced); GET /<path> answers according to MODE:\n"
               "  store      200 with the stored body, 404 when absent (a correct store)\n"
               "  truncated  200 announcing 1000 bytes, sends 100, then closes the connection\n"
               "  wronglen   200 with the stored body plus 7 extra bytes (HTTP framing correct)\n"
               "  garbage    200 with 1..500 random bytes\n"
               "  othersig   200 with a valid clear envelope for the requested key but another\n"
               "             signature digest (16 bytes 0xEE)\n"
               "  tamper     200 with the stored body, one payload byte flipped and the checksum\n"
               "             recomputed (only an AES-GCM tag can catch it)\n"
               "  swap       200 with the body stored under another path (404 if there is none)\n"
               "  e500       500 to every GET and PUT\n"
               "  e401       401 to every GET and PUT\n"
               "  slowget    GETs answer 200 and trickle one byte per 20 ms forever; PUTs store\n"
               "  endless    GETs answer 200 with no length and an endless body\n"
               "  flaky      GETs answer 500 eight times, then 404 one time in 4 and 500\n"
               "             the others\n"
               "  stall      accepts connections and never reads or answers\n"
               "In the modes that read stored bodies, absent paths answer 404.\n"
               "\n"
               "Control (no token needed): GET /_stats -> \"puts N\\ngets N\\nentries N\\n\";\n"
               "GET /_keys -> stored paths, one a line; GET /_mode/NAME switches mode (not from\n"
               "or to stall).\n"
               "\n"
               "--port N        listen port (default 0: the kernel picks one)\n"
               "--ready-file P  once listening, write \"127.0.0.1:PORT\\n\" to P (atomically)\n"
               "--token T       require \"Authorization: Bearer T\" on GET/PUT (else 401)\n"
               "--tls-cert PEM --tls-key PEM   serve HTTPS (libmicrohttpd with TLS)\n"
               "Runs until SIGTERM or SIGINT.\n");
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

/* With mu held. */
static struct entry *lookup(const char *path)
{
    for (struct entry *e = table[hash(path)]; e != NULL; e = e->next)
        if (strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

/* Copies the stored body of path (or of another path when other != 0). NULL when absent. */
static uint8_t *fetch(const char *path, int other, size_t *len)
{
    struct entry *e = NULL;
    uint8_t *copy = NULL;

    pthread_mutex_lock(&mu);
    if (!other) {
        e = lookup(path);
    } else {
        for (unsigned b = 0; b < BUCKETS && e == NULL; b++)
            for (struct entry *x = table[b]; x != NULL && e == NULL; x = x->next)
                if (strcmp(x->path, path) != 0)
                    e = x;
    }
    if (e != NULL) {
        copy = malloc(e->len + 16);
        if (copy != NULL) {
            memcpy(copy, e->data, e->len);
            *len = e->len;
        }
    }
    pthread_mutex_unlock(&mu);
    return copy;
}

static int store(const char *path, uint8_t *data, size_t len)
{
    struct entry *e;
    int fresh = 0;

    pthread_mutex_lock(&mu);
    e = lookup(path);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        e->path = strdup(path);
        e->next = table[hash(path)];
        table[hash(path)] = e;
        n_entries++;
        fresh = 1;
    }
    free(e->data);
    e->data = data;
    e->len = len;
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&n_puts, 1);
    return fresh;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *body,
                             size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (r == NULL)
        return MHD_NO;
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, msg, strlen(msg));
}

/* Sends 100 bytes of a body announced as 1000, then fails the connection. */
static ssize_t truncated_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 100)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (max > 100 - pos)
        max = 100 - pos;
    memset(buf, 'x', max);
    return (ssize_t)max;
}

static enum MHD_Result control(struct MHD_Connection *c, const char *url)
{
    char buf[256];

    if (strcmp(url, "/_stats") == 0) {
        pthread_mutex_lock(&mu);
        snprintf(buf, sizeof(buf), "puts %llu\ngets %llu\nentries %zu\n",
                 (unsigned long long)atomic_load(&n_puts), (unsigned long long)atomic_load(&n_gets),
                 n_entries);
        pthread_mutex_unlock(&mu);
        return text(c, 200, buf);
    }
    if (strcmp(url, "/_keys") == 0) {
        size_t cap = 4096, len = 0;
        char *out = malloc(cap);
        enum MHD_Result rc;

        pthread_mutex_lock(&mu);
        for (unsigned b = 0; b < BUCKETS; b++) {
            for (struct entry *e = table[b]; e != NULL; e = e->next) {
                size_t n = strlen(e->path);

                while (len + n + 2 > cap)
                    out = realloc(out, cap *= 2);
                memcpy(out + len, e->path, n);
                len += n;
                out[len++] = '\n';
            }
        }
        pthread_mutex_unlock(&mu);
        rc = reply(c, 200, out, len);
        free(out);
        return rc;
    }
    if (strncmp(url, "/_mode/", 7) == 0) {
        for (int m = 0; m < M_STALL; m++) {
            if (strcmp(url + 7, mode_names[m]) == 0) {
                atomic_store(&g_mode, m);
                snprintf(buf, sizeof(buf), "mode %s\n", mode_names[m]);
                return text(c, 200, buf);
            }
        }
        return text(c, 400, "unknown mode\n");
    }
    return text(c, 404, "unknown control path\n");
}

/* slowget: one byte per 20 ms, never ending (the client gives up). */
static ssize_t slow_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct timespec ts = {0, 20000000};
    (void)cls;
    (void)pos;
    (void)max;
    nanosleep(&ts, NULL);
    buf[0] = 'x';
    return 1;
}

/* endless: 64 KiB of junk per call, forever. */
static ssize_t endless_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    memset(buf, 'y', max);
    return (ssize_t)max;
}

static enum MHD_Result on_get(struct MHD_Connection *c, const char *url, int mode)
{
    uint8_t *body = NULL;
    size_t len = 0;
    enum MHD_Result rc;

    atomic_fetch_add(&n_gets, 1);
    switch (mode) {
    case M_SLOWGET:
    case M_ENDLESS: {
        struct MHD_Response *r = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 65536, mode == M_SLOWGET ? slow_body : endless_body, NULL, NULL);

        rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    case M_FLAKY: {
        static atomic_ulong turn;

        unsigned long n = atomic_fetch_add(&turn, 1);

        if (n >= 8 && n % 4 == 0)
            return text(c, 404, "not found\n");
        return text(c, 500, "flaky\n");
    }
    case M_TRUNCATED: {
        struct MHD_Response *r =
            MHD_create_response_from_callback(1000, 100, truncated_body, NULL, NULL);

        rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    case M_GARBAGE: {
        uint8_t junk[500];
        size_t n = 1 + (size_t)(random() % 500);

        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)random();
        return reply(c, 200, junk, n);
    }
    case M_OTHERSIG: {
        const char *slash = strrchr(url, '/');
        uint8_t raw[CM_RKEY_LEN], sig[16], env[256];
        static const char val[] = "a value made for another function";
        struct cm_rkeys k;
        long n;

        if (slash == NULL || cm_rkey_unhex(slash + 1, strlen(slash + 1), raw) < 0)
            return text(c, 400, "not a key\n");
        memset(sig, 0xee, sizeof(sig));
        cm_rkeys_init(&k, NULL, 0);
        n = cm_env_encode(&k, raw, sig, (const uint8_t *)val, sizeof(val) - 1, env, sizeof(env));
        return n < 0 ? text(c, 500, "encode failed\n") : reply(c, 200, env, (size_t)n);
    }
    default:
        break;
    }
    body = fetch(url, mode == M_SWAP, &len);
    if (body == NULL)
        return text(c, 404, "not found\n");
    if (mode == M_WRONGLEN) {
        memcpy(body + len, "EXTRA!!", 7);
        len += 7;
    } else if (mode == M_TAMPER && len > CM_ENV_HDR + CM_ENV_SUM) {
        body[CM_ENV_HDR + (len - CM_ENV_HDR - CM_ENV_SUM) / 2] ^= 0x01;
        cm_env_reseal(body, len);
    }
    rc = reply(c, 200, body, len);
    free(body);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **state)
{
    struct upload *up = *state;
    int mode = atomic_load(&g_mode);
    const char *auth;
    int fresh;

    (void)cls;
    (void)version;
    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        if (up == NULL)
            return MHD_NO;
        *state = up;
        return MHD_YES;
    }
    if (*data_size > 0) {
        if (up->len + *data_size > MAX_BODY) {
            up->too_big = 1;
        } else if (!up->too_big) {
            if (up->len + *data_size > up->cap) {
                size_t cap = up->cap ? up->cap : 4096;

                while (cap < up->len + *data_size)
                    cap *= 2;
                up->data = realloc(up->data, cap + 16);
                up->cap = cap;
            }
            memcpy(up->data + up->len, data, *data_size);
            up->len += *data_size;
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/_", 2) == 0)
        return control(c, url);
    if (mode == M_E500)
        return text(c, 500, "injected failure\n");
    if (mode == M_E401)
        return text(c, 401, "injected: unauthorized\n");
    if (g_token != NULL) {
        auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, g_token) != 0)
            return text(c, 401, "missing or unknown token\n");
    }
    if (strcmp(method, "GET") == 0)
        return on_get(c, url, mode);
    if (strcmp(method, "PUT") == 0) {
        if (up->too_big)
            return text(c, 413, "too large\n");
        fresh = store(url, up->data, up->len);
        up->data = NULL;
        return text(c, fresh ? 201 : 204, "");
    }
    return text(c, 405, "GET and PUT only\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode why)
{
    struct upload *up = *state;

    (void)cls;
    (void)c;
    (void)why;
    if (up != NULL) {
        free(up->data);
        free(up);
        *state = NULL;
    }
}

/* Stall mode: accept and hold connections, never read. */
static void *stall_main(void *arg)
{
    int lfd = *(int *)arg, held[1024], n = 0;

    for (;;) {
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (n == 1024) {
            close(held[0]);
            memmove(held, held + 1, sizeof(held) - sizeof(held[0]));
            n--;
        }
        held[n++] = fd;
    }
}

static int write_ready(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "127.0.0.1:%u\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    const char *ready = NULL, *cert_file = NULL, *key_file = NULL;
    char *cert = NULL, *key = NULL;
    unsigned port = 0;
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    struct MHD_Daemon *d = NULL;
    sigset_t sigs;
    pthread_t th;
    int lfd, one = 1, sig;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "fault_server: %s needs a value (--help)\n", a);
            return 2;
        }
        if (strcmp(a, "--mode") == 0) {
            int m;

            for (m = 0; m < M_COUNT && strcmp(argv[i + 1], mode_names[m]) != 0; m++)
                ;
            if (m == M_COUNT) {
                fprintf(stderr, "fault_server: unknown mode '%s' (--help)\n", argv[i + 1]);
                return 2;
            }
            atomic_store(&g_mode, m);
        } else if (strcmp(a, "--port") == 0) {
            port = (unsigned)atoi(argv[i + 1]);
        } else if (strcmp(a, "--ready-file") == 0) {
            ready = argv[i + 1];
        } else if (strcmp(a, "--tls-cert") == 0) {
            cert_file = argv[i + 1];
        } else if (strcmp(a, "--tls-key") == 0) {
            key_file = argv[i + 1];
        } else if (strcmp(a, "--token") == 0) {
            g_token = argv[i + 1];
        } else {
            fprintf(stderr, "fault_server: unknown option '%s' (--help)\n", a);
            return 2;
        }
        i++;
    }
    if ((cert_file == NULL) != (key_file == NULL)) {
        fprintf(stderr, "fault_server: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (cert_file != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fprintf(stderr, "fault_server: this libmicrohttpd has no TLS\n");
            return 3;
        }
        cert = slurp(cert_file);
        key = slurp(key_file);
        if (cert == NULL || key == NULL) {
            fprintf(stderr, "fault_server: cannot read the TLS certificate or key\n");
            return 2;
        }
    }
    srandom((unsigned)getpid());
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 512) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0) {
        perror("fault_server: listen");
        return 1;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (atomic_load(&g_mode) == M_STALL) {
        if (pthread_create(&th, NULL, stall_main, &lfd) != 0)
            return 1;
    } else {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

        if (cert != NULL)
            flags |= MHD_USE_TLS;
        /* MHD ignores the TLS options without MHD_USE_TLS. */
        d = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_LISTEN_SOCKET, lfd,
                             MHD_OPTION_THREAD_POOL_SIZE, 4u, MHD_OPTION_NOTIFY_COMPLETED,
                             completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                             MHD_OPTION_HTTPS_MEM_CERT, cert ? cert : "", MHD_OPTION_HTTPS_MEM_KEY,
                             key ? key : "", MHD_OPTION_END);
        if (d == NULL) {
            fprintf(stderr, "fault_server: MHD_start_daemon failed\n");
            return 1;
        }
    }
    if (ready != NULL && write_ready(ready, ntohs(sa.sin_port)) < 0) {
        perror("fault_server: ready file");
        return 1;
    }
    sigwait(&sigs, &sig);
    if (d != NULL)
        MHD_stop_daemon(d);
    return 0;
}
