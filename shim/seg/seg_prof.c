/*
 * seg_prof.c - the segment's profile table: which calls earlier runs of `cloudm profile` made.
 *
 * What it does: keeps a set of call digests (the 64-bit hash of a call's canonical key, which
 * already covers the function's identity) so that a profiling run can tell, per distinct call,
 * whether an earlier run made the same call: what a cache kept across runs would have saved.
 * `cloudm profile --reset` empties it.
 *
 * What it does not do: store argument or result bytes (a word holds 48 bits of a digest and a
 * 16-bit run tag, nothing else), take part in caching, or grow: a digest whose SEG_PROF_PROBE
 * slots are all taken is not recorded (the caller counts it as not seen before).
 *
 * DESIGN: one word per slot, (digest & ~0xffff) | run, written once by one CAS from 0 and never
 * modified until a reset stores 0 (relaxed): a process killed at any instruction leaves either
 * the old or the new word, nothing torn, and no lock. Two different digests that agree in their
 * upper 48 bits are one entry (a profile estimate can afford that; caching never looks here).
 * The run tag is nonzero; two runs with equal tags (1 in 65535) see each other as one run.
 */
#include "seg_int.h"

#include <errno.h>
#include <stdbool.h>

#define RUN_MASK ((1ull << SEG_PROF_RUN_BITS) - 1)

int cm_seg_prof_note(struct cm_seg *s, uint64_t h, uint16_t run)
{
    if (run == 0)
        return -1;
    int saved = errno;
    uint64_t tag = h & ~RUN_MASK, word = tag | run;
    if (tag == 0) /* 0 marks a free slot */
        word = (tag = 1ull << SEG_PROF_RUN_BITS) | run;
    int rc = -1;
    for (uint64_t i = 0; i < SEG_PROF_PROBE; i++) {
        uint64_t *slot = &s->prof[(h + i) & s->prof_mask];
        uint64_t w = __atomic_load_n(slot, SEG_MO);
        if (w == 0) {
            if (__atomic_compare_exchange_n(slot, &w, word, false, SEG_MO, SEG_MO)) {
                rc = 0;
                break;
            }
            /* lost the race: w is the winner's word, look at it below */
        }
        if ((w & ~RUN_MASK) == tag) {
            rc = (w & RUN_MASK) != run;
            break;
        }
    }
    errno = saved;
    return rc;
}

uint64_t cm_seg_prof_reset(struct cm_seg *s)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i <= s->prof_mask; i++)
        if (__atomic_exchange_n(&s->prof[i], 0, SEG_MO) != 0)
            n++;
    return n;
}
