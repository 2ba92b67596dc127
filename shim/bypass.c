/*
 * bypass.c - calls that cloudm does not cache although their function is configured: counted
 * by reason (the report's "bypass" object) and explained on stderr once per variant and reason,
 * with what to change when something can be changed.
 *
 * What it does not do: decide that a call is bypassed (dispatch.c), call the original (the
 * entry code, or dispatch.c).
 */
#include <stdio.h>

#include "base/base.h"
#include "bypass.h"
#include "seg/seg.h"
#include "tier/tier.h"

const char *const cm_why_names[CM_WHY_N] = {"input_too_large", "value_too_large",
                                            "sensitive_no_key", "too_deep"};

static void size_text(char *buf, size_t n, uint64_t v)
{
    if (v >= (1ull << 30) && v % (1ull << 30) == 0)
        snprintf(buf, n, "%lluG", (unsigned long long)(v >> 30));
    else if (v >= (1ull << 20))
        snprintf(buf, n, "%.1fM", v / 1048576.0);
    else
        snprintf(buf, n, "%lluK", (unsigned long long)(v >> 10));
}

void cm_bypass(struct cm_fn *fn, struct cm_tstats *ts, enum cm_why why, uint64_t bytes)
{
    if (ts)
        CM_STAT_ADD(ts, fn->id, bypassed, 1);
    __atomic_add_fetch(&fn->why[why], 1, __ATOMIC_RELAXED);
    uint32_t bit = 1u << why;
    if (__atomic_fetch_or(&fn->why_logged, bit, __ATOMIC_RELAXED) & bit)
        return;
    char a[32], b[32];
    const char *name = fn->cfg->name;
    switch (why) {
    case CM_WHY_INPUT_SIZE:
        cm_log("%s: calls with an argument over 1 GiB are not cached (bypassed): no setting "
               "lifts this limit",
               name);
        break;
    case CM_WHY_VALUE_SIZE: {
        char m[96], sh[96];
        size_text(a, sizeof(a), cm_mem_max_entry());
        size_text(b, sizeof(b), cm_shared_seg ? cm_seg_max_entry(cm_shared_seg) : 0);
        if (cm_tier_memory && !fn->sensitive)
            snprintf(m, sizeof(m), "the memory tier holds %s (raise memory_size)", a);
        else
            snprintf(m, sizeof(m), "the memory tier is not used");
        if (cm_shared_seg)
            snprintf(sh, sizeof(sh), "the shared tier %s (raise shared_max_entry, up to 1G)", b);
        else
            snprintf(sh, sizeof(sh), "the shared tier is off (add it to tiers)");
        cm_log("%s: a result of %llu bytes is not cached (bypassed): %s, %s", name,
               (unsigned long long)bytes, m, sh);
        break;
    }
    case CM_WHY_DEPTH:
        cm_log("%s: calls nested more deeply than %u MiB of per-thread state holds go straight "
               "to the original (bypassed, too_deep); nothing to set",
               name, CM_NEST_MAX >> 20);
        break;
    default:
        cm_log("%s: sensitive = yes, but the per-user key could not be loaded: calls are not "
               "cached (bypassed); see the message above, or set CLOUDM_KEY_FILE",
               name);
        break;
    }
}
