/*
 * cxxprog.cpp - calls every function of the C++ test library (cxxlib.h) 100 times over 10
 * distinct argument sets each, printing every result, for test_cxx.sh.
 *
 * What it does not do: print anything that depends on cloudm on stdout.
 */
#include "cxxlib.h"

#include <cstdio>

int main()
{
    cx::Acc a{7}, b{8};
    for (int i = 0; i < 100; i++) {
        int k = (i * 3) % 10;
        std::printf("%d pi %ld\n", i, cx::pi(2000L + k, i % 4)); /* threads varies: ignored */
        std::printf("%d pid %a\n", i, cx::pi(k * 0.5));
        __int128 w = cx::pi(((__int128)k << 64) | 5u, i);
        std::printf("%d pi128 %016llx%016llx\n", i,
                    (unsigned long long)((unsigned __int128)w >> 64), (unsigned long long)w);
        std::printf("%d sqr %ld\n", i, cx::sqr(k));
        const cx::Acc &acc = k % 2 ? a : b;
        std::printf("%d add %ld\n", i, acc.add(k / 2));
    }
    std::fflush(stdout);
    cx_report();
    return 0;
}
