/*
 * envover.c - the environment's overrides of [cache] keys: CLOUDM_TIERS, CLOUDM_REMOTE and
 * CLOUDM_SHARED_PATH (include/cloudm_env.h), applied to a parsed config the one way both the
 * shim (at start-up, shim/init.c) and `cloudm doctor` (which reports what the shim would use)
 * apply them.
 *
 * What it does not do: print anything (each caller says in its own words that a bad
 * CLOUDM_TIERS was ignored), read the other variables (CLOUDM_MODE, CLOUDM_VERIFY, ... are read
 * where they are used), or check the URL or the path (the tiers do when they open them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudm_env.h"
#include "cm_config.h"

/* CLOUDM_TIERS: words memory, shared, remote separated by spaces, commas or tabs -> CM_TIER_*
 * bits; 0 when a word is not a tier or there is none. */
static unsigned parse_tiers(const char *v)
{
    unsigned bits = 0;

    v += strspn(v, " ,\t");
    while (*v != '\0') {
        size_t n = strcspn(v, " ,\t");

        if (n == 6 && strncmp(v, "memory", 6) == 0)
            bits |= CM_TIER_MEMORY;
        else if (n == 6 && strncmp(v, "shared", 6) == 0)
            bits |= CM_TIER_SHARED;
        else if (n == 6 && strncmp(v, "remote", 6) == 0)
            bits |= CM_TIER_REMOTE;
        else
            return 0;
        v += n;
        v += strspn(v, " ,\t");
    }
    return bits;
}

int cm_config_env(struct cm_config *cfg)
{
    const char *tiers = getenv(CLOUDM_ENV_TIERS), *remote = getenv(CLOUDM_ENV_REMOTE);
    const char *spath = getenv(CLOUDM_ENV_SHARED_PATH);
    int rc = 0;

    if (tiers != NULL && tiers[0] != '\0') {
        unsigned bits = parse_tiers(tiers);

        if (bits != 0)
            cfg->tiers = bits;
        else
            rc = -EINVAL;
    }
    /* CLOUDM_REMOTE=URL names the remote (and adds the tier unless CLOUDM_TIERS says which);
     * CLOUDM_REMOTE=off takes it away. */
    if (remote != NULL && strcmp(remote, "off") == 0) {
        cfg->tiers &= ~(unsigned)CM_TIER_REMOTE;
    } else if (remote != NULL && remote[0] != '\0') {
        snprintf(cfg->remote, sizeof(cfg->remote), "%s", remote);
        if (tiers == NULL || tiers[0] == '\0')
            cfg->tiers |= CM_TIER_REMOTE;
    }
    if (spath != NULL && spath[0] != '\0')
        snprintf(cfg->shared_path, sizeof(cfg->shared_path), "%s", spath);
    return rc;
}
