/*
 * reloc_test.c - the inline patcher (shim/inline.c) on hand-assembled functions, without the
 * dispatcher: what it refuses, and that relocated trampolines compute what the originals did.
 *
 * What it does: copies small machine-code functions into a page (then made read+exec), plans and
 * patches them with a bind callback that returns a plain C function as the "entry" (the generic
 * relay: jmp *entry), and checks: refusals with their reasons; after patching, calling the
 * function reaches the entry; calling the trampoline runs the original code (a short jle
 * widened, a RIP-relative lea fixed, endbr64 kept in place); no page is writable and executable.
 *
 * What it does not do: no keys, no dispatcher, no GOT.
 */
#include "frame.h"

#include "../unit/cm_test.h"

#include <stdint.h>
#include <sys/mman.h>

static uint8_t *code_page; /* read+exec after setup */
static size_t code_off;

/* Place `len` bytes of code (16-byte aligned) in a fresh page and return its address. */
static uintptr_t place(const uint8_t *bytes, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (!code_page) {
        code_page =
            mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code_page == MAP_FAILED)
            abort();
    } else {
        mprotect(code_page, (size_t)pg, PROT_READ | PROT_WRITE);
    }
    uint8_t *at = code_page + code_off;
    memcpy(at, bytes, len);
    code_off = (code_off + len + 15) & ~(size_t)15;
    mprotect(code_page, (size_t)pg, PROT_READ | PROT_EXEC);
    return (uintptr_t)at;
}

static long entry_calls;
static long fake_entry(long x)
{
    entry_calls++;
    return 1000 + x;
}

static void *bind_entry(struct cm_inline_site *s, void *ctx)
{
    (void)s;
    (void)ctx;
    return (void *)fake_entry;
}

static struct cm_inline_site plan(uintptr_t fn, size_t size)
{
    struct cm_inline_site s = {.fn = fn, .fnsize = size};
    cm_inline_plan(&s);
    return s;
}

typedef long (*fn1)(long);

static void refused(const uint8_t *b, size_t n, const char *why)
{
    struct cm_inline_site s = plan(place(b, n), n);
    ASSERT_TRUE(s.why != NULL);
    ASSERT_EQ_STR(s.why ? s.why : "(accepted)", why);
}

static void test_refusals(void)
{
    static const uint8_t shortfn[] = {0x31, 0xc0, 0xc3}; /* xor eax,eax; ret */
    refused(shortfn, sizeof(shortfn), "the function is too short");
    static const uint8_t callfirst[] = {0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc0, 1, 0xc3};
    refused(callfirst, sizeof(callfirst), "the displaced bytes contain a call");
    static const uint8_t jrcxz[] = {0xe3, 0x04, 0x48, 0x8d, 0x47, 0x01, 0xc3, 0x31, 0xc0, 0xc3};
    refused(jrcxz, sizeof(jrcxz), "the displaced bytes contain a branch that cannot be widened");
    /* xor eax,eax; 1: add rax,rdi; dec rdi; jg 1b; ret: a loop back into the displaced bytes */
    static const uint8_t loop[] = {0x31, 0xc0, 0x48, 0x01, 0xf8, 0x48,
                                   0xff, 0xcf, 0x7f, 0xf8, 0xc3};
    refused(loop, sizeof(loop), "a branch in the function jumps into the displaced bytes");
    /* jmp +3 as the first instruction: it leaves before 5 bytes are covered */
    static const uint8_t jmpfirst[] = {0xeb, 0x03, 0x90, 0x90, 0x90, 0x48, 0x89, 0xf8, 0xc3};
    refused(jmpfirst, sizeof(jmpfirst),
            "the function is too short (it leaves before the patched bytes end)");
    static const uint8_t bad[] = {0x48, 0x89, 0xf8, 0x0f, 0x0b, 0x06, 0x06, 0x06, 0xc3};
    refused(bad, sizeof(bad), "some of its bytes do not decode (data in the code?)");
}

/* test rdi,rdi; jle 1f; lea rax,[rdi+1]; ret; 1: xor eax,eax; ret */
static const uint8_t jle_fn[] = {0x48, 0x85, 0xff, 0x7e, 0x05, 0x48, 0x8d,
                                 0x47, 0x01, 0xc3, 0x31, 0xc0, 0xc3};

static void test_short_branch_widened(void)
{
    uintptr_t f = place(jle_fn, sizeof(jle_fn));
    ASSERT_EQ_INT(((fn1)f)(5), 6);
    struct cm_inline_site s = plan(f, sizeof(jle_fn));
    REQUIRE(s.why == NULL);
    ASSERT_EQ_INT(s.len, 5);
    ASSERT_EQ_INT(s.patch, f);
    ASSERT_EQ_INT(cm_inline_patch(&s, 1, bind_entry, NULL), 1);
    REQUIRE(s.tramp != 0);
    entry_calls = 0;
    ASSERT_EQ_INT(((fn1)f)(5), 1005); /* the patched function reaches the entry */
    ASSERT_EQ_INT(entry_calls, 1);
    ASSERT_EQ_INT(((fn1)s.tramp)(5), 6); /* the trampoline is the original */
    ASSERT_EQ_INT(((fn1)s.tramp)(-3), 0);
    ASSERT_EQ_INT(((fn1)s.tramp)(0), 0);
    ASSERT_EQ_INT(entry_calls, 1);
}

/* endbr64; lea rax,[rip+disp]; sub rax,rdi; ret, then 8 bytes of data the lea points to */
static void test_riprel_after_endbr(void)
{
    uint8_t b[32] = {0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x8d, 0x05, 0, 0, 0, 0, 0x48, 0x29, 0xf8, 0xc3};
    int32_t disp = 16 - 11; /* from the end of the lea (offset 11) to offset 16 */
    memcpy(b + 7, &disp, 4);
    uintptr_t f = place(b, sizeof(b));
    long want = (long)(f + 16) - 7;
    ASSERT_EQ_INT(((fn1)f)(7), want);
    struct cm_inline_site s = plan(f, 15);
    REQUIRE(s.why == NULL);
    ASSERT_EQ_INT(s.patch, f + 4); /* endbr64 stays */
    ASSERT_EQ_INT(s.len, 7);
    ASSERT_EQ_INT(cm_inline_patch(&s, 1, bind_entry, NULL), 1);
    ASSERT_EQ_INT(((const uint8_t *)f)[0], 0xf3);
    ASSERT_EQ_INT(((const uint8_t *)f)[4], 0xe9);
    ASSERT_EQ_INT(((fn1)f)(7), 1007);
    ASSERT_EQ_INT(((fn1)s.tramp)(7), want); /* the displacement now reaches the same data */
}

static long seventy(long x)
{
    return 70 + x;
}

/* jmp *8(%rip) (a tail call through a pointer), then the pointer: displaced whole */
static void test_indirect_jump_first(void)
{
    uint8_t b[16] = {0xff, 0x25, 0x02, 0, 0, 0, 0xcc, 0xcc};
    long (*p)(long) = seventy;
    memcpy(b + 8, &p, 8);
    uintptr_t f = place(b, sizeof(b));
    ASSERT_EQ_INT(((fn1)f)(1), 71);
    struct cm_inline_site s = plan(f, 8);
    REQUIRE(s.why == NULL);
    ASSERT_EQ_INT(s.len, 6);
    ASSERT_EQ_INT(cm_inline_patch(&s, 1, bind_entry, NULL), 1);
    ASSERT_EQ_INT(((fn1)f)(1), 1001);
    ASSERT_EQ_INT(((fn1)s.tramp)(2), 72); /* the relocated jmp still reads the same pointer */
}

static void test_no_wx_mapping(void)
{
    uintptr_t f = place(jle_fn, sizeof(jle_fn));
    struct cm_inline_site s = plan(f, sizeof(jle_fn));
    REQUIRE(s.why == NULL);
    ASSERT_EQ_INT(cm_inline_patch(&s, 1, bind_entry, NULL), 1);
    FILE *m = fopen("/proc/self/maps", "r");
    REQUIRE(m != NULL);
    char line[512];
    int wx = 0;
    while (fgets(line, sizeof(line), m)) {
        char perms[8];
        if (sscanf(line, "%*x-%*x %7s", perms) == 1 && perms[1] == 'w' && perms[2] == 'x')
            wx++;
    }
    fclose(m);
    ASSERT_EQ_INT(wx, 0);
    long d = (long)s.tramp - (long)f;
    ASSERT_TRUE(d < 0x7fffffffl && d > -0x7fffffffl); /* within rel32 reach */
}

int main(void)
{
    RUN_TEST(test_refusals);
    RUN_TEST(test_short_branch_widened);
    RUN_TEST(test_riprel_after_endbr);
    RUN_TEST(test_indirect_jump_first);
    RUN_TEST(test_no_wx_mapping);
    return cm_test_summary();
}
