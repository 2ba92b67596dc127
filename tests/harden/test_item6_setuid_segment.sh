#!/bin/bash
# test_item6_setuid_segment.sh - issue 16 item 6: a root daemon that drops privileges.
#
# Proves: after setresuid(1001) the process no longer maps root's segment, so what it computes
# as uid 1001 never reaches a later root process (which computes its own answer, identical to
# plain); uid 1001 gets a segment of its own where it may create one.
. "$CM_SRC/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
cm_require "$CLOUDM" "$CM_BIN/setuid" || cm_done
chmod 0711 "$CM_TMP"
mkdir -p "$CM_TMP/shm" && chmod 1777 "$CM_TMP/shm"
export CLOUDM_SHARED_PATH="$CM_TMP/shm/seg-%u"
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf who <<'CONF'
[function hd_who]
signature = i64 hd_who(i64 x)
CONF
)
chmod 0644 "$conf"
rootseg=$CM_TMP/shm/seg-0
cm_plain plain_after "$CM_BIN/setuid" after 1001 "$rootseg"
cm_plain plain_before "$CM_BIN/setuid" before 1001 "$rootseg"
cm_run after -c "$conf" --report="$CM_TMP/after.json" -- "$CM_BIN/setuid" after 1001 "$rootseg"
cm_expect_match "root's segment was mapped before the drop" "$CM_TMP/after.out" "segment mapped as root: yes"
sed -i 's/segment mapped as root: yes/segment mapped as root: no/' "$CM_TMP/after.out"
cm_same plain_after after
cm_run before -c "$conf" --report="$CM_TMP/before.json" -- "$CM_BIN/setuid" before 1001 "$rootseg"
cm_same plain_before before
cm_expect_eq "later root process: hd_who(6) computed again" "$(cm_execs before hd_who)" 1
cm_expect_eq "uid 1001's own segment" "$(stat -c %u "$CM_TMP/shm/seg-1001" 2>/dev/null)" 1001
cm_done
