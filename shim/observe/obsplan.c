/*
 * obsplan.c - the key plans of the observation mode: how each function's calls are keyed.
 *
 * What it does: parses key plan lines (include/cloudm_discover.h), from the file named by
 * CLOUDM_DISCOVER_SPEC (by function name) or from `cloudm discover` itself: cm_obs_plan_ask()
 * connects to the command's socket DIR/plan.sock (CLOUDM_DISCOVER=DIR), sends one line
 * "NAME<TAB>OBJECT" per newly bound function, and reads one answer line per function in the same
 * order (a plan line, or "-" when the prototype is unknown). The command looks the prototypes up
 * (DWARF, headers) while the process waits, so every process of the run is keyed by its
 * prototypes: the first, the ones it execs, the ones a shell script starts. A plan is applied to
 * a record only before its first keyed call (a function's keys never mix two layouts).
 *
 * The descriptor lives only for the exchange (rule 2: nothing stays open in the host); writes use
 * MSG_NOSIGNAL (no SIGPIPE in the host); both directions time out after PLAN_TIMEOUT_S. Any
 * failure leaves the functions keyed by their argument registers ("≈" in the table).
 *
 * What it does not do: no prototypes (the command's tools/proto/), no binding (observe.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "obs_int.h"

#define PLAN_TIMEOUT_S 120        /* the command may parse headers with libclang meanwhile */
#define PLAN_REPLY_MAX (8u << 20) /* answer bytes at most */

const char *cm_obs_names[CM_OBS_MAX][2];

static struct cm_obs_plan *plans; /* from the plan file, sorted by name */
static int nplans;

static int plan_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cm_obs_plan *)a)->name, ((const struct cm_obs_plan *)b)->name);
}

int cm_obs_plan_line(char *line, struct cm_obs_plan *p)
{
    char *save = NULL;
    char *name = strtok_r(line, " \t", &save);
    char *nst = strtok_r(NULL, " \t", &save);
    char *items = strtok_r(NULL, " \t\n", &save);
    if (!name || !nst || !items)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    p->nstack = (uint32_t)strtoul(nst, NULL, 10);
    if (p->nstack > 64)
        return -EINVAL;
    if (strcmp(items, "-") != 0)
        for (char *it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
            if (p->nkey == CM_OBS_KEY_MAX)
                return -EINVAL;
            struct cm_obs_item *k = &p->key[p->nkey++];
            char *end;
            k->kind = (uint8_t)it[0];
            unsigned long pos = strtoul(it + 1, &end, 10);
            unsigned long w = *end == '.' ? strtoul(end + 1, &end, 10) : 0;
            unsigned long e = *end == '.' ? strtoul(end + 1, NULL, 10) : 0;
            switch (k->kind) {
            case OBS_K_GPR:
            case OBS_K_STR:
                if (pos > 5)
                    return -EINVAL;
                break;
            case OBS_K_MEM:
                if (pos > 5 || w > 5 || e < 1 || e > 64)
                    return -EINVAL;
                k->pad = (uint8_t)e;
                break;
            case OBS_K_XMM:
                if (pos > 7)
                    return -EINVAL;
                break;
            case OBS_K_STACK:
            case OBS_K_STRSTACK:
                if (pos >= p->nstack)
                    return -EINVAL;
                break;
            default:
                return -EINVAL;
            }
            if (w > 8 && k->kind != OBS_K_MEM)
                return -EINVAL;
            k->pos = (uint8_t)pos;
            k->width = (uint8_t)w;
        }
    p->name = name;
    return 0;
}

void cm_obs_plan_load(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        cm_log("cannot read the key plan %s: %s (calls are keyed by registers)", path,
               strerror(errno));
        return;
    }
    char line[4096];
    int cap = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (nplans == cap) {
            cap = cap ? 2 * cap : 64;
            struct cm_obs_plan *v = realloc(plans, (size_t)cap * sizeof(*v));
            if (!v)
                break;
            plans = v;
        }
        struct cm_obs_plan *p = &plans[nplans];
        if (cm_obs_plan_line(line, p) == 0 && (p->name = strdup(p->name)))
            nplans++;
        else
            cm_log("%s:%d: not a key plan line: ignored", path, lineno);
    }
    fclose(f);
    qsort(plans, (size_t)nplans, sizeof(*plans), plan_cmp);
}

const struct cm_obs_plan *cm_obs_plan_for(const char *name)
{
    struct cm_obs_plan k = {.name = (char *)name};
    return nplans ? bsearch(&k, plans, (size_t)nplans, sizeof(*plans), plan_cmp) : NULL;
}

void cm_obs_plan_apply(struct cm_obs_fn *o, const struct cm_obs_plan *p)
{
    if (__atomic_load_n(&o->keyed, __ATOMIC_RELAXED)) /* keyed by registers already */
        return;
    o->nstack = p->nstack > CM_OBS_STACK_WORDS ? p->nstack : CM_OBS_STACK_WORDS;
    o->nkey = p->nkey;
    memcpy(o->key, p->key, sizeof(o->key));
    __atomic_store_n(&o->planned, 1, __ATOMIC_RELEASE);
}

/* ---- asking the command ------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t n, cap;
};

static int buf_add(struct buf *b, const char *s1, const char *s2)
{
    size_t need = strlen(s1) + strlen(s2) + 2;
    if (b->n + need + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->n + need + 1)
            cap *= 2;
        char *v = realloc(b->p, cap);
        if (!v)
            return -ENOMEM;
        b->p = v;
        b->cap = cap;
    }
    b->n += (size_t)snprintf(b->p + b->n, b->cap - b->n, "%s\t%s\n", s1, s2);
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Connects to DIR/plan.sock; -ENOENT when no command listens there (the process runs alone). */
static int plan_connect(const char *dir)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/plan.sock", dir) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    if (access(a.sun_path, F_OK) != 0)
        return -ENOENT;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = PLAN_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    while ((rc = connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* The answer, NUL-terminated, or NULL. */
static char *read_reply(int fd)
{
    struct buf b = {0};
    for (;;) {
        if (b.n + 4097 > b.cap) {
            size_t cap = b.cap ? 2 * b.cap : 16384;
            char *v = cap <= PLAN_REPLY_MAX ? realloc(b.p, cap) : NULL;
            if (!v) {
                free(b.p);
                return NULL;
            }
            b.p = v;
            b.cap = cap;
        }
        ssize_t r = read(fd, b.p + b.n, b.cap - b.n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b.p);
            return NULL;
        }
        if (r == 0)
            break;
        b.n += (size_t)r;
    }
    b.p[b.n] = '\0';
    return b.p;
}

int cm_obs_plan_ask(const char *dir, const uint32_t *ids, int n)
{
    if (n <= 0)
        return 0;
    int saved = errno;
    struct buf req = {0};
    char *reply = NULL;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = buf_add(&req, cm_obs_names[ids[i]][0], cm_obs_names[ids[i]][1]);
    int fd = rc == 0 ? plan_connect(dir) : rc;
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    rc = send_all(fd, req.p, req.n);
    shutdown(fd, SHUT_WR);
    reply = rc == 0 ? read_reply(fd) : NULL;
    close(fd);
    if (!reply) {
        rc = rc ? rc : -EIO;
        goto out;
    }
    char *save = NULL;
    int i = 0;
    for (char *line = strtok_r(reply, "\n", &save); line && i < n;
         line = strtok_r(NULL, "\n", &save), i++) {
        struct cm_obs_plan p;
        if (strcmp(line, "-") != 0 && cm_obs_plan_line(line, &p) == 0 &&
            strcmp(p.name, cm_obs_names[ids[i]][0]) == 0)
            cm_obs_plan_apply(&cm_obs_fns[ids[i]].fn, &p);
    }
out:
    if (rc < 0 && rc != -ENOENT)
        cm_log_once("obs-plan",
                    "no key plan from cloudm discover (%s): calls are keyed by "
                    "their argument registers",
                    strerror(-rc));
    free(req.p);
    free(reply);
    errno = saved;
    return rc;
}
