/*
 * keycache.h - the interface of tools/keycache/, the keycache server: the entry point of
 * `cloudm keycache` (keycache.c) for the command table in tools/cloudm.c. The server includes
 * nothing from tools/ (only config/ and shim/remote/), so it could become a program of its own.
 *
 * What it does not do: nothing else; the server's modules have their own headers (kc_*.h).
 */
#ifndef KC_KEYCACHE_H
#define KC_KEYCACHE_H

#include <stdio.h>

#define KC_EXIT_FAIL 1  /* the server cannot start */
#define KC_EXIT_USAGE 2 /* unknown option, bad value */

/* argv[0] is "keycache". Returns the exit status: 0 after SIGTERM/SIGINT, 1 when the server
 * cannot start, 2 on a usage error. */
int cm_cmd_keycache(int argc, char **argv);
void cm_usage_keycache(FILE *f);

/* `cloudm keycache --init DIR`: creates a team secret and rw/ro tokens in DIR and prints the
 * server's and the clients' configuration (kc_init.c); `listen` is the --listen value. Returns
 * 0 or KC_EXIT_FAIL. */
int kc_init(const char *dir, const char *listen);

#endif
