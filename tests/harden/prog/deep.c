/*
 * deep.c - test_item2_deep_recursion: recursion through two libraries' PLTs (hd_ra <-> hd_rb) to
 * the depth given as argv[1]. Prints the result on stdout and, on stderr, the stack each level took
 * ("deep: bytes per level N"). With argv[2] = "inline", the recursion is between two functions of
 * the program itself (hd_ia <-> hd_ib, called directly: inline hooks).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long hd_ra(long n);
extern uintptr_t hd_bottom;

static uintptr_t in_bottom;
long hd_ib(long n);

__attribute__((noinline)) long hd_ia(long n)
{
    if (n <= 0) {
        in_bottom = (uintptr_t)__builtin_frame_address(0);
        return 0;
    }
    return hd_ib(n - 1) + 1;
}

__attribute__((noinline)) long hd_ib(long n)
{
    if (n <= 0)
        return hd_ia(0);
    return hd_ia(n - 1) + 1;
}

int main(int argc, char **argv)
{
    long depth = argc > 1 ? atol(argv[1]) : 1000;
    int in = argc > 2 && strcmp(argv[2], "inline") == 0;
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    long r = in ? hd_ia(depth) : hd_ra(depth);
    if (in)
        hd_bottom = in_bottom;
    printf("depth %ld: %ld\n", depth, r);
    fprintf(stderr, "deep: bytes per level %lu\n", (unsigned long)((top - hd_bottom) / depth));
    return 0;
}
