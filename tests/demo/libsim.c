/*
 * libsim.c - libsim.so, the demo's "legacy" library: one deliberately slow, pure function.
 *
 * What it does: sim_step() integrates a damped, driven Duffing oscillator
 * (x'' + d x' + a x + b x^3 = g cos(w t), the cosine itself integrated, so no libm) from the
 * initial position x for `steps` fixed-size steps and returns the final position. With the
 * demo's 50 million steps it takes about 0.3 s of real floating-point work, and the result
 * depends only on (x, steps): plain arithmetic, no libm, no state, no I/O, so it is safe to
 * memoize and bit-for-bit reproducible.
 *
 * What it does not do: nothing clever; it is the stand-in for an expensive routine in a library
 * the user cannot rebuild.
 */
#include "sim.h"

double sim_step(double x, int steps)
{
    /* Parameters of the classic chaotic regime: distinct starts end far apart. */
    const double dt = 1e-4, d = 0.3, a = -1.0, b = 1.0, g = 0.5, w2 = 1.2 * 1.2;
    double v = 0.0, phase = 1.0, dphase = 0.0;

    for (int i = 0; i < steps; i++) {
        /* The forcing term is a second, undamped linear oscillator: a cosine without libm. */
        double force = g * phase;
        double acc = force - d * v - a * x - b * x * x * x;

        dphase -= w2 * phase * dt;
        phase += dphase * dt;
        v += acc * dt;
        x += v * dt;
    }
    return x;
}
