/*
 * bigprog.c - drives libbig.so for the big-data tests (test_bigdata.sh) and prints a checksum of
 * every result, so plain and memoized runs can be compared byte for byte.
 *
 *   bigprog xform N REPEAT [LAST]   big_xform on an N-byte input (its last byte set to LAST)
 *   bigprog gen N REPEAT            big_gen(7, N) into an N-byte buffer
 *   bigprog first N                 big_first on an N-byte input (mapped, never touched)
 *   bigprog pw PASSWORD N REPEAT    big_pw(PASSWORD, N) into an N-byte buffer
 *   bigprog many COUNT N            big_gen(i, N) for i < COUNT: COUNT distinct N-byte results
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int big_xform(const unsigned char *src, size_t n, unsigned char *dst);
uint64_t big_gen(uint32_t seed, uint64_t n, unsigned char *dst);
unsigned big_first(const unsigned char *src, uint64_t n);
int big_pw(const char *pw, uint64_t n, char *out);
extern unsigned long big_execs[4];

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    size_t n = strtoull(argv[2], NULL, 0);
    const char *mode = argv[1];
    if (strcmp(mode, "xform") == 0 && argc >= 4) {
        int rep = atoi(argv[3]);
        unsigned char *src = malloc(n), *dst = malloc(n);
        if (!src || !dst)
            return 3;
        for (size_t i = 0; i < n; i++)
            src[i] = (unsigned char)(i * 7 + (i >> 12));
        if (argc >= 5)
            src[n - 1] = (unsigned char)atoi(argv[4]);
        for (int r = 0; r < rep; r++) {
            memset(dst, 0, n);
            int rv = big_xform(src, n, dst);
            printf("xform %d %016llx\n", rv, (unsigned long long)fnv(dst, n));
        }
    } else if (strcmp(mode, "gen") == 0 && argc >= 4) {
        int rep = atoi(argv[3]);
        unsigned char *dst = malloc(n);
        if (!dst)
            return 3;
        for (int r = 0; r < rep; r++) {
            memset(dst, 0, n);
            uint64_t rv = big_gen(7, n, dst);
            printf("gen %llu %016llx\n", (unsigned long long)rv, (unsigned long long)fnv(dst, n));
        }
    } else if (strcmp(mode, "first") == 0) {
        unsigned char *src =
            mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (src == MAP_FAILED)
            return 3;
        printf("first %u\n", big_first(src, n));
        printf("first %u\n", big_first(src, n));
    } else if (strcmp(mode, "many") == 0 && argc >= 4) {
        size_t len = strtoull(argv[3], NULL, 0);
        unsigned char *dst = malloc(len);
        uint64_t all = 0;
        if (!dst)
            return 3;
        for (size_t i = 0; i < n; i++) {
            big_gen((uint32_t)i, len, dst);
            all ^= fnv(dst, len) + i;
        }
        printf("many %016llx\n", (unsigned long long)all);
    } else if (strcmp(mode, "pw") == 0 && argc >= 5) {
        size_t len = strtoull(argv[3], NULL, 0);
        int rep = atoi(argv[4]);
        char *out = malloc(len + 1);
        if (!out)
            return 3;
        for (int r = 0; r < rep; r++) {
            memset(out, 0, len + 1);
            int rv = big_pw(argv[2], len, out);
            printf("pw %d %016llx %.40s\n", rv, (unsigned long long)fnv((unsigned char *)out, len),
                   out);
        }
    } else {
        return 2;
    }
    static const char *const names[] = {"big_xform", "big_gen", "big_first", "big_pw"};
    for (int i = 0; i < 4; i++)
        if (big_execs[i])
            fprintf(stderr, "big: execs %s %lu\n", names[i], big_execs[i]);
    return 0;
}
