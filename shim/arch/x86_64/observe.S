/*
 * observe.S - x86-64 entry code of the observation mode (cloudm discover).
 *
 * What it does: cm_obs_stubs holds CM_OBS_MAX stubs of CM_STUB_SIZE bytes; stub i (endbr64,
 * an indirect-branch target) loads &cm_obs_fns[i] into r11 and jumps to cm_obs_entry, which
 * saves every argument register into a struct cm_frame (frame.h) before any C code runs, calls
 * cm_obs_call(frame) (observe/obscall.c: key, time, call the original through
 * cm_call_original) and returns the return registers the original left in the frame.
 *
 * cm_obs_kstubs / cm_obs_entry_keep: the same for inline hooks (--internal), like
 * cm_entry_keep: every call-clobbered register (rdi..r11, xmm0-15) comes back as it was except
 * rax, rdx, xmm0 and xmm1, which hold what the original returned (a caller of a local function
 * may keep values in registers it knows the callee leaves alone: gcc -fipa-ra).
 *
 * cm_obs_fast / cm_obs_kfast: the counting stubs the GOT slots and inline relays point at. Fast
 * stub i counts the call (calls += 1, plain add: no locked instruction), counts down the record's
 * `left` and tail-jumps to the original while it stays >= 0: about four instructions and no
 * register but the flags, which no caller expects kept. When `left` goes negative the call
 * enters observation stub i (or kstub j) for the full path (key, trace, maybe time), which sets
 * `left` again (obscall.c decides how many calls go by counted but neither keyed nor timed).
 *
 * What it does not do: no bypass flag (observation always calls the original), no struct or
 * x87 returns beyond rax:rdx and xmm0:xmm1.
 */
#include "frame.h"

        .text

        .globl  cm_obs_stubs
        .hidden cm_obs_stubs
        .type   cm_obs_stubs, @function
        .p2align 4
cm_obs_stubs:
        .set    i, 0
        .rept   CM_OBS_MAX
        endbr64
        lea     cm_obs_fns + i * CM_OBS_FN_SIZE(%rip), %r11
        jmp     cm_obs_entry
        .p2align 4
        .set    i, i + 1
        .endr
        .size   cm_obs_stubs, . - cm_obs_stubs

        .globl  cm_obs_fast
        .hidden cm_obs_fast
        .type   cm_obs_fast, @function
        .p2align 5
cm_obs_fast:
        .set    i, 0
        .rept   CM_OBS_MAX
        endbr64
        addq    $1, cm_obs_fns + i * CM_OBS_FN_SIZE + CM_OBS_CALLS(%rip)
        subq    $1, cm_obs_fns + i * CM_OBS_FN_SIZE + CM_OBS_LEFT(%rip)
        js      cm_obs_stubs + i * CM_STUB_SIZE
        jmp     *cm_obs_fns + i * CM_OBS_FN_SIZE(%rip)
        .p2align 5
        .set    i, i + 1
        .endr
        .size   cm_obs_fast, . - cm_obs_fast

        .globl  cm_obs_entry
        .hidden cm_obs_entry
        .type   cm_obs_entry, @function
        .p2align 4
cm_obs_entry:
        .cfi_startproc
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        ENTRY_FRAME
        call    cm_obs_call
        movq    CMF_RET_RAX(%rsp), %rax
        movq    CMF_RET_RDX(%rsp), %rdx
        movaps  CMF_RET_XMM0(%rsp), %xmm0
        movaps  CMF_RET_XMM1(%rsp), %xmm1
        leave
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   cm_obs_entry, . - cm_obs_entry

        .globl  cm_obs_kstubs
        .hidden cm_obs_kstubs
        .type   cm_obs_kstubs, @function
        .p2align 5
cm_obs_kstubs:
        .set    j, 0
        .rept   CM_OBS_KMAX
        endbr64
        pushq   %r11
        lea     cm_obs_fns + (CM_OBS_MAX - 1 - j) * CM_OBS_FN_SIZE(%rip), %r11
        jmp     cm_obs_entry_keep
        .p2align 5
        .set    j, j + 1
        .endr
        .size   cm_obs_kstubs, . - cm_obs_kstubs

        .globl  cm_obs_kfast
        .hidden cm_obs_kfast
        .type   cm_obs_kfast, @function
        .p2align 5
cm_obs_kfast:
        .set    j, 0
        .rept   CM_OBS_KMAX
        endbr64
        addq    $1, cm_obs_fns + (CM_OBS_MAX - 1 - j) * CM_OBS_FN_SIZE + CM_OBS_CALLS(%rip)
        subq    $1, cm_obs_fns + (CM_OBS_MAX - 1 - j) * CM_OBS_FN_SIZE + CM_OBS_LEFT(%rip)
        js      cm_obs_kstubs + j * CM_OBS_KSTUB_SIZE
        jmp     *cm_obs_fns + (CM_OBS_MAX - 1 - j) * CM_OBS_FN_SIZE(%rip)
        .p2align 5
        .set    j, j + 1
        .endr
        .size   cm_obs_kfast, . - cm_obs_kfast

        /* [rsp] = caller's r11, [rsp+8] = return address, stack arguments from rsp+16 */
        .globl  cm_obs_entry_keep
        .hidden cm_obs_entry_keep
        .type   cm_obs_entry_keep, @function
        .p2align 4
cm_obs_entry_keep:
        .cfi_startproc
        .cfi_def_cfa_offset 16
        pushq   %rbp
        .cfi_def_cfa_offset 24
        .cfi_offset %rbp, -24
        KEEP_FRAME
        call    cm_obs_call_keep
        KEEP_LOAD CMF_SIZE(%rsp)
        KEEP_RETURN
        .cfi_endproc
        .size   cm_obs_entry_keep, . - cm_obs_entry_keep

        .section .note.GNU-stack, "", @progbits
