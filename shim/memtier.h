/*
 * memtier.h - the per-process memory tier (see memtier.c for the design).
 */
#ifndef CM_MEMTIER_H
#define CM_MEMTIER_H

#include <stdint.h>

/* Reserve `size` bytes (memory_size). Returns 0, or -1 (then every get misses, every put fails). */
int cm_mem_init(uint64_t size);

/* Largest entry (header + key + value) the ring accepts. */
uint64_t cm_mem_max_entry(void);

/*
 * Find (fn, key) and copy its value into v. `scratch` (8-byte aligned, scap bytes) receives the
 * raw entry for ring entries. Returns the value length, -1 on a miss, or -2 when v or scratch is
 * too small: *need is then the size that both must have for a retry.
 */
long cm_mem_get(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, uint8_t *v,
                uint32_t vcap, uint8_t *scratch, uint32_t scap, uint32_t *need);

/* Store (fn, key) -> value; best effort (returns -1 when not stored: slot busy, too big).
 * `scratch` (8-byte aligned) must hold header + key + value + 8. */
int cm_mem_put(uint32_t fn, uint64_t h, const uint8_t *k, uint32_t klen, const uint8_t *v,
               uint32_t vlen, uint8_t *scratch, uint32_t scap);

#endif
