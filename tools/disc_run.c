/*
 * disc_run.c - running the program under observation and reading what it left
 * (`cloudm discover`).
 *
 * What it does: starts PROGRAM with libcloudm.so preloaded in observation mode
 * (CLOUDM_DISCOVER=DIR, the key plan, the object globs), in list mode first (the program stops
 * before main and DIR/list names the candidates) and then for the real run, with the program's
 * standard streams untouched; waits for it and returns its exit status. Reads DIR/list and
 * every DIR/obs.PID (include/cloudm_discover.h), merging functions by name and object.
 *
 * What it does not do: no analysis (disc_analyze.c), no prototypes (proto/).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_discover.h"
#include "cloudm_env.h"
#include "disc.h"

int disc_run(char **argv, const char *dir, const char *spec, const char *objects, bool list,
             int *status)
{
    struct cm_launch l = {.argv = argv};
    const char *prev = getenv("LD_PRELOAD"); /* restored after the run: the next one composes */
    char *saved = prev ? strdup(prev) : NULL;
    int rc = cm_launch_env(&l, NULL);
    if (rc != 0) {
        free(saved);
        return rc;
    }
    unsetenv(CLOUDM_ENV_CONFIG);
    setenv(CLOUDM_ENV_DISCOVER, dir, 1);
    if (list)
        setenv(CLOUDM_ENV_DISCOVER_LIST, "1", 1);
    else
        unsetenv(CLOUDM_ENV_DISCOVER_LIST);
    if (spec)
        setenv(CLOUDM_ENV_DISCOVER_SPEC, spec, 1);
    else
        unsetenv(CLOUDM_ENV_DISCOVER_SPEC);
    if (objects && objects[0])
        setenv(CLOUDM_ENV_DISCOVER_OBJECTS, objects, 1);
    else
        unsetenv(CLOUDM_ENV_DISCOVER_OBJECTS);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cloudm discover: fork: %s\n", strerror(errno));
        free(saved);
        return CM_EXIT_FAIL;
    }
    if (pid == 0) {
        if (list) { /* the program's constructors may print: keep our output clean */
            int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (fd >= 0)
                dup2(fd, 1);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cloudm: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(CM_EXIT_NOEXEC);
    }
    *status = cm_wait_child(pid);
    if (saved)
        setenv("LD_PRELOAD", saved, 1);
    else
        unsetenv("LD_PRELOAD");
    free(saved);
    if (*status == CM_EXIT_NOEXEC)
        return CM_EXIT_NOEXEC;
    return 0;
}

int disc_read_list(const char *dir, void (*each)(const char *name, const char *object, void *ctx),
                   void *ctx)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/list", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        each(line, tab + 1, ctx);
    }
    fclose(f);
    return 0;
}

static struct disc_fn *fn_get(struct disc *d, const char *name, const char *object)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->fns[i].name, name) == 0 && strcmp(d->fns[i].object, object) == 0)
            return &d->fns[i];
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        struct disc_fn *v = realloc(d->fns, (size_t)cap * sizeof(*v));
        if (!v)
            return NULL;
        d->fns = v;
        d->cap = cap;
    }
    struct disc_fn *f = &d->fns[d->n++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->object, sizeof(f->object), "%s", object);
    f->planned = true;
    return f;
}

static int read_one(const char *path, struct disc *d)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    struct cm_obs_filehdr h;
    int rc = -EINVAL;
    int *map = NULL; /* function record -> index in d->fns (which may move) */
    if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, CM_OBS_MAGIC, 8) != 0 ||
        h.format != CM_OBS_FORMAT) {
        fprintf(stderr, "cloudm discover: %s is not an observation file of this version\n", path);
        goto out;
    }
    map = calloc(h.nfn ? h.nfn : 1, sizeof(*map));
    if (!map)
        goto out;
    for (uint32_t i = 0; i < h.nfn; i++) {
        struct cm_obs_filefn ff;
        if (fread(&ff, sizeof(ff), 1, f) != 1)
            goto out;
        ff.name[sizeof(ff.name) - 1] = ff.object[sizeof(ff.object) - 1] = '\0';
        struct disc_fn *fn = fn_get(d, ff.name, ff.object);
        if (!fn)
            goto out;
        fn->calls += ff.calls;
        fn->keyed += ff.keyed;
        fn->ns += ff.ns;
        fn->planned = fn->planned && ff.planned;
        map[i] = (int)(fn - d->fns);
    }
    if (h.threshold < d->threshold)
        d->threshold = h.threshold;
    for (uint64_t i = 0; i < h.ntrace; i++) {
        struct cm_obs_trace t;
        if (fread(&t, sizeof(t), 1, f) != 1)
            break;
        uint32_t fi = CM_OBS_TRACE_FN(t.word);
        if (fi == 0 || fi > h.nfn)
            continue;
        struct disc_fn *fn = &d->fns[map[fi - 1]];
        if (fn->nkeys == fn->capkeys) {
            size_t cap = fn->capkeys ? 2 * fn->capkeys : 256;
            uint64_t *v = realloc(fn->keys, cap * sizeof(*v));
            if (!v)
                break;
            fn->keys = v;
            fn->capkeys = cap;
        }
        fn->keys[fn->nkeys++] = CM_OBS_TRACE_HASH(t.word);
    }
    if (h.run_ns > d->run_ns)
        d->run_ns = h.run_ns;
    d->nprocs++;
    rc = 0;
out:
    free(map);
    fclose(f);
    return rc;
}

int disc_read_obs(const char *dir, struct disc *d)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return -errno;
    d->threshold = CM_OBS_HASH_MASK;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dd))) {
        if (strncmp(e->d_name, "obs.", 4) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        read_one(path, d);
    }
    closedir(dd);
    return 0;
}

void disc_free(struct disc *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->fns[i].keys);
    free(d->fns);
    d->fns = NULL;
    d->n = d->cap = 0;
}
