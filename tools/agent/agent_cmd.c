/*
 * agent_cmd.c - `cloudm agent`: start, run in the foreground, flush, stop and list agents (see
 * agent.h, docs/agent.md).
 *
 * What it does: finds the channel of a config's remote as the shim does (the config file, then
 * $CLOUDM_SHARED_PATH and $CLOUDM_REMOTE as overrides), creates it if needed, and starts the
 * agent detached (the same spawn the shim uses) or serves it in this process (--foreground, and
 * `--channel PATH`, which is how the shim starts an agent). --stop stops every agent beside
 * the segment; --flush waits until the agent has sent every queued store. Listing reads the
 * channel headers, nothing else.
 *
 * What it does not do: talk to a server (agent_run.c does, through the remote client).
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan/chan.h"
#include "cloudm_env.h"
#include "cm_config.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

void cm_usage_agent(FILE *f)
{
    fprintf(f, "Usage: cloudm agent [-c FILE] [--foreground | --flush | --status | --stop]\n"
               "\n"
               "The agent talks to the remote cache for every program of this user that uses the\n"
               "same remote settings; programs reach it through shared memory. The shim starts it\n"
               "when needed and it exits after agent_idle (default 10 min) with nothing queued.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config whose remote to serve (default: $CLOUDM_CONFIG,\n"
               "                     ./cloudm.conf, $XDG_CONFIG_HOME/cloudm/cloudm.conf)\n"
               "      --foreground   serve in this process, logging on stderr (debugging)\n"
               "      --flush        wait until the agent has sent every queued store\n"
               "                     (at most flush_timeout)\n"
               "      --status       this config's agent and its counters, as JSON\n"
               "      --stop         stop every agent beside the config's segment, after they\n"
               "                     send what is queued\n"
               "  -h, --help         show this help\n"
               "\n"
               "Without an option: start the agent if it is not running and print its pid.\n"
               "`cloudm stats` lists running agents.\n");
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void print_diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    fprintf(stderr, "%s\n", msg);
}

/* The config as the shim sees it (file, then environment overrides). 0 or EXIT_FAIL. */
static int load_config(const char *given, struct cm_config *cfg)
{
    char found[PATH_MAX];
    const char *file = given;
    const char *env;
    int rc;

    if (file == NULL) {
        file = getenv(CLOUDM_ENV_CONFIG);
        if (file == NULL || !file[0]) {
            if (cm_config_find(found, sizeof(found)) < 0) {
                fprintf(stderr, "cloudm agent: no config file (-c FILE)\n");
                return EXIT_FAIL;
            }
            file = found;
        }
    }
    rc = cm_config_load(file, cfg, print_diag, NULL);
    if (rc < 0 || cfg->nerrors > 0) {
        fprintf(stderr, "cloudm agent: cannot use config %s\n", file);
        return EXIT_FAIL;
    }
    if ((env = getenv(CLOUDM_ENV_SHARED_PATH)) != NULL && env[0])
        snprintf(cfg->shared_path, sizeof(cfg->shared_path), "%s", env);
    if ((env = getenv(CLOUDM_ENV_REMOTE)) != NULL && env[0])
        snprintf(cfg->remote, sizeof(cfg->remote), "%s", strcmp(env, "off") == 0 ? "" : env);
    return 0;
}

static int chan_of(const struct cm_config *cfg, char *path, size_t size, struct cm_chan_hdr **h,
                   int quiet)
{
    struct cm_chan_conf conf;
    char secret[PATH_MAX], err[600] = "";

    if (!cfg->remote[0]) {
        if (!quiet)
            fprintf(stderr, "cloudm agent: the config names no remote\n");
        return EXIT_FAIL;
    }
    if (cm_chan_for_config(cfg, &conf, path, size, secret, sizeof(secret)) < 0) {
        if (!quiet)
            fprintf(stderr, "cloudm agent: paths too long\n");
        return EXIT_FAIL;
    }
    *h = cm_chan_open(path, &conf, err, sizeof(err));
    if (*h == NULL) {
        if (!quiet)
            fprintf(stderr, "cloudm agent: %s\n", err);
        return EXIT_FAIL;
    }
    return 0;
}

/* Starts the agent if none serves h; waits up to ms for it. 1 ready, 0 not (yet). */
static int start(struct cm_chan_hdr *h, const char *path, int ms, int force)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (cm_chan_agent_alive(h))
        return 1;
    if (n <= 0)
        return 0;
    self[n] = 0;
    cm_chan_spawn(h, self, path, force);
    for (int i = 0; i < ms / 10; i++) {
        if (atomic_load(&h->agent_pid) != 0 && atomic_load(&h->started_ns) != 0 &&
            cm_chan_agent_alive(h))
            return 1;
        sleep_ms(10);
    }
    return 0;
}

void cm_agent_prepare(const struct cm_config *cfg)
{
    char path[PATH_MAX];
    struct cm_chan_hdr *h;

    if (!(cfg->tiers & CM_TIER_REMOTE) || !cfg->remote[0])
        return;
    struct cm_config c = *cfg;
    const char *env;
    if ((env = getenv(CLOUDM_ENV_SHARED_PATH)) != NULL && env[0])
        snprintf(c.shared_path, sizeof(c.shared_path), "%s", env);
    if ((env = getenv(CLOUDM_ENV_REMOTE)) != NULL && env[0]) {
        if (strcmp(env, "off") == 0)
            return;
        snprintf(c.remote, sizeof(c.remote), "%s", env);
    }
    if (chan_of(&c, path, sizeof(path), &h, 1) != 0)
        return;
    start(h, path, 2000, 0);
    cm_chan_unmap(h);
}

/* Asks the agent of h to stop; waits until it has (at most flush_timeout + 2 s). */
static int stop_one(struct cm_chan_hdr *h)
{
    uint64_t limit = h->conf.flush_ns / 1000000 + 2000;
    atomic_store(&h->stop, 1);
    cm_chan_wake(&h->stop, 1 << 30);
    for (uint64_t ms = 0; ms < limit; ms += 10) {
        if (!cm_chan_agent_alive(h))
            return 0;
        sleep_ms(10);
    }
    return -1;
}

/* Calls fn for every channel file beside seg_path. */
static int each_channel(const char *seg_path, int (*fn)(const char *path, void *ctx), void *ctx)
{
    char dir[PATH_MAX], prefix[PATH_MAX], path[PATH_MAX * 2];
    const char *slash = strrchr(seg_path, '/');
    int n = 0;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - seg_path) : 1, slash ? seg_path : ".");
    if (dir[0] == 0)
        snprintf(dir, sizeof(dir), "/");
    if (snprintf(prefix, sizeof(prefix), "%s-agent-", slash ? slash + 1 : seg_path) >=
        (int)sizeof(prefix))
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || strchr(e->d_name, '.') != NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        n += fn(path, ctx);
    }
    closedir(d);
    return n;
}

static int stop_path(const char *path, void *ctx)
{
    char err[600];
    struct cm_chan_hdr *h = cm_chan_open(path, NULL, err, sizeof(err));
    (void)ctx;
    if (h == NULL)
        return 0;
    int was = cm_chan_agent_alive(h);
    unsigned pid = atomic_load(&h->agent_pid);
    if (was && stop_one(h) == 0)
        printf("cloudm agent: stopped pid %u (%s)\n", pid, h->conf.url);
    else if (was)
        fprintf(stderr, "cloudm agent: pid %u (%s) did not stop in time\n", pid, h->conf.url);
    cm_chan_unmap(h);
    return was;
}

/* Waits until every queued store is sent (an agent is started if none runs: the stores of a
 * program that exited before its agent came up are waiting for one). */
static int flush(struct cm_chan_hdr *h, const char *path)
{
    uint64_t limit = h->conf.flush_ns / 1000000 + 1000;
    if (atomic_load(&h->st_head) != atomic_load(&h->st_tail))
        start(h, path, 3000, 0);
    for (uint64_t ms = 0; ms < limit; ms += 5) {
        if (atomic_load(&h->st_head) == atomic_load(&h->st_tail) &&
            atomic_load(&h->st.inflight) == 0)
            return 0;
        if (!cm_chan_agent_alive(h))
            break;
        sleep_ms(5);
    }
    fprintf(stderr, "cloudm agent: %llu stores still queued\n",
            (unsigned long long)atomic_load(&h->st_records));
    return EXIT_FAIL;
}

/* ---- listing -------------------------------------------------------------------------------- */

struct list_ctx {
    int json;
    FILE *f;
    int n;
};

static const char *brk_name(uint32_t s)
{
    return s == 0 ? "closed" : s == 1 ? "open" : "probing";
}

static int list_path(const char *path, void *arg)
{
    struct list_ctx *c = arg;
    char err[600];
    struct cm_chan_hdr *h = cm_chan_open(path, NULL, err, sizeof(err));
    if (h == NULL)
        return 0;
    int alive = cm_chan_agent_alive(h);
    unsigned pid = alive ? atomic_load(&h->agent_pid) : 0;
    uint64_t now = cm_chan_now(), st = atomic_load(&h->started_ns);
    double up = alive && st ? (double)(now - st) / 1e9 : 0;
    uint64_t qbytes = atomic_load(&h->st_tail) - atomic_load(&h->st_head);
    struct cm_chan_stats *s = &h->st;
    unsigned long long q = atomic_load(&h->st_records), inf = atomic_load(&s->inflight),
                       sent = atomic_load(&s->puts),
                       drop = atomic_load(&s->dropped) + atomic_load(&s->host_dropped),
                       errs = atomic_load(&s->errors) + atomic_load(&s->put_errors),
                       hits = atomic_load(&s->hits), miss = atomic_load(&s->misses);
    const char *br = brk_name(atomic_load(&s->brk_read)),
               *bw = brk_name(atomic_load(&s->brk_write));
    if (c->json) {
        fprintf(c->f,
                "%s{\"remote\": \"%s\", \"channel\": \"%s\", \"pid\": %u, \"running\": %s, "
                "\"uptime_s\": %.1f, \"queue\": %llu, \"queue_bytes\": %llu, \"in_flight\": %llu, "
                "\"hits\": %llu, \"misses\": %llu, \"sent\": %llu, \"dropped\": %llu, "
                "\"errors\": %llu, \"timeouts\": %llu, \"auth_errors\": %llu, "
                "\"store_errors\": %llu, \"skipped\": %llu, \"breaker_opens\": %llu, "
                "\"breaker_read\": \"%s\", \"breaker_write\": \"%s\"}",
                c->n ? ", " : "", h->conf.url, path, pid, alive ? "true" : "false", up, q,
                (unsigned long long)qbytes, inf, hits, miss, sent, drop, errs,
                (unsigned long long)atomic_load(&s->timeouts),
                (unsigned long long)atomic_load(&s->auth_errors),
                (unsigned long long)atomic_load(&s->put_errors),
                (unsigned long long)atomic_load(&s->skipped),
                (unsigned long long)atomic_load(&s->breaker_opens), br, bw);
    } else {
        fprintf(c->f,
                "agent %s  %s  up %.0fs  queue %llu (%llu bytes)  in-flight %llu  hits %llu  "
                "misses %llu  sent %llu  dropped %llu  errors %llu  breaker read %s, write %s\n",
                h->conf.url, alive ? "running" : "not running", up, q, (unsigned long long)qbytes,
                inf, hits, miss, sent, drop, errs, br, bw);
        if (alive)
            fprintf(c->f, "      pid %u\n", pid);
    }
    c->n++;
    cm_chan_unmap(h);
    return 1;
}

int cm_cmd_agent(int argc, char **argv)
{
    const char *config = NULL, *channel = NULL;
    int foreground = 0, do_stop = 0, do_flush = 0, do_status = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cm_usage_agent(stdout);
            return 0;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
            config = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            config = a + 9;
        } else if (!strcmp(a, "--channel") && i + 1 < argc) {
            channel = argv[++i];
        } else if (!strcmp(a, "--foreground")) {
            foreground = 1;
        } else if (!strcmp(a, "--stop")) {
            do_stop = 1;
        } else if (!strcmp(a, "--flush")) {
            do_flush = 1;
        } else if (!strcmp(a, "--status")) {
            do_status = 1;
        } else {
            fprintf(stderr, "cloudm agent: unknown argument '%s'\n\n", a);
            cm_usage_agent(stderr);
            return EXIT_USAGE;
        }
    }
    if (foreground + do_stop + do_flush + do_status > 1) {
        fprintf(stderr, "cloudm agent: --foreground, --flush, --status and --stop exclude each "
                        "other\n");
        return EXIT_USAGE;
    }
    if (channel != NULL)
        return cm_agent_serve(channel, foreground);

    struct cm_config cfg;
    char path[PATH_MAX], seg[PATH_MAX];
    struct cm_chan_hdr *h;
    memset(&cfg, 0, sizeof(cfg));
    int rc = load_config(config, &cfg);
    if (rc != 0)
        return rc;
    if (do_stop) {
        rc = cm_path_expand(cfg.shared_path, seg, sizeof(seg)) < 0 ? EXIT_FAIL : 0;
        if (rc == 0 && each_channel(seg, stop_path, NULL) == 0)
            printf("cloudm agent: no agent running\n");
        cm_config_free(&cfg);
        return rc;
    }
    rc = chan_of(&cfg, path, sizeof(path), &h, 0);
    cm_config_free(&cfg);
    if (rc != 0)
        return rc;
    if (foreground)
        return cm_agent_serve(path, 1);
    if (do_flush)
        return flush(h, path);
    if (do_status) {
        struct list_ctx c = {1, stdout, 0};
        cm_chan_unmap(h);
        list_path(path, &c);
        printf("\n");
        return 0;
    }
    if (!start(h, path, 3000, 1)) {
        fprintf(stderr,
                "cloudm agent: the agent did not start (see `cloudm agent --foreground`)\n");
        return EXIT_FAIL;
    }
    printf("cloudm agent: pid %u serves %s\n", (unsigned)atomic_load(&h->agent_pid), h->conf.url);
    return 0;
}

int cm_agent_list(const char *seg_path, int json, FILE *f)
{
    struct list_ctx c = {json, f, 0};
    return each_channel(seg_path, list_path, &c);
}
