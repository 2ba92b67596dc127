/*
 * kc_touch.c - the pending access-time table (kc_touch.h).
 *
 * What it does: two fixed-size open-addressing hash tables (SLOTS each, linear probing, FNV-1a)
 * behind one mutex. Readers insert into the active table (or raise the time of a key already
 * there); a drain swaps the tables under the mutex and walks the full one without holding it,
 * so readers wait only for the swap. At 1/4 full the table asks for a drain (the pressure
 * callback); at 3/4 full further new keys are dropped until the next drain: memory is fixed
 * (2 x SLOTS x ~270 bytes) whatever the read rate.
 *
 * What it does not do: no resizing, no persistence, no ordering.
 *
 * DESIGN: `mu` guards `active` and the active table; `drain_mu` serializes drains, so the
 * inactive table belongs to the one draining thread until it is emptied and swapped back in.
 */
#include "kc_touch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16384 /* per table, a power of two */

struct slot {
    uint64_t ms; /* 0 = empty */
    uint16_t len;
    char key[KC_TOUCH_KEY_MAX];
};

struct table {
    struct slot *slot; /* SLOTS */
    size_t used;
};

struct kc_touch {
    pthread_mutex_t mu;       /* guards active and tables[active] */
    pthread_mutex_t drain_mu; /* one drain at a time */
    struct table tables[2];
    int active;
    bool warned;      /* pressure called since the last drain (guarded by mu) */
    uint64_t dropped; /* relaxed atomic */
    void (*pressure)(void *ctx);
    void *pressure_ctx;
};

struct kc_touch *kc_touch_new(void (*pressure)(void *ctx), void *ctx)
{
    struct kc_touch *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->tables[0].slot = calloc(SLOTS, sizeof(struct slot));
    t->tables[1].slot = calloc(SLOTS, sizeof(struct slot));
    if (t->tables[0].slot == NULL || t->tables[1].slot == NULL) {
        free(t->tables[0].slot);
        free(t->tables[1].slot);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->drain_mu, NULL);
    t->pressure = pressure;
    t->pressure_ctx = ctx;
    return t;
}

void kc_touch_free(struct kc_touch *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->drain_mu);
    free(t->tables[0].slot);
    free(t->tables[1].slot);
    free(t);
}

static uint64_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

void kc_touch_record(struct kc_touch *t, const char *key, size_t klen, uint64_t ms)
{
    size_t i = (size_t)hash(key, klen) & (SLOTS - 1);
    struct table *tb;
    bool warn = false;

    if (klen == 0 || klen > KC_TOUCH_KEY_MAX || ms == 0)
        return;
    pthread_mutex_lock(&t->mu);
    tb = &t->tables[t->active];
    for (;; i = (i + 1) & (SLOTS - 1)) {
        struct slot *e = &tb->slot[i];

        if (e->ms == 0) {
            if (tb->used >= SLOTS / 4 * 3) {
                __atomic_fetch_add(&t->dropped, 1, __ATOMIC_RELAXED);
                break;
            }
            e->ms = ms;
            e->len = (uint16_t)klen;
            memcpy(e->key, key, klen);
            tb->used++;
            if (tb->used >= SLOTS / 4 && !t->warned) {
                t->warned = true;
                warn = t->pressure != NULL;
            }
            break;
        }
        if (e->len == klen && memcmp(e->key, key, klen) == 0) {
            if (ms > e->ms)
                e->ms = ms;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (warn)
        t->pressure(t->pressure_ctx);
}

int kc_touch_drain(struct kc_touch *t,
                   int (*fn)(void *ctx, const char *key, size_t klen, uint64_t ms), void *ctx)
{
    struct table *tb;
    int rc = 0;

    pthread_mutex_lock(&t->drain_mu);
    pthread_mutex_lock(&t->mu);
    tb = &t->tables[t->active];
    t->active ^= 1;
    t->warned = false;
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; rc == 0 && tb->used > 0 && i < SLOTS; i++)
        if (tb->slot[i].ms != 0)
            rc = fn(ctx, tb->slot[i].key, tb->slot[i].len, tb->slot[i].ms);
    if (tb->used > 0)
        memset(tb->slot, 0, SLOTS * sizeof(*tb->slot));
    tb->used = 0;
    pthread_mutex_unlock(&t->drain_mu);
    return rc;
}

uint64_t kc_touch_dropped(struct kc_touch *t)
{
    return __atomic_load_n(&t->dropped, __ATOMIC_RELAXED);
}
