/*
 * key.h - turning a call into canonical key bytes, and a result into value bytes and back.
 *
 * What it does: reads each parameter from the entry frame by its ABI placement, encodes the
 * arguments that identify a call (docs/keys.md), encodes everything a hit must reproduce (return
 * value, output buffers, written globals, errno), and restores such a value into the caller's
 * registers and memory.
 *
 * What it does not do: hashing, lookups, storage, statistics.
 */
#ifndef CM_KEY_H
#define CM_KEY_H

#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "frame.h"

/* Per-call facts gathered while measuring the key, reused when writing it. */
struct cm_callinfo {
    uint64_t args[CM_MAX_PARAMS];    /* raw values, integers extended from their declared width */
    uint64_t len[CM_MAX_PARAMS];     /* str/in/inout: bytes keyed; out: capacity (if known) */
    uint64_t aux[CM_MAX_PARAMS];     /* ptr: offset in its object; handle: integer or str length;
                                        i128/u128/c64: the second eightbyte */
    const void *auxp[CM_MAX_PARAMS]; /* ptr: struct cm_object *; handle(:str): the string */
    uint8_t tag[CM_MAX_PARAMS];      /* encoding tag of pointer-like parameters (0 = NULL) */
    uint8_t process_local;           /* some ptr was keyed by raw address */
    uint8_t too_large;               /* cm_key_measure failed because an input is over 1 GiB */
    uint8_t dig[CM_MAX_PARAMS][32];  /* str/in/inout over CM_KEY_DIGEST_MIN: its digest */
};

/* Inputs (str, in, inout) longer than this enter the key as their length and a digest
 * (XXH3-128, or SHA-256 when the function's keys reach the remote tier): docs/keys.md. */
#define CM_KEY_DIGEST_MIN 1024u
#define CM_VALUE_MAX (1ull << 30) /* largest value any tier holds */
#define CM_KEY_FORMAT 2           /* the u16 after "CMK1" in every identity prefix */

/* Read parameters from the frame into ci->args. */
void cm_args_read(const struct cm_fn *fn, const struct cm_frame *f, struct cm_callinfo *ci);

/* Size of the argument part of the key, or -1 when it cannot be computed (an input size
 * expression was undefined, a handle function failed, or an input is over 1 GiB: then
 * ci->too_large is set). Fills ci, digests of large inputs included (computed once here). */
int64_t cm_key_measure(const struct cm_fn *fn, struct cm_callinfo *ci);

/* Write the argument part of the key (exactly cm_key_measure() bytes). */
void cm_key_write(const struct cm_fn *fn, const struct cm_callinfo *ci, uint8_t *out);

/* After the original returned: size of the value, or -1 when the result cannot be cached (an
 * output size expression was undefined, a ptr(NAME) return outside its buffer). Sets the
 * output lengths in ci->len. */
int64_t cm_value_measure(const struct cm_fn *fn, const struct cm_frame *f, struct cm_callinfo *ci);

/* Write the value (exactly cm_value_measure() bytes); `err` is errno after the call. */
void cm_value_write(const struct cm_fn *fn, const struct cm_frame *f, const struct cm_callinfo *ci,
                    int err, uint8_t *out);

/* Restore a value: check its structure completely first, then set the return registers in f
 * and write outputs, globals and errno. Returns 0, or -1 (nothing was written) if the value is
 * malformed or a needed allocation failed. */
int cm_value_restore(const struct cm_fn *fn, struct cm_frame *f, const struct cm_callinfo *ci,
                     const uint8_t *v, uint32_t vlen);

/* The same, copying each output buffer with copy(ctx, dst, src, n) instead of memcpy, in the
 * order the outputs lie in v (so a copier can checksum the value while it copies it). */
int cm_value_restore_with(const struct cm_fn *fn, struct cm_frame *f, const struct cm_callinfo *ci,
                          const uint8_t *v, uint32_t vlen,
                          void (*copy)(void *ctx, void *dst, const uint8_t *src, size_t n),
                          void *ctx);

/* A cursor over value bytes that refuses to run past the end (restoring a value here, comparing
 * two in verify.c). Inline: it is on the restore path of every hit. */
struct cm_vcur {
    const uint8_t *p, *end;
};

/* The next n bytes, or NULL (cursor unchanged) when fewer are left. */
static inline const uint8_t *cm_vcur_take(struct cm_vcur *c, uint64_t n)
{
    if ((uint64_t)(c->end - c->p) < n)
        return NULL;
    const uint8_t *q = c->p;
    c->p += n;
    return q;
}

/* The next 4 bytes as a u32 (host order) into *v: 0, or -1 when fewer are left. */
static inline int cm_vcur_u32(struct cm_vcur *c, uint32_t *v)
{
    const uint8_t *q = cm_vcur_take(c, 4);
    if (!q)
        return -1;
    memcpy(v, q, 4);
    return 0;
}

/* Build the identity prefix of fn's keys (docs/keys.md) into a malloc'd buffer. */
int cm_key_prefix(struct cm_fn *fn, const char *ns);

#endif
