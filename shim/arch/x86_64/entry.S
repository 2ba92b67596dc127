/*
 * entry.S - x86-64 SysV entry code: per-variant stubs, the common entries, and the calls of the
 * original with the caller's exact argument registers and stack arguments.
 *
 * What it does:
 *   cm_stubs: CM_MAX_VARIANTS stubs of CM_STUB_SIZE bytes. Stub i (an indirect-branch target,
 *     so it starts with endbr64) loads &cm_fns[i] into r11 and jumps to cm_entry.
 *   cm_entry: if the descriptor's CM_FN_BYPASS flag is set, tail-jumps to the original without
 *     touching anything else (mode = off costs a test and an indirect jump). So it does when the
 *     thread's stack runs low (rsp inside the lower part of the thread's own stack that
 *     cm_stack_guard, per-thread, describes; base/tls.c). Otherwise it saves every argument
 *     register (rdi rsi rdx rcx r8 r9, rax, r10, xmm0-7) into a struct cm_frame on a 16-byte
 *     aligned stack *before any C code runs* (so compiler-generated memcpy or vector code in the
 *     dispatcher cannot clobber an argument), records where the caller's stack arguments start,
 *     and calls cm_dispatch_before(frame) (dispatch.c). Its answer (frame.h):
 *       CM_BEFORE_DONE: a hit; return the rax/rdx/xmm0/xmm1 values left in the frame.
 *       CM_BEFORE_PASS: reload the arguments, drop the frame, tail-jump to the original.
 *       a miss slot: the call's state, in per-thread storage. The frame is dropped; with only
 *         rbp and rbx (the slot) kept on the stack, the arguments are reloaded from the slot and
 *         the original is called (a real call: CET shadow stacks and unwinders see an ordinary
 *         call chain); its return registers go into the slot and onto the stack, then
 *         cm_dispatch_after(slot) records the result and the registers are returned.
 *     So the dispatcher's C frames have returned before the original runs: a memoized level
 *     costs the host's stack 32 bytes more than a plain call (issue 16), and recursion deep
 *     enough to reach the stack guard costs no more stack than without cloudm.
 *   cm_entry_keep: the same for inline hooks, restoring every register but the return register
 *     (see its comment).
 *   cm_call_original(frame): copies fn->nstack stack words below a fresh aligned frame, reloads
 *     all argument registers from the frame, calls fn->orig, and stores the return registers in
 *     the frame (verify, probe and observe modes, which run the original from C).
 *
 * What it does not do: no struct returns, no x87 (long double) returns, no vector arguments
 * wider than 128 bits (the config parser rejects those signatures).
 *
 * r11 is the only register clobbered before the frame is saved; the SysV ABI leaves it free at
 * function entry. Offsets come from frame.h and are pinned by _Static_assert in dispatch.c.
 * Every path keeps its .cfi directives exact, so C++ exceptions unwind through a miss.
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

        /* Call the original of the frame at rbx (callee-saved: still the frame afterwards) with
         * its argument registers and fn->nstack stack words copied below rsp; the return
         * registers are stored into the frame. rsp is left below the copied words. */
        .macro  CALL_FRAME
        movq    CMF_FN(%rbx), %r11
        movl    CM_FN_NSTACK(%r11), %ecx
        leaq    0(,%rcx,8), %rax
        subq    %rax, %rsp
        andq    $-16, %rsp
        movq    CMF_STACK(%rbx), %rsi
        xorl    %edx, %edx
.Lcopy\@:
        cmpq    %rcx, %rdx
        jae     .Lcopied\@
        movq    (%rsi,%rdx,8), %rax
        movq    %rax, (%rsp,%rdx,8)
        incq    %rdx
        jmp     .Lcopy\@
.Lcopied\@:
        movq    CM_FN_ORIG(%r11), %r11
        LOAD_ARGS %rbx
        call    *%r11
        movq    %rax, CMF_RET_RAX(%rbx)
        movq    %rdx, CMF_RET_RDX(%rbx)
        movaps  %xmm0, CMF_RET_XMM0(%rbx)
        movaps  %xmm1, CMF_RET_XMM1(%rbx)
        .endm

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
        ENTRY_FRAME
        call    cm_dispatch_before
        testq   %rax, %rax
        jnz     4f
        movq    CMF_RET_RAX(%rsp), %rax         /* CM_BEFORE_DONE: a hit */
        movq    CMF_RET_RDX(%rsp), %rdx
        movq    CMF_RET_XMM0(%rsp), %xmm0       /* f32/f64 live in the low 8 bytes; an */
        movq    CMF_RET_XMM1(%rsp), %xmm1       /* 8-byte load never stalls on the     */
        leave                                   /* dispatcher's 8-byte stores          */
        .cfi_remember_state
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_restore_state
4:
        cmpq    $CM_BEFORE_PASS, %rax
        jne     5f
        LOAD_ARGS %rsp                          /* CM_BEFORE_PASS: as if we were not here */
        movq    CMF_FN(%rsp), %r11
        leave
        .cfi_remember_state
        .cfi_def_cfa %rsp, 8
        jmp     *CM_FN_ORIG(%r11)
        .cfi_restore_state
5:
        movq    %rbx, -8(%rbp)                  /* a miss slot: only rbp and rbx stay */
        .cfi_offset %rbx, -24
        movq    %rax, %rbx
        leaq    -16(%rbp), %rsp
        CALL_FRAME
        leaq    -(16 + CMR_SIZE)(%rbp), %rsp    /* the return registers, safe from a signal */
        movq    %rax, 0(%rsp)                   /* handler's reuse of the freed slot */
        movq    %rdx, 8(%rsp)
        movaps  %xmm0, 16(%rsp)
        movaps  %xmm1, 32(%rsp)
        movq    %rbx, %rdi
        call    cm_dispatch_after
        movq    0(%rsp), %rax
        movq    8(%rsp), %rdx
        movaps  16(%rsp), %xmm0
        movaps  32(%rsp), %xmm1
        movq    -8(%rbp), %rbx
        .cfi_restore %rbx
        leave
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   cm_entry, . - cm_entry

        /* cm_entry_keep: the entry of inline hooks, reached from a relay that pushed the
         * caller's r11 and loaded the descriptor into r11: [rsp] = caller's r11, [rsp+8] =
         * return address, stack arguments from rsp+16. Like cm_entry, but every register but
         * the declared return register comes back as it was (keep.c): the register area lives
         * on the stack on a hit, in the miss slot while the original runs, and on the stack
         * again after it. */
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
        KEEP_FRAME
        call    cm_dispatch_keep_before
        testq   %rax, %rax
        jnz     4f
        KEEP_LOAD CMF_SIZE(%rsp)                /* CM_BEFORE_DONE: a hit */
        KEEP_RETURN remember=1
        .cfi_restore_state
4:
        cmpq    $CM_BEFORE_PASS, %rax
        jne     5f
        movq    CMF_FN(%rsp), %rax              /* CM_BEFORE_PASS: every register as it was, */
        movq    CM_FN_ORIG(%rax), %rax          /* the caller's r11 included, and on to the */
        movq    8(%rbp), %r11                   /* original through the red zone */
        movq    %rax, 8(%rbp)
        KEEP_LOAD CMF_SIZE(%rsp)
        leave
        .cfi_remember_state
        .cfi_def_cfa %rsp, 16
        leaq    8(%rsp), %rsp
        .cfi_def_cfa_offset 8
        jmp     *-8(%rsp)
        .cfi_restore_state
5:
        movq    %rbx, -8(%rbp)                  /* a miss slot: only rbp and rbx stay */
        .cfi_offset %rbx, -32
        movq    %rax, %rbx
        leaq    -8(%rbp), %rsp
        andq    $-16, %rsp
        CALL_FRAME
        leaq    -8(%rbp), %rsp                  /* the register area back on the stack, */
        andq    $-16, %rsp                      /* safe from a signal handler's reuse of */
        subq    $CMK_SIZE, %rsp                 /* the freed slot */
        movq    %rbx, %rdi
        movq    %rsp, %rsi
        call    cm_dispatch_keep_after
        KEEP_LOAD 0(%rsp)
        movq    -8(%rbp), %rbx
        .cfi_restore %rbx
        KEEP_RETURN
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
        CALL_FRAME
        movq    -8(%rbp), %rbx
        leave
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   cm_call_original, . - cm_call_original

        .section .note.GNU-stack, "", @progbits
