/*
 * kc_auth.h - the keycache's tokens: loading the --token-file and deciding a caller's role.
 *
 * What it does: parses lines "ro TOKEN" / "rw TOKEN" (# comments and blank lines allowed) into
 * a table, and compares a presented token against every entry in time that does not depend on
 * where (or whether) it matches.
 *
 * What it does not do: no HTTP (kc_proto extracts the token from the header), no reloading:
 * the table is read once at start-up and is read-only afterwards, so threads share it freely.
 */
#ifndef KC_AUTH_H
#define KC_AUTH_H

#include <stddef.h>

#include "kc_proto.h"

struct kc_auth;

/* Loads `path`. Returns 0 and *out, or -1 with a message "PATH:LINE: ..." in `err`. A file
 * without any token is an error. */
int kc_auth_load(const char *path, struct kc_auth **out, char *err, size_t errsz);
void kc_auth_free(struct kc_auth *a);

/* The role of `tok` (`len` bytes): KC_ROLE_RO, KC_ROLE_RW or KC_ROLE_UNKNOWN; `tok` NULL means
 * no token: KC_ROLE_MISSING. When `a` is NULL (no token file) everyone is KC_ROLE_RW. */
enum kc_role kc_auth_role(const struct kc_auth *a, const char *tok, size_t len);

#endif
