/*
 * shared.h - the shared tier as the dispatcher sees it: full keys, lookups, stores,
 * single-flight and live statistics on top of the segment (seg.h).
 */
#ifndef CM_SHARED_H
#define CM_SHARED_H

#include <stdint.h>

#include "cm_config.h"
#include "fn.h"
#include "seg.h"

extern struct cm_seg *cm_shared_seg; /* NULL: the tier is off (not configured, or refused) */

/* Open the segment named by the config (one message and no tier on any failure). */
void cm_shared_init(const struct cm_config *cfg);

/* Register a new variant's statistics slot (called by bind). */
void cm_shared_bind(struct cm_fn *fn);

/* The full key of a call: the 16-byte digest of the identity prefix ‖ canonical argument bytes,
 * and its XXH3-128. */
struct cm_fullkey {
    const uint8_t *k;
    uint32_t len;
    uint8_t h[16];
};

/* Build fk from the argument bytes; `buf` (cap bytes) is used when it is large enough, else a
 * per-thread scratch buffer. Returns 0 or -1. */
int cm_shared_key(const struct cm_fn *fn, const uint8_t *args, uint32_t alen, uint8_t *buf,
                  uint32_t cap, struct cm_fullkey *fk);

/* Look up; on success *v points to a per-thread copy of the value. Returns its length or -1. */
long cm_shared_get(const struct cm_fullkey *fk, const uint8_t **v);

void cm_shared_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen);

/*
 * Single-flight around computing fk. Returns CM_FLIGHT_COMPUTE_DONE (the caller computes, then
 * calls cm_shared_flight_end(ticket)), CM_FLIGHT_COMPUTE (compute, nothing to release) or
 * CM_FLIGHT_LOOK_AGAIN (another process finished computing: look the entry up again).
 */
enum { CM_FLIGHT_COMPUTE = 0, CM_FLIGHT_COMPUTE_DONE = 1, CM_FLIGHT_LOOK_AGAIN = 2 };
int cm_shared_flight_begin(struct cm_fn *fn, const struct cm_fullkey *fk, uint32_t *ticket);
void cm_shared_flight_end(uint32_t ticket);

/* Record a miss's duration (for singleflight = auto and the wait bound). */
void cm_shared_note_miss(struct cm_fn *fn, uint64_t ns);

/* Mean duration of a miss of this function over every process that pushed statistics to the
 * segment (0 when unknown): what a hit saved, for a process that never ran the function. */
uint64_t cm_shared_mean_miss_ns(const struct cm_fn *fn);

/* Push this process's counters to the segment: every second from slow paths, and at exit. */
void cm_shared_flush_stats(int force);

#endif
