/*
 * slowprog.c - calls slow_square(ARG) once and prints the result (test_shared.sh starts several
 * at once to check single-flight across processes).
 */
#include <stdio.h>
#include <stdlib.h>

double slow_square(double x);

int main(int argc, char **argv)
{
    double x = argc > 1 ? atof(argv[1]) : 3.0;
    printf("slow_square(%g) = %.17g\n", x, slow_square(x));
    return 0;
}
