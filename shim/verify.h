/*
 * verify.h - `verify = RATE`: re-checking a sampled fraction of hits against a fresh call of
 * the original, and quarantining a function whose cached value differed (verify.c).
 *
 * What it does not do: lookups (dispatch.c), the segment's table (seg/seg_quar.c).
 */
#ifndef CM_VERIFY_H
#define CM_VERIFY_H

#include <stdint.h>

#include "base/base.h"
#include "frame.h"
#include "key.h"

/* Hits left before this thread re-checks one (a countdown, no random number per hit). */
extern __thread int64_t cm_verify_left __attribute__((tls_model("initial-exec")));

/* Whether this hit of fn is re-checked: one decrement on the hit path of a function with
 * verify > 0, nothing for the others. */
static inline int cm_verify_sample(const struct cm_fn *fn)
{
    if (__builtin_expect(fn->verify_every == 0, 1))
        return 0;
    if (--cm_verify_left > 0)
        return 0;
    cm_verify_left = fn->verify_every;
    return 1;
}

/* The CLOUDM_VERIFY override (-1: none). Call before hooks are installed. */
void cm_verify_setup(double env_rate);

/* verify_every for function c of cfg (0 = never). */
uint32_t cm_verify_every(const struct cm_config *cfg, const struct cm_function *c);

/*
 * A sampled hit: run the original on the caller's arguments (the frame is left as the original
 * left it: the caller gets the fresh value), compare its value with the cached `v` (vlen bytes,
 * the canonical value layout) and on a difference quarantine the function. `ci` may be NULL
 * (the scalar fast path: it is read from the frame). Sets errno as the original left it.
 */
void cm_verify_hit(struct cm_fn *fn, struct cm_frame *f, struct cm_callinfo *ci, const uint8_t *v,
                   uint32_t vlen);

/* The same for the scalar fast path: `cached` holds its value words (dispatch.c). */
void cm_verify_words(struct cm_fn *fn, struct cm_frame *f, const uint64_t *cached);

/* Stop serving fn's function in this process (every variant) and mark it in the shared
 * segment; `part` names what differed (NULL: quarantined by another process). Logs once. */
void cm_verify_quarantine(struct cm_fn *fn, const char *part);

/* Whether another process quarantined fn in the segment (then it is quarantined here too). */
int cm_verify_seg_check(struct cm_fn *fn);

#endif
