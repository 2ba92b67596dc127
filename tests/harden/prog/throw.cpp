/*
 * throw.cpp - test_item3_longjmp_claim: five calls of hd_throw(7), a memoized function that
 * leaves by a C++ exception every time (caught here), then one that returns normally.
 */
#include <cstdio>
#include <stdexcept>

extern "C" long hd_throw(long x);

int main()
{
    int caught = 0;
    for (int i = 0; i < 5; i++) {
        try {
            hd_throw(7);
        } catch (const std::runtime_error &) {
            caught++;
        }
    }
    printf("caught %d, hd_throw(-3) = %ld\n", caught, hd_throw(-3));
    return 0;
}
