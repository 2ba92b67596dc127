/*
 * verify.c - `verify = RATE` (docs/config.md): on a sampled fraction of hits the original runs
 * too, on the caller's real arguments, and its value is compared byte for byte with the cached
 * one; on a difference the function is quarantined.
 *
 * What it does: cm_verify_hit() runs the original with the guard cleared, builds its value
 * (key.c), compares it part by part with the cached value (return, each output parameter,
 * each `writes` global, errno) and counts verified hits and mismatches in the descriptor. A
 * mismatch quarantines the function: every variant gets the bypass flag (its calls go straight
 * to the original), the segment's quarantine table gets its ident so other processes stop
 * serving it too (seg/seg_quar.c), and one line on stderr names the part that differed.
 *
 * What it does not do: sampling itself (the countdown in verify.h, on the hit path), lookups.
 *
 * DESIGN: the caller of a sampled hit always gets the fresh value (it is what the frame and its
 * buffers hold after the original ran), so a wrong cache entry never reaches it. The narrow
 * parts of a return register (an i32 in rax, an f32 in xmm0) are compared at their declared
 * width only: the ABI leaves the rest undefined.
 */
#include "verify.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tier/tier.h"

__thread int64_t cm_verify_left __attribute__((tls_model("initial-exec")));

static double verify_env = -1;

void cm_verify_setup(double env_rate)
{
    verify_env = env_rate;
}

uint32_t cm_verify_every(const struct cm_config *cfg, const struct cm_function *c)
{
    double r = verify_env >= 0 ? verify_env : c->verify >= 0 ? c->verify : cfg->verify;
    if (!(r > 0))
        return 0;
    double every = 1.0 / r + 0.5;
    return every >= 4e9 ? 4000000000u : (uint32_t)every;
}

/* Length of a tagged part (str/retptr return): tag byte, then its bytes. */
static uint64_t tagged_len(const struct cm_vcur *c, int retptr)
{
    if (c->p >= c->end || !*c->p)
        return 1;
    if (retptr)
        return 9;
    uint32_t n;
    if (c->end - c->p < 5)
        return (uint64_t)(c->end - c->p) + 1; /* malformed: make cm_vcur_take() fail */
    memcpy(&n, c->p + 1, 4);
    return 5ull + n;
}

/* Which part of a value differed: PART_RETURN, PART_PARAM + parameter index, PART_GLOBAL +
 * writes index, PART_ERRNO, PART_LENGTH; PART_NONE when the values are equal. The name is
 * formatted only for a mismatch (part_name), so an equal comparison costs no snprintf. */
enum {
    PART_NONE = 0,
    PART_RETURN,
    PART_ERRNO,
    PART_LENGTH,
    PART_PARAM = 0x100,
    PART_GLOBAL = 0x200
};

static void part_name(const struct cm_fn *fn, int part, char *what, size_t n)
{
    if (part == PART_RETURN)
        snprintf(what, n, "return");
    else if (part == PART_ERRNO)
        snprintf(what, n, "errno");
    else if (part >= PART_GLOBAL)
        snprintf(what, n, "global %s", fn->cfg->writes[part - PART_GLOBAL].name);
    else if (part >= PART_PARAM)
        snprintf(what, n, "parameter %d (%s)", part - PART_PARAM + 1,
                 fn->sig->params[part - PART_PARAM].name);
    else
        snprintf(what, n, "value length");
}

/* Compare two values of fn part by part (the canonical layout, docs/keys.md). */
static int value_diff(const struct cm_fn *fn, const struct cm_callinfo *ci, const uint8_t *a,
                      uint32_t alen, const uint8_t *b, uint32_t blen)
{
    const struct cm_signature *s = fn->sig;
    const struct cm_param *r = &s->ret;
    struct cm_vcur x = {a, a + alen}, y = {b, b + blen};
    const uint8_t *p, *q;
    uint64_t lx, ly;
    switch (r->kind) {
    case CM_K_VOID:
        break;
    case CM_K_STR:
    case CM_K_MSTR:
    case CM_K_RETPTR:
        lx = tagged_len(&x, r->kind == CM_K_RETPTR);
        ly = tagged_len(&y, r->kind == CM_K_RETPTR);
        if (lx != ly || !(p = cm_vcur_take(&x, lx)) || !(q = cm_vcur_take(&y, ly)) ||
            memcmp(p, q, lx))
            return PART_RETURN;
        break;
    default:
        if (!(p = cm_vcur_take(&x, 8)) || !(q = cm_vcur_take(&y, 8)))
            return PART_RETURN;
        if (memcmp(p, q, r->size && r->size < 8 ? r->size : 8))
            return PART_RETURN;
        break;
    }
    for (int j = 0; j < s->nrestore; j++) {
        int i = s->restore_order[j];
        if (!ci->args[i])
            continue;
        uint32_t nx, ny;
        if (cm_vcur_u32(&x, &nx) < 0 || cm_vcur_u32(&y, &ny) < 0)
            return PART_PARAM + i;
        if (nx != ny || !(p = cm_vcur_take(&x, nx)) || !(q = cm_vcur_take(&y, ny)) ||
            memcmp(p, q, nx))
            return PART_PARAM + i;
    }
    for (int g = 0; g < fn->cfg->nwrites; g++) {
        uint32_t sz = fn->cfg->writes[g].size;
        if (!(p = cm_vcur_take(&x, sz)) || !(q = cm_vcur_take(&y, sz)) || memcmp(p, q, sz))
            return PART_GLOBAL + g;
    }
    if (fn->cfg->save_errno &&
        (!(p = cm_vcur_take(&x, 4)) || !(q = cm_vcur_take(&y, 4)) || memcmp(p, q, 4)))
        return PART_ERRNO;
    return x.p != x.end || y.p != y.end ? PART_LENGTH : PART_NONE;
}

void cm_verify_quarantine(struct cm_fn *fn, const char *why)
{
    uint32_t nfns = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    int first = 0;
    for (uint32_t i = 0; i < nfns; i++) {
        struct cm_fn *v = &cm_fns[i].fn;
        if (v->func != fn->func)
            continue;
        __atomic_or_fetch(&v->flags, CM_FN_BYPASS, __ATOMIC_RELEASE);
        if (!__atomic_exchange_n(&v->quarantined, 1, __ATOMIC_ACQ_REL) && v == fn)
            first = 1;
    }
    if (why && cm_shared_seg)
        cm_seg_quarantine(cm_shared_seg, fn->seed);
    if (!first)
        return;
    if (why)
        cm_log("verify: %s: a cached result differs from a fresh call in the %s: %s is "
               "quarantined (not served again; `cloudm clear --function %s` lifts it)",
               fn->cfg->name, why, fn->cfg->name, fn->cfg->name);
    else
        cm_log("verify: %s is quarantined in the shared segment (a re-checked hit differed): "
               "not served; `cloudm clear --function %s` lifts it",
               fn->cfg->name, fn->cfg->name);
}

int cm_verify_seg_check(struct cm_fn *fn)
{
    if (!cm_shared_seg || !cm_seg_quarantined(cm_shared_seg, fn->seed))
        return 0;
    cm_verify_quarantine(fn, NULL);
    return 1;
}

/* Runs the original on the frame with the guard cleared (its own hooked calls are served as
 * usual); returns errno after it, leaving the guard set. */
static int call_fresh(struct cm_frame *f)
{
    cm_guard = 0;
    cm_call_original(f);
    int err = errno;
    cm_guard = 1;
    return err;
}

/* A re-checked hit's outcome: counted, and when a part differed, counted as a mismatch and the
 * function quarantined with that part named. */
static void verdict(struct cm_fn *fn, int diff)
{
    __atomic_add_fetch(&fn->verified, 1, __ATOMIC_RELAXED);
    if (diff == PART_NONE)
        return;
    char what[CM_NAME_MAX + 32];
    part_name(fn, diff, what, sizeof(what));
    __atomic_add_fetch(&fn->mismatches, 1, __ATOMIC_RELAXED);
    cm_verify_quarantine(fn, what);
}

void cm_verify_hit(struct cm_fn *fn, struct cm_frame *f, struct cm_callinfo *ci, const uint8_t *v,
                   uint32_t vlen)
{
    int guard = cm_guard;
    cm_guard = 1;
    struct cm_callinfo local;
    if (!ci) {
        cm_args_read(fn, f, &local);
        cm_key_measure(fn, &local); /* scalars only: never fails */
        ci = &local;
    }
    uint8_t *cached = cm_tls_scratch(CM_SCRATCH_VFY, (size_t)vlen + 1);
    if (cached)
        memcpy(cached, v, vlen);
    int err = call_fresh(f);
    int64_t flen = cached ? cm_value_measure(fn, f, ci) : -1;
    uint8_t *fresh = flen >= 0 ? cm_tls_scratch(CM_SCRATCH_VAL, (size_t)flen + 1) : NULL;
    if (fresh) {
        cm_value_write(fn, f, ci, err, fresh);
        verdict(fn, value_diff(fn, ci, cached, vlen, fresh, (uint32_t)flen));
    }
    errno = err;
    cm_guard = guard;
}

/* The scalar fast path's values are words (dispatch.c): the raw return register (none for
 * void), the `writes` globals, errno. Built and compared here without the general codec, so a
 * verified hit of a scalar function costs a plain call and a few comparisons more than a hit. */
void cm_verify_words(struct cm_fn *fn, struct cm_frame *f, const uint64_t *cached)
{
    int guard = cm_guard;
    uint64_t was[5], now[5] = {0, 0, 0, 0, 0};
    memcpy(was, cached, sizeof(was));
    int err = call_fresh(f);
    const struct cm_function *c = fn->cfg;
    uint8_t *q = (uint8_t *)now;
    int diff = PART_NONE;
    if (!fn->fast_ret_void) {
        memcpy(q, fn->fast_ret_sse ? (const void *)f->ret_xmm0 : (const void *)&f->ret_rax, 8);
        uint8_t sz = fn->sig->ret.size;
        uint64_t mask = sz && sz < 8 ? (1ull << (8 * sz)) - 1 : ~0ull;
        if ((now[0] ^ was[0]) & mask)
            diff = PART_RETURN;
        q += 8;
    }
    const uint8_t *w = (const uint8_t *)was + (q - (uint8_t *)now);
    for (int g = 0; g < c->nwrites; g++) {
        uint32_t n = c->writes[g].size;
        memcpy(q, fn->writes_addr[g], n);
        if (!diff && memcmp(q, w, n))
            diff = PART_GLOBAL + g;
        q += n;
        w += n;
    }
    if (c->save_errno && !diff && memcmp(&err, w, 4))
        diff = PART_ERRNO;
    verdict(fn, diff);
    errno = err;
    cm_guard = guard;
}
