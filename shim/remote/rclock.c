/*
 * rclock.c - cm_rnow(), the remote client's monotonic clock (backend.h).
 *
 * What it does: CLOCK_MONOTONIC in nanoseconds. A file of its own so that a program linking
 * its own cm_rnow (the keycache server's Redis store) does not pull a second definition out of
 * the cm_rclient archive.
 *
 * What it does not do: anything else.
 */
#include <time.h>

#include "backend.h"

uint64_t cm_rnow(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
