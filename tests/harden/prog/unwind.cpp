/*
 * unwind.cpp - test_item2_exception_unwind: C++ exceptions thrown through memoized functions.
 * Three times, hd_xa(10) (libhdxrec.so, through the PLT) throws from its deepest level and the
 * exception is caught here; then it is called twice normally. The same with ux_a/ux_b, two
 * functions of this program that call each other directly (inline hooks). Prints what it caught
 * and the results.
 */
#include <cstdio>
#include <stdexcept>

extern "C" void hd_xarm(int on);
extern "C" long hd_xa(long n);

static volatile int ux_armed;
extern "C" long ux_b(long n);

extern "C" __attribute__((noinline)) long ux_a(long n)
{
    if (n <= 0) {
        if (ux_armed)
            throw std::runtime_error("from the inline bottom");
        return 0;
    }
    return ux_b(n - 1) + 1;
}

extern "C" __attribute__((noinline)) long ux_b(long n)
{
    return ux_a(n - 1) + 2;
}

int main()
{
    hd_xarm(1);
    ux_armed = 1;
    for (int i = 0; i < 3; i++) {
        try {
            std::printf("hd_xa(10) = %ld (no exception?)\n", hd_xa(10));
        } catch (const std::runtime_error &e) {
            std::printf("caught: %s\n", e.what());
        }
        try {
            std::printf("ux_a(10) = %ld (no exception?)\n", ux_a(10));
        } catch (const std::runtime_error &e) {
            std::printf("caught: %s\n", e.what());
        }
    }
    hd_xarm(0);
    ux_armed = 0;
    for (int i = 0; i < 2; i++)
        std::printf("hd_xa(10) = %ld, ux_a(10) = %ld\n", hd_xa(10), ux_a(10));
    return 0;
}
