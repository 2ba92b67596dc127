/*
 * jump.c - test_item3_longjmp_claim: five calls of hd_jump(7), a memoized function that longjmps
 * out of itself every time, then one that returns normally.
 */
#include <setjmp.h>
#include <stdio.h>

long hd_jump(long x);
void hd_arm(jmp_buf *jb);

int main(void)
{
    static jmp_buf jb;
    static volatile int jumps;
    hd_arm(&jb);
    if (setjmp(jb))
        jumps++;
    if (jumps < 5)
        hd_jump(7);
    hd_arm(NULL);
    printf("jumps %d, hd_jump(8) = %ld\n", jumps, hd_jump(8));
    return 0;
}
