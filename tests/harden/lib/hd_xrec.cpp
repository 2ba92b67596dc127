/*
 * hd_xrec.cpp - libhdxrec.so: a mutual recursion through the PLT (hd_xa <-> hd_xb) whose
 * deepest level throws a C++ exception when the program armed it
 * (test_item2_exception_unwind), so that the exception crosses every memoized level's entry
 * code on its way to the program's catch. Real executions of hd_xa are counted on stderr at
 * exit ("hd: execs hd_xa N").
 *
 * What it does not do: print on stdout.
 */
#include <cstdio>
#include <stdexcept>

static int armed;
static long execs_xa;

extern "C" long hd_xb(long n);

extern "C" void hd_xarm(int on)
{
    armed = on;
}

extern "C" long hd_xa(long n)
{
    execs_xa++;
    if (n <= 0) {
        if (armed)
            throw std::runtime_error("from the bottom");
        return 0;
    }
    return hd_xb(n - 1) + 1;
}

extern "C" long hd_xb(long n)
{
    return hd_xa(n - 1) + 2;
}

__attribute__((destructor)) static void report(void)
{
    std::fprintf(stderr, "hd: execs hd_xa %ld\n", execs_xa);
}
