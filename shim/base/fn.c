/*
 * fn.c - the definitions behind base.h's shared state: the variant table cm_fns (one descriptor
 * per hooked implementation, indexed like the entry stubs), how many are bound, the per-thread
 * recursion guard, and whether the memory tier is in use.
 *
 * What it does not do: fill them (bind.c binds variants, init.c sets the tiers, the dispatcher
 * and every slow path set the guard). They live here, at the bottom of the dependency order, so
 * the tiers and the counters can read them without depending on the dispatcher.
 */
#include "base.h"

__thread int cm_guard __attribute__((tls_model("initial-exec")));

union cm_fn_slot cm_fns[CM_MAX_VARIANTS] __attribute__((aligned(64)));
uint32_t cm_nfns;       /* variants bound so far (atomic) */
int cm_tier_memory = 1; /* [cache] tiers includes memory (set by init) */
