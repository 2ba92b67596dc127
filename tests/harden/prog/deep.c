/*
 * deep.c - test_deep_recursion: recursion through two libraries' PLTs (hd_ra <-> hd_rb) to the
 * depth given as argv[1]. Prints the result on stdout and, on stderr, the stack each level
 * took ("deep: bytes per level N").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

long hd_ra(long n);
extern uintptr_t hd_bottom;

int main(int argc, char **argv)
{
    long depth = argc > 1 ? atol(argv[1]) : 1000;
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    long r = hd_ra(depth);
    printf("depth %ld: %ld\n", depth, r);
    fprintf(stderr, "deep: bytes per level %lu\n", (unsigned long)((top - hd_bottom) / depth));
    return 0;
}
