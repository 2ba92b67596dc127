/*
 * bypass.h - counting and explaining bypassed calls (bypass.c).
 *
 * What it does not do: decide what is bypassed (dispatch.c).
 */
#ifndef CM_BYPASS_H
#define CM_BYPASS_H

#include <stdint.h>

#include "base/base.h"

/* Count a bypassed call of fn (ts may be NULL: only the per-reason count) and, the first time
 * for this variant and reason, say why on stderr. `bytes`: the value's size (CM_WHY_VALUE_SIZE). */
void cm_bypass(struct cm_fn *fn, struct cm_tstats *ts, enum cm_why why, uint64_t bytes);

#endif
