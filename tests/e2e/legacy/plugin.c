/*
 * plugin.c - libplugin.so, loaded only with dlopen by prog/dl.c (never linked).
 *
 * What it does: plugin_cube is memoized itself (found through dlsym); plugin_sum_sq calls
 * liblegacy's lg_sq through the plugin's own PLT, a GOT slot that exists only after dlopen and
 * must be patched before dlopen returns. plugin_execs counts plugin_cube's real executions.
 *
 * What it does not do: run memoized code from its constructor (there is none).
 */
#include "legacy.h"

#include <stdint.h>

unsigned long plugin_execs;

int64_t plugin_cube(int64_t x)
{
    __atomic_fetch_add(&plugin_execs, 1, __ATOMIC_RELAXED);
    return x * x * x - 2 * x;
}

int64_t plugin_sum_sq(int32_t n)
{
    int64_t s = 0;
    for (int32_t i = 0; i < n; i++)
        s += lg_sq(i);
    return s;
}
