/*
 * zprog.c - a program of the discover tests that calls zlib's compress() (a Debian library
 * whose prototype comes only from its -dev package's header, found through the dpkg database)
 * with repeated inputs, and prints a checksum of the results.
 *
 * What it does not do: nothing nondeterministic.
 */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(void)
{
    static unsigned char src[3][65536];
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizeof(src[k]); i++)
            src[k][i] = (unsigned char)((i * (k + 3)) % 251 ^ (i >> 7));
    unsigned long sum = 0;
    for (int i = 0; i < 30; i++) {
        unsigned char out[70000];
        uLongf n = sizeof(out);
        if (compress(out, &n, src[i % 3], sizeof(src[0])) != Z_OK)
            return 1;
        sum += n + out[n / 2];
    }
    printf("%lu\n", sum);
    return 0;
}
