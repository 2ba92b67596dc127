/*
 * cloudm_env.h - every environment variable cloudm reads or sets, in one place.
 *
 * The contract between `cloudm run` and libcloudm.so. The shim reads these once, in its
 * constructor; the tools set them before exec. Nothing else in the project spells an
 * environment variable name.
 */
#ifndef CLOUDM_ENV_H
#define CLOUDM_ENV_H

#define CLOUDM_ENV_CONFIG "CLOUDM_CONFIG"   /* path of the config file */
#define CLOUDM_ENV_MODE "CLOUDM_MODE"       /* overrides [cache] and per-function mode */
#define CLOUDM_ENV_DISABLE "CLOUDM_DISABLE" /* "1": the shim installs nothing */
#define CLOUDM_ENV_REPORT "CLOUDM_REPORT"   /* "stderr" or a JSON file path (%p = pid) */
#define CLOUDM_ENV_CHECK "CLOUDM_CHECK"     /* "1": print the hook plan and _exit (cloudm check) */
#define CLOUDM_ENV_LIB "CLOUDM_LIB"         /* `cloudm`: path of libcloudm.so to preload */
#define CLOUDM_ENV_DEBUG "CLOUDM_DEBUG"     /* "1": log hook decisions on stderr */
#define CLOUDM_ENV_TIERS "CLOUDM_TIERS"     /* overrides [cache] tiers, e.g. "memory" */
#define CLOUDM_ENV_SHARED_PATH "CLOUDM_SHARED_PATH" /* overrides [cache] shared_path */
#define CLOUDM_ENV_DEBUG_DIR "CLOUDM_DEBUG_DIR"     /* dirs holding .build-id/ (debug files) */
#define CLOUDM_ENV_ID_CACHE "CLOUDM_ID_CACHE"       /* code identity cache directory, "off": none */
#define CLOUDM_ENV_REMOTE "CLOUDM_REMOTE" /* overrides [cache] remote; "off": no remote tier */
/* Not read by cloudm: the options the systemd unit cloudm-keycache.service passes to `cloudm
 * keycache`, set in /etc/default/cloudm-keycache (tools/dist/). */
#define CLOUDM_ENV_KEYCACHE_OPTS "CLOUDM_KEYCACHE_OPTS"
#define CLOUDM_ENV_REMOTE_LIB "CLOUDM_REMOTE_LIB" /* path of libcloudm-remote.so (default: beside
                                                     libcloudm.so) */
#define CLOUDM_ENV_DISCOVER "CLOUDM_DISCOVER" /* observation mode: directory for the
                                                 observation files (cloudm discover) */
#define CLOUDM_ENV_DISCOVER_SPEC "CLOUDM_DISCOVER_SPEC" /* key plan file (cloudm_discover.h) */
#define CLOUDM_ENV_DISCOVER_OBJECTS "CLOUDM_DISCOVER_OBJECTS" /* ':'-separated object globs */
#define CLOUDM_ENV_DISCOVER_INTERNAL "CLOUDM_DISCOVER_INTERNAL" /* "1": also the executable's
                                                                  own functions (inline hooks) */
#define CLOUDM_ENV_DISCOVER_LIST "CLOUDM_DISCOVER_LIST" /* "1": list candidates, exit before main */
#define CLOUDM_ENV_DISCOVER_SAMPLE "CLOUDM_DISCOVER_SAMPLE" /* "off": key, trace and time every
                                                              call, cheap functions too */
#define CLOUDM_ENV_VERIFY "CLOUDM_VERIFY" /* overrides [cache] and per-function verify (0..1) */
#define CLOUDM_ENV_PROBE "CLOUDM_PROBE"   /* probe mode: file the findings go to (%p = pid) */
#define CLOUDM_ENV_PROBE_CALLS "CLOUDM_PROBE_CALLS" /* probe mode: calls checked per function */
#define CLOUDM_ENV_CRYPTO_LIB                                                                      \
    "CLOUDM_CRYPTO_LIB" /* path of libcloudm-crypto.so (default:                                   \
                           beside libcloudm.so) */
#define CLOUDM_ENV_KEY_FILE                                                                        \
    "CLOUDM_KEY_FILE" /* the per-user key of sensitive functions (default                          \
                         $XDG_CONFIG_HOME/cloudm/sensitive.key) */

#define CLOUDM_ENV_BIN "CLOUDM_BIN" /* the cloudm command the shim starts agents with (default:
                                     beside libcloudm.so, then /usr/bin/cloudm) */

#endif
