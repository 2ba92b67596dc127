/*
 * libinl.c - a library whose exported inl_hash is also called directly from inside the library
 * (built -fno-semantic-interposition, so inl_hash_many's calls never use the PLT): only an inline
 * hook sees those. Loaded with dlopen by dlthreads.c.
 */
unsigned long inl_execs;

long inl_hash(long x);
long inl_hash_many(long n, long k);

__attribute__((noinline)) long inl_hash(long x)
{
    __atomic_fetch_add(&inl_execs, 1, __ATOMIC_RELAXED);
    unsigned long h = (unsigned long)x * 0x9e3779b97f4a7c15ul;
    for (int i = 0; i < 300; i++)
        h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ul + (unsigned long)i;
    return (long)(h >> 1);
}

long inl_hash_many(long n, long k)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += inl_hash((i * 7 + k) % 64);
    return s;
}
