#!/bin/bash
# test_systemd.sh - the keycache's systemd unit: `systemd-analyze verify` accepts it (with
# ExecStart pointing at this build's cloudm, since the installed path does not exist here), it
# has the hardening issue 15 asks for, and its ExecStart line, with the options the shipped
# /etc/default/cloudm-keycache sets, starts a server that answers and stops cleanly (exit 0) on
# SIGTERM, the signal systemd sends. (No systemd runs services in CI: the line is run directly.)
#
# Usage: test_systemd.sh CLOUDM UNIT DEFAULT_FILE
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/servers.sh"
CLOUDM=$1 UNIT=$2 DEFAULTS=$3
T=$CM_TMP

if ! command -v systemd-analyze >/dev/null; then
  cm_fail "systemd-analyze not installed (bash .ci/install-deps)"
  cm_done
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
bin=${exec_start%% *}
cm_expect_match "ExecStart runs cloudm keycache" <(echo "$exec_start") '^/[^ ]*/cloudm keycache --data %S/cloudm-keycache \$CLOUDM_KEYCACHE_OPTS$'
for k in DynamicUser=yes StateDirectory=cloudm-keycache NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
  EnvironmentFile=-/.*/default/cloudm-keycache KillSignal=SIGTERM; do
  cm_expect_match "unit has $k" "$UNIT" "^$k\$"
done

# verify, with the command this build made (--man=no: the man page is not installed here;
# test_deb.sh verifies the installed unit with it)
mkdir -p "$T/units"
sed "s|^ExecStart=$bin |ExecStart=$CLOUDM |" "$UNIT" >"$T/units/cloudm-keycache.service"
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$T/units/cloudm-keycache.service" >"$T/verify.out" 2>&1
cm_expect_eq "systemd-analyze verify: exit status" "$?" 0
cm_expect_nomatch "systemd-analyze verify: no complaint about the unit" "$T/verify.out" 'cloudm-keycache'
# a broken copy must be caught (the check can fail)
sed 's/^ProtectSystem=strict/ProtectSystem=stricter/' "$T/units/cloudm-keycache.service" >"$T/units/broken.service"
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$T/units/broken.service" >"$T/broken.out" 2>&1
cm_expect_match "systemd-analyze verify catches a bad value" "$T/broken.out" "protect system value.*stricter"

# The ExecStart line with the shipped options (the port made free, a ready file added).
opts=$(. "$DEFAULTS" && echo "$CLOUDM_KEYCACHE_OPTS")
cm_expect_match "default options listen on loopback" <(echo "$opts") '--listen 127\.0\.0\.1:7878'
opts=${opts/127.0.0.1:7878/127.0.0.1:0}
mkdir -p "$T/state"
line=${exec_start/#$bin/$CLOUDM}
line=${line//%S/$T/state}
line=${line/\$CLOUDM_KEYCACHE_OPTS/$opts --ready-file $T/ready}
# shellcheck disable=SC2086 # systemd splits $VAR (unbraced) into words the same way
$line 2>"$T/kc.err" &
KC=$!
CM_SERVER_PIDS+=("$KC")
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
cm_expect_eq "the service line answers /healthz" \
  "$(env -u LD_PRELOAD curl -s --max-time 5 "http://$(cat "$T/ready")/healthz")" ok
kill -TERM "$KC"
wait "$KC"
cm_expect_eq "SIGTERM: clean exit" "$?" 0
cm_expect_eq "store created in the state directory" "$([ -d "$T/state/cloudm-keycache" ] && echo yes)" yes
cm_done
