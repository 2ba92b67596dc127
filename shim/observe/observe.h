/*
 * observe.h - the observation mode of libcloudm.so (`cloudm discover`): every function reached
 * through a GOT slot or dlsym is counted, and its calls are timed and their key digests traced
 * (every call of a slow function, a sample of a cheap one's), with no config and no cache.
 *
 * What it does: cm_observe_start() (from the constructor, when CLOUDM_DISCOVER names a
 * directory) reads the key plan file if any, grows the hook targets from every loaded object's imports (and
 * the exports of objects loaded later or named by CLOUDM_DISCOVER_OBJECTS), binds each
 * implementation to a counting stub, asks the command for key plans, and in list mode writes the candidates and exits before
 * main. cm_observe_finish() (destructor) writes this process's observation file
 * (include/cloudm_discover.h).
 *
 * What it does not do: it never changes a result: the original always runs with the caller's
 * registers. No memory or shared tier, no report.
 *
 * Include order: core -> observe -> hook -> ... (observe uses hook/, elf/ and arch/).
 */
#ifndef CM_OBSERVE_H
#define CM_OBSERVE_H

/* Whether CLOUDM_DISCOVER asks for observation (read once). */
int cm_observe_wanted(void);

/* Set up and install observation. 0, or a negative errno (then nothing is observed). */
int cm_observe_start(void);

/* Write this process's observation file. */
void cm_observe_finish(void);

#endif
