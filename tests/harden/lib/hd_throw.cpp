/*
 * hd_throw.cpp - libhdthrow.so for test_item3_longjmp_claim: hd_throw(x), a C function (extern
 * "C", so its signature is plain) compiled as C++ that throws std::runtime_error for x >= 0
 * and returns x + 1 otherwise. Each real execution is counted on stderr at exit ("hd: execs
 * hd_throw N").
 *
 * What it does not do: anything the test does not check.
 */
#include <cstdio>
#include <stdexcept>
#include <unistd.h>

static long execs_throw;

extern "C" long hd_throw(long x)
{
    execs_throw++;
    usleep(2000); /* a 2 ms call, like hd_jump */
    if (x >= 0)
        throw std::runtime_error("hd_throw");
    return x + 1;
}

__attribute__((destructor)) static void report()
{
    fprintf(stderr, "hd: execs hd_throw %ld\n", execs_throw);
}
