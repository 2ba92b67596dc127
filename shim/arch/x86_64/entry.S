/*
 * entry.S - x86-64 SysV entry code: per-variant stubs, the common entry, and the call of the
 * original with the caller's exact argument registers and stack arguments.
 *
 * What it does:
 *   cm_stubs: CM_MAX_VARIANTS stubs of CM_STUB_SIZE bytes. Stub i (an indirect-branch target,
 *     so it starts with endbr64) loads &cm_fns[i] into r11 and jumps to cm_entry.
 *   cm_entry: if the descriptor's CM_FN_BYPASS flag is set, tail-jumps to the original without
 *     touching anything else (mode = off costs a test and an indirect jump). So it does when the
 *     thread's stack runs low (rsp inside the lower part of the thread's own stack that
 *     cm_stack_guard, per-thread, describes; base/tls.c): deep recursion through memoized
 *     functions then costs no more stack than without cloudm. Otherwise it saves
 *     every argument register (rdi rsi rdx rcx r8 r9, rax, r10, xmm0-7) into a struct cm_frame
 *     on a 16-byte aligned stack *before any C code runs* (so compiler-generated memcpy or
 *     vector code in the dispatcher cannot clobber an argument), records where the caller's
 *     stack arguments start, calls cm_dispatch(frame), and returns the rax/rdx/xmm0/xmm1 values
 *     the dispatcher left in the frame.
 *   cm_call_original(frame): copies fn->nstack stack words below a fresh aligned frame, reloads
 *     all argument registers from the frame, calls fn->orig (a real call, so CET shadow stacks
 *     and unwinders see an ordinary call chain), and stores the return registers in the frame.
 *
 * What it does not do: no struct returns, no x87 (long double) returns, no vector arguments
 * wider than 128 bits (the config parser rejects those signatures).
 *
 * r11 is the only register clobbered before the frame is saved; the SysV ABI leaves it free at
 * function entry. Offsets come from frame.h and are pinned by _Static_assert in dispatch.c.
 */
#include "frame.h"

        .text

        .globl  cm_stubs
        .hidden cm_stubs
        .type   cm_stubs, @function
        .p2align 4
cm_stubs:
        .set    i, 0
        .rept   CM_MAX_VARIANTS
        endbr64
        lea     cm_fns + i * CM_FN_SIZE(%rip), %r11
        jmp     cm_entry
        .p2align 4
        .set    i, i + 1
        .endr
        .size   cm_stubs, . - cm_stubs

        .globl  cm_entry
        .hidden cm_entry
        .type   cm_entry, @function
        .p2align 4
cm_entry:
        .cfi_startproc
        testl   $CM_FN_BYPASS, CM_FN_FLAGS(%r11)
        jz      1f
        jmp     *CM_FN_ORIG(%r11)
1:
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        movq    cm_stack_guard@gottpoff(%rip), %rbp
        cmpq    %fs:(%rbp), %rsp                /* rsp >= limit (0 until known): room enough */
        jae     2f
        cmpq    %fs:8(%rbp), %rsp               /* below the thread's stack: not ours to judge */
        jb      2f
        .cfi_remember_state
        popq    %rbp                            /* the stack runs low: straight to the original */
        .cfi_def_cfa_offset 8
        .cfi_restore %rbp
        jmp     *CM_FN_ORIG(%r11)
        .cfi_restore_state
2:
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        subq    $CMF_SIZE, %rsp                 /* rsp is 16-aligned: entry rsp+8 was */
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
        leaq    16(%rbp), %rax                  /* first stack argument of the caller */
        movq    %rax, CMF_STACK(%rsp)
        movq    %r11, CMF_FN(%rsp)
        movq    %rsp, %rdi
        call    cm_dispatch
        movq    CMF_RET_RAX(%rsp), %rax
        movq    CMF_RET_RDX(%rsp), %rdx
        movq    CMF_RET_XMM0(%rsp), %xmm0       /* f32/f64 live in the low 8 bytes; an */
        movq    CMF_RET_XMM1(%rsp), %xmm1       /* 8-byte load never stalls on the     */
        leave                                   /* dispatcher's 8-byte stores          */
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   cm_entry, . - cm_entry

        /* cm_entry_keep: the entry of inline hooks, reached from a relay that pushed the
         * caller's r11 and loaded the descriptor into r11: [rsp] = caller's r11, [rsp+8] =
         * return address, stack arguments from rsp+16. Like cm_entry, but every register but
         * the declared return register comes back as it was (cm_dispatch_keep in keep.c). */
        .globl  cm_entry_keep
        .hidden cm_entry_keep
        .type   cm_entry_keep, @function
        .p2align 4
cm_entry_keep:
        .cfi_startproc
        .cfi_def_cfa_offset 16
        pushq   %rbp
        .cfi_def_cfa_offset 24
        .cfi_offset %rbp, -24
        movq    cm_stack_guard@gottpoff(%rip), %rbp
        cmpq    %fs:(%rbp), %rsp
        jae     2f
        cmpq    %fs:8(%rbp), %rsp
        jb      2f
        .cfi_remember_state
        movq    8(%rsp), %rbp                   /* the stack runs low: the caller's r11 back, */
        movq    CM_FN_ORIG(%r11), %r11          /* and on to the original through the red zone */
        movq    %r11, 8(%rsp)
        movq    %rbp, %r11
        popq    %rbp
        .cfi_def_cfa_offset 16
        .cfi_restore %rbp
        leaq    8(%rsp), %rsp
        .cfi_def_cfa_offset 8
        jmp     *-8(%rsp)
        .cfi_restore_state
2:
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        subq    $(CMF_SIZE + CMK_SIZE), %rsp
        andq    $-16, %rsp
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
        movq    %rdi, CMF_SIZE+0(%rsp)
        movq    %rsi, CMF_SIZE+8(%rsp)
        movq    %rdx, CMF_SIZE+16(%rsp)
        movq    %rcx, CMF_SIZE+24(%rsp)
        movq    %r8,  CMF_SIZE+32(%rsp)
        movq    %r9,  CMF_SIZE+40(%rsp)
        movq    %rax, CMF_SIZE+48(%rsp)
        movq    %r10, CMF_SIZE+56(%rsp)
        .irp    r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movaps  %xmm\r, CMF_SIZE+CMK_XMM+16*\r(%rsp)
        .endr
        leaq    24(%rbp), %rax                  /* first stack argument of the caller */
        movq    %rax, CMF_STACK(%rsp)
        movq    %r11, CMF_FN(%rsp)
        movq    %rsp, %rdi
        leaq    CMF_SIZE(%rsp), %rsi
        call    cm_dispatch_keep
        .irp    r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movaps  CMF_SIZE+CMK_XMM+16*\r(%rsp), %xmm\r
        .endr
        movq    CMF_SIZE+0(%rsp), %rdi
        movq    CMF_SIZE+8(%rsp), %rsi
        movq    CMF_SIZE+16(%rsp), %rdx
        movq    CMF_SIZE+24(%rsp), %rcx
        movq    CMF_SIZE+32(%rsp), %r8
        movq    CMF_SIZE+40(%rsp), %r9
        movq    CMF_SIZE+48(%rsp), %rax
        movq    CMF_SIZE+56(%rsp), %r10
        leave
        .cfi_def_cfa %rsp, 16
        popq    %r11
        .cfi_def_cfa_offset 8
        ret
        .cfi_endproc
        .size   cm_entry_keep, . - cm_entry_keep

        .globl  cm_call_original
        .hidden cm_call_original
        .type   cm_call_original, @function
        .p2align 4
cm_call_original:
        .cfi_startproc
        endbr64
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        pushq   %rbx
        .cfi_offset %rbx, -24
        movq    %rdi, %rbx                      /* frame, callee-saved across the call */
        movq    CMF_FN(%rbx), %r11
        movl    CM_FN_NSTACK(%r11), %ecx
        leaq    0(,%rcx,8), %rax
        subq    %rax, %rsp
        andq    $-16, %rsp
        movq    CMF_STACK(%rbx), %rsi
        xorl    %edx, %edx
2:      cmpq    %rcx, %rdx
        jae     3f
        movq    (%rsi,%rdx,8), %rax
        movq    %rax, (%rsp,%rdx,8)
        incq    %rdx
        jmp     2b
3:
        movq    CM_FN_ORIG(%r11), %r11
        movq    CMF_GPR+0(%rbx), %rdi
        movq    CMF_GPR+8(%rbx), %rsi
        movq    CMF_GPR+16(%rbx), %rdx
        movq    CMF_GPR+24(%rbx), %rcx
        movq    CMF_GPR+32(%rbx), %r8
        movq    CMF_GPR+40(%rbx), %r9
        movq    CMF_RAX(%rbx), %rax
        movq    CMF_R10(%rbx), %r10
        movaps  CMF_XMM+0(%rbx), %xmm0
        movaps  CMF_XMM+16(%rbx), %xmm1
        movaps  CMF_XMM+32(%rbx), %xmm2
        movaps  CMF_XMM+48(%rbx), %xmm3
        movaps  CMF_XMM+64(%rbx), %xmm4
        movaps  CMF_XMM+80(%rbx), %xmm5
        movaps  CMF_XMM+96(%rbx), %xmm6
        movaps  CMF_XMM+112(%rbx), %xmm7
        call    *%r11
        movq    %rax, CMF_RET_RAX(%rbx)
        movq    %rdx, CMF_RET_RDX(%rbx)
        movaps  %xmm0, CMF_RET_XMM0(%rbx)
        movaps  %xmm1, CMF_RET_XMM1(%rbx)
        movq    -8(%rbp), %rbx
        leave
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   cm_call_original, . - cm_call_original

        .section .note.GNU-stack, "", @progbits
