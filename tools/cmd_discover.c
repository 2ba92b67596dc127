/*
 * cmd_discover.c - `cloudm discover [-o FILE] [--html FILE] [--json FILE] [--object GLOB]...
 * [--header FILE]... [-I DIR]... [--top N] [--] PROGRAM [ARGS...]`.
 *
 * What it does: finds what is worth memoizing in a program nobody wrote a config for. It runs
 * PROGRAM once under observation (every call counted; calls keyed, traced and timed as
 * docs/discover.md says; the original always runs, so the output is the program's own) while
 * a thread serves key plans (disc_plan.c): each process of the run, as it binds the functions
 * it and its libraries reach through GOT slots, asks for their prototypes (DWARF, then headers:
 * proto/) and is keyed by them; after the run it
 * ranks the functions by the time a cache would save, prints the table on stderr and writes
 * the config (-o), a JSON result (--json) and an HTML page (--html). Exits with the program's
 * status.
 *
 * What it does not do: it memoizes nothing and keeps nothing but the key digests of its runs,
 * in the shared segment's profile table (as `cloudm profile` does; `cloudm profile --reset`
 * forgets them).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "cli.h"
#include "cloudm_env.h"
#include "cm_config.h"
#include "disc.h"
#include "proto.h"
#include "seg/seg.h"

#define MAX_OPTS 64

void cm_usage_discover(FILE *f)
{
    fprintf(
        f,
        "Usage: cloudm discover [-o FILE] [--html FILE] [--json FILE] [--object GLOB]...\n"
        "                       [--header FILE]... [-I DIR]... [--internal] [--top N] [--] PROGRAM "
        "[ARGS...]\n"
        "\n"
        "Run PROGRAM once, observing every function it and its libraries call through a\n"
        "GOT slot (no config needed; the original always runs), and rank them by the time\n"
        "a cache would save. The table goes to stderr; the program's output is its own.\n"
        "\n"
        "Options:\n"
        "  -o FILE          write a config of the functions worth a cache\n"
        "      --html FILE  write a self-contained HTML report\n"
        "      --json FILE  write the results as JSON\n"
        "      --object GLOB  observe only functions defined by matching objects (path or\n"
        "                   basename); their exports are observed even when reached only\n"
        "                   through dlsym (repeatable)\n"
        "      --header FILE  C header with prototypes, parsed with libclang (repeatable)\n"
        "  -I DIR           include directory for --header (repeatable)\n"
        "      --internal   also the program's own functions (its symbol table; inline\n"
        "                   hooks), static ones included\n"
        "      --top N      rows of the table and curves computed (default 20)\n"
        "  -h, --help       show this help\n"
        "\n"
        "Prototypes come from DWARF (the object or its debug file under $CLOUDM_DEBUG_DIR),\n"
        "then --header files, then the headers of the Debian -dev package that ships the\n"
        "library. See docs/discover.md.\n");
}

struct opts {
    const char *out, *html, *json;
    const char *objects[MAX_OPTS];
    int nobjects;
    const char *headers[MAX_OPTS];
    int nheaders;
    const char *dirs[MAX_OPTS];
    int ndirs;
    int top;
    bool internal;
    char **argv;
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->top = 20;
    enum cm_argstep step;
    int i;
    for (i = 1; (step = cm_arg_step(argc, argv, &i, cm_usage_discover)) == CM_ARG_OPTION; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--internal") == 0) {
            o->internal = true;
            continue;
        }
        const char *v = NULL;
        if (strcmp(a, "-o") == 0 || strcmp(a, "-I") == 0) {
            v = i + 1 < argc ? argv[++i] : NULL;
        } else if (strncmp(a, "-I", 2) == 0) {
            v = a + 2;
        } else if (cm_is_option(a, "--html") || cm_is_option(a, "--json") ||
                   cm_is_option(a, "--object") || cm_is_option(a, "--header") ||
                   cm_is_option(a, "--top") || cm_is_option(a, "--output")) {
            v = cm_option_value(argc, argv, &i, "discover", strcspn(a, "="));
            if (!v)
                goto usage;
        } else {
            fprintf(stderr, "cloudm discover: unknown option '%s'\n", a);
            goto usage;
        }
        if (!v || !v[0]) {
            fprintf(stderr, "cloudm discover: %s needs a value\n", a);
            goto usage;
        }
        if (strcmp(a, "-o") == 0 || cm_is_option(a, "--output"))
            o->out = v;
        else if (a[1] == 'I' && o->ndirs < MAX_OPTS)
            o->dirs[o->ndirs++] = v;
        else if (cm_is_option(a, "--html"))
            o->html = v;
        else if (cm_is_option(a, "--json"))
            o->json = v;
        else if (cm_is_option(a, "--object") && o->nobjects < MAX_OPTS)
            o->objects[o->nobjects++] = v;
        else if (cm_is_option(a, "--header") && o->nheaders < MAX_OPTS)
            o->headers[o->nheaders++] = v;
        else if (cm_is_option(a, "--top")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100000) {
                fprintf(stderr, "cloudm discover: --top %s: not a number from 1 to 100000\n", v);
                goto usage;
            }
            o->top = (int)n;
        }
    }
    if (step == CM_ARG_HELP)
        return 1;
    if (i >= argc) {
        fprintf(stderr, "cloudm discover: missing PROGRAM\n");
        goto usage;
    }
    o->argv = argv + i;
    return 0;
usage:
    fputc('\n', stderr);
    cm_usage_discover(stderr);
    return CM_EXIT_USAGE;
}

/* Prototypes for names[0..n) all defined by `object`. */
static void lookup(const struct opts *o, const char *object, const char **names, int n,
                   struct cm_proto *out)
{
    struct cm_proto_headers h = {.files = (const char **)o->headers,
                                 .nfiles = o->nheaders,
                                 .dirs = (const char **)o->dirs,
                                 .ndirs = o->ndirs};
    cm_proto_lookup(object, names, n, out, &h, o->internal);
}

/* After the run: the prototype and signature of every observed function (the plan server's,
 * else looked up now: a function bound in a process that could not ask). */
static void signatures(const struct opts *o, struct disc *d, const struct disc_plan *ps)
{
    for (int i = 0; i < d->n; i++) {
        struct disc_fn *f = &d->fns[i];
        if (f->proto.source != CM_PROTO_NONE || f->sig == CM_SIG_TODO)
            continue;
        const char *names[1] = {f->name};
        if (!disc_plan_proto(ps, f->name, f->object, &f->proto))
            lookup(o, f->object, names, 1, &f->proto);
        f->sig = cm_proto_signature(&f->proto, f->name, f->sigline, sizeof(f->sigline), f->why,
                                    sizeof(f->why));
    }
}

/* The shared segment whose profile table keeps key digests across runs: CLOUDM_SHARED_PATH,
 * else the config's shared_path, else /dev/shm/cloudm-UID; opened as it is, or created with the
 * shim's default size when there is none. NULL, said once, when it cannot be used. */
static struct cm_seg *open_seg(void)
{
    char path[PATH_MAX], err[PATH_MAX + 256] = "";
    if (cm_seg_path("discover", NULL, path, sizeof(path)) != 0)
        return NULL;
    /* an existing segment as it is (never replaced: it may hold a cache of another size) */
    struct cm_seg_opts so = {.path = path, .size = 0, .create = 0};
    struct cm_seg *s = NULL;
    int rc = cm_seg_open(&so, &s, err, sizeof(err));
    if (rc == -ENOENT) {
        so.size = 256ull << 20; /* the shim's default shared_size */
        so.create = 1;
        err[0] = '\0';
        rc = cm_seg_open(&so, &s, err, sizeof(err));
    }
    if (rc < 0) {
        fprintf(stderr, "cloudm discover: no across-run estimate: %s\n",
                err[0] ? err : strerror(-rc));
        return NULL;
    }
    return s;
}

/* Remove the run's directory: the socket and the observation files. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX + 300];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

int cm_cmd_discover(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    char dir[] = "/tmp/cloudm-discover.XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof(dirbuf), "%s/cloudm-discover.XXXXXX",
             tmp && tmp[0] == '/' ? tmp : "/tmp");
    char *dp = mkdtemp(dirbuf);
    if (!dp)
        dp = mkdtemp(dir);
    if (!dp) {
        fprintf(stderr, "cloudm discover: cannot create a temporary directory: %s\n",
                strerror(errno));
        return CM_EXIT_FAIL;
    }
    char objects[4096] = "";
    for (int i = 0; i < o.nobjects; i++) {
        size_t k = strlen(objects);
        snprintf(objects + k, sizeof(objects) - k, "%s%s", i ? ":" : "", o.objects[i]);
    }
    struct disc d = {0};
    int status = 0;
    struct disc_plan *ps = NULL;
    struct cm_proto_headers h = {.files = (const char **)o.headers,
                                 .nfiles = o.nheaders,
                                 .dirs = (const char **)o.dirs,
                                 .ndirs = o.ndirs};

    if (o.internal)
        setenv(CLOUDM_ENV_DISCOVER_INTERNAL, "1", 1);
    else
        unsetenv(CLOUDM_ENV_DISCOVER_INTERNAL);
    rc = disc_plan_start(&ps, dp, &h, o.internal);
    if (rc != 0)
        fprintf(stderr,
                "cloudm discover: cannot serve key plans in %s (%s): calls are keyed by "
                "their argument registers\n",
                dp, strerror(-rc));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = disc_run(o.argv, dp, NULL, objects, false, &status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    disc_plan_stop(ps);
    if (rc != 0)
        goto out;
    disc_read_obs(dp, &d);
    /* the run: the longest process's, or the whole command's wall time less the plan service
     * (processes run one after the other, e.g. by a script that execs the last one) */
    uint64_t wall = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
                    (uint64_t)t0.tv_nsec;
    uint64_t busy = disc_plan_busy_ns(ps);
    if (wall > busy && wall - busy > d.run_ns)
        d.run_ns = wall - busy;
    if (d.nprocs == 0) {
        fprintf(stderr,
                "cloudm discover: %s left no observation file: it is not dynamically linked "
                "(libcloudm.so cannot be preloaded), or every process ended with _exit or exec\n",
                o.argv[0]);
        rc = CM_EXIT_FAIL;
        goto out;
    }
    snprintf(d.program, sizeof(d.program), "%s", o.argv[0]);
    d.seg = open_seg();
    d.run_tag = (uint16_t)(XXH3_64bits(&t0, sizeof(t0)) ^ (uint64_t)getpid()) | 1;
    signatures(&o, &d, ps);
    disc_analyze(&d, o.top);
    /* the planned flag says how calls were keyed; a prototype found only after the run (a
     * library loaded with dlopen) still gives the signature */
    disc_print_table(&d, stderr, o.top, "discover");
    if (o.out) {
        int w = disc_write_config(&d, o.out);
        if (w < 0) {
            fprintf(stderr, "cloudm discover: cannot write %s: %s\n", o.out, strerror(-w));
            rc = CM_EXIT_FAIL;
        } else {
            fprintf(stderr, "cloudm discover: config written to %s\n", o.out);
        }
    }
    if (o.json && disc_write_json(&d, o.json) < 0) {
        fprintf(stderr, "cloudm discover: cannot write %s\n", o.json);
        rc = CM_EXIT_FAIL;
    }
    if (o.html && disc_write_html(&d, o.html, o.top, "discover", NULL) < 0) {
        fprintf(stderr, "cloudm discover: cannot write %s\n", o.html);
        rc = CM_EXIT_FAIL;
    }
out:
    rm_dir(dp);
    disc_plan_free(ps);
    if (d.seg)
        cm_seg_close(d.seg);
    disc_free(&d);
    if (rc != 0)
        return rc;
    return status;
}
