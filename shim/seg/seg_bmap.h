/*
 * seg_bmap.h - inside shim/seg/ only: a process's kept mappings of hot blob files (seg_bmap.c),
 * used by seg_blob.c and seg.c. Handles are 1-based slot numbers; 0 means "not kept".
 */
#ifndef CM_SEG_BMAP_H
#define CM_SEG_BMAP_H

#include "seg_int.h"

/* A kept mapping of blob (h0, h1, id) of segment s whose reference says (len, csum): takes a
 * reference and returns its handle (map, maplen set), or 0. No system call. */
int seg_bmap_get(const struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t id, uint64_t len,
                 uint64_t csum, void **map, uint64_t *maplen);

/* Offer a mapping the caller made and checked: 0 when it is not kept (the caller unmaps it as
 * usual), else a handle holding the caller's reference (the mapping is then the table's). */
int seg_bmap_keep(const struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t id, uint64_t len,
                  uint64_t csum, void *map, uint64_t maplen);

/* Release a reference taken by seg_bmap_get or seg_bmap_keep. */
void seg_bmap_put(int handle);

/* Forget the mapping of a handle (a check failed on it); the caller's reference stays valid. */
void seg_bmap_drop_one(int handle);

/* Forget every kept mapping of s (NULL: of every segment); each is unmapped once unused. */
void seg_bmap_drop(const struct cm_seg *s);

#endif
