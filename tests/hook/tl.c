/* tl.c - libtl.so, the test library: plain, self-calling, double and IFUNC exports. */
#include "tl.h"

int tl_add(int a, int b)
{
    return a + b;
}

/* Calls its own exported function: through its own PLT (interposable under -fPIC). */
int tl_twice(int x)
{
    return tl_add(x, x);
}

double tl_scale(double x)
{
    return x * 2.5;
}

static int ifunc_impl(int x)
{
    return x * 3;
}

/* The resolver returns the implementation; calling it as if it were tl_ifunc would return a
 * function pointer instead of x * 3. */
typedef int tl_ifunc_fn(int);

static tl_ifunc_fn *tl_ifunc_resolver(void)
{
    return ifunc_impl;
}

int tl_ifunc(int x) __attribute__((ifunc("tl_ifunc_resolver")));
