/*
 * hd_ra.c - libhdra.so: one half of a mutual recursion through the PLT (test_item2_deep_recursion).
 * hd_ra(n) calls hd_rb(n - 1) in libhdrb.so, which calls hd_ra again; at n == 0 the deepest
 * frame's address is recorded, so the program can measure the stack each level costs.
 */
#include <stdint.h>

long hd_rb(long n);
uintptr_t hd_bottom;

long hd_ra(long n)
{
    if (n <= 0) {
        hd_bottom = (uintptr_t)__builtin_frame_address(0);
        return 0;
    }
    return hd_rb(n - 1) + 1;
}
