#!/bin/bash
# test_item14_idcache_readonly.sh - issue 16 item 14: a code identity cache that cannot be
# written (its directory on a read-only filesystem) is reported with the real cause
# ("Read-only file system"), once, not as "No such file or directory"; the program's output
# and its hits are those of a writable cache's first run.
#
# Needs root to mount a read-only tmpfs; exits 77 (skipped) when the mount is not permitted.
. "$CM_E2E/lib.sh"

PROG=$CM_BIN/ident_base
cm_require "$CLOUDM" "$PROG" || cm_done
CONF=$(cm_conf c <<'C'
[function target]
signature = i64 target(i64 n)
C
)
RO=$CM_TMP/ro
mkdir -p "$RO"
if ! mount -t tmpfs -o ro,size=64k tmpfs "$RO" 2>"$CM_TMP/mount.err"; then
  echo "SKIP: cannot mount a read-only tmpfs ($(cat "$CM_TMP/mount.err")): needs root"
  exit 77
fi
trap 'umount "$RO"; rm -rf "$CM_TMP"' EXIT
export CLOUDM_ID_CACHE=$RO/ids CLOUDM_TIERS=shared

cm_plain plain "$PROG"
cm_run r1 -c "$CONF" --report="$CM_TMP/r1.json" -- "$PROG"
cm_same plain r1
cm_expect_match "the real cause is named" "$CM_TMP/r1.err" \
  "cannot write the code identity cache $RO/ids/[0-9a-f]+\.ids: cannot create $RO/ids: Read-only file system"
cm_expect_nomatch "not 'No such file or directory'" "$CM_TMP/r1.err" "No such file"
cm_expect_eq "said once" "$(grep -c 'identity cache' "$CM_TMP/r1.err")" 1
cm_counts r1 target 200 180 20
cm_done
