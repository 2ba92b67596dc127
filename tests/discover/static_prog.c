/*
 * static_prog.c - a statically linked program of the discover tests: nothing can be preloaded
 * into it, so `cloudm discover` must say so and exit 1 instead of printing an empty table.
 */
#include <stdio.h>

int main(void)
{
    puts("static");
    return 0;
}
