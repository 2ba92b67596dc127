/*
 * obs_int.h - between observe.c (set-up, binding, files) and obscall.c (the per-call path and
 * the trace). Private to shim/observe/.
 *
 * DESIGN: an observation record (struct cm_obs_fn) is written once by bind under the hook lock
 * before its stub is published in any GOT slot; afterwards only `calls` and `ticks` change,
 * with relaxed load+store pairs (no locked instruction on the call path: two threads calling
 * the same function at the same instant may lose an increment; the counts are estimates). The
 * trace is per thread (obscall.c).
 */
#ifndef CM_OBS_INT_H
#define CM_OBS_INT_H

#include <stdint.h>

#include "cloudm_discover.h"
#include "frame.h"

#define CM_OBS_KEY_MAX 16    /* planned key items per function */
#define CM_OBS_TIME_ALL 64   /* the first calls of a function are all timed */
#define CM_OBS_TIME_EVERY 64 /* then one call in this many, at random (a power of two) */

enum {
    OBS_K_GPR = 'g',
    OBS_K_XMM = 'x',
    OBS_K_STACK = 'k',
    OBS_K_STR = 's',
    OBS_K_STRSTACK = 't',
    OBS_K_MEM = 'm' /* bytes at register pos, length in register `width` x `pad` */
};

struct cm_obs_item {
    uint8_t kind;  /* OBS_K_* */
    uint8_t pos;   /* register or stack word */
    uint8_t width; /* bytes keyed (1..8; strings: 0; OBS_K_MEM: the length's register) */
    uint8_t pad;   /* OBS_K_MEM: element size */
};

struct cm_obs_fn {
    void *orig;      /* offsets shared with struct cm_fn (frame.h CM_FN_ORIG, CM_FN_NSTACK) */
    uint32_t flags;  /* always 0 */
    uint32_t nstack; /* stack words passed on */
    uint64_t calls;  /* relaxed load+store */
    uint64_t ticks;  /* of the timed calls; relaxed load+store */
    uint64_t timed;  /* calls timed (the first CM_OBS_TIME_ALL, then 1 in CM_OBS_TIME_EVERY) */
    uint32_t id;
    uint8_t nkey;
    uint8_t planned; /* keyed by the plan's items; else by every argument register */
    uint8_t how;
    uint8_t pad;
    struct cm_obs_item key[CM_OBS_KEY_MAX];
    const char *name;
    const char *object;
};
_Static_assert(sizeof(struct cm_obs_fn) <= CM_OBS_FN_SIZE, "frame.h CM_OBS_FN_SIZE");

union cm_obs_slot {
    struct cm_obs_fn fn;
    char pad[CM_OBS_FN_SIZE];
};

extern union cm_obs_slot cm_obs_fns[CM_OBS_MAX];

/* What reading the clock twice costs (ticks), subtracted from every timed call; measured by
 * cm_obs_calibrate() at start-up (the least of 64 tries). */
extern uint64_t cm_obs_tick_bias;
void cm_obs_calibrate(void);

/* The C half of cm_obs_entry. */
void cm_obs_call(struct cm_frame *f);

/* The trace: every traced record with hash <= the final threshold, in call order per thread.
 * `each` is called for each record; returns the threshold in use. */
uint64_t cm_obs_trace_foreach(void (*each)(const struct cm_obs_trace *t, void *ctx), void *ctx);

/* fork child: forget the parent's counts and trace. */
void cm_obs_after_fork(void);

#endif
