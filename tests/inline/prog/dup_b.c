/* dup_b.c - a static solve() (see dup_main.c), reached through solve_b(). */
unsigned long execs_b;

__attribute__((noinline, noclone)) static long solve(long n)
{
    execs_b++;
    long r = n;
    for (int i = 0; i < 100; i++)
        r = r * 5 + i;
    return r;
}

long solve_b(long n);
long solve_b(long n)
{
    return solve(n) + 1;
}
