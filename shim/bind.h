/*
 * bind.h - turning a binding found by the hooker into a ready variant (descriptor + stub).
 */
#ifndef CM_BIND_H
#define CM_BIND_H

#include <stdio.h>

#include "cm_config.h"
#include "hook/hook.h"

/* Must be called once before cm_hook_install(): the config stays alive for the process. */
void cm_bind_setup(const struct cm_config *cfg, enum cm_mode env_mode);

/* The cm_bind_cb given to cm_hook_install(). */
void *cm_bind(const struct cm_binding *b);
/* The hook layer's unbind callback: the variant behind `entry` lost its library (dlclose); it is
 * bypassed from now on and never returned by cm_bind again. */
void cm_unbind(void *entry);

/* For `cloudm check`: each variant's key identity (first 8 bytes of the digest of its identity
 * prefix) and what it was derived from. */
void cm_bind_describe(FILE *out);

/* 1 if config function `func` has at least one variant. */
int cm_bind_hooked(int func);

#endif
