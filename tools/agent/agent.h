/*
 * agent.h - the cloudm agent (docs/agent.md): the process that talks to a remote cache for every
 * host process of one user and remote configuration, reached through a channel in shared
 * memory (shim/chan/chan.h).
 *
 * What it offers the `cloudm` command: the subcommand (`cloudm agent`), starting an agent for a
 * config before a program runs (`cloudm run`), and listing running agents (`cloudm stats`).
 *
 * What it does not do: no key derivation or envelope checks (the host does those); it moves
 * hex keys and envelopes between the channel and the server with the remote client
 * (shim/remote/, cm_rclient).
 */
#ifndef CM_AGENT_H
#define CM_AGENT_H

#include <stdio.h>

struct cm_config;
struct cm_chan_hdr;

/* `cloudm agent ...` */
int cm_cmd_agent(int argc, char **argv);
void cm_usage_agent(FILE *f);

/* Serves the channel at path in this process until it is stopped or idle (agent_run.c).
 * Returns the exit status. */
int cm_agent_serve(const char *path, int foreground);

/* For `cloudm run`: when cfg uses a remote, makes sure its agent runs (starting it, waiting up
 * to 2 s until it is ready). Silent; failures only mean the first calls miss. */
void cm_agent_prepare(const struct cm_config *cfg);

/* For `cloudm stats`: prints one block per channel beside the segment file seg_path (JSON
 * objects separated by ", " when json). Returns how many were printed. */
int cm_agent_list(const char *seg_path, int json, FILE *f);

#endif
