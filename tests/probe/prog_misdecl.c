/*
 * prog_misdecl.c - calls libmisdecl's functions in a fixed order (tests/probe/).
 *
 * Usage: prog_misdecl [SCENARIO...]; no argument runs every scenario but `noisy` (a thread
 * changing a global while md_pure runs). Prints results that are
 * the same whether or not the functions are memoized correctly, so outputs can be compared
 * byte for byte with a plain run (md_roll's numbers are not printed: probing reruns it).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double md_lg(double x);
void md_fill(unsigned char *buf, uint64_t n);
void md_name(char *out, uint64_t n);
long md_scaled(long x);
int md_roll(int sides);
double md_pi(int steps);
long md_pure(long a, long b);
void md_label(char *out, uint64_t n);
double md_sgn(double x);
extern int md_sign, md_factor;

static void lg(void)
{
    double xs[] = {-1.5, 2.5, -1.5, 2.5};
    for (int i = 0; i < 4; i++) {
        double r = md_lg(xs[i]);
        printf("lg %.2f = %.2f sign %d\n", xs[i], r, md_sign);
    }
}

static void fill(void)
{
    unsigned char *buf = malloc(4096);
    for (int k = 0; k < 3; k++) {
        memset(buf, 0, 4096);
        md_fill(buf, 48);
        unsigned sum = 0;
        for (int i = 0; i < 64; i++)
            sum += buf[i];
        printf("fill sum %u\n", sum);
    }
    free(buf);
}

static void name(void)
{
    char buf[64];
    uint64_t ns[] = {16, 10, 16};
    for (int k = 0; k < 3; k++) {
        memset(buf, 'x', sizeof(buf));
        md_name(buf, ns[k]);
        buf[sizeof(buf) - 1] = 0;
        printf("name %s\n", buf);
    }
}

static void scaled(void)
{
    printf("scaled 5 = %ld\n", md_scaled(5));
    printf("scaled 7 = %ld\n", md_scaled(7));
    md_factor = 3;
    printf("scaled 5 = %ld\n", md_scaled(5));
    printf("scaled 7 = %ld\n", md_scaled(7));
}

static void roll(void)
{
    srand(42);
    int ok = 0;
    for (int i = 0; i < 6; i++) {
        int r = md_roll(1000000);
        ok += r >= 1 && r <= 1000000;
    }
    printf("roll %d in range\n", ok);
}

static void pi(void)
{
    for (int i = 0; i < 5; i++)
        printf("pi %.4f\n", md_pi(7));
}

/* md_label and md_sgn after the program changes md_factor (verify names what differs). */
static void parts(void)
{
    char b[9] = {0};
    for (int f = 2; f <= 3; f++) {
        md_factor = f;
        md_label(b, 8);
        printf("label %s\n", b);
        md_label(b, 8);
        printf("label %s\n", b);
        double r = md_sgn(1.5);
        printf("sgn %.1f %d\n", r, md_sign);
        r = md_sgn(1.5);
        printf("sgn %.1f %d\n", r, md_sign);
    }
}

/* Another thread keeps changing a global while md_pure runs: probe must not blame md_pure. */
static volatile long ticker;
static volatile int ticking;

static void *tick(void *arg)
{
    (void)arg;
    while (ticking)
        ticker++;
    return NULL;
}

static void noisy(void)
{
    pthread_t t;
    ticking = 1;
    if (pthread_create(&t, NULL, tick, NULL) != 0)
        return;
    long s = 0;
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 200; k++)
            s += md_pure(i, k) & 1;
    ticking = 0;
    pthread_join(t, NULL);
    printf("noisy %ld\n", s);
}

static void pure(void)
{
    long t = 0;
    for (int i = 0; i < 20; i++)
        t += md_pure(i % 4, 3);
    printf("pure %ld\n", t);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } all[] = {{"lg", lg}, {"fill", fill}, {"name", name},   {"scaled", scaled}, {"roll", roll},
               {"pi", pi}, {"pure", pure}, {"noisy", noisy}, {"parts", parts}};
    int n = (int)(sizeof(all) / sizeof(all[0]));
    for (int i = 0; i < n; i++) {
        int want = argc < 2 && all[i].run != noisy && all[i].run != parts; /* only when asked */
        for (int a = 1; a < argc; a++)
            want |= strcmp(argv[a], all[i].name) == 0;
        if (want)
            all[i].run();
    }
    return 0;
}
