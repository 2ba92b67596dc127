/*
 * inline.c - planning, relocating and writing inline hooks (see inline.h).
 *
 * What it does: cm_inline_plan() decodes the whole function with Zydis: the instructions that
 * the 5-byte jump displaces must be relocatable (no call, no jrcxz/loop/xbegin, no return or
 * jump before 5 bytes are covered), and no branch anywhere in the function may land strictly
 * inside the displaced bytes (a branch to their first byte is a branch to the hooked entry: a
 * tail call of the function, which the hook handles). cm_inline_patch() then lays out, per
 * function, 128 bytes in a page mapped within +-2 GB of the object:
 *     +0   trampoline: endbr64, the displaced instructions relocated, jmp back
 *     +64  relay: the target of the patched jump
 *     +96  data: descriptor pointer, entry address (read RIP-relative by the relay)
 * The relay of a dispatcher variant is `push %r11; mov fn(%rip),%r11; jmp *keep(%rip)` (the
 * register-preserving entry, keep.c), or, for mode = off, a plain jump to the trampoline; for
 * any other entry, `jmp *entry(%rip)`.
 *
 * What it does not do: never makes a page writable and executable at once: trampoline pages
 * are written while PROT_READ|PROT_WRITE, then become PROT_READ|PROT_EXEC forever; a text page
 * becomes PROT_READ|PROT_WRITE only for the few stores of the jump and gets back exactly the
 * protection /proc/self/maps showed. Those mprotect calls are raw system calls, so patching a
 * function that sits on the same page as libc's mprotect wrapper cannot fault. It does not make
 * other threads safe while they execute the bytes being patched: patching happens before main and
 * inside the dlopen wrapper for objects no other thread has run yet.
 *
 * Bounds: functions are decoded at most MAX_DECODE bytes far for the branch scan (longer ones are
 * refused); at most 16 displaced instructions.
 */
#include "frame.h"

#include "base/base.h"
#include "elf/elf.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATCH_LEN 5 /* jmp rel32 */
#define SLOT 128    /* bytes per function in a trampoline page */
#define RELAY_OFF 64
#define DATA_OFF 96
#define MAX_DECODE (16u << 20) /* the branch scan decodes at most this much of one function */
#define MAX_MAPS 8192          /* mappings considered when looking for a gap */
#define REACH 0x7ff00000ll     /* what a rel32 may reach, with a margin */

/* Provided by the dispatcher (keep.c); absent in the hook layer's test harness. */
extern int cm_keep_relay_info(void *entry, void **fn, void **keep_entry, int *bypass)
    __attribute__((weak));

static ZydisDecoder decoder;
static bool decoder_ready;

static bool decode(uintptr_t at, size_t avail, ZydisDecodedInstruction *in,
                   ZydisDecodedOperand *ops)
{
    if (!decoder_ready) {
        if (ZYAN_FAILED(
                ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
            return false;
        decoder_ready = true;
    }
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, (const void *)at, avail, in, ops));
}

/* The absolute target of a relative branch (immediate operand), or 0 when it has none. */
static uintptr_t branch_target(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
                               uintptr_t at)
{
    for (int i = 0; i < in->operand_count_visible; i++)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[i].imm.is_relative) {
            ZyanU64 abs;
            if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, &ops[i], at, &abs)))
                return (uintptr_t)abs;
        }
    return 0;
}

/* The RIP-relative memory operand's absolute address, or 0. */
static uintptr_t riprel_target(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
                               uintptr_t at)
{
    for (int i = 0; i < in->operand_count_visible; i++)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.base == ZYDIS_REGISTER_RIP) {
            ZyanU64 abs;
            if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, &ops[i], at, &abs)))
                return (uintptr_t)abs;
        }
    return 0;
}

static bool unrelocatable_branch(ZydisMnemonic m)
{
    return m == ZYDIS_MNEMONIC_JRCXZ || m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JCXZ ||
           m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE ||
           m == ZYDIS_MNEMONIC_XBEGIN;
}

void cm_inline_plan(struct cm_inline_site *s)
{
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    const uint8_t *b = (const uint8_t *)s->fn;
    uintptr_t end = s->fn + s->fnsize;

    s->why = NULL;
    s->patch = s->fn;
    if (s->fnsize >= 4 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
        s->patch = s->fn + 4; /* keep endbr64: indirect callers still land on it */
    if (s->fnsize == 0) {
        s->why = "the symbol has no size";
        return;
    }
    if (end < s->patch + PATCH_LEN) {
        s->why = "the function is too short";
        return;
    }
    if (s->fnsize > MAX_DECODE) {
        s->why = "the function is too long to scan";
        return;
    }
    /* the displaced instructions */
    uintptr_t at = s->patch;
    s->ninsn = 0;
    while (at < s->patch + PATCH_LEN) {
        if (!decode(at, end - at, &in, ops)) {
            s->why = "cannot decode its first instructions";
            return;
        }
        if (s->ninsn == (int)sizeof(s->ioff)) {
            s->why = "too many displaced instructions";
            return;
        }
        s->ioff[s->ninsn++] = (uint8_t)(at - s->patch);
        ZydisInstructionCategory cat = in.meta.category;
        bool last = at + in.length >= s->patch + PATCH_LEN;
        if (cat == ZYDIS_CATEGORY_CALL) {
            s->why = "the displaced bytes contain a call";
            return;
        }
        if (unrelocatable_branch(in.mnemonic)) {
            s->why = "the displaced bytes contain a branch that cannot be widened";
            return;
        }
        if (!last && (cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_UNCOND_BR ||
                      cat == ZYDIS_CATEGORY_INTERRUPT || in.mnemonic == ZYDIS_MNEMONIC_UD2 ||
                      in.mnemonic == ZYDIS_MNEMONIC_HLT)) {
            s->why = "the function is too short (it leaves before the patched bytes end)";
            return;
        }
        if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) { /* jmp/jcc rel, or a RIP-relative
                                                            operand (jmp *x(%rip) included) */
            bool ok = branch_target(&in, ops, at) != 0
                          ? cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR
                          : riprel_target(&in, ops, at) != 0 && in.raw.disp.size == 32;
            if (!ok) {
                s->why = "the displaced bytes contain a relative operand the relocator does "
                         "not handle";
                return;
            }
        }
        at += in.length;
    }
    s->len = (int)(at - s->patch);
    if (at > end) {
        s->why = "the function is too short";
        return;
    }
    /* every branch of the function: none may land inside the displaced bytes */
    for (uintptr_t p = s->fn; p < end;) {
        if (!decode(p, end - p, &in, ops)) {
            s->why = "some of its bytes do not decode (data in the code?)";
            return;
        }
        uintptr_t t = branch_target(&in, ops, p);
        if (t > s->patch && t < s->patch + (uintptr_t)s->len && !(p >= s->patch && p < at)) {
            s->why = "a branch in the function jumps into the displaced bytes";
            return;
        }
        if (t > s->patch && t < at && p >= s->patch && p < at) {
            s->why = "a branch among the displaced bytes jumps into them";
            return;
        }
        p += in.length;
    }
}

/* ---- memory ------------------------------------------------------------------------------- */

static long raw_mprotect(uintptr_t addr, size_t len, int prot)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_mprotect), "D"(addr), "S"(len), "d"((long)prot)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The process's mappings, read once per cm_inline_patch() (hook lock held). */
static struct {
    uintptr_t lo[MAX_MAPS], hi[MAX_MAPS];
    int prot[MAX_MAPS];
    int n;
} maps;

static void load_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    maps.n = 0;
    if (fd < 0)
        return;
    char buf[8192];
    size_t len = 0;
    bool eof = false;
    while (!eof || len) {
        if (!eof && len < sizeof(buf) / 2) {
            ssize_t r = read(fd, buf + len, sizeof(buf) - len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                eof = true;
            else
                len += (size_t)r;
        }
        char *nl = memchr(buf, '\n', len);
        if (!nl) {
            if (eof || len == sizeof(buf))
                break;
            continue;
        }
        *nl = '\0';
        unsigned long a, b;
        char perms[8];
        if (sscanf(buf, "%lx-%lx %7s", &a, &b, perms) == 3 && maps.n < MAX_MAPS) {
            maps.lo[maps.n] = a;
            maps.hi[maps.n] = b;
            maps.prot[maps.n++] = (perms[0] == 'r' ? PROT_READ : 0) |
                                  (perms[1] == 'w' ? PROT_WRITE : 0) |
                                  (perms[2] == 'x' ? PROT_EXEC : 0);
        }
        size_t used = (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, len - used);
        len -= used;
    }
    close(fd);
}

/* The protection of the page holding addr, or -1 when unmapped. */
static int maps_prot(uintptr_t addr)
{
    for (int i = 0; i < maps.n; i++)
        if (addr >= maps.lo[i] && addr < maps.hi[i])
            return maps.prot[i];
    return -1;
}

static bool reach(uintptr_t a, uintptr_t b)
{
    long long d = (long long)a - (long long)b;
    return d < REACH && d > -REACH;
}

/* `len` bytes of fresh PROT_READ|PROT_WRITE memory from which [olo, ohi) is reachable with
 * rel32, or NULL. Prefers the nearest gap below the object (above a non-PIE executable lies its
 * brk heap). */
static void *near_alloc(uintptr_t olo, uintptr_t ohi, size_t len)
{
    const uintptr_t *lo = maps.lo, *hi = maps.hi;
    int n = maps.n;
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t floor = 1u << 20; /* stay clear of mmap_min_addr and the zero page */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k <= n; k++) {
            int i = pass == 0 ? n - k : k; /* below: nearest gap first, going down */
            uintptr_t g0 = i == 0 ? floor : hi[i - 1];
            uintptr_t g1 = i == n ? (uintptr_t)0x7ffffffff000ull : lo[i];
            if (g0 < floor)
                g0 = floor;
            if (g1 <= g0 || g1 - g0 < len + 2 * (size_t)pg)
                continue;
            uintptr_t a;
            if (pass == 0) {
                if (g0 >= olo)
                    continue;
                a = (g1 < olo ? g1 : olo) - len - (uintptr_t)pg;
            } else {
                if (g1 <= ohi)
                    continue;
                a = (g0 > ohi ? g0 : ohi) + (uintptr_t)pg;
                if (i > 0 && g0 == hi[i - 1] && a < g0 + (64u << 20) && g1 - g0 > (128u << 20))
                    a = g0 + (64u << 20); /* leave a brk heap room to grow */
            }
            a &= ~((uintptr_t)pg - 1);
            if (a < g0 || a + len > g1)
                continue;
            if (!reach(a, ohi) || !reach(a + len, olo))
                break; /* further gaps are further away */
            void *p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p == (void *)a)
                return p;
            if (p != MAP_FAILED)
                munmap(p, len);
        }
    }
    return NULL;
}

/* ---- emitting ----------------------------------------------------------------------------- */

static bool put_rel32(uint8_t *at, uintptr_t next_ip, uintptr_t target)
{
    long long d = (long long)target - (long long)next_ip;
    if (d > INT32_MAX || d < INT32_MIN)
        return false;
    int32_t v = (int32_t)d;
    memcpy(at, &v, 4);
    return true;
}

/* Write the trampoline for `s` at `buf` (runtime address `rt`). Returns its length, or -1 with
 * s->why set. */
static int emit_trampoline(struct cm_inline_site *s, uint8_t *buf, uintptr_t rt)
{
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    static const uint8_t endbr[4] = {0xf3, 0x0f, 0x1e, 0xfa};
    int o = 0;
    memcpy(buf, endbr, 4);
    o = 4;
    for (int k = 0; k < s->ninsn; k++) {
        uintptr_t at = s->patch + s->ioff[k];
        if (!decode(at, s->fn + s->fnsize - at, &in, ops))
            goto bad;
        ZydisInstructionCategory cat = in.meta.category;
        uintptr_t t = branch_target(&in, ops, at);
        if ((in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) && t &&
            (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR)) {
            if (cat == ZYDIS_CATEGORY_UNCOND_BR) {
                buf[o] = 0xe9;
                if (!put_rel32(buf + o + 1, rt + (uintptr_t)o + 5, t))
                    goto far;
                o += 5;
            } else {
                buf[o] = 0x0f;
                buf[o + 1] = (uint8_t)(0x80 | (in.opcode & 0x0f)); /* 7x rel8 / 0f 8x rel32 */
                if (!put_rel32(buf + o + 2, rt + (uintptr_t)o + 6, t))
                    goto far;
                o += 6;
            }
            continue;
        }
        memcpy(buf + o, (const void *)at, in.length);
        if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
            uintptr_t m = riprel_target(&in, ops, at);
            if (!put_rel32(buf + o + in.raw.disp.offset, rt + (uintptr_t)o + in.length, m))
                goto far;
        }
        o += in.length;
    }
    buf[o] = 0xe9;
    if (!put_rel32(buf + o + 1, rt + (uintptr_t)o + 5, s->patch + (uintptr_t)s->len))
        goto far;
    return o + 5;
bad:
    s->why = "cannot decode its first instructions";
    return -1;
far:
    s->why = "a relocated operand would be out of +-2 GB reach";
    return -1;
}

/* Write the relay at `buf` (runtime `rt`, data at rt + DATA_OFF - RELAY_OFF). */
static void emit_relay(struct cm_inline_site *s, uint8_t *buf, uintptr_t rt, void *entry)
{
    uint8_t *data = buf + (DATA_OFF - RELAY_OFF);
    uintptr_t drt = rt + (DATA_OFF - RELAY_OFF);
    void *fn = NULL, *keep = NULL;
    int bypass = 0;
    if (cm_keep_relay_info && cm_keep_relay_info(entry, &fn, &keep, &bypass) == 0) {
        if (bypass) { /* mode = off: straight to the original code */
            buf[0] = 0xe9;
            put_rel32(buf + 1, rt + 5, s->tramp + 4);
            return;
        }
        static const uint8_t head[] = {0x41, 0x53, 0x4c, 0x8b, 0x1d}; /* push r11; mov r11,[rip] */
        memcpy(buf, head, sizeof(head));
        put_rel32(buf + 5, rt + 9, drt);
        buf[9] = 0xff; /* jmp *[rip] */
        buf[10] = 0x25;
        put_rel32(buf + 11, rt + 15, drt + 8);
        memcpy(data, &fn, 8);
        memcpy(data + 8, &keep, 8);
        return;
    }
    buf[0] = 0xff;
    buf[1] = 0x25;
    put_rel32(buf + 2, rt + 6, drt + 8);
    memcpy(data + 8, &entry, 8);
}

/* Store the 5-byte jump at s->patch. Returns 0 or a negative errno. */
static int write_jump(struct cm_inline_site *s, uintptr_t relay)
{
    uint8_t j[PATCH_LEN];
    j[0] = 0xe9;
    if (!put_rel32(j + 1, s->patch + PATCH_LEN, relay))
        return -ERANGE;
    int prot = maps_prot(s->patch);
    if (prot < 0 || prot != maps_prot(s->patch + PATCH_LEN - 1))
        return -EFAULT; /* unmapped, or straddling pages of different protections */
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t p0 = s->patch & ~((uintptr_t)pg - 1);
    uintptr_t p1 = (s->patch + PATCH_LEN + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    long rc = raw_mprotect(p0, p1 - p0, PROT_READ | PROT_WRITE);
    if (rc < 0)
        return (int)rc;
    /* Two plain stores in assembly: no libc call while the page is not executable, and no
     * sanitizer instrumentation of a store into text (TSan keeps no writable shadow for it). */
    uint32_t head;
    memcpy(&head, j, 4);
    __asm__ volatile("movl %1, (%0)\n\tmovb %2, 4(%0)"
                     :
                     : "r"(s->patch), "r"(head), "q"(j[4])
                     : "memory");
    rc = raw_mprotect(p0, p1 - p0, prot);
    if (rc < 0)
        cm_log_once("inline-reprotect", "could not restore the protection of a code page at %p",
                    (void *)p0);
    return 0;
}

static void sync_cores(void)
{
    static int registered;
    if (!registered)
        registered =
            syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0
                ? 1
                : -1;
    if (registered > 0)
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
    __builtin___clear_cache((char *)0, (char *)0);
}

int cm_inline_patch(struct cm_inline_site *sites, int n,
                    void *(*bind)(struct cm_inline_site *site, void *ctx), void *ctx)
{
    int todo = 0;
    uintptr_t olo = UINTPTR_MAX, ohi = 0;
    for (int i = 0; i < n; i++)
        if (!sites[i].why) {
            todo++;
            if (sites[i].fn < olo)
                olo = sites[i].fn;
            if (sites[i].fn + sites[i].fnsize > ohi)
                ohi = sites[i].fn + sites[i].fnsize;
        }
    if (!todo)
        return 0;
    long pg = sysconf(_SC_PAGESIZE);
    size_t len = ((size_t)todo * SLOT + (size_t)pg - 1) & ~((size_t)pg - 1);
    const struct cm_objrec *r = sites[0].obj;
    load_maps();
    uint8_t *page = near_alloc(r ? r->or_pub.lo : olo, r ? r->or_pub.hi : ohi, len);
    if (!page) {
        for (int i = 0; i < n; i++)
            if (!sites[i].why)
                sites[i].why = "no free memory within +-2 GB for its trampoline";
        return 0;
    }
    void **entries = calloc((size_t)n, sizeof(*entries));
    if (!entries) {
        munmap(page, len);
        return 0;
    }
    int slot = 0;
    for (int i = 0; i < n; i++) {
        struct cm_inline_site *s = &sites[i];
        if (s->why)
            continue;
        uint8_t *buf = page + (size_t)slot * SLOT;
        uintptr_t rt = (uintptr_t)buf;
        if (emit_trampoline(s, buf, rt) < 0)
            continue;
        s->tramp = rt;
        slot++;
        entries[i] = bind(s, ctx);
        if (!entries[i]) {
            s->tramp = 0;
            continue;
        }
        emit_relay(s, buf + RELAY_OFF, rt + RELAY_OFF, entries[i]);
    }
    if (raw_mprotect((uintptr_t)page, len, PROT_READ | PROT_EXEC) < 0) {
        cm_log("cannot make trampolines executable: no inline hooks in %s",
               r ? r->or_pub.path : "?");
        free(entries);
        return 0; /* bindings made above stay unused: their originals are never called */
    }
    int done = 0;
    for (int i = 0; i < n; i++) {
        struct cm_inline_site *s = &sites[i];
        if (s->why || !entries[i])
            continue;
        int rc = write_jump(s, s->tramp + RELAY_OFF);
        if (rc < 0)
            s->why = "its code page cannot be made writable";
        else
            done++;
    }
    sync_cores();
    free(entries);
    return done;
}
