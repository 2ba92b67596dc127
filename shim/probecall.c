/*
 * probecall.c - one call in probe mode (`cloudm probe`): the original always runs, and the
 * probe module (shim/probe/) is told what it needs to find what the config forgot.
 *
 * What it does: counts the call and digests its whole value (return, outputs, declared
 * globals, errno) under its key; for the calls picked for the full check, snapshots globals
 * and the memory reached through parameters before the call and compares after it, and on the
 * first call with a key runs the original once more, at once, on a restored copy of its inputs
 * with its output suppressed, then puts back everything the first run left (outputs, return
 * registers, globals, the bytes written through parameters) so the program goes on as if the
 * rerun had not happened.
 *
 * What it does not do: caching (probe mode never serves or stores), the checks themselves
 * (shim/probe/).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "base/base.h"
#include "frame.h"
#include "key.h"
#include "probe/probe.h"
#include "probecall.h"

#define MAX_DECLARED (1ull << 30)

/* Value bytes of the call the frame holds, in `which` scratch; the narrow part of a return
 * register is zeroed above its declared width so equal results digest equally. */
static uint8_t *value_of(const struct cm_fn *fn, const struct cm_frame *f, struct cm_callinfo *ci,
                         int err, enum cm_scratch which, uint32_t *len)
{
    int64_t n = cm_value_measure(fn, f, ci);
    uint8_t *v = n >= 0 ? cm_tls_scratch(which, (size_t)n + 1) : NULL;
    if (!v)
        return NULL;
    cm_value_write(fn, f, ci, err, v);
    const struct cm_param *r = &fn->sig->ret;
    if ((r->kind == CM_K_INT || r->kind == CM_K_FLOAT) && r->size && r->size < 8)
        memset(v + r->size, 0, 8u - r->size);
    *len = (uint32_t)n;
    return v;
}

static void run(struct cm_frame *f, int func, int *err)
{
    cm_probe_enter(func);
    cm_guard = 0;
    cm_call_original(f);
    *err = errno;
    cm_guard = 1;
    cm_probe_leave();
}

uint64_t cm_probe_dispatch(struct cm_frame *f, struct cm_fn *fn, struct cm_callinfo *ci, uint64_t h,
                           int *err)
{
    uint32_t callno = 0;
    int newkey = 0, func = (int)fn->func;
    int full = cm_probe_select(func, h, &callno, &newkey);
    struct cm_probe_args pa;
    if (full) {
        const struct cm_signature *s = fn->sig;
        memcpy(pa.args, ci->args, sizeof(pa.args));
        for (int i = 0; i < s->nparams; i++) {
            const struct cm_param *p = &s->params[i];
            uint64_t n;
            pa.declared[i] = -1;
            if ((p->kind == CM_K_OUT || p->kind == CM_K_INOUT) && !p->size_expr.uses_retval &&
                cm_expr_eval(&p->size_expr, ci->args, 0, MAX_DECLARED, &n) == 0)
                pa.declared[i] = (int64_t)n;
        }
        if (cm_probe_snap_begin(fn, &pa) < 0) {
            cm_probe_release();
            full = 0;
        }
    }
    uint64_t t0 = cm_clock_ns();
    run(f, func, err);
    uint64_t dt = cm_clock_ns() - t0;
    uint32_t vlen = 0;
    uint8_t *v = value_of(fn, f, ci, *err, CM_SCRATCH_VFY, &vlen);
    uint64_t d1 = v ? XXH3_64bits(v, vlen) : 0;
    if (v)
        cm_probe_digest(func, h, d1, callno);
    if (!full)
        return dt;
    cm_probe_snap_end(fn, &pa, dt);
    if (newkey && v) {
        struct cm_frame first = *f;
        int e2;
        cm_probe_rerun_prepare();
        cm_probe_quiet(1);
        run(f, func, &e2);
        cm_probe_quiet(0);
        uint32_t v2len = 0;
        uint8_t *v2 = value_of(fn, f, ci, e2, CM_SCRATCH_VAL, &v2len);
        if (v2 && (v2len != vlen || XXH3_64bits(v2, v2len) != d1))
            cm_probe_rerun_differs(func, callno);
        cm_probe_rerun_undo();
        /* outputs and written globals as the first run left them (value_of() recomputes the
         * output lengths in ci, so measure the first value's once more) */
        cm_value_measure(fn, &first, ci);
        if (cm_value_restore(fn, f, ci, v, vlen) == 0 && fn->sig->ret.kind == CM_K_MSTR)
            free((void *)(uintptr_t)f->ret_rax); /* the copy restore made: the first is kept */
        *f = first;
    }
    cm_probe_release();
    return dt;
}
