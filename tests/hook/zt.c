/* zt.c - zlib: compress() calls compress2() through zlib's own PLT, a caller like any other.
 * Expected hooked calls: compress 1, compress2 1, uncompress 1. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(void)
{
    const char *text = "cloudm cloudm cloudm cloudm cloudm cloudm cloudm cloudm";
    unsigned char packed[256], plain[256];
    uLongf plen = sizeof(packed), ulen = sizeof(plain);
    int rc = compress(packed, &plen, (const Bytef *)text, strlen(text) + 1);
    printf("compress %d\n", rc);
    rc = uncompress(plain, &ulen, packed, plen);
    printf("uncompress %d %lu %s\n", rc, (unsigned long)ulen, (char *)plain);
    return 0;
}
