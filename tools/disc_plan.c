/*
 * disc_plan.c - the key plan server of `cloudm discover`: answers each observed process's
 * question "how are these functions keyed?" while the program runs.
 *
 * What it does: listens on DIR/plan.sock (AF_UNIX, in the run's private directory) from a thread
 * of the command. A process of the run (the program, a process it execs, each binary a shell
 * script starts) connects once per binding pass, sends "NAME<TAB>OBJECT" lines, shuts its write
 * side and reads one answer line per request line, in order: the key plan line
 * (include/cloudm_discover.h) or "-". Prototypes are looked up once per object and name
 * (proto/: DWARF, then headers) and cached; disc_plan_proto() gives the cache to the analysis
 * after the run.
 *
 * DESIGN: one thread serves the connections one after the other (the lookups are not thread-
 * safe; processes of a run rarely start at the same instant). The cache is written by that
 * thread only while it runs and read by the caller only after disc_plan_stop() joined it.
 *
 * What it does not do: no observation (the shim's observe/), no ranking (disc_analyze.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "disc.h"

struct entry {
    char *name, *object;
    struct cm_proto proto;
    char plan[1024]; /* "-" when none */
};

struct disc_plan {
    int lfd;
    int stop[2]; /* a pipe: written by disc_plan_stop */
    pthread_t thread;
    char path[108];
    struct cm_proto_headers h;
    bool internal;
    struct entry **v;
    int n, cap;
    uint64_t busy_ns; /* serving: the asking process waited meanwhile */
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct entry *find(struct disc_plan *s, const char *name, const char *object)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->name, name) == 0 && strcmp(s->v[i]->object, object) == 0)
            return s->v[i];
    return NULL;
}

static struct entry *add(struct disc_plan *s, const char *name, const char *object)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        struct entry **v = realloc(s->v, (size_t)cap * sizeof(*v));
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    struct entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->name = strdup(name)) || !(e->object = strdup(object))) {
        if (e)
            free(e->name);
        free(e);
        return NULL;
    }
    snprintf(e->plan, sizeof(e->plan), "-");
    s->v[s->n++] = e;
    return e;
}

/* Look up every entry of `want` not looked up yet, one prototype pass per object. */
static void resolve(struct disc_plan *s, struct entry **want, int n)
{
    const char **names = calloc((size_t)(n ? n : 1), sizeof(*names));
    struct cm_proto *protos = calloc((size_t)(n ? n : 1), sizeof(*protos));
    struct entry **grp = calloc((size_t)(n ? n : 1), sizeof(*grp));
    bool *done = calloc((size_t)(n ? n : 1), sizeof(*done));
    for (int i = 0; names && protos && grp && done && i < n; i++) {
        if (done[i])
            continue;
        int k = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && strcmp(want[j]->object, want[i]->object) == 0) {
                done[j] = true;
                grp[k] = want[j];
                names[k++] = want[j]->name;
            }
        memset(protos, 0, (size_t)k * sizeof(*protos));
        cm_proto_lookup(want[i]->object, names, k, protos, &s->h, s->internal);
        for (int j = 0; j < k; j++) {
            grp[j]->proto = protos[j];
            if (!cm_proto_plan(&protos[j], names[j], grp[j]->plan, sizeof(grp[j]->plan)))
                snprintf(grp[j]->plan, sizeof(grp[j]->plan), "-");
        }
    }
    free(names);
    free(protos);
    free(grp);
    free(done);
}

static char *read_all(int fd, size_t *len)
{
    size_t n = 0, cap = 16384;
    char *b = malloc(cap);
    while (b) {
        if (n + 1 == cap) {
            char *v = cap < (16u << 20) ? realloc(b, cap * 2) : NULL;
            if (!v)
                break;
            b = v;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            b[n] = '\0';
            *len = n;
            return r == 0 ? b : (free(b), NULL);
        }
        n += (size_t)r;
    }
    free(b);
    return NULL;
}

static void serve(struct disc_plan *s, int fd)
{
    size_t len = 0;
    char *req = read_all(fd, &len);
    if (!req)
        return;
    int nl = 0;
    for (size_t i = 0; i < len; i++)
        nl += req[i] == '\n';
    struct entry **asked = calloc((size_t)nl + 1, sizeof(*asked));
    struct entry **fresh = calloc((size_t)nl + 1, sizeof(*fresh));
    int na = 0, nf = 0;
    char *save = NULL;
    for (char *line = strtok_r(req, "\n", &save); asked && fresh && line;
         line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        const char *object = tab ? tab + 1 : "";
        struct entry *e = find(s, line, object);
        if (!e && (e = add(s, line, object)))
            fresh[nf++] = e;
        asked[na++] = e;
    }
    if (fresh)
        resolve(s, fresh, nf);
    char *ans = NULL;
    size_t alen = 0;
    FILE *out = open_memstream(&ans, &alen);
    for (int i = 0; out && asked && i < na; i++)
        fprintf(out, "%s\n", asked[i] ? asked[i]->plan : "-");
    if (out && fclose(out) == 0) { /* MSG_NOSIGNAL: a process gone meanwhile is no SIGPIPE */
        for (size_t off = 0; off < alen;) {
            ssize_t w = send(fd, ans + off, alen - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    free(ans);
    free(asked);
    free(fresh);
    free(req);
}

static void *loop(void *arg)
{
    struct disc_plan *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
                              {.fd = s->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        uint64_t t0 = now_ns();
        serve(s, fd);
        close(fd);
        s->busy_ns += now_ns() - t0;
    }
    return NULL;
}

int disc_plan_start(struct disc_plan **out, const char *dir, const struct cm_proto_headers *h,
                    bool internal)
{
    *out = NULL;
    struct disc_plan *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->h = *h;
    s->internal = internal;
    s->lfd = s->stop[0] = s->stop[1] = -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int rc = -ENAMETOOLONG;
    if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/plan.sock", dir) >= sizeof(a.sun_path))
        goto fail;
    snprintf(s->path, sizeof(s->path), "%s", a.sun_path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 64) != 0 || pipe2(s->stop, O_CLOEXEC) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = -pthread_create(&s->thread, NULL, loop, s);
    if (rc != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->stop[0] >= 0) {
        close(s->stop[0]);
        close(s->stop[1]);
    }
    free(s);
    return rc;
}

void disc_plan_stop(struct disc_plan *s)
{
    if (!s || s->lfd < 0)
        return;
    if (write(s->stop[1], "x", 1) == 1)
        pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    unlink(s->path);
    s->lfd = -1;
}

bool disc_plan_proto(const struct disc_plan *s, const char *name, const char *object,
                     struct cm_proto *out)
{
    if (!s)
        return false;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->name, name) == 0 && strcmp(s->v[i]->object, object) == 0) {
            *out = s->v[i]->proto;
            return true;
        }
    return false;
}

uint64_t disc_plan_busy_ns(const struct disc_plan *s)
{
    return s ? s->busy_ns : 0;
}

void disc_plan_free(struct disc_plan *s)
{
    if (!s)
        return;
    disc_plan_stop(s);
    for (int i = 0; i < s->n; i++) {
        free(s->v[i]->name);
        free(s->v[i]->object);
        free(s->v[i]);
    }
    free(s->v);
    free(s);
}
