/* benchfn.c - the trivial functions the call benchmarks memoize (one multiply-add each), in
 * their own library so calls go through the PLT as in a real program. */
double bench_fn(double x)
{
    return x * 1.000001 + 0.5;
}
