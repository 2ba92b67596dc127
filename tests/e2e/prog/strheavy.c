/*
 * strheavy.c - a program that leans on strlen and memcpy (test_strlen.sh), built with
 * -fno-builtin so every call goes through the PLT.
 *
 * What it does: 2000 iterations over 40 words: strlen of a word and of a joined string,
 * three memcpy calls, and printf of the results (printf itself uses libc's internal string
 * functions). With strlen and memcpy memoized, the shim's own use of them must neither recurse
 * nor deadlock, and the output must not change. Exact counts: strlen 6000 calls over 80
 * distinct strings, memcpy 6000 calls over 80 distinct (source bytes, length) pairs.
 *
 * What it does not do: call strlen/memcpy from any other object of its own.
 */
#include <stdio.h>
#include <string.h>

static const char *const words[40] = {
    "ant",   "bee",  "cat",  "dog",   "eel", "fox",    "gnu",   "hen",  "ibis", "jay",
    "kiwi",  "lynx", "mole", "newt",  "owl", "pig",    "quail", "rat",  "seal", "toad",
    "urial", "vole", "wasp", "xerus", "yak", "zebu",   "asp",   "boa",  "cod",  "doe",
    "emu",   "frog", "goat", "hare",  "imp", "jackal", "koala", "lark", "mink", "orca",
};

int main(void)
{
    char buf[64], join[128];
    unsigned long total = 0;
    for (int i = 0; i < 2000; i++) {
        const char *w = words[i % 40], *w2 = words[(i * 3) % 40];
        size_t n = strlen(w);
        memcpy(buf, w, n + 1);
        memcpy(join, w, n);
        memcpy(join + n, w2, strlen(w2) + 1);
        size_t jn = strlen(join);
        total += n + jn;
        printf("%d %zu %s %zu %s\n", i, n, buf, jn, join);
    }
    printf("total %lu\n", total);
    return 0;
}
