/*
 * legacy_sim.c - the demo program: a "legacy" simulation driver that calls the slow library
 * function sim_step() (libsim.so) several times, some of them with the same arguments.
 *
 * What it does: for each starting position (default 0.5 1.5 0.5 0.5 1.5 0.5: six calls, two
 * distinct argument sets) prints the result on stdout, and how long each call took on stderr,
 * so a run under `cloudm run` shows the slow first calls and the fast repeated ones while
 * stdout stays byte-identical to a plain run.
 *
 * What it does not do: it knows nothing about cloudm; it is linked normally against libsim.so
 * (found through its RPATH in the build tree) and calls sim_step through the PLT.
 *
 * Usage: legacy_sim [-n STEPS] [X ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define DEFAULT_STEPS 50000000 /* about 0.3 s per call */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: legacy_sim [-n STEPS] [X ...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const double defaults[] = {0.5, 1.5, 0.5, 0.5, 1.5, 0.5};
    double xs[64];
    int n = 0, steps = DEFAULT_STEPS, i = 1;
    double total = 0.0;
    char *end;

    if (i + 1 < argc && strcmp(argv[i], "-n") == 0) {
        long v = strtol(argv[i + 1], &end, 10);

        if (*end != '\0' || v < 0 || v > 1000000000)
            return usage();
        steps = (int)v;
        i += 2;
    }
    for (; i < argc; i++) {
        if (n == (int)(sizeof(xs) / sizeof(xs[0])))
            return usage();
        xs[n++] = strtod(argv[i], &end);
        if (*end != '\0')
            return usage();
    }
    if (n == 0) {
        n = (int)(sizeof(defaults) / sizeof(defaults[0]));
        memcpy(xs, defaults, sizeof(defaults));
    }

    for (i = 0; i < n; i++) {
        double t0 = now(), r, dt;

        r = sim_step(xs[i], steps);
        dt = now() - t0;
        total += dt;
        printf("sim_step(%g, %d) = %.17g\n", xs[i], steps, r);
        fflush(stdout);
        if (dt >= 1e-3)
            fprintf(stderr, "legacy_sim: call %d: sim_step(%g) took %8.1f ms\n", i + 1, xs[i],
                    dt * 1e3);
        else
            fprintf(stderr, "legacy_sim: call %d: sim_step(%g) took %8.1f us\n", i + 1, xs[i],
                    dt * 1e6);
    }
    fprintf(stderr, "legacy_sim: %d call%s in %.3f s\n", n, n == 1 ? "" : "s", total);
    return 0;
}
