/* benchfn.c - the trivial functions the call benchmarks memoize (one multiply-add each), in
 * their own library so calls go through the PLT as in a real program. */
double bench_fn(double x)
{
    return x * 1.000001 + 0.5;
}

/* The probe benchmark's function (bench_probe.c): sums a buffer (64 KiB there), so its working
 * set, and what `cloudm probe` snapshots through its parameter, is that buffer. */
long bench_work(const unsigned char *buf, unsigned long n)
{
    long s = 0;
    for (unsigned long i = 0; i < n; i++)
        s += buf[i] * (long)(i | 1);
    return s;
}
