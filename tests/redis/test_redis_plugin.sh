#!/usr/bin/env bash
# test_redis_plugin.sh - libcloudm-remote.so's Redis backend (redis://) driven through the
# plugin interface (redis_driver) against redis-server instances this script starts: round trips
# (one and four threads), namespaces as key prefixes, fork (the child's own connections), URLs
# refused at open, TTL set on write and refreshed on read
# (checked with redis-cli TTL), a short remote_expire really expiring, encrypted values, values
# at remote_max_value and one byte above, AUTH (password in the URL or token_file, ACL user,
# wrong password), SELECT, a stalled server (CLIENT PAUSE: timeouts within remote_timeout),
# rediss:// refused at open with its reason, and the server killed mid-run (errors counted, the
# breaker opens, never a wrong value).
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
. "$(dirname "${BASH_SOURCE[0]}")/redis_lib.sh"
so=$CM_BUILD/lib/libcloudm-remote.so
cm_require "$CM_REDIS_DRIVER" "$so" || cm_done
command -v redis-server >/dev/null || { cm_fail "redis-server missing (package redis-server)"; cm_done; }

# drive NAME URL [OPTIONS] CMD ARGS: the driver's own checks must pass; output in NAME.out
drive() {
  local name=$1; shift
  CM_CHECKS=$((CM_CHECKS + 1))
  if "$CM_REDIS_DRIVER" "$so" "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"; then
    cm_ok "driver $name: $*"
  else
    cm_fail "driver $name: $*"; sed 's/^/    /' "$CM_TMP/$name.err" | head -20 >&2
  fi
}
# counter NAME FIELD: a counter from run NAME's last "counters" line
counter() { sed -n 's/.* '"$2"'=\([0-9]*\).*/\1/p' "$CM_TMP/$1.out" | tail -1; }
# ttl_between PORT KEY MIN MAX DESC
ttl_between() {
  local t
  t=$(rcli "$1" ttl "$2")
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ "$t" -ge "$3" ] 2>/dev/null && [ "$t" -le "$4" ]; then cm_ok "$5: TTL $t in [$3, $4]"
  else cm_fail "$5: TTL '$t' not in [$3, $4]"; fi
}

cm_redis_start one || cm_done
P=$CM_REDIS_PORT
U="redis://127.0.0.1:$P"

# --- round trips, threads, namespaces ----------------------------------------------------------
drive put "$U" put 0 200
cm_expect_eq "keys on the server" "$(rcli $P dbsize)" 200
cm_expect_eq "keys are <namespace>:<128 hex>" \
  "$(rcli $P --scan --pattern '*' | grep -cvE '^default:[0-9a-f]{128}$')" 0
drive get "$U" --threads 4 get 0 200 hit
drive miss "$U" get 1000 50 miss
drive otherns "$U" --ns other get 0 20 miss

# --- fork: the child opens its own connections ----------------------------------------------------
drive forkput "$U" --ns fork put 0 30
drive fork "$U" --ns fork fork 0 30

# --- URLs refused at open -----------------------------------------------------------------------------
badurl() {
  "$CM_REDIS_DRIVER" "$so" "$1" get 0 1 miss >/dev/null 2>"$CM_TMP/badurl.err"
  cm_expect_match "refused at open: $1" "$CM_TMP/badurl.err" "$2"
}
badurl "redis://" "has no host"
badurl "redis://127.0.0.1:0" "bad host or port"
badurl "redis://127.0.0.1:65536" "bad host or port"
badurl "redis://a:1,b:2" "several hosts need redis\+cluster://"
badurl "redis+cluster://a:1,b:2/3" "database 0 only"
badurl "redis://h/x" "database number"
badurl "redis://u:p%zz@h" "bad user or password"
badurl "redis+cluster://a:1," "empty host"

# --- TTL: remote_expire on write, refreshed on read ----------------------------------------------
k=$(rcli $P --scan --pattern 'default:*' | head -1)
ttl_between $P "$k" $((30 * 86400 - 120)) $((30 * 86400)) "default remote_expire (30d)"
drive ttlput "$U" --ns ttl --expire 100 put 0 1
k=$(rcli $P --scan --pattern 'ttl:*' | head -1)
ttl_between $P "$k" 95 100 "remote_expire 100s on write"
rcli $P expire "$k" 5 >/dev/null
ttl_between $P "$k" 0 5 "shortened by hand"
drive ttlget "$U" --ns ttl --expire 100 get 0 1 hit
ttl_between $P "$k" 95 100 "refreshed by the read (GETEX)"
drive shortput "$U" --ns short --expire 1 put 0 5
sleep 2.1
drive shortget "$U" --ns short --expire 1 get 0 5 miss
cm_expect_eq "expired keys gone" "$(rcli $P --scan --pattern 'short:*' | wc -l)" 0

# --- encrypted values -------------------------------------------------------------------------
printf 'team secret for redis\n' >"$CM_TMP/secret"
drive secput "$U" --ns sec --secret "$CM_TMP/secret" put 0 20
drive secget "$U" --ns sec --secret "$CM_TMP/secret" get 0 20 hit
drive secnone "$U" --ns sec get 0 20 miss

# --- values at the size limit -------------------------------------------------------------------
drive limit "$U" --ns lim --max-value 300000 limit
k=$(rcli $P --scan --pattern 'lim:*' | head -1)
cm_expect_eq "one value stored at the limit" "$(rcli $P --scan --pattern 'lim:*' | wc -l)" 1
cm_expect_ge "its envelope holds the whole value" "$(rcli $P strlen "$k")" 300000

# --- AUTH, ACL users, SELECT ----------------------------------------------------------------------
if cm_redis_start auth --requirepass s3cret; then
  A=$CM_REDIS_PORT
  drive authput "redis://:s3cret@127.0.0.1:$A/3" put 0 10
  cm_expect_eq "SELECT 3: keys in db 3" "$(rcli $A -a s3cret --no-auth-warning -n 3 dbsize)" 10
  cm_expect_eq "SELECT 3: none in db 0" "$(rcli $A -a s3cret --no-auth-warning -n 0 dbsize)" 0
  rcli $A -a s3cret --no-auth-warning acl setuser cmuser on '>p%w@2' '~*' '+@all' >/dev/null
  drive acl "redis://cmuser:p%25w%402@127.0.0.1:$A/3" get 0 10 hit
  echo s3cret >"$CM_TMP/pw"
  drive token "redis://127.0.0.1:$A/3" --token "$CM_TMP/pw" get 0 10 hit
  drive noauth "redis://127.0.0.1:$A/3" get 0 3 error
  cm_expect_eq "no password: auth errors" "$(counter noauth auth_errors)" 3
  drive wrongpw "redis://:nope@127.0.0.1:$A/3" get 0 3 error
  cm_expect_eq "wrong password: auth errors" "$(counter wrongpw auth_errors)" 3
fi

# --- a stalled server: each lookup ends at remote_timeout ------------------------------------------
rcli $P client pause 1200 all >/dev/null
t0=$(date +%s%N)
drive stall "$U" --timeout-ms 100 get 0 3 error
t1=$(date +%s%N)
sleep 1 # the rest of the pause
cm_expect_eq "stalled server: timeouts" "$(counter stall timeouts)" 3
cm_expect_le "stalled server: 3 lookups of 100 ms took (ms)" $(((t1 - t0) / 1000000)) 1500
drive unstalled "$U" get 0 3 hit

# --- rediss:// -------------------------------------------------------------------------------------
"$CM_REDIS_DRIVER" "$so" "rediss://127.0.0.1:$P" get 0 1 miss >"$CM_TMP/tls.out" 2>"$CM_TMP/tls.err"
cm_expect_match "rediss:// refused at open, with the reason" "$CM_TMP/tls.err" \
  'rediss:// needs hiredis >= 1.0 with TLS; Debian 12 ships 0.14'

# --- the server killed mid-run ------------------------------------------------------------------------
if cm_redis_start down; then
  D="redis://127.0.0.1:$CM_REDIS_PORT"
  drive downput "$D" put 0 50
  drive down "$D" --timeout-ms 100 --flush-ms 500 down "$CM_REDIS_PID" 0 50
  cm_expect_ge "killed: hits before" "$(counter down hits)" 1
  cm_expect_ge "killed: errors" "$(counter down errors)" 1
  cm_expect_ge "killed: breaker opened" "$(counter down breaker_opens)" 1
  cm_expect_ge "killed: lookups skipped" "$(counter down skipped)" 1
  cm_expect_match "killed: one log line for the breaker" "$CM_TMP/down.err" 'redis.*not asking it'
fi

cm_done
