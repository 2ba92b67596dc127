/*
 * seg_remote.h - the remote tier's live counters in the shared segment, for `cloudm stats`.
 */
#ifndef CM_SEG_REMOTE_H
#define CM_SEG_REMOTE_H

#include "remote/cm_remote.h"
#include "seg.h"

/* Add one process's remote counters (relaxed atomics). */
void cm_seg_remote_add(struct cm_seg *s, const struct cm_remote_counters *c);

/* Read the totals over every process that added its counters. */
void cm_seg_remote_get(struct cm_seg *s, struct cm_remote_counters *c);

#endif
