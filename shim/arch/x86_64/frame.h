/*
 * frame.h - the register frame the x86-64 entry code builds for the dispatcher.
 *
 * What it does: fixes the layout of `struct cm_frame` (argument registers as they were at the
 * hooked function's entry, a pointer to the caller's stack arguments, the descriptor, and the
 * return registers the dispatcher wants loaded) and of the two `struct cm_fn` fields the entry
 * code reads. Included by both the assembly and the C side; offsets are pinned with
 * _Static_assert in dispatch.c.
 *
 * What it does not do: no logic. Nothing outside shim/arch/x86_64/ names registers except
 * through the accessors below.
 */
#ifndef CM_ARCH_FRAME_H
#define CM_ARCH_FRAME_H

#define CMF_GPR 0         /* rdi rsi rdx rcx r8 r9, 6 x 8 bytes */
#define CMF_RAX 48        /* al = vector register count of a varargs call: preserved */
#define CMF_R10 56        /* static chain: preserved */
#define CMF_STACK 64      /* address of the first stack argument in the caller's frame */
#define CMF_FN 72         /* struct cm_fn * */
#define CMF_RET_RAX 80
#define CMF_RET_RDX 88
#define CMF_XMM 96        /* xmm0-7, 8 x 16 bytes, 16-byte aligned */
#define CMF_RET_XMM0 224
#define CMF_RET_XMM1 240
#define CMF_SIZE 256      /* multiple of 16 */

#define CM_FN_ORIG 0      /* struct cm_fn: void *orig */
#define CM_FN_FLAGS 8     /* struct cm_fn: uint32_t flags (CM_FN_BYPASS) */
#define CM_FN_NSTACK 12   /* struct cm_fn: uint32_t nstack (stack words to copy) */
#define CM_FN_BYPASS 1    /* flag: jump straight to the original */
#define CM_FN_SIZE 1024   /* sizeof(union cm_fn_slot), power of two */
#define CM_MAX_VARIANTS 256 /* hooked implementations per process (stubs in the entry table) */
#define CM_STUB_SIZE 16
#define CMK_SIZE 320      /* struct cm_keep_area (keep.c): rdi rsi rdx rcx r8 r9 rax r10, xmm0-15 */
#define CMK_XMM 64

#ifndef __ASSEMBLER__
#include <stdint.h>

struct cm_fn;

struct cm_frame {
    uint64_t gpr[6];
    uint64_t rax, r10;
    const uint64_t *stack;
    struct cm_fn *fn;
    uint64_t ret_rax, ret_rdx;
    _Alignas(16) uint8_t xmm[8][16];
    uint8_t ret_xmm0[16];
    uint8_t ret_xmm1[16];
};

/* Entry stubs: stub i is at cm_stubs + i * CM_STUB_SIZE and dispatches descriptor cm_fns[i]. */
extern char cm_stubs[];

/* Call f->fn->orig with the frame's argument registers and f->fn->nstack stack words copied from
 * f->stack; store rax, rdx, xmm0 and xmm1 into f->ret_*. */
void cm_call_original(struct cm_frame *f);

#endif
#endif
