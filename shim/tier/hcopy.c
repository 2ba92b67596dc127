/*
 * hcopy.c - copying a large value to the caller while verifying its checksum, in one pass.
 *
 * What it does: a hit on a large value (a memory-tier ring entry read in place, a blob file
 * mapped from the shared tier) must both verify the value's XXH3-64 checksum and copy each output
 * into the caller's buffer. Doing them one after the other reads the value twice from memory;
 * here each output is copied in chunks of CHUNK bytes and every chunk is hashed from the
 * destination right after, while it is still in the core's cache, so the value is read from
 * memory once. Bytes between the outputs (lengths, the return value, globals) are hashed from the
 * source. XXH3's streaming form gives the same digest as the one-shot form the writers used.
 *
 * What it does not do: decide what to do when the digest is wrong (the dispatcher runs the
 * original, which rewrites every output: why inout functions never take this path), or any
 * locking.
 */
#include "tier.h"

#include <string.h>

#include <xxhash.h>

#define CHUNK (64u << 10) /* fits L2 with room for the source's lines */

void cm_hcopy_start(struct cm_hcopy *c, const uint8_t *from, const uint8_t *end, uint64_t seed,
                    uint64_t want)
{
    XXH3_64bits_reset_withSeed(&c->st, seed);
    c->done = from;
    c->end = end;
    c->want = want;
}

void cm_hcopy_copy(void *ctx, void *dst, const uint8_t *src, size_t n)
{
    struct cm_hcopy *c = ctx;
    if (src < c->done || src + n > c->end) { /* out of order: cannot happen; never matches */
        c->want = ~XXH3_64bits_digest(&c->st);
        memcpy(dst, src, n);
        return;
    }
    if (src > c->done)
        XXH3_64bits_update(&c->st, c->done, (size_t)(src - c->done));
    uint8_t *d = dst;
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t k = n - at < CHUNK ? n - at : CHUNK;
        memcpy(d + at, src + at, k);
        XXH3_64bits_update(&c->st, d + at, k);
    }
    c->done = src + n;
}

int cm_hcopy_finish(struct cm_hcopy *c)
{
    if (c->end > c->done)
        XXH3_64bits_update(&c->st, c->done, (size_t)(c->end - c->done));
    c->done = c->end;
    return XXH3_64bits_digest(&c->st) == c->want;
}
