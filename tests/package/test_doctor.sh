#!/bin/bash
# test_doctor.sh - `cloudm doctor`: one OK/WARN/FAIL line per check and exit 0/1, against a
# config with errors, a segment with a bad mode, a segment that is fine (made by a real run),
# a keycache server with the right token, the wrong token, and a server that is down.
#
# Usage: test_doctor.sh CLOUDM
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/servers.sh"
CLOUDM=$1
T=$CM_TMP
unset CLOUDM_TIERS CLOUDM_SHARED_PATH

doctor() { # doctor NAME ARGS...: output in $T/NAME.out, status in $T/NAME.rc
  local name=$1
  shift
  (cd "$T" && "$CLOUDM" doctor "$@") >"$T/$name.out" 2>&1
  echo $? >"$T/$name.rc"
}

# A good config, no segment yet.
cat >"$T/good.conf" <<CONF
[cache]
shared_path = $T/seg-%u
[function lgamma]
signature = f64 lgamma(f64 x)
CONF
doctor good -c "$T/good.conf"
cm_expect_eq "good config: exit status" "$(cat "$T/good.rc")" 0
cm_expect_match "good config: which file, found how" "$T/good.out" "^OK   config: $T/good.conf \\(from -c\\): 1 function, 0 warnings\$"
cm_expect_match "library found and loadable" "$T/good.out" '^OK   preload library: /.*libcloudm\.so \(.*\), loads$'
cm_expect_match "no segment yet: where, size, free space" "$T/good.out" "^OK   shared segment: none yet at $T/seg-[0-9]+ \\(the first program creates it: shared_size 256 MiB; .* free on $T, "
cm_expect_match "huge pages line" "$T/good.out" '^OK   huge pages: '
cm_expect_match "remote: off" "$T/good.out" '^OK   remote: not configured'
cm_expect_match "identity cache line" "$T/good.out" '^OK   identity cache: '
cm_expect_match "kernel: THP for shmem" "$T/good.out" '^(OK  |WARN) kernel: (transparent_hugepage/shmem_enabled|no transparent)'
cm_expect_match "summary" "$T/good.out" '^0 failed, [0-9]+ warnings?$'
cm_expect_nomatch "every line is OK/WARN/FAIL, a note or the summary" "$T/good.out" '^([^OWF 0-9]|O[^K]|W[^A]|F[^A])'

# Found through ./cloudm.conf
cp "$T/good.conf" "$T/cloudm.conf"
doctor cwd
cm_expect_match "found as ./cloudm.conf" "$T/cwd.out" "^OK   config: $T/cloudm.conf \\(from ./cloudm.conf\\)"
rm "$T/cloudm.conf"

# A segment made by a real run, then one with a bad mode.
PROG=$T/memo_prog
cc -O0 -fno-builtin -o "$PROG" "$(dirname "$0")/memo_prog.c" -lm
"$CLOUDM" run -c "$T/good.conf" -- "$PROG" 3 >/dev/null 2>"$T/run.err"
doctor seg -c "$T/good.conf"
cm_expect_eq "with a segment: exit status" "$(cat "$T/seg.rc")" 0
cm_expect_match "segment: path, owner, mode, size, fill, entries" "$T/seg.out" "^OK   shared segment: $T/seg-$(id -u), owner uid $(id -u), mode 0600, 256 MiB, [0-9]+% full, 20 entries; .* free on $T"
chmod 0666 "$T/seg-$(id -u)"
doctor badmode -c "$T/good.conf"
cm_expect_eq "segment writable by others: exit status" "$(cat "$T/badmode.rc")" 1
cm_expect_match "segment writable by others: FAIL" "$T/badmode.out" '^FAIL shared segment: .* mode 0666, writable by group or others'
cm_expect_match "summary counts the failure" "$T/badmode.out" '^1 failed'

# A config with errors.
printf '[function lgamma]\nsignature = f64 lgamma(dobule x)\n' >"$T/bad.conf"
doctor bad -c "$T/bad.conf"
cm_expect_eq "config with errors: exit status" "$(cat "$T/bad.rc")" 1
cm_expect_match "config with errors: FAIL" "$T/bad.out" "^FAIL config: $T/bad.conf \\(from -c\\): 1 error"
cm_expect_match "config with errors: the message" "$T/bad.out" "^     $T/bad.conf:2:24: error: unknown type 'dobule'"
doctor missing -c "$T/nope.conf"
cm_expect_eq "missing config: exit status" "$(cat "$T/missing.rc")" 1

# A keycache with tokens: the right token, a wrong one, a server that is down.
printf 'rw right-token\n' >"$T/tokens"
echo right-token >"$T/right.token"
echo wrong-token >"$T/wrong.token"
"$CLOUDM" keycache --listen 127.0.0.1:0 --ready-file "$T/ready" --data "$T/kc" \
  --token-file "$T/tokens" 2>"$T/kc.err" &
KC=$!
CM_SERVER_PIDS+=("$KC")
for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
ADDR=$(cat "$T/ready")
for tok in right wrong; do
  printf '[cache]\ntiers = memory remote\nremote = http://%s\ntoken_file = %s.token\nshared_path = %s/seg-%%u\n' \
    "$ADDR" "$tok" "$T" >"$T/$tok.conf"
  doctor "remote_$tok" -c "$T/$tok.conf"
done
# The agent: none yet; running once `cloudm run` started it; gone after `cloudm agent --stop`.
"$CLOUDM" run -c "$T/right.conf" -- true
doctor agent_up -c "$T/right.conf"
"$CLOUDM" agent -c "$T/right.conf" --stop >/dev/null 2>&1
doctor agent_down -c "$T/right.conf"
kill -TERM "$KC"
wait "$KC"
cm_expect_eq "keycache stopped by SIGTERM: exit status" "$?" 0
cm_expect_eq "right token: exit status" "$(cat "$T/remote_right.rc")" 0
cm_expect_match "right token: OK" "$T/remote_right.out" "^OK   remote: http://$ADDR reachable, token accepted"
cm_expect_match "shared tier off by tiers" "$T/remote_right.out" '^OK   shared segment: the shared tier is off'
cm_expect_match "agent: none yet" "$T/remote_right.out" '^OK   agent: none running for this remote yet'
cm_expect_match "agent: running after cloudm run" "$T/agent_up.out" '^OK   agent: running, pid [0-9]+'
cm_expect_match "agent: stopped" "$T/agent_down.out" '^(WARN agent: channel .* has no live agent|OK   agent: none running)'
cm_expect_eq "wrong token: exit status" "$(cat "$T/remote_wrong.rc")" 1
cm_expect_match "wrong token: FAIL" "$T/remote_wrong.out" "^FAIL remote: http://$ADDR refused the token"
doctor remote_down -c "$T/right.conf"
cm_expect_eq "server down: exit status" "$(cat "$T/remote_down.rc")" 1
cm_expect_match "server down: FAIL" "$T/remote_down.out" "^FAIL remote: http://$ADDR (unreachable|: no answer)"

# CLOUDM_LIB naming a missing file: the library check fails.
CLOUDM_LIB=$T/none.so "$CLOUDM" doctor -c "$T/good.conf" >"$T/nolib.out" 2>&1
cm_expect_eq "missing library: exit status" "$?" 1
cm_expect_match "missing library: FAIL" "$T/nolib.out" '^FAIL preload library: CLOUDM_LIB='

"$CLOUDM" doctor --bogus >/dev/null 2>&1
cm_expect_eq "unknown option: exit status" "$?" 2
cm_done
