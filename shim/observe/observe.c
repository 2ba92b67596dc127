/*
 * observe.c - set-up, binding and files of the observation mode (observe.h).
 *
 * What it does: reads CLOUDM_DISCOVER (output directory), the key plan CLOUDM_DISCOVER_SPEC and
 * the object globs CLOUDM_DISCOVER_OBJECTS; installs the hooks with a growing target list fed,
 * for every new object, with the function names its GOT slots import (and, for objects loaded
 * after start-up or matching a glob, the functions it exports, so dlsym'd pointers are observed);
 * binds every implementation that is a function, is not on the built-in never-memoizable list
 * (config/nomemo.c) and whose provider matches the globs to the next counting stub; after each
 * binding pass, asks `cloudm discover` for the new records' key plans (obsplan.c; the wait is
 * left out of the run time). With
 * CLOUDM_DISCOVER_LIST=1 it writes the candidates (name, object) to DIR/list and exits before
 * main. With CLOUDM_DISCOVER_INTERNAL=1 the executable's own functions (its .symtab, or its
 * debug file's) are targets too, inline-hooked (codehook.c) and bound to register-preserving
 * stubs. At exit it writes DIR/obs.PID (include/cloudm_discover.h).
 *
 * What it does not do: no per-call work (obscall.c), no prototypes (the tool's).
 */
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "cm_config.h"
#include "base/base.h"
#include "elf/elf.h"
#include "hook/hook.h"
#include "obs_int.h"
#include "observe.h"

#define MAX_TARGETS 65536
#define MAX_GLOBS 16

static char obs_dir[CM_OBS_PATH_MAX];
static int obs_list;
static struct cm_target *obs_targets;
static char *globs[MAX_GLOBS];
static int nglobs;
static uint32_t asked, asked_keep; /* records whose plans were asked for */
static int no_server;
static uint64_t wait_ns; /* waiting for plans: not the program's run time */
static uint32_t nobs;    /* GOT records: cm_obs_fns[0 .. nobs) */
static uint32_t nkeep;   /* inline records: cm_obs_fns[CM_OBS_MAX - nkeep .. CM_OBS_MAX) */
static int obs_internal;
static uint64_t start_ns;
static char *list_buf;
static size_t list_len, list_cap;

int cm_observe_wanted(void)
{
    const char *d = getenv(CLOUDM_ENV_DISCOVER);
    return d && d[0];
}

static int glob_matches(const char *path)
{
    if (!nglobs)
        return 1;
    const char *base = strrchr(path, '/');
    for (int i = 0; i < nglobs; i++)
        if (cm_glob_match(globs[i], path) || (base && cm_glob_match(globs[i], base + 1)))
            return 1;
    return 0;
}

static void add_name(const char *name)
{
    if (cm_never_memoizable(name, NULL)) /* "__" and dl*: whoever defines them */
        return;
    if (cm_hook_add_target(name, NULL, CM_TARGET_GOT) == -ENOSPC)
        cm_log_once("obs-targets", "more than %d candidate names: the rest are not observed",
                    MAX_TARGETS);
}

/* ---- cloudm's own libraries ----------------------------------------------------------------
 * Objects loaded only because libcloudm.so needs them (Zydis, libelf and what they need) are
 * not observed: the program never calls them. An object is ours when libcloudm.so opened it
 * (base/lazy.c: with --internal, libelf and zlib are opened mid-run) or needs it, or another of
 * ours needs it and nothing else does. Computed again whenever the table of objects changed. */

extern ElfW(Dyn) _DYNAMIC[];

#define MAX_OURS 32
static const struct cm_objrec *ours[MAX_OURS];
static int nours;
static const struct cm_objtab *ours_tab; /* the table they were computed from */

static const char *soname_of(const struct cm_objrec *r)
{
    if (r->or_dyn_ok && r->or_dyn.dd_soname)
        return r->or_dyn.dd_soname;
    const char *b = strrchr(r->or_pub.path, '/');
    return b ? b + 1 : r->or_pub.path;
}

static int is_ours(const struct cm_objrec *r)
{
    for (int i = 0; i < nours; i++)
        if (ours[i] == r)
            return 1;
    return 0;
}

static int self_needs(const char *soname)
{
    const char *strtab = NULL;
    for (ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_STRTAB)
            strtab = (const char *)d->d_un.d_ptr;
    if (!strtab)
        return 0;
    for (ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_NEEDED && strcmp(strtab + d->d_un.d_val, soname) == 0)
            return 1;
    return 0;
}

static void compute_ours(void)
{
    const struct cm_objtab *t = cm_objects_current();
    ours_tab = t;
    nours = 0;
    for (int changed = 1; t && changed && nours < MAX_OURS;) {
        changed = 0;
        for (size_t i = 0; i < t->ot_n && nours < MAX_OURS; i++) {
            const struct cm_objrec *r = t->ot_order[i];
            if (r->or_kind != CM_OBJ_NORMAL || is_ours(r))
                continue;
            const char *so = soname_of(r);
            int needed = self_needs(so) || cm_lazy_owns(r->or_pub.base), foreign = 0;
            for (size_t j = 0; j < t->ot_n; j++) {
                const struct cm_objrec *q = t->ot_order[j];
                if (q == r || !q->or_dyn_ok)
                    continue;
                for (int k = 0; k < q->or_dyn.dd_nneeded; k++)
                    if (strcmp(q->or_dyn.dd_needed[k], so) == 0) {
                        if (is_ours(q))
                            needed = 1;
                        else
                            foreign = 1;
                    }
            }
            cm_debug("%s (%s): needed by cloudm %d, by others %d", r->or_pub.path, so, needed,
                     foreign);
            if (needed && !foreign) {
                ours[nours++] = r;
                changed = 1;
            }
        }
    }
}

/* The pass is done: ask the command for the key plans of the records it bound. */
static void ask_plans(void)
{
    uint32_t n = __atomic_load_n(&nobs, __ATOMIC_ACQUIRE);
    uint32_t nk = __atomic_load_n(&nkeep, __ATOMIC_ACQUIRE);
    if (obs_list || no_server || (n == asked && nk == asked_keep))
        return;
    uint32_t *ids = malloc((size_t)(n - asked + nk - asked_keep) * sizeof(*ids));
    if (!ids)
        return;
    int k = 0;
    for (uint32_t i = asked; i < n; i++)
        ids[k++] = i;
    for (uint32_t j = asked_keep; j < nk; j++)
        ids[k++] = CM_OBS_MAX - 1 - j;
    asked = n;
    asked_keep = nk;
    uint64_t t0 = cm_clock_ns();
    if (cm_obs_plan_ask(obs_dir, ids, k) == -ENOENT)
        no_server = 1; /* observed alone (a benchmark, or CLOUDM_DISCOVER set by hand) */
    wait_ns += cm_clock_ns() - t0;
    free(ids);
}

static void feed(const struct cm_object *obj, int late, void *ctx)
{
    (void)ctx;
    if (!obj) {
        ask_plans();
        return;
    }
    struct cm_objrec *r = cm_objrec_of(obj);
    if (ours_tab != cm_objects_current())
        compute_ours();
    if (is_ours(r))
        return;
    const struct cm_dyn *d = &r->or_dyn;
    struct cm_dynreloc rel;
    size_t pos = 0;
    while (cm_dyn_next_gotreloc(d, &pos, &rel)) {
        unsigned type = ELF64_ST_TYPE(d->dd_symtab[rel.symindex].st_info);
        if (type == STT_OBJECT || type == STT_TLS || type == STT_COMMON)
            continue;
        add_name(cm_dyn_symname(d, rel.symindex));
    }
    if (obs_internal && r->or_kind == CM_OBJ_MAIN) {
        struct cm_objsyms st;
        if (cm_symtab_load(obj, &st) == 0) {
            for (size_t i = 0; i < st.nsyms; i++) {
                const char *nm = st.names + st.syms[i].name;
                /* the C runtime's own (_start, _init, frame_dummy...) and main stay alone */
                if (st.syms[i].is_func && nm[0] && nm[0] != '_' && strcmp(nm, "main") != 0 &&
                    strcmp(nm, "frame_dummy") != 0 && !strstr(nm, "tm_clones") &&
                    cm_hook_add_target(nm, NULL, CM_TARGET_AUTO) == -ENOSPC)
                    cm_log_once("obs-targets",
                                "more than %d candidate names: the rest are not "
                                "observed",
                                MAX_TARGETS);
            }
            cm_symtab_free(&st);
        }
    }
    if (!late && !(nglobs && glob_matches(obj->path)))
        return;
    for (size_t i = 0; i < d->dd_nsyms; i++)
        if (cm_dyn_is_def(d, i, false))
            add_name(cm_dyn_symname(d, i));
}

static void list_add(const char *name, const char *path)
{
    size_t need = strlen(name) + strlen(path) + 2;
    if (list_len + need + 1 > list_cap) {
        size_t cap = list_cap ? 2 * list_cap : 4096;
        while (cap < list_len + need + 1)
            cap *= 2;
        char *v = realloc(list_buf, cap);
        if (!v)
            return;
        list_buf = v;
        list_cap = cap;
    }
    list_len += (size_t)snprintf(list_buf + list_len, list_cap - list_len, "%s\t%s\n", name, path);
}

static void *bind(const struct cm_binding *b)
{
    const char *path = b->provider ? b->provider->path : "";
    if (b->is_func == 0 || !b->name || (b->how != 0 && !obs_internal))
        return NULL;
    if (ours_tab != cm_objects_current())
        compute_ours();
    if (b->provider && is_ours(cm_objrec_of(b->provider)))
        return NULL;
    if (cm_never_memoizable(b->name, path) || !glob_matches(path))
        return NULL;
    if (obs_list) {
        list_add(b->name, path);
        return NULL;
    }
    if (nobs + nkeep >= CM_OBS_MAX || (b->how && nkeep >= CM_OBS_KMAX)) {
        cm_log_once("obs-max",
                    "more than %d observed implementations: '%s' and later ones are "
                    "not observed",
                    b->how ? CM_OBS_KMAX : CM_OBS_MAX, b->name);
        return NULL;
    }
    uint32_t id = b->how ? CM_OBS_MAX - 1 - nkeep : nobs;
    struct cm_obs_fn *o = &cm_obs_fns[id].fn;
    memset(o, 0, sizeof(*o));
    o->orig = b->original;
    o->id = id;
    o->how = (uint8_t)b->how;
    cm_obs_names[id][0] = b->name;
    cm_obs_names[id][1] = path;
    o->nstack = CM_OBS_STACK_WORDS;
    const struct cm_obs_plan *p = cm_obs_plan_for(b->name);
    if (p)
        cm_obs_plan_apply(o, p);
    if (b->how) {
        __atomic_store_n(&nkeep, nkeep + 1, __ATOMIC_RELEASE);
        return cm_obs_kfast + (size_t)(CM_OBS_MAX - 1 - id) * CM_OBS_FAST_SIZE;
    }
    __atomic_store_n(&nobs, nobs + 1, __ATOMIC_RELEASE);
    return cm_obs_fast + (size_t)id * CM_OBS_FAST_SIZE;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void write_list(void)
{
    char path[CM_OBS_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/list", obs_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        cm_log("cannot write %s: %s", path, strerror(errno));
        return;
    }
    if (list_buf)
        write_all(fd, list_buf, list_len);
    close(fd);
}

int cm_observe_start(void)
{
    snprintf(obs_dir, sizeof(obs_dir), "%s", getenv(CLOUDM_ENV_DISCOVER));
    const char *l = getenv(CLOUDM_ENV_DISCOVER_LIST);
    obs_list = l && strcmp(l, "1") == 0;
    const char *in = getenv(CLOUDM_ENV_DISCOVER_INTERNAL);
    obs_internal = in && strcmp(in, "1") == 0;
    const char *sm = getenv(CLOUDM_ENV_DISCOVER_SAMPLE);
    cm_obs_every_call = sm && strcmp(sm, "off") == 0;
    const char *spec = getenv(CLOUDM_ENV_DISCOVER_SPEC);
    if (spec && spec[0])
        cm_obs_plan_load(spec);
    const char *g = getenv(CLOUDM_ENV_DISCOVER_OBJECTS);
    if (g && g[0]) {
        char *copy = strdup(g), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ":", &save) : NULL; t && nglobs < MAX_GLOBS;
             t = strtok_r(NULL, ":", &save))
            globs[nglobs++] = t;
    }
    start_ns = cm_clock_ns();
    cm_obs_calibrate();
    obs_targets = calloc(MAX_TARGETS, sizeof(*obs_targets));
    if (!obs_targets)
        return -ENOMEM;
    int rc = cm_hook_install_fed(obs_targets, MAX_TARGETS, bind, feed, NULL);
    if (rc < 0) {
        cm_log("observation could not be installed: %s", strerror(-rc));
        return rc;
    }
    if (obs_list) {
        write_list();
        _exit(0);
    }
    pthread_atfork(NULL, NULL, cm_obs_after_fork);
    return 0;
}

struct out_ctx {
    int fd;
    uint32_t nobs; /* file index of record id: id below nobs, else nobs + CM_OBS_MAX - 1 - id */
    struct cm_obs_trace buf[512];
    int n;
    uint64_t count;
};

static void out_rec(const struct cm_obs_trace *t, void *p)
{
    struct out_ctx *c = p;
    c->buf[c->n] = *t;
    uint32_t id = CM_OBS_TRACE_FN(t->word) - 1;
    if (id >= c->nobs)
        c->buf[c->n].word =
            CM_OBS_TRACE(c->nobs + (CM_OBS_MAX - 1 - id) + 1, CM_OBS_TRACE_HASH(t->word));
    c->n++;
    c->count++;
    if (c->n == 512) {
        write_all(c->fd, c->buf, sizeof(c->buf));
        c->n = 0;
    }
}

void cm_observe_finish(void)
{
    if (!obs_dir[0] || obs_list)
        return;
    char path[CM_OBS_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/obs.%d", obs_dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        cm_log("cannot write the observation file %s: %s", path, strerror(errno));
        return;
    }
    uint32_t n = __atomic_load_n(&nobs, __ATOMIC_ACQUIRE);
    uint32_t nk = __atomic_load_n(&nkeep, __ATOMIC_ACQUIRE);
    struct cm_obs_filehdr h = {.format = CM_OBS_FORMAT, .nfn = n + nk, .pid = (int32_t)getpid()};
    memcpy(h.magic, CM_OBS_MAGIC, sizeof(h.magic));
    h.ns_per_tick = (double)cm_ticks_to_ns(1ull << 32) / 4294967296.0;
    h.run_ns = cm_clock_ns() - start_ns - wait_ns;
    write_all(fd, &h, sizeof(h));
    for (uint32_t i = 0; i < n + nk; i++) {
        uint32_t id = i < n ? i : CM_OBS_MAX - 1 - (i - n);
        const struct cm_obs_fn *o = &cm_obs_fns[id].fn;
        struct cm_obs_filefn ff = {0};
        snprintf(ff.name, sizeof(ff.name), "%s", cm_obs_names[id][0]);
        snprintf(ff.object, sizeof(ff.object), "%s", cm_obs_names[id][1]);
        ff.calls = __atomic_load_n(&o->calls, __ATOMIC_RELAXED);
        ff.keyed = __atomic_load_n(&o->keyed, __ATOMIC_RELAXED);
        if (ff.keyed > ff.calls) /* increments lost to concurrent calls */
            ff.calls = ff.keyed;
        uint64_t timed = __atomic_load_n(&o->timed, __ATOMIC_RELAXED);
        double ns = (double)cm_ticks_to_ns(__atomic_load_n(&o->ticks, __ATOMIC_RELAXED));
        ff.ns = timed ? (uint64_t)(ns * (double)ff.calls / (double)timed) : 0; /* estimated */
        ff.planned = o->planned;
        ff.how = o->how;
        write_all(fd, &ff, sizeof(ff));
    }
    struct out_ctx *c = calloc(1, sizeof(*c));
    if (c) {
        c->fd = fd;
        c->nobs = n;
        h.threshold = cm_obs_trace_foreach(out_rec, c);
        if (c->n)
            write_all(fd, c->buf, (size_t)c->n * sizeof(c->buf[0]));
        h.ntrace = c->count;
        free(c);
        if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
            cm_log("cannot complete the observation file %s", path);
    }
    close(fd);
}
