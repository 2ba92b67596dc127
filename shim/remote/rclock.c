/*
 * rclock.c - the monotonic clock every remote backend and the writer measure deadlines with
 * (cm_rnow, backend.h). Also compiled into the keycache for its Redis store.
 *
 * What it does not do: wall-clock time, timeouts themselves (each caller keeps its deadline).
 */
#include "backend.h"

#include <time.h>

uint64_t cm_rnow(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
