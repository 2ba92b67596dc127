/*
 * fdcount.c - test_item8_descriptors: a few memoized calls, then open /dev/null until it fails;
 * prints how many descriptors the program could open.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

long hd_sq(long x);

int main(void)
{
    long s = 0;
    for (int i = 0; i < 40; i++)
        s += hd_sq(i % 8);
    int n = 0, fd, last = -1;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0)
        n++, last = fd;
    for (; last > 2; last--) /* give them back: the report at exit needs one */
        close(last);
    printf("sum %ld, opened %d\n", s, n);
    return 0;
}
