/* bench_start.c - a program linking 30 libraries that calls one function of each and exits. */
#include <stdio.h>
#define X(i) int start_fn##i(int);
X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16)
X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29)
#undef X
int main(void)
{
    int s = 0;
#define X(i) s += start_fn##i(i);
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16)
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29)
    printf("%d\n", s);
    return 0;
}
