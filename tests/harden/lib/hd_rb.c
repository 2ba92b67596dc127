/*
 * hd_rb.c - libhdrb.so: the other half of the mutual recursion of hd_ra.c
 * (test_item2_deep_recursion); hd_ra is resolved at run time from libhdra.so, through this
 * library's PLT.
 */
long hd_ra(long n);

long hd_rb(long n)
{
    if (n <= 0)
        return hd_ra(0);
    return hd_ra(n - 1) + 1;
}
