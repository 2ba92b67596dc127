/* discbench_lib.c - the cheap library function of the discover benchmark (a few integer
 * operations, a few ns), in its own library so calls go through the PLT. */
int discbench_cheap(int a, int b)
{
    return a * 31 + (b ^ 7);
}
