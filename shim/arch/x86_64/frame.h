/*
 * frame.h - the register frame the x86-64 entry code builds for the dispatcher.
 *
 * What it does: fixes the layout of `struct cm_frame` (argument registers as they were at the
 * hooked function's entry, a pointer to the caller's stack arguments, the descriptor, and the
 * return registers the dispatcher wants loaded) and of the two `struct cm_fn` fields the entry
 * code reads, and for the assembly the register moves that build and reload a frame
 * (SAVE_ARGS, LOAD_ARGS, KEEP_SAVE, KEEP_LOAD, and ENTRY_FRAME / KEEP_FRAME / KEEP_RETURN, the
 * frame set-up and return the dispatching and the observing entries share). Included by both the assembly and the C side;
 * offsets are pinned with _Static_assert in dispatch.c.
 *
 * What it does not do: no logic. Nothing outside shim/arch/x86_64/ names registers except
 * through the accessors below.
 */
#ifndef CM_ARCH_FRAME_H
#define CM_ARCH_FRAME_H

#include "base/base.h" /* CM_FN_* offsets, CM_MAX_VARIANTS, CM_STUB_SIZE */

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

#define CM_OBS_MAX 8192   /* observed implementations per process (cloudm discover's stubs) */
#define CM_OBS_FN_SIZE 128 /* sizeof(struct cm_obs_fn) (observe/obscall.c), power of two */
#define CM_OBS_KMAX 2048   /* of which inline-hooked (register-preserving stubs) at most */
#define CM_OBS_KSTUB_SIZE 32
#define CM_OBS_FAST_SIZE 32 /* counting stubs: count, count down, tail-jump (observe.S) */
#define CM_OBS_CALLS 16    /* offsetof(struct cm_obs_fn, calls): every call, by the stub */
#define CM_OBS_LEFT 24     /* offsetof(struct cm_obs_fn, left): fast calls until the next full */

#define CMK_SIZE 320      /* struct cm_keep_area (keep.c): rdi rsi rdx rcx r8 r9 rax r10, xmm0-15 */
#define CMK_XMM 64

/* What cm_dispatch_before() answers the entry code: the dispatcher answered (the return
 * registers are in the frame), or call the original as if cloudm were not there (a tail jump);
 * anything else is a miss slot: a struct cm_frame (the call's registers: the entry code loads
 * the arguments from it and stores the return registers into it), followed at CMF_SIZE by
 * CMK_SIZE bytes for the inline entry's register area. The entry code calls the original
 * itself, then cm_dispatch_after(slot); the slot lives in per-thread storage, not on the
 * stack, so a memoized level costs the host's stack only the entry code's few words. */
#define CM_BEFORE_DONE 0
#define CM_BEFORE_PASS 1
#define CMR_SIZE 48       /* the return registers, on the stack after a miss: rax rdx xmm0 xmm1 */

#ifdef __ASSEMBLER__
/* Register moves and frame set-ups shared by the entry code (entry.S) and observe.S. */
        /* Save the argument registers into the frame at rsp. */
        .macro  SAVE_ARGS
        movq    %rdi, CMF_GPR+0(%rsp)
        movq    %rsi, CMF_GPR+8(%rsp)
        movq    %rdx, CMF_GPR+16(%rsp)
        movq    %rcx, CMF_GPR+24(%rsp)
        movq    %r8,  CMF_GPR+32(%rsp)
        movq    %r9,  CMF_GPR+40(%rsp)
        movq    %rax, CMF_RAX(%rsp)
        movq    %r10, CMF_R10(%rsp)
        movaps  %xmm0, CMF_XMM+0(%rsp)
        movaps  %xmm1, CMF_XMM+16(%rsp)
        movaps  %xmm2, CMF_XMM+32(%rsp)
        movaps  %xmm3, CMF_XMM+48(%rsp)
        movaps  %xmm4, CMF_XMM+64(%rsp)
        movaps  %xmm5, CMF_XMM+80(%rsp)
        movaps  %xmm6, CMF_XMM+96(%rsp)
        movaps  %xmm7, CMF_XMM+112(%rsp)
        .endm

        /* Reload the argument registers from the frame at \f. */
        .macro  LOAD_ARGS f
        movq    CMF_GPR+0(\f), %rdi
        movq    CMF_GPR+8(\f), %rsi
        movq    CMF_GPR+16(\f), %rdx
        movq    CMF_GPR+24(\f), %rcx
        movq    CMF_GPR+32(\f), %r8
        movq    CMF_GPR+40(\f), %r9
        movq    CMF_RAX(\f), %rax
        movq    CMF_R10(\f), %r10
        movaps  CMF_XMM+0(\f), %xmm0
        movaps  CMF_XMM+16(\f), %xmm1
        movaps  CMF_XMM+32(\f), %xmm2
        movaps  CMF_XMM+48(\f), %xmm3
        movaps  CMF_XMM+64(\f), %xmm4
        movaps  CMF_XMM+80(\f), %xmm5
        movaps  CMF_XMM+96(\f), %xmm6
        movaps  CMF_XMM+112(\f), %xmm7
        .endm

        /* cm_keep_area (keep.c) at \k: save / restore rdi..r9 rax r10 and xmm0-15. */
        .macro  KEEP_SAVE k
        movq    %rdi, 0+\k
        movq    %rsi, 8+\k
        movq    %rdx, 16+\k
        movq    %rcx, 24+\k
        movq    %r8,  32+\k
        movq    %r9,  40+\k
        movq    %rax, 48+\k
        movq    %r10, 56+\k
        .irp    r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movaps  %xmm\r, CMK_XMM+16*\r+\k
        .endr
        .endm
        .macro  KEEP_LOAD k
        .irp    r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movaps  CMK_XMM+16*\r+\k, %xmm\r
        .endr
        movq    0+\k, %rdi
        movq    8+\k, %rsi
        movq    16+\k, %rdx
        movq    24+\k, %rcx
        movq    32+\k, %r8
        movq    40+\k, %r9
        movq    48+\k, %rax
        movq    56+\k, %r10
        .endm

        /* After SAVE_ARGS: the rest of the frame at rsp (where the caller's stack arguments
         * start, \argoff above rbp; the descriptor, from r11) and rdi = the frame. */
        .macro  FRAME_FINISH argoff
        leaq    \argoff(%rbp), %rax              /* first stack argument of the caller */
        movq    %rax, CMF_STACK(%rsp)
        movq    %r11, CMF_FN(%rsp)
        movq    %rsp, %rdi
        .endm

        /* The frame of cm_entry and cm_obs_entry, once rbp is pushed over the return address:
         * rbp becomes the CFA register, a struct cm_frame at rsp (16-aligned: entry rsp+8 was)
         * holds the call's registers, rdi points at it. */
        .macro  ENTRY_FRAME
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        subq    $CMF_SIZE, %rsp
        SAVE_ARGS
        FRAME_FINISH 16
        .endm

        /* The frame of cm_entry_keep and cm_obs_entry_keep, once rbp is pushed over the
         * caller's r11 and the return address: as ENTRY_FRAME, plus the keep area (every
         * call-clobbered register) right above the frame; rdi = the frame, rsi = the area. */
        .macro  KEEP_FRAME
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        subq    $(CMF_SIZE + CMK_SIZE), %rsp
        andq    $-16, %rsp
        SAVE_ARGS
        KEEP_SAVE CMF_SIZE(%rsp)
        FRAME_FINISH 24
        leaq    CMF_SIZE(%rsp), %rsi
        .endm

        /* The return of a keep entry once its registers are reloaded: drop the frame, pop the
         * caller's r11, ret. With remember=1 the CFI state after `leave` is remembered (for
         * a path that continues after the ret). */
        .macro  KEEP_RETURN remember=0
        leave
        .if     \remember
        .cfi_remember_state
        .endif
        .cfi_def_cfa %rsp, 16
        popq    %r11
        .cfi_def_cfa_offset 8
        ret
        .endm

#else
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* Observation stubs (cloudm discover): stub i is at cm_obs_stubs + i * CM_STUB_SIZE, loads
 * &cm_obs_fns[i] and enters cm_obs_entry, which builds a frame like cm_entry's and calls
 * cm_obs_call(frame). Observation records start like struct cm_fn (orig, flags, nstack) so that
 * cm_call_original can call their originals. */
extern char cm_obs_stubs[];
/* Register-preserving observation stubs for inline hooks (reached by a relay's plain jump):
 * stub j pushes r11, loads &cm_obs_fns[CM_OBS_MAX - 1 - j] and enters cm_obs_entry_keep, which
 * saves every call-clobbered register, calls cm_obs_call_keep(frame, keep area) and restores
 * them all but the return registers. */
extern char cm_obs_kstubs[];
/* Counting stubs, tried first: fast stub i (at cm_obs_fast + i * CM_OBS_FAST_SIZE) adds 1 to
 * cm_obs_fns[i].calls, subtracts 1 from .left and, while that stays >= 0, tail-jumps to .orig
 * (no register but the flags touched); else it enters observation stub i. cm_obs_kfast: the
 * same in front of the inline stubs (kstub j, record CM_OBS_MAX - 1 - j). */
extern char cm_obs_fast[];
extern char cm_obs_kfast[];

#define CM_BEFORE_DONE_P ((void *)CM_BEFORE_DONE)
#define CM_BEFORE_PASS_P ((void *)CM_BEFORE_PASS)
/* The dispatcher's two halves (dispatch.c), called by cm_entry and (through keep.c)
 * cm_entry_keep. */
void *cm_dispatch_before(struct cm_frame *f);
void cm_dispatch_after(void *slot);

/* Call f->fn->orig with the frame's argument registers and f->fn->nstack stack words copied from
 * f->stack; store rax, rdx, xmm0 and xmm1 into f->ret_*. */
void cm_call_original(struct cm_frame *f);


/* ---- inline: inline (code) hooks: patching a function's first bytes with a jump to its entry.
 *
 * What it does: for a function definition found through the symbol tables (symtab.h), decodes
 * the instructions the 5-byte `jmp rel32` will displace (after `endbr64` when present) with
 * Zydis, refuses what it cannot relocate provably (too short, a call or an unrelocatable branch
 * among the displaced bytes, a branch elsewhere in the function into them, undecodable bytes),
 * relocates the rest into a trampoline placed within +-2 GB (RIP-relative operands fixed, short
 * branches widened, then a jump back), and finally writes the jump. The trampoline becomes the
 * variant's original; the jump leads to a relay that enters the dispatcher through a
 * register-preserving entry (a caller of a local function may keep values in call-clobbered
 * registers the function is known not to touch: gcc -fipa-ra).
 *
 * What it does not do: no GOT slots (got.c), no key logic. Only x86-64.
 */
struct cm_objrec;

/* One function to patch, as planned by cm_inline_plan(). */
struct cm_inline_site {
    int target;
    struct cm_objrec *obj;
    uintptr_t fn;     /* the function's address */
    size_t fnsize;    /* its symbol size */
    uintptr_t patch;  /* where the jump is written: fn, or fn + 4 after endbr64 */
    int len;          /* displaced bytes (>= 5) */
    int ninsn;        /* displaced instructions */
    uint8_t ioff[16]; /* offset of each displaced instruction from `patch` */
    const char *why;  /* non-NULL: refused, and why */
    uintptr_t tramp;  /* the trampoline (the variant's original) once built */
};

/* Decode and check: fills site->patch, len, ioff; sets site->why on refusal. Reads only
 * [fn, fn + fnsize). */
void cm_inline_plan(struct cm_inline_site *site);

/*
 * Build trampolines for sites[0..n-1] (those not refused) in memory near `obj`, ask
 * `bind(site, ctx)` for each one's entry (NULL: leave it alone), then write the jumps and
 * synchronise instruction caches. Refusals found on the way are stored in site->why. No page is
 * ever writable and executable at once. Returns the number of functions patched.
 */
int cm_inline_patch(struct cm_inline_site *sites, int n,
                    void *(*bind)(struct cm_inline_site *site, void *ctx), void *ctx);

#endif
#endif
