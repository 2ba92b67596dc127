/* startlib.c - one of 30 small libraries of the start-up benchmark (LIBNO selects its name). */
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
int CAT(start_fn, LIBNO)(int x)
{
    return x + LIBNO;
}
