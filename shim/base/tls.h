/*
 * tls.h - per-thread buffers of the dispatcher.
 *
 * What it does: hands out this thread's scratch buffers (for keys, values and raw entries larger
 * than the dispatcher's on-stack buffers) and the per-variant buffers that `str` return values
 * live in on a hit ("valid until the next call of that function on this thread"). Buffers grow
 * with mmap/mremap (async-signal-safe, never the host's malloc) and are reused, so steady-state
 * hits allocate nothing; they are released when the thread exits.
 *
 * What it does not do: statistics (stats.c).
 */
#ifndef CM_TLS_H
#define CM_TLS_H

#include <stddef.h>
#include <stdint.h>

enum cm_scratch {
    CM_SCRATCH_KEY = 0, /* argument bytes too large for the stack */
    CM_SCRATCH_VAL,     /* value bytes */
    CM_SCRATCH_RAW,     /* a raw memory-tier entry */
    CM_SCRATCH_FULL,    /* a full (prefix + arguments) shared-tier key */
    CM_SCRATCH_SHV,     /* a value read from the shared tier */
    CM_SCRATCH_N
};

/* A buffer of at least `size` bytes (8-byte aligned), or NULL. Contents are not preserved
 * across growth. */
uint8_t *cm_tls_scratch(enum cm_scratch which, size_t size);

/* The `str` return buffer of variant `id` on this thread, at least `size` bytes, or NULL. */
char *cm_tls_strbuf(uint32_t id, size_t size);

#endif
