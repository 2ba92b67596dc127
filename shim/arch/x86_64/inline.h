/*
 * inline.h - inline (code) hooks: patching a function's first bytes with a jump to its entry.
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
#ifndef CM_INLINE_H
#define CM_INLINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
