/*
 * obs_int.h - between observe.c (set-up, binding, files) and obscall.c (the per-call path and
 * the trace). Private to shim/observe/.
 *
 * DESIGN: an observation record (struct cm_obs_fn) is written once by bind under the hook lock
 * before its stub is published in any GOT slot (the key plan may be added later, before main:
 * items first, then `planned` with a release store). Afterwards the counting stub (observe.S)
 * changes `calls` and `left` with plain read-modify-write instructions, and the full path
 * (obscall.c) changes `left`, `ticks`, `timed` and `keyed` with relaxed load+store pairs: no
 * locked instruction on any call path, so two threads calling the same function at the same
 * instant may lose an increment (the counts are then slightly low). The trace is per thread
 * (obscall.c).
 *
 * SAMPLING (obscall.c): the first CM_OBS_FULL_FIRST calls of a function take the full path
 * (keyed, traced, timed as below). Then, while at least half of its timed calls took
 * CM_OBS_FULL_NS or more (the median, not the mean: one call preempted for a millisecond must not
 * make a 3 ns function look slow), every call does (keys exact: the full path costs ~20-30 ns, at
 * most ~10 % of such a call); below it the function is cheap, no cache would pay for it, and only
 * about one call in CM_OBS_SAMPLE_EVERY takes the full path (random gaps), one sampled call in
 * CM_OBS_TIME_SAMPLED timed (reading the cycle counter twice costs ~150 ns in a virtual machine
 * that traps rdtsc, more than the rest of the sampled call: timing them all cost ~1 ns per call
 * of a cheap function): the count stays exact, the time is estimated from the timed calls' mean
 * and the repeats from the sampled keys (the tool's estimator, docs/discover.md).
 */
#ifndef CM_OBS_INT_H
#define CM_OBS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cloudm_discover.h"
#include "frame.h"

#define CM_OBS_KEY_MAX 16       /* planned key items per function */
#define CM_OBS_TIME_ALL 64      /* the first calls of a function are all timed */
#define CM_OBS_TIME_EVERY 64    /* then one full call in this many, at random (a power of two) */
#define CM_OBS_FULL_FIRST 64    /* the first calls of every function take the full path */
#define CM_OBS_FULL_NS 250      /* functions at least this slow (mean ns) keep the full path */
#define CM_OBS_SAMPLE_EVERY 128 /* cheaper ones: one call in about this many (a power of two) */
#define CM_OBS_TIME_SAMPLED 16  /* and one sampled call in this many timed (a power of two) */

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
    void *orig;    /* offsets shared with struct cm_fn (frame.h CM_FN_ORIG, CM_FN_NSTACK) */
    uint32_t slow; /* timed calls of at least CM_OBS_FULL_NS (the entry code reads no flags here) */
    uint32_t nstack; /* stack words passed on */
    uint64_t calls;  /* every call: the counting stub's plain add (frame.h CM_OBS_CALLS) */
    int64_t left;    /* calls the counting stub lets by before the next full one (CM_OBS_LEFT) */
    uint64_t ticks;  /* of the timed calls; relaxed load+store */
    uint64_t timed;  /* calls timed */
    uint64_t keyed;  /* calls that took the full path (keyed and traced) */
    uint32_t id;
    uint8_t nkey;
    uint8_t planned; /* keyed by the plan's items; else by every argument register */
    uint8_t how;
    uint8_t pad;
    struct cm_obs_item key[CM_OBS_KEY_MAX];
    /* the name and object live beside, in observe.c: no call reads them */
};
_Static_assert(sizeof(struct cm_obs_fn) <= CM_OBS_FN_SIZE, "frame.h CM_OBS_FN_SIZE");
_Static_assert(offsetof(struct cm_obs_fn, calls) == CM_OBS_CALLS, "frame.h CM_OBS_CALLS");
_Static_assert(offsetof(struct cm_obs_fn, left) == CM_OBS_LEFT, "frame.h CM_OBS_LEFT");

union cm_obs_slot {
    struct cm_obs_fn fn;
    char pad[CM_OBS_FN_SIZE];
};

extern union cm_obs_slot cm_obs_fns[CM_OBS_MAX];
/* per record: function name, defining object's path (obsplan.c; written by observe.c's bind) */
extern const char *cm_obs_names[CM_OBS_MAX][2];

/* obsplan.c: a key plan (include/cloudm_discover.h's line format). */
struct cm_obs_plan {
    char *name;
    uint32_t nstack;
    uint8_t nkey;
    struct cm_obs_item key[CM_OBS_KEY_MAX];
};
/* Parse one plan line in place (name points into it). 0 or -EINVAL. */
int cm_obs_plan_line(char *line, struct cm_obs_plan *p);
/* Load the plan file (CLOUDM_DISCOVER_SPEC); cm_obs_plan_for() finds its plans by name. */
void cm_obs_plan_load(const char *path);
const struct cm_obs_plan *cm_obs_plan_for(const char *name);
/* Key record o by plan p (unless it was keyed already). */
void cm_obs_plan_apply(struct cm_obs_fn *o, const struct cm_obs_plan *p);
/* Ask the command listening on DIR/plan.sock for the plans of records ids[0..n) and apply
 * them. 0, -ENOENT (nobody listens), or another negative errno (logged once). */
int cm_obs_plan_ask(const char *dir, const uint32_t *ids, int n);

/* CLOUDM_DISCOVER_SAMPLE=off: every call takes the full path (read once at start-up). */
extern int cm_obs_every_call;

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
