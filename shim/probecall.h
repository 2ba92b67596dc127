/*
 * probecall.h - one call in probe mode (probecall.c), called by the dispatcher.
 */
#ifndef CM_PROBECALL_H
#define CM_PROBECALL_H

#include <stdint.h>

#include "base/base.h"
#include "frame.h"
#include "key.h"

/* Run the original for this call (guard set on entry and on return) with the probe's checks;
 * *err receives errno after the original. Returns the call's duration in nanoseconds. */
uint64_t cm_probe_dispatch(struct cm_frame *f, struct cm_fn *fn, struct cm_callinfo *ci, uint64_t h,
                           int *err);

#endif
