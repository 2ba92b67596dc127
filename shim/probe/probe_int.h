/*
 * probe_int.h - the state shared by the files of shim/probe/ (probe.c owns it): per configured
 * function, the counts, the digest table, and what was found. Private to shim/probe/.
 *
 * DESIGN: one mutex (probe_lock) protects every field below except the I/O counters, which are
 * relaxed atomics (the output wrappers may run in signal handlers and never take the lock).
 * Records are allocated on a function's first call and never freed before exit.
 */
#ifndef CM_PROBE_INT_H
#define CM_PROBE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "probe.h"

#define PROBE_MAX_GLOBALS 16 /* undeclared globals remembered per function */
#define PROBE_MAX_OBS 64     /* observations per parameter (= the most calls probed, capped) */
#define PROBE_KEYS 4096      /* distinct keys whose digests are kept per function */
#define PROBE_MAX_FDS 8      /* descriptors counted per function */

struct probe_global {
    uintptr_t addr;
    uint32_t size;
    int exported;
    uint64_t off;
    char sym[CM_NAME_MAX]; /* "" when no symbol names it */
    char obj[64];          /* basename of the object */
};

struct probe_obs {
    uint64_t extent;
    uint64_t args[CM_MAX_PARAMS];
    uint64_t deref[CM_MAX_PARAMS]; /* 8 bytes at each pointer parameter after the call (or 0) */
};

struct probe_param {
    int past;         /* out/inout: observations are of writes past the declared size */
    int64_t declared; /* declared size in the first observation (-1 unknown) */
    uint32_t nobs;
    int found; /* some observation wrote something */
    struct probe_obs obs[PROBE_MAX_OBS];
};

struct probe_key {
    uint64_t h; /* key hash; 0 = empty (a real 0 is stored as 1) */
    uint64_t digest;
    uint32_t callno; /* first call with this key */
};

struct probe_fn {
    uint32_t calls, probed, repeats_probed;
    uint32_t nkeys;
    struct probe_key *keys;  /* PROBE_KEYS slots, open addressing */
    uint32_t diff_a, diff_b; /* first two calls with the same key and different values (0: none) */
    uint32_t rerun_call;     /* first call whose immediate rerun differed (0: none) */
    int nglobals;
    struct probe_global globals[PROBE_MAX_GLOBALS];
    struct probe_param *params[CM_MAX_PARAMS];
    int io_fd[PROBE_MAX_FDS];         /* -1: free (written once under the io spin flag) */
    uint64_t io_calls[PROBE_MAX_FDS]; /* relaxed atomics */
};

extern pthread_mutex_t probe_lock;
extern struct probe_fn *probe_fns; /* one per config function */
extern int probe_nfns;
extern const struct cm_config *probe_cfg;
extern char probe_path[CM_PATH_MAX]; /* CLOUDM_PROBE as given (%p expanded when written) */

#endif
