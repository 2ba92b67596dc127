#!/usr/bin/env bash
# test_sensitive.sh - `sensitive = yes` (issue 11): no argument or result byte of a sensitive
# function is stored readable in any tier. The shared segment, its blob files and the remote
# store (keycache, under secret_file) are searched for the password and for the result bytes
# after runs that hit every tier; a sensitive function with a remote but no secret_file stays on
# the machine with one warning; a key file others can read is refused (bypassed, reason
# sensitive_no_key in the JSON); cloudm check warns about secret-looking parameters.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
prog=$CM_BIN/bigprog
cm_require "$prog" "$CM_BUILD/lib/libcloudm-crypto.so" || cm_done
unset CLOUDM_TIERS
seg=$CLOUDM_SHARED_PATH
PW=hunter2-Sekr1tPW
RESULT=1WPt1rkeS-2retnuh # the result bytes: "RESULT:" and the password reversed

conf=$(cm_conf sens <<'CONF'
[function big_pw]
signature = i32 big_pw(str password, u64 n, out[n] hash)
sensitive = yes
CONF
)

# nothing of PW or RESULT in FILES... (grep -a: binary files too)
no_secret() {
  local what=$1 f; shift
  for f in "$@"; do
    [ -e "$f" ] || continue
    if grep -rqaF -e "$PW" -e "$RESULT" -e "RESULT:" "$f"; then
      cm_fail "$what: $f holds argument or result bytes"; return
    fi
  done
  cm_ok "$what: no argument or result bytes"
}

# Small (in the ring) and large (a blob file) results; two processes each.
for n in 64 400000; do
  cm_plain "p.$n" "$prog" pw "$PW" "$n" 3
  cm_memo "s1.$n" "$conf" "$prog" pw "$PW" "$n" 3
  cm_same "p.$n" "s1.$n"
  cm_expect_eq "sensitive, $n bytes, first process: memory shared misses" \
    "$(cm_fn "s1.$n" big_pw '"\(.hits.memory) \(.hits.shared) \(.misses)"')" "0 2 1"
  cm_memo "s2.$n" "$conf" "$prog" pw "$PW" "$n" 3
  cm_same "p.$n" "s2.$n"
  cm_expect_eq "sensitive, $n bytes, second process: shared hits" \
    "$(cm_fn "s2.$n" big_pw .hits.shared)" 3
  cm_expect_eq "sensitive, $n bytes, second process: never ran" "$(cm_execs "s2.$n" big_pw)" 0
done
cm_expect_ge "the large result went to a blob file" "$(find "$seg.blobs" -type f | wc -l)" 1
no_secret "segment and blob files" "$seg" "$seg.blobs"
cm_expect_eq "per-user key created 0600" "$(stat -c %a "$XDG_CONFIG_HOME/cloudm/sensitive.key")" 600

# Control: the same function not sensitive leaves the password readable in the segment (so the
# search above can find what it looks for).
plain_conf=$(cm_conf plain <<'CONF'
[function big_pw]
signature = i32 big_pw(str password, u64 n, out[n] hash)
CONF
)
CLOUDM_SHARED_PATH="$CM_TMP/seg-plain" cm_memo ctl "$plain_conf" "$prog" pw "$PW" 64 2
if grep -qaF "$PW" "$CM_TMP/seg-plain"; then cm_ok "control: a plain function's argument is in its segment"
else cm_fail "control: the search finds nothing even without sensitive"; fi

# Another user's key (a different key file): the entries cannot be read, computed again.
cm_plain p1 "$prog" pw "$PW" 64 1
CLOUDM_KEY_FILE="$CM_TMP/other.key" cm_memo other "$conf" "$prog" pw "$PW" 64 1
cm_same p1 other
cm_expect_eq "another key: no shared hit" "$(cm_fn other big_pw .hits.shared)" 0
cm_expect_eq "another key: computed" "$(cm_execs other big_pw)" 1

# A key file others can read is refused: the function is not cached (never stored under a key
# someone else may hold), counted by reason in the JSON and explained once.
printf '%032d' 0 >"$CM_TMP/open.key"
chmod 644 "$CM_TMP/open.key"
cm_plain nk.plain "$prog" pw "$PW" 64 2
CLOUDM_KEY_FILE="$CM_TMP/open.key" CLOUDM_SHARED_PATH="$CM_TMP/seg-nokey" cm_memo nokey "$conf" \
  "$prog" pw "$PW" 64 2
cm_same nk.plain nokey
cm_expect_eq "refused key file: bypassed, reason sensitive_no_key in the JSON" \
  "$(cm_fn nokey big_pw '"\(.bypassed) \(.bypass.sensitive_no_key) \(.misses) \(.hits.shared)"')" "2 2 0 0"
cm_expect_eq "refused key file: explained once" \
  "$(grep -c "big_pw: sensitive = yes, but the per-user key could not be loaded" "$CM_TMP/nokey.err")" 1
cm_expect_eq "refused key file: ran every time" "$(cm_execs nokey big_pw)" 2

# --- remote ---------------------------------------------------------------------------------------
cm_keycache_start kc || cm_done
printf 'team secret for the sensitive test\n' >"$CM_TMP/team.secret"
rconf=$(cm_conf rsens <<CONF
[cache]
remote = $CM_KC_URL
secret_file = $CM_TMP/team.secret
[function big_pw]
signature = i32 big_pw(str password, u64 n, out[n] hash)
sensitive = yes
CONF
)
cm_plain p2 "$prog" pw "$PW" 64 2
machine ra cm_memo r.a "$rconf" "$prog" pw "$PW" 64 2
cm_same p2 r.a
cm_expect_eq "remote with secret_file: stored remotely" "$(remote r.a stored)" 1
machine rb cm_memo r.b "$rconf" "$prog" pw "$PW" 64 2
cm_same p2 r.b
cm_expect_eq "remote with secret_file: machine b hits the remote" "$(cm_fn r.b big_pw .hits.remote)" 1
no_secret "keycache store" "$CM_TMP/kc.data"
no_secret "machine segments" "$CM_TMP/seg-ra" "$CM_TMP/seg-rb" "$CM_TMP/seg-ra.blobs"

# Without secret_file: the function stays local, with one warning; nothing reaches the server.
nconf=$(cm_conf nsens <<CONF
[cache]
remote = $CM_KC_URL
[function big_pw]
signature = i32 big_pw(str password, u64 n, out[n] hash)
sensitive = yes
CONF
)
machine na cm_memo n.a "$nconf" "$prog" pw "hunter3-Sekr1tPW" 64 2
cm_expect_eq "no secret_file: one warning" \
  "$(grep -c "big_pw' is sensitive: its entries stay on this machine" "$CM_TMP/n.a.err")" 1
cm_expect_eq "no secret_file: nothing stored remotely" "$(remote n.a stored)" 0
cm_expect_eq "no secret_file: no remote lookups" \
  "$(($(remote n.a hits) + $(remote n.a misses)))" 0
cm_expect_eq "no secret_file: still cached locally" "$(cm_fn n.a big_pw .hits.shared)" 1

# --- cloudm check ---------------------------------------------------------------------------------
wconf=$(cm_conf warn <<'CONF'
[function check_password]
signature = i32 check_password(str user, str passwd)
[function other]
signature = i32 other(str api_token)
sensitive = yes
CONF
)
"$CLOUDM" check -c "$wconf" >"$CM_TMP/check.out" 2>&1
cm_expect_match "check warns about a secret-looking parameter" "$CM_TMP/check.out" \
  "passwd. of check_password.*sensitive = yes"
cm_expect_nomatch "no warning for a sensitive function" "$CM_TMP/check.out" "other.*api_token.*sensitive = yes"

cm_done
