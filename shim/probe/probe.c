/*
 * probe.c - probe mode's per-function records: which calls get the full check, the digest of
 * every call's value per key, the findings file at exit.
 *
 * What it does: cm_probe_select() counts a call and decides whether it is checked in full
 * (snapshots, rerun): calls with arguments not seen before first, then up to a quarter of the
 * budget for repeated arguments, at most `calls` per function, one at a time in the process.
 * cm_probe_digest() keeps the first value digest per key (up to PROBE_KEYS keys per function)
 * and remembers the first pair of calls whose values differ.
 *
 * What it does not do: snapshots (snap.c), output counting (pio.c), wording of the findings
 * and the file at exit (findings.c).
 */
#include "probe_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cm_probe_on;
pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
struct probe_fn *probe_fns;
int probe_nfns;
const struct cm_config *probe_cfg;

char probe_path[CM_PATH_MAX];
static unsigned probe_budget = 64;
static int probe_busy; /* a thread owns the snapshot buffers (atomic) */

int cm_probe_setup(const struct cm_config *cfg, const char *path, unsigned calls)
{
    if (!path || !*path || strlen(path) >= sizeof(probe_path))
        return -EINVAL;
    probe_fns = calloc((size_t)cfg->nfunctions + 1, sizeof(*probe_fns));
    if (!probe_fns)
        return -ENOMEM;
    for (int i = 0; i < cfg->nfunctions; i++)
        for (int k = 0; k < PROBE_MAX_FDS; k++)
            probe_fns[i].io_fd[k] = -1;
    probe_nfns = cfg->nfunctions;
    probe_cfg = cfg;
    snprintf(probe_path, sizeof(probe_path), "%s", path);
    if (calls)
        probe_budget = calls;
    cm_probe_on = 1;
    return 0;
}

void cm_probe_after_fork(void)
{
    __atomic_store_n(&probe_busy, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&probe_lock, NULL);
}

/* The slot of key hash h in f's table (inserting it when absent and there is room); NULL when
 * the table is full. *fresh tells whether it was inserted now. */
static struct probe_key *key_slot(struct probe_fn *f, uint64_t h, int *fresh)
{
    *fresh = 0;
    if (!f->keys && !(f->keys = calloc(PROBE_KEYS, sizeof(*f->keys))))
        return NULL;
    if (h == 0)
        h = 1;
    for (uint32_t i = 0; i < PROBE_KEYS; i++) {
        struct probe_key *k = &f->keys[(h + i) & (PROBE_KEYS - 1)];
        if (k->h == h)
            return k;
        if (k->h == 0) {
            if (f->nkeys >= PROBE_KEYS / 2) /* keep probing short: half full is full */
                return NULL;
            k->h = h;
            f->nkeys++;
            *fresh = 1;
            return k;
        }
    }
    return NULL;
}

int cm_probe_select(int func, uint64_t h, uint32_t *callno, int *newkey)
{
    if (func < 0 || func >= probe_nfns)
        return 0;
    struct probe_fn *f = &probe_fns[func];
    pthread_mutex_lock(&probe_lock);
    *callno = ++f->calls;
    int fresh = 0;
    struct probe_key *k = key_slot(f, h, &fresh);
    *newkey = k && fresh;
    int want =
        f->probed < probe_budget && (*newkey || (k && f->repeats_probed < (probe_budget + 3) / 4));
    pthread_mutex_unlock(&probe_lock);
    if (!want)
        return 0;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&probe_busy, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0; /* another thread's call is being checked: this one gets the digest only */
    pthread_mutex_lock(&probe_lock);
    f->probed++;
    if (!*newkey)
        f->repeats_probed++;
    pthread_mutex_unlock(&probe_lock);
    return 1;
}

void cm_probe_release(void)
{
    __atomic_store_n(&probe_busy, 0, __ATOMIC_RELEASE);
}

void cm_probe_digest(int func, uint64_t h, uint64_t digest, uint32_t callno)
{
    if (func < 0 || func >= probe_nfns)
        return;
    struct probe_fn *f = &probe_fns[func];
    pthread_mutex_lock(&probe_lock);
    int fresh;
    struct probe_key *k = key_slot(f, h, &fresh);
    if (k && (fresh || k->callno == 0)) {
        k->digest = digest;
        k->callno = callno;
    } else if (k && k->digest != digest && !f->diff_a) {
        f->diff_a = k->callno;
        f->diff_b = callno;
    }
    pthread_mutex_unlock(&probe_lock);
}

void cm_probe_rerun_differs(int func, uint32_t callno)
{
    if (func < 0 || func >= probe_nfns)
        return;
    pthread_mutex_lock(&probe_lock);
    if (!probe_fns[func].rerun_call)
        probe_fns[func].rerun_call = callno;
    pthread_mutex_unlock(&probe_lock);
}

void cm_probe_note_global(int func, uintptr_t addr, uint32_t size, const char *sym, const char *obj,
                          uint64_t off, int exported)
{
    struct probe_fn *f = &probe_fns[func];
    pthread_mutex_lock(&probe_lock);
    for (int i = 0; i < f->nglobals; i++)
        if (f->globals[i].addr == addr) {
            if (size > f->globals[i].size)
                f->globals[i].size = size;
            goto out;
        }
    if (f->nglobals < PROBE_MAX_GLOBALS) {
        struct probe_global *g = &f->globals[f->nglobals++];
        g->addr = addr;
        g->size = size;
        g->exported = exported;
        g->off = off;
        snprintf(g->sym, sizeof(g->sym), "%s", sym ? sym : "");
        const char *base = strrchr(obj, '/');
        snprintf(g->obj, sizeof(g->obj), "%s", base ? base + 1 : obj);
    }
out:
    pthread_mutex_unlock(&probe_lock);
}

void cm_probe_forget_global(uintptr_t lo, size_t len)
{
    pthread_mutex_lock(&probe_lock);
    for (int f = 0; f < probe_nfns; f++) {
        struct probe_fn *p = &probe_fns[f];
        for (int i = 0; i < p->nglobals;) {
            struct probe_global *g = &p->globals[i];
            if (lo < g->addr + g->size && g->addr < lo + len)
                p->globals[i] = p->globals[--p->nglobals];
            else
                i++;
        }
    }
    pthread_mutex_unlock(&probe_lock);
}

void cm_probe_note_param(int func, int param, int past, uint64_t extent, int64_t declared,
                         const uint64_t *args, const uint64_t *deref)
{
    struct probe_fn *f = &probe_fns[func];
    pthread_mutex_lock(&probe_lock);
    struct probe_param *p = f->params[param];
    if (!p && (p = calloc(1, sizeof(*p)))) {
        p->past = past;
        p->declared = declared;
        f->params[param] = p;
    }
    if (p && p->nobs < PROBE_MAX_OBS) {
        struct probe_obs *o = &p->obs[p->nobs++];
        o->extent = extent;
        memcpy(o->args, args, sizeof(o->args));
        memcpy(o->deref, deref, sizeof(o->deref));
        if (extent > (past && declared > 0 ? (uint64_t)declared : 0))
            p->found = 1;
    }
    pthread_mutex_unlock(&probe_lock);
}
