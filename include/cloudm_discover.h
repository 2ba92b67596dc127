/*
 * cloudm_discover.h - what `cloudm discover` and libcloudm.so's observation mode exchange.
 *
 * What it does: fixes the two files of an observation run. The tool writes a *key plan*
 * (CLOUDM_DISCOVER_SPEC, text, one function a line) saying how to key each function whose
 * prototype it knows; each observed process writes one *observation file* (binary, below) into
 * the directory named by CLOUDM_DISCOVER when it exits. Both sides include this header; the
 * format word changes whenever a struct does.
 *
 * Key plan line: `NAME NSTACK ITEM,ITEM,...` (or `NAME NSTACK -` for no keyed parameter).
 * NSTACK is the number of 8-byte stack argument words to pass on. An ITEM is a letter, a
 * position and a width: `gP.W` integer or pointer in argument register P (0 = rdi .. 5 = r9),
 * keyed by its low W bytes; `xP.W` float in xmm P; `kS.W` integer in stack word S; `sP` the
 * string pointed to by register P, keyed by content (NULL distinct from ""); `tS` a string
 * pointer in stack word S; `mP.Q.E` the bytes at register P, (register Q) x E of them, keyed by
 * content (at most CM_OBS_BUF_MAX). Functions not in the plan are keyed by every argument register
 * (rdi..r9 and the low 8 bytes of xmm0-7) and passed CM_OBS_STACK_WORDS stack words.
 *
 * What it does not do: no logic; observation itself is shim/observe/.
 */
#ifndef CLOUDM_DISCOVER_H
#define CLOUDM_DISCOVER_H

#include <stdint.h>

#define CM_OBS_MAGIC "cmobs\0\0\1"
#define CM_OBS_NAME_MAX 128
#define CM_OBS_PATH_MAX 256
#define CM_OBS_STACK_WORDS 8 /* stack words passed on when the prototype is unknown */
#define CM_OBS_STR_MAX 4096  /* string bytes hashed into a key at most */
#define CM_OBS_BUF_MAX                                                                             \
    65536 /* buffer bytes hashed into a key at most (longer: the first ones                        \
             and the length) */

/* File: header, nfn function records, then ntrace trace records. */
struct cm_obs_filehdr {
    char magic[8];
    uint32_t format; /* CM_OBS_FORMAT */
    uint32_t nfn;
    uint64_t ntrace;
    uint64_t threshold; /* a call was traced iff its 48-bit key hash <= threshold (SHARDS
                           rate: (threshold + 1) / 2^48) */
    double ns_per_tick;
    uint64_t run_ns; /* from start-up to exit */
    int32_t pid;
    uint32_t pad;
};

struct cm_obs_filefn {
    char name[CM_OBS_NAME_MAX];
    char object[CM_OBS_PATH_MAX]; /* the defining object's path */
    uint64_t calls;   /* every call (exact but for increments lost to concurrent calls) */
    uint64_t keyed;   /* calls keyed and traced: all of them when keyed == calls, else a
                         random sample (the function was cheap: docs/discover.md) */
    uint64_t ns;      /* inclusive time in the function (estimated from the timed calls) */
    uint32_t planned; /* 1: keyed by the tool's plan (prototype), 0: by registers */
    uint32_t how;     /* 0: GOT slot or dlsym, 1: inline hook */
};

/* One traced call, 8 bytes: the function's index + 1 in the top 16 bits (0 = unused record),
 * the top 48 bits of the call's key hash below. */
struct cm_obs_trace {
    uint64_t word;
};
#define CM_OBS_HASH_MASK ((1ull << 48) - 1)
#define CM_OBS_TRACE(fn1, h48) ((uint64_t)(fn1) << 48 | (h48))
#define CM_OBS_TRACE_FN(w) ((uint32_t)((w) >> 48))
#define CM_OBS_TRACE_HASH(w) ((w)&CM_OBS_HASH_MASK)

#define CM_OBS_FORMAT                                                                              \
    ((uint32_t)(1u << 24 | sizeof(struct cm_obs_filehdr) << 12 | sizeof(struct cm_obs_filefn)))

#endif
