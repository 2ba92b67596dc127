/* dup_a.c - a static solve() (see dup_main.c), reached through solve_a(). */
unsigned long execs_a;

__attribute__((noinline, noclone)) static long solve(long n)
{
    execs_a++;
    long r = n;
    for (int i = 0; i < 100; i++)
        r = r * 3 + i;
    return r;
}

long solve_a(long n);
long solve_a(long n)
{
    return solve(n) + 1;
}
