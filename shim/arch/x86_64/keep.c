/*
 * keep.c - the C half of the register-preserving entry that inline hooks use.
 *
 * What it does: cm_dispatch_keep_before() runs the dispatcher's first half on the frame
 * cm_entry_keep (arch/x86_64/entry.S) built; on a hit it copies the function's return register
 * (by its declared return kind) into the area from which the entry code restores *every*
 * register before returning, so the caller sees only its return register changed; on a miss it
 * keeps that area in the miss slot, and cm_dispatch_keep_after() (the original returned) copies
 * it back onto the stack with the return register in it, then runs the dispatcher's second
 * half. This matters for direct calls
 * to a local function: gcc (-fipa-ra) lets such a caller keep values in call-clobbered
 * registers that it knows the callee leaves alone. cm_keep_relay_info() tells the inline
 * patcher which descriptor an entry stub dispatches and whether it is bypassed (mode = off).
 *
 * What it does not do: no dispatching of its own, no patching. Registers beyond xmm15 (upper
 * halves of ymm/zmm, x87, mask registers) are not preserved.
 */
#include <string.h>

#include "base/base.h"
#include "frame.h"

/* What cm_entry_keep saves and restores besides the frame (layout pinned below). */
struct cm_keep_area {
    uint64_t gpr[8]; /* rdi rsi rdx rcx r8 r9 rax r10 */
    _Alignas(16) uint8_t xmm[16][16];
};
_Static_assert(sizeof(struct cm_keep_area) == CMK_SIZE, "keep area size (frame.h CMK_SIZE)");
_Static_assert(offsetof(struct cm_keep_area, xmm) == CMK_XMM, "keep area xmm (frame.h CMK_XMM)");

void *cm_dispatch_keep_before(struct cm_frame *f, struct cm_keep_area *k);
void cm_dispatch_keep_after(struct cm_frame *slot, struct cm_keep_area *k);
int cm_keep_relay_info(void *entry, void **fn, void **keep_entry, int *bypass);
extern char cm_entry_keep[];

/* The return register of f's function into k. */
static void keep_ret(const struct cm_frame *f, struct cm_keep_area *k)
{
    switch (f->fn->sig->ret.kind) {
    case CM_K_VOID:
        break;
    case CM_K_FLOAT:
        memcpy(k->xmm[0], f->ret_xmm0, 16);
        break;
    case CM_K_COMPLEX: /* c32 in xmm0, c64 in xmm0:xmm1 */
        memcpy(k->xmm[0], f->ret_xmm0, 16);
        if (f->fn->sig->ret.size == 16)
            memcpy(k->xmm[1], f->ret_xmm1, 16);
        break;
    case CM_K_INT128: /* rax:rdx */
        k->gpr[6] = f->ret_rax;
        k->gpr[2] = f->ret_rdx;
        break;
    default: /* integers and pointers: rax */
        k->gpr[6] = f->ret_rax;
        break;
    }
}

void *cm_dispatch_keep_before(struct cm_frame *f, struct cm_keep_area *k)
{
    /* The descriptor was published by patching code, which no memory model sees; this acquire
     * pairs with bind()'s release of cm_nfns so race detectors (and the compiler) see the
     * descriptor as written before this call. A plain load on x86. */
    (void)__atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    void *r = cm_dispatch_before(f);
    if (r == CM_BEFORE_DONE_P)
        keep_ret(f, k);
    else if (r != CM_BEFORE_PASS_P)
        memcpy((char *)r + CMF_SIZE, k, sizeof(*k));
    return r;
}

void cm_dispatch_keep_after(struct cm_frame *slot, struct cm_keep_area *k)
{
    memcpy(k, (char *)slot + CMF_SIZE, sizeof(*k));
    keep_ret(slot, k);
    cm_dispatch_after(slot);
}

int cm_keep_relay_info(void *entry, void **fn, void **keep_entry, int *bypass)
{
    uintptr_t e = (uintptr_t)entry, s = (uintptr_t)cm_stubs;
    if (e < s || e >= s + (uintptr_t)CM_MAX_VARIANTS * CM_STUB_SIZE || (e - s) % CM_STUB_SIZE)
        return -1;
    struct cm_fn *f = &cm_fns[(e - s) / CM_STUB_SIZE].fn;
    *fn = f;
    *keep_entry = cm_entry_keep;
    *bypass = (f->flags & CM_FN_BYPASS) != 0;
    return 0;
}
