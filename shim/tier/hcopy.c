/*
 * hcopy.c - copying a large value to the caller while verifying its checksum, in one pass.
 *
 * What it does: a hit on a large value (a memory-tier ring entry read in place, a blob file
 * mapped from the shared tier) must both verify the value's XXH3-64 checksum and copy each output
 * into the caller's buffer. Doing them one after the other reads the value twice from memory;
 * here each output goes through cm_xxh3_copy (seg.h: 4 KiB chunks, each hashed with the CPU's
 * widest XXH3 code, then copied while it is in L1), so the value is read from memory once. Bytes
 * between the outputs (lengths, the return value, globals) are only hashed. XXH3's streaming
 * form gives the same digest as the one-shot form the writers used. What is hashed is what is
 * copied because the source does not change meanwhile: blob files are never rewritten, and a
 * ring entry overwritten during the copy fails cm_mem_view_ok afterwards.
 *
 * What it does not do: decide what to do when the digest is wrong (the dispatcher runs the
 * original, which rewrites every output: why inout functions never take this path), or any
 * locking.
 */
#include "tier.h"

#include <string.h>

void cm_hcopy_start(struct cm_hcopy *c, const uint8_t *from, const uint8_t *end, uint64_t seed,
                    uint64_t want)
{
    cm_xxh3_reset(&c->st, seed);
    c->done = from;
    c->end = end;
    c->want = want;
}

void cm_hcopy_copy(void *ctx, void *dst, const uint8_t *src, size_t n)
{
    struct cm_hcopy *c = ctx;
    if (src < c->done || src + n > c->end) { /* out of order: cannot happen; never matches */
        c->want = ~cm_xxh3_digest(&c->st);
        memcpy(dst, src, n);
        return;
    }
    if (src > c->done)
        cm_xxh3_update(&c->st, c->done, (size_t)(src - c->done));
    cm_xxh3_copy(&c->st, dst, src, n);
    c->done = src + n;
}

int cm_hcopy_finish(struct cm_hcopy *c)
{
    if (c->end > c->done)
        cm_xxh3_update(&c->st, c->done, (size_t)(c->end - c->done));
    c->done = c->end;
    return cm_xxh3_digest(&c->st) == c->want;
}
