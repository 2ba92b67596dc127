/*
 * seg_remote.c - remote-tier counters kept in the shared segment (see seg_remote.h).
 *
 * What it does: keeps a block of 64-bit counters, one per field of struct cm_remote_counters, in
 * the segment header's reserved area (bytes 256..4095 of the file are reserved by seg_int.h and
 * zero in every segment ever created, so no format change is needed: an older segment simply
 * starts at zero). Processes add their totals at exit with relaxed atomic adds; readers sum
 * nothing, they read.
 *
 * What it does not do: per-function remote hits (those travel with the per-function statistics,
 * struct cm_seg_fnstat.hit_remote), any remote I/O.
 */
#include "seg.h"

#include <string.h>

#include "seg_int.h"

#define SEG_REMOTE_OFF 256u /* right after struct seg_hdr */
#define SEG_REMOTE_N (sizeof(struct cm_remote_counters) / sizeof(uint64_t))

_Static_assert(sizeof(struct seg_hdr) <= SEG_REMOTE_OFF, "remote counters after the header");
_Static_assert(SEG_REMOTE_OFF + sizeof(struct cm_remote_counters) <= SEG_HDR_BYTES,
               "remote counters inside the reserved header region");

static uint64_t *counters(struct cm_seg *s)
{
    return (uint64_t *)(s->base + SEG_REMOTE_OFF);
}

void cm_seg_remote_add(struct cm_seg *s, const struct cm_remote_counters *c)
{
    uint64_t d[SEG_REMOTE_N], *w = counters(s);
    memcpy(d, c, sizeof(d));
    for (size_t i = 0; i < SEG_REMOTE_N; i++)
        if (d[i])
            __atomic_fetch_add(&w[i], d[i], __ATOMIC_RELAXED);
}

void cm_seg_remote_get(struct cm_seg *s, struct cm_remote_counters *c)
{
    uint64_t d[SEG_REMOTE_N], *w = counters(s);
    for (size_t i = 0; i < SEG_REMOTE_N; i++)
        d[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
    memcpy(c, d, sizeof(d));
}
