/*
 * cxxlib.h - the C++ library test_cxx.sh memoizes by demangled names: overloads of one name in a
 * namespace (one with a 128-bit integer, like primecount::pi), a const member function, and a
 * function configured by its mangled name.
 *
 * What it is not: a model of a real library. Each function counts its own executions;
 * cx_report() prints "cxx: execs NAME N" lines on stderr (never stdout).
 */
#ifndef CXXLIB_H
#define CXXLIB_H

namespace cx
{
long pi(long x, int threads);         /* threads does not change the result */
double pi(double x);                  /* same name, another overload */
__int128 pi(__int128 x, int threads); /* primecount's shape */
long sqr(long x);                     /* configured by its mangled name _ZN2cx3sqrEl */

struct Acc {
    long base;
    long add(long v) const; /* `this` is the first parameter: in[8] of base */
};
} // namespace cx

extern "C" void cx_report(void);

#endif
