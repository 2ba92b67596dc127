/*
 * statics.c - a program whose expensive work is in `static` functions called directly
 * (tests/inline). Built at -O0, -O2 and -Os, with and without -fcf-protection.
 *
 * What it does: calls weigh (a counter update and a table read through RIP-relative operands
 * and a short branch in its first bytes), poly (reads a double constant RIP-relative), fib
 * (recursive: its own calls are direct calls into the hooked entry), keepregs (called from a
 * loop whose values gcc may keep in call-clobbered registers, -fipa-ra), and two hand-written
 * functions: brfirst (a short conditional branch among its first bytes) and two the patcher
 * must refuse: loopy (a branch into its first bytes) and callfirst (a
 * call among them). weigh is also called once through a pointer. Prints every result on stdout and
 * "statics: execs NAME N" lines on stderr.
 *
 * What it does not do: time anything. Argument: a repeat count (default 1000).
 */
#include <stdio.h>
#include <stdlib.h>

static unsigned long execs[6];
static long table[64];
static double scale = 1.5;

__attribute__((noinline, noclone)) static long weigh(long n)
{
    execs[0]++;
    if (n < 0)
        return -1;
    long s = table[n & 63];
    for (long i = 0; i < 200 + n; i++)
        s = s * 31 + (i ^ n);
    return s;
}

__attribute__((noinline, noclone)) static double poly(double x)
{
    execs[1]++;
    double r = 0;
    for (int i = 0; i < 100; i++)
        r = r * x * scale * 0.125 + (double)i / 7.0;
    return r;
}

__attribute__((noinline, noclone)) static long fib(int n)
{
    execs[2]++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline, noclone)) static unsigned keepregs(unsigned a, unsigned b)
{
    execs[3]++;
    unsigned h = a * 2654435761u;
    for (unsigned i = 0; i < 64; i++)
        h = (h ^ b) * 16777619u + i;
    return h;
}

/* manyargs: eight integer arguments, two of them on the stack, and a double. */
__attribute__((noinline, noclone)) static long manyargs(long a, long b, long c, long d, long e,
                                                        long f, double x, long g, long h)
{
    execs[5]++;
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + (long)(x * 10);
}

/* fill: no return value, results through an out buffer. */
static unsigned long fill_execs;
__attribute__((noinline, noclone)) static void fill(double *out, int n)
{
    fill_execs++;
    for (int i = 0; i < 8; i++)
        out[i] = n * 0.5 + i * i;
}

/* loopy: a loop branching back to its second instruction (inside the displaced bytes). */
long loopy(long n);
__asm__(".text\n"
        ".type loopy, @function\n"
        "loopy:\n"
        "    xorl %eax, %eax\n"
        "1:  addq %rdi, %rax\n"
        "    decq %rdi\n"
        "    jg 1b\n"
        "    ret\n"
        ".size loopy, . - loopy\n");

/* brfirst: a short conditional branch is the second displaced instruction (it must be widened
 * in the trampoline); counts its executions past the branch. */
unsigned long brfirst_execs;
long brfirst(long n);
__asm__(".text\n"
        ".type brfirst, @function\n"
        "brfirst:\n"
        "    testq %rdi, %rdi\n"
        "    jle 1f\n"
        "    addq $1, brfirst_execs(%rip)\n"
        "    leaq (%rdi,%rdi,2), %rax\n"
        "    ret\n"
        "1:  xorl %eax, %eax\n"
        "    ret\n"
        ".size brfirst, . - brfirst\n");

/* Mappings that are writable and executable at once (there must be none). */
static int rwx_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        char perms[8];
        if (sscanf(line, "%*x-%*x %7s", perms) == 1 && perms[1] == 'w' && perms[2] == 'x')
            n++;
    }
    if (f)
        fclose(f);
    return n;
}

long helper_twice(long n);
long helper_twice(long n)
{
    execs[4]++;
    return 2 * n;
}

/* callfirst: calls a helper in its first instruction. */
long callfirst(long n);
__asm__(".text\n"
        ".type callfirst, @function\n"
        "callfirst:\n"
        "    call helper_twice\n"
        "    addq $1, %rax\n"
        "    ret\n"
        ".size callfirst, . - callfirst\n");

/* weigh's address is taken, so -fcf-protection builds give it an endbr64 */
static long (*volatile weigh_ptr)(long) = weigh;

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 1000;
    for (int i = 0; i < 64; i++)
        table[i] = i * 7 + 3;
    long sum = 0;
    double dsum = 0;
    unsigned usum = 0;
    for (int i = 0; i < reps; i++) {
        long w = weigh(i % 50 - 3) + brfirst(i % 10 - 2);
        double p = poly((i % 20) * 0.25);
        /* values live across the call: gcc may keep them in registers keepregs leaves alone */
        unsigned k1 = (unsigned)i * 3u, k2 = (unsigned)i ^ 0x55u;
        unsigned k = keepregs((unsigned)(i % 30), 7u);
        usum += k + k1 * k2;
        long m = manyargs(i % 3, 1, 2, 3, 4, 5, (i % 4) * 0.5, 6, i % 5);
        double buf[8];
        fill(buf, i % 6);
        sum += m + (long)(buf[i % 8] * 4);
        sum += w;
        dsum += p;
        if (i % 100 == 0)
            printf("%d %ld %.6f %u\n", i, w, p, k);
    }
    long f = fib(30) + weigh_ptr(7); /* an indirect call lands on endbr64, then the jump */
    long l = loopy(10) + loopy(20);
    long c = callfirst(5) + callfirst(6);
    printf("sum %ld dsum %.6f usum %u fib %ld loopy %ld callfirst %ld\n", sum, dsum, usum, f, l, c);
    static const char *const names[] = {"weigh", "poly", "fib", "keepregs", "helper_twice"};
    for (int i = 0; i < 5; i++)
        fprintf(stderr, "statics: execs %s %lu\n", names[i], execs[i]);
    fprintf(stderr, "statics: execs brfirst %lu\nstatics: rwx mappings %d\n", brfirst_execs,
            rwx_mappings());
    fprintf(stderr, "statics: execs manyargs %lu\nstatics: execs fill %lu\n", execs[5], fill_execs);
    return 0;
}
