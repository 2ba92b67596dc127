/*
 * bench_discover.c - the program of the discover benchmark (bench/bench_discover.sh).
 *
 * Usage: cmbench_discover N [W [floor]]
 * Makes N calls of discbench_cheap() (libcmbench_disclib.so, through the PLT) with arguments
 * that repeat every 1000 calls, times the loop itself in thread CPU time (CLOCK_THREAD_CPUTIME_ID:
 * preemption on a busy machine does not count) and in wall-clock time (what a ptrace-based
 * tracer costs, since the traced thread is stopped, not running), and prints
 * "ns_per_call CPU WALL" on stderr and a checksum on stdout. With W, each iteration also does W
 * steps of its own arithmetic (about 1 ns each), like a program that does some work between
 * its library calls. Run plain, under `cloudm discover`,
 * `uftrace record --force` and `ltrace -c`, the loop time says what each costs per call.
 *
 * With `floor`, every call also goes through one more indirect jump (floor_stub: `jmp *slot`),
 * like the least a GOT-slot observer can add: with an empty library preloaded, that run is the
 * floor of `cloudm discover`'s whole-run overhead (bench_discover.sh).
 *
 * What it does not do: nothing but the calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int discbench_cheap(int a, int b);

/* floor_stub: one indirect jump through floor_slot (the PLT entry), as a counting stub adds one */
int floor_stub(int a, int b);
void *floor_slot;
__asm__(".text\n"
        ".p2align 4\n"
        ".type floor_stub, @function\n"
        "floor_stub:\n"
        "  endbr64\n"
        "  jmp *floor_slot(%rip)\n"
        ".size floor_stub, . - floor_stub\n");

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long w = argc > 2 ? atol(argv[2]) : 0;
    int floor = argc > 3 && strcmp(argv[3], "floor") == 0;
    void *plt; /* the PLT entry: floor calls take it too, after floor_stub's jump */
    __asm__("leaq discbench_cheap@PLT(%%rip), %0" : "=r"(plt));
    floor_slot = plt;
    volatile long work = 0;
    struct timespec t0, t1, w0, w1;
    long sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (long i = 0; i < n; i++) {
        sum += floor ? floor_stub((int)(i % 1000), 3) : discbench_cheap((int)(i % 1000), 3);
        for (long k = 0; k < w; k++)
            work = work + k;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    double wall = (double)(w1.tv_sec - w0.tv_sec) * 1e9 + (double)(w1.tv_nsec - w0.tv_nsec);
    fprintf(stderr, "ns_per_call %.2f %.2f\n", n ? ns / (double)n : 0.0,
            n ? wall / (double)n : 0.0);
    printf("%ld\n", sum);
    return 0;
}
