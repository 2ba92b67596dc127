/* sim.h - the demo library's interface (libsim.so). */
#ifndef SIM_H
#define SIM_H

/* Final position after `steps` integration steps starting at position x (slow; pure). */
double sim_step(double x, int steps);

#endif
