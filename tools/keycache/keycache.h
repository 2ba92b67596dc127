/*
 * kc_cmd.h - the entry point of `cloudm keycache` (keycache.c) for the command table in
 * cloudm.c. Kept apart from cli.h so the server's files stay self-contained.
 *
 * What it does not do: nothing else; the server's modules have their own headers (kc_*.h).
 */
#ifndef KC_CMD_H
#define KC_CMD_H

#include <stdio.h>

/* argv[0] is "keycache". Returns the exit status: 0 after SIGTERM/SIGINT, 1 when the server
 * cannot start, 2 on a usage error. */
int cm_cmd_keycache(int argc, char **argv);
void cm_usage_keycache(FILE *f);

#endif
