/*
 * hd.c - libhd.so, the library the hardening tests (tests/harden) memoize.
 *
 * What it does: small exported functions with known results: hd_sq (a square, looked up with
 * dlsym by test_item1_fork_dlsym), hd_who (depends on the real uid, for test_item6_setuid_segment),
 * hd_jump (longjmps out when the program armed it, for test_item3_longjmp_claim), hd_slow (sleeps,
 * so a single-flight claim is taken). Every real execution of hd_jump and hd_who is counted on
 * stderr ("hd: execs NAME N" at exit).
 *
 * What it does not do: anything the tests do not check.
 */
#include <setjmp.h>
#include <stdio.h>
#include <unistd.h>

static jmp_buf *armed;
static long execs_jump, execs_who;

long hd_sq(long x)
{
    return x * x;
}

long hd_who(long x)
{
    execs_who++;
    return x * 10 + (getuid() == 0 ? 0 : 1);
}

void hd_arm(jmp_buf *jb)
{
    armed = jb;
}

long hd_jump(long x)
{
    execs_jump++;
    usleep(2000); /* a 2 ms call: singleflight = auto would coordinate on it too */
    if (armed)
        longjmp(*armed, 1);
    return x + 1;
}

__attribute__((destructor)) static void report(void)
{
    fprintf(stderr, "hd: execs hd_jump %ld\nhd: execs hd_who %ld\n", execs_jump, execs_who);
}
