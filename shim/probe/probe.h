/*
 * probe.h - the interface of shim/probe/: `cloudm probe`, the mode that checks a config against
 * the running program (docs/cli.md, "cloudm probe").
 *
 * What it does: keeps, per configured function, what probing found: writes to globals the
 * config does not declare (snap.c: writable segments of loaded objects, before and after a
 * call), writes through pointer parameters beyond what the signature declares (snap.c), calls
 * with the same key but different results (probe.c: a digest per key), output made while the
 * function runs (pio.c: GOT wrappers of libc's output functions), and at exit turns all of it
 * into one line per finding with the config change that fixes it (findings.c), written to the
 * file named by CLOUDM_PROBE for the `cloudm probe` command.
 *
 * What it does not do: keys and values (the core's key.c builds them; the core's probecall.c
 * drives one probed call and hands this module raw facts), hooking (shim/hook/ installs the
 * wrappers this module provides), any caching: in probe mode every call runs the original.
 * probe/ includes elf/ and base/ only (its place in the include order: right after the core).
 *
 * DESIGN: probe mode is a diagnostic run, not a hot path: it takes a mutex, allocates, reads
 * /proc. One call at a time gets the full check (snapshots): cm_probe_select() hands the
 * snapshot buffers to one thread (try-lock); calls of other threads meanwhile get the digest
 * check only. Snapshot buffers are mmap'ed, never the host's heap, so the heap regions probed
 * through pointer parameters are not disturbed by the probe itself.
 */
#ifndef CM_PROBE_H
#define CM_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "cm_config.h"

extern int cm_probe_on; /* probe mode: set once at start-up, before hooks are installed */

/* Set up for `cfg`'s functions: findings go to `path` (%p = pid) at exit; at most `calls` calls
 * of each function get the full check. Returns 0 or -errno (then probe mode stays off). */
int cm_probe_setup(const struct cm_config *cfg, const char *path, unsigned calls);

/* At exit: write the findings file. */
void cm_probe_fini(void);

/* fork child: forget the probe buffer owner (the child starts with no call in progress). */
void cm_probe_after_fork(void);

/* ---- one call (called by the core, guard set) */

/* Count a call of config function `func` with key hash `h`. Returns 1 when this call gets the
 * full check (the caller then owns the snapshot buffers until cm_probe_release()), else 0.
 * *callno: 1-based number of this call of the function; *newkey: first call with this key. */
int cm_probe_select(int func, uint64_t h, uint32_t *callno, int *newkey);
void cm_probe_release(void);

/* Record the digest of a call's whole value (return, outputs, declared globals, errno) under
 * its key hash: a second call with the same key and another digest is a finding. */
void cm_probe_digest(int func, uint64_t h, uint64_t digest, uint32_t callno);

/* The original, run again at once on a restored copy of the inputs of call `callno`, gave
 * another value. */
void cm_probe_rerun_differs(int func, uint32_t callno);

/* ---- snapshots (snap.c); only between a successful cm_probe_select() and the release */

/* The call's parameters as the core read them: raw argument values, and for out/inout
 * parameters the size the signature declares (-1 when it cannot be known before the call). */
struct cm_probe_args {
    uint64_t args[CM_MAX_PARAMS];
    int64_t declared[CM_MAX_PARAMS];
};

/* Before the call: copy the writable segments of the loaded objects (not cloudm's, the C
 * library's or the loader's) and the memory each pointer parameter reaches. Returns 0 or -1
 * (then nothing is compared). */
int cm_probe_snap_begin(const struct cm_fn *fn, const struct cm_probe_args *a);

/* After the call (call_ns: how long it took): find what changed, leave out what the config
 * declares and what changes without the call, record the findings. */
void cm_probe_snap_end(const struct cm_fn *fn, const struct cm_probe_args *a, uint64_t call_ns);

/* Around the rerun: put the memory reached through parameters back as it was before the call;
 * after the rerun, put globals and that memory back as the first run left them. */
void cm_probe_rerun_prepare(void);
void cm_probe_rerun_undo(void);

/* ---- output inside a probed function (pio.c) */

/* A configured function starts / ends running on this thread (output is attributed to every
 * function on the thread's stack of running functions). */
void cm_probe_enter(int func);
void cm_probe_leave(void);

/* While set on this thread, the output wrappers count but do not write (the rerun). */
void cm_probe_quiet(int on);

/* The GOT wrappers of libc's output functions: names[i] is replaced by fns[i] in probe mode.
 * Returns the count. */
int cm_probe_io_wrappers(const char *const **names, void *const **fns);

/* Count `n` output calls to descriptor `fd` for every function on this thread's stack. */
void cm_probe_io_count(int fd);

/* ---- findings (findings.c, probe.c) */

/* A global the function wrote that the config does not declare. */
void cm_probe_note_global(int func, uintptr_t addr, uint32_t size, const char *sym, const char *obj,
                          uint64_t off, int exported);
/* A range seen changing while no probed function ran: whatever was blamed on a function there
 * is forgotten (another thread's doing). */
void cm_probe_forget_global(uintptr_t lo, size_t len);
/* One observation of parameter `param` in a probed call: `extent` bytes written from its start
 * (0: none), `past`: the parameter is out/inout and the bytes lie past its declared size. */
void cm_probe_note_param(int func, int param, int past, uint64_t extent, int64_t declared,
                         const uint64_t *args, const uint64_t *deref);

/* Everything probing found, as the lines `cloudm probe` prints (one per finding, "FUNC\tKIND\t
 * TEXT\tCONFIG\n", and one "C\tFUNC\tCALLS\tPROBED\n" per function). */
void cm_probe_findings_write(FILE *out, const struct cm_config *cfg);

#endif
