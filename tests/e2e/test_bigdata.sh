#!/usr/bin/env bash
# test_bigdata.sh - large inputs and outputs with nothing but signatures (issue 11): a 9 MB-in /
# 9 MB-out function hits the memory tier in its first process and the shared tier (a blob file
# beside the segment) in the next, outputs identical; a 200 MB result is cached; an input that
# differs in its last byte only misses; bypasses are counted by reason in the JSON and explained
# once on stderr; a SIGKILL while a 100 MB value is being stored never leaves a torn value; a
# full tmpfs (mounted here when we are root) fails stores as counted errors, never a SIGBUS.
. "$CM_SRC/lib.sh"
unset CLOUDM_TIERS # the default tiers: memory and shared
seg=$CLOUDM_SHARED_PATH
prog=$CM_BIN/bigprog
cm_require "$prog" || cm_done

conf=$(cm_conf big <<'CONF'
[function big_xform]
signature = i32 big_xform(in[n] src, u64 n, out[n] dst)
[function big_gen]
signature = u64 big_gen(u32 seed, u64 n, out[n] dst)
[function big_first]
signature = u32 big_first(in[n] src, u64 n)
CONF
)

# --- 9 MB in, 9 MB out ---------------------------------------------------------------------------
cm_plain x.plain "$prog" xform 9000000 3
cm_memo x.1 "$conf" "$prog" xform 9000000 3
cm_same x.plain x.1
cm_expect_eq "9 MB, first process: calls memory shared misses bypassed" \
  "$(cm_fn x.1 big_xform '"\(.calls) \(.hits.memory) \(.hits.shared) \(.misses) \(.bypassed)"')" "3 2 0 1 0"
cm_expect_eq "9 MB, first process: ran once" "$(cm_execs x.1 big_xform)" 1
cm_expect_ge "9 MB value stored as a blob file beside the segment" \
  "$(find "$seg.blobs" -type f -size +8000k | wc -l)" 1
cm_memo x.2 "$conf" "$prog" xform 9000000 3
cm_same x.plain x.2
cm_expect_eq "9 MB, second process: calls memory shared misses" \
  "$(cm_fn x.2 big_xform '"\(.calls) \(.hits.memory) \(.hits.shared) \(.misses)"')" "3 0 3 0"
cm_expect_eq "9 MB, second process: never ran" "$(cm_execs x.2 big_xform)" 0
# One output byte changed in the blob file on disk: the checksum computed while the value is
# copied to the caller (hcopy.c) fails, the hit becomes a miss and the original runs. (od and dd
# run without the sanitizer runtime: dd's aligned_alloc(4096, 1) aborts under ASan.)
blob=$(find "$seg.blobs" -type f -size +8000k | head -1)
off=$((64 + 4096 * 1000 + 7)) # a byte of the output, past the 64-byte header
byte() { env -u LD_PRELOAD od -An -tu1 -j "$off" -N 1 "$blob" | tr -d ' '; }
old=$(byte)
printf "\\$(printf '%03o' $(((old + 1) % 256)))" |
  env -u LD_PRELOAD dd of="$blob" bs=1 seek="$off" conv=notrunc status=none
cm_expect_ne "a byte of the blob file changed" "$(byte)" "$old"
cm_memo x.3 "$conf" "$prog" xform 9000000 3
cm_same x.plain x.3
cm_expect_eq "9 MB, a blob byte changed: calls memory shared misses" \
  "$(cm_fn x.3 big_xform '"\(.calls) \(.hits.memory) \(.hits.shared) \(.misses)"')" "3 2 0 1"

# The same 9 MB input but for its last byte: another key (a miss), the right output.
cm_plain last.plain "$prog" xform 9000000 2 201
cm_memo last.memo "$conf" "$prog" xform 9000000 2 201
cm_same last.plain last.memo
cm_expect_eq "last byte differs: misses" "$(cm_fn last.memo big_xform .misses)" 1
cm_expect_eq "last byte differs: ran once" "$(cm_execs last.memo big_xform)" 1
if cmp -s "$CM_TMP/x.plain.out" "$CM_TMP/last.plain.out"; then
  cm_fail "the two inputs should give different outputs"
fi

# --- 200 MB out ----------------------------------------------------------------------------------
cm_plain g.plain "$prog" gen 200000000 2
cm_memo g.1 "$conf" "$prog" gen 200000000 2
cm_same g.plain g.1
cm_expect_eq "200 MB, first process: hits misses bypassed" \
  "$(cm_fn g.1 big_gen '"\(.hits.memory + .hits.shared) \(.misses) \(.bypassed)"')" "1 1 0"
cm_memo g.2 "$conf" "$prog" gen 200000000 2
cm_same g.plain g.2
cm_expect_eq "200 MB, second process: shared hits" "$(cm_fn g.2 big_gen .hits.shared)" 2
cm_expect_eq "200 MB, second process: never ran" "$(cm_execs g.2 big_gen)" 0

# --- bypasses, by reason --------------------------------------------------------------------------
# An input over 1 GiB is never keyed (mapped, never touched: costs no memory).
cm_plain f.plain "$prog" first 1073741825
cm_memo f.memo "$conf" "$prog" first 1073741825
cm_same f.plain f.memo
cm_expect_eq "input over 1 GiB: bypassed, input_too_large" \
  "$(cm_fn f.memo big_first '"\(.bypassed) \(.bypass.input_too_large) \(.misses) \(.calls)"')" "2 2 0 2"
cm_expect_eq "input over 1 GiB: explained once" \
  "$(grep -c "big_first: calls with an argument over 1 GiB" "$CM_TMP/f.memo.err")" 1
# A result larger than every tier holds (memory tier only, 4 MiB): value_too_large, naming the
# settings that lift it.
small=$(cm_conf small <<'CONF'
[cache]
memory_size = 4M
tiers = memory
[function big_xform]
signature = i32 big_xform(in[n] src, u64 n, out[n] dst)
CONF
)
cm_memo v.memo "$small" "$prog" xform 9000000 3
cm_same x.plain v.memo
cm_expect_eq "value over every tier: bypassed, value_too_large" \
  "$(cm_fn v.memo big_xform '"\(.bypassed) \(.bypass.value_too_large) \(.misses)"')" "3 3 0"
cm_expect_eq "value over every tier: explained once, naming memory_size" \
  "$(grep -Ec "big_xform: a result of [0-9]+ bytes is not cached.*raise memory_size" "$CM_TMP/v.memo.err")" 1
cm_invariant v.memo big_xform

# --- SIGKILL while a 100 MB value is being stored -------------------------------------------------
# Kill the program while its blob file is being written (a temporary file exists), then at a few
# other moments; afterwards every run must print exactly the plain output.
cm_plain k.plain "$prog" gen 100000000 1
killed=0
for delay in blob 0.05 0.15 0.3; do
  export CLOUDM_SHARED_PATH="$CM_TMP/kill-$delay"
  "$CLOUDM" run -c "$conf" -- "$prog" gen 100000000 1 >/dev/null 2>&1 &
  pid=$!
  if [ "$delay" = blob ]; then
    for ((i = 0; i < 20000; i++)); do
      compgen -G "$CLOUDM_SHARED_PATH.blobs/tmp.*" >/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
    done
  else
    sleep "$delay"
  fi
  kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
  wait "$pid" 2>/dev/null
  if [ "$delay" = blob ]; then
    cm_expect_eq "killed while its blob file was being written (a torn temporary file left)" \
      "$(compgen -G "$CLOUDM_SHARED_PATH.blobs/tmp.*" | wc -l)" 1
  fi
  cm_memo "k.$delay.a" "$conf" "$prog" gen 100000000 1
  cm_same k.plain "k.$delay.a"
  cm_memo "k.$delay.b" "$conf" "$prog" gen 100000000 1
  cm_same k.plain "k.$delay.b"
  cm_expect_eq "after SIGKILL ($delay): no temporary blob file left once stored again" \
    "$(compgen -G "$CLOUDM_SHARED_PATH.blobs/tmp.*" | wc -l)" 0
done
export CLOUDM_SHARED_PATH=$seg
cm_expect_ge "processes killed while storing" "$killed" 1

# --- cloudm profile honours the config's `report =` -------------------------------------------------
pconf=$(cm_conf prof <<CONF
[cache]
report = $CM_TMP/profile-%p.json
[function big_xform]
signature = i32 big_xform(in[n] src, u64 n, out[n] dst)
CONF
)
"$CLOUDM" profile -c "$pconf" -- "$prog" xform 5000 3 >"$CM_TMP/prof.out" 2>"$CM_TMP/prof.err"
cm_expect_eq "profile: report = FILE written (JSON)" \
  "$(cat "$CM_TMP"/profile-*.json 2>/dev/null | jq -r '.functions[0] | "\(.calls) \(.distinct)"')" "3 1"
cm_expect_nomatch "profile: no table on stderr when the config names a report" "$CM_TMP/prof.err" \
  "cloudm: big_xform +calls"

# --- a full tmpfs ---------------------------------------------------------------------------------
# Root only: a 48 MiB tmpfs holding the segment (16 MiB) and its blob directory; a 100 MB value
# cannot be stored there. The store fails with ENOSPC (counted), the program is right, no SIGBUS.
# Then an 8 MiB tmpfs that the segment's ring fills as it grows.
mnt="$CM_TMP/tmpfs"
if [ "$(id -u)" = 0 ] && mkdir -p "$mnt" && mount -t tmpfs -o size=48m,mode=0700 cloudm-test "$mnt" 2>/dev/null; then
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$CM_TMP"' EXIT
  full=$(cm_conf full <<CONF
[cache]
shared_path = $mnt/seg
shared_size = 16M
[function big_gen]
signature = u64 big_gen(u32 seed, u64 n, out[n] dst)
CONF
)
  export CLOUDM_SHARED_PATH="$mnt/seg"
  cm_memo full.1 "$full" "$prog" gen 100000000 2
  cm_plain full.plain "$prog" gen 100000000 2
  cm_same full.plain full.1
  cm_expect_eq "full tmpfs: exit status (no SIGBUS)" "$(cat "$CM_TMP/full.1.rc")" 0
  cm_expect_eq "full tmpfs: not stored, so computed twice" "$(cm_execs full.1 big_gen)" 2
  "$CLOUDM" stats -c "$full" --json >"$CM_TMP/full.stats.json" 2>&1
  cm_expect_ge "full tmpfs: blob store errors counted" \
    "$(jq -r '.segment.blob_errors' "$CM_TMP/full.stats.json")" 2
  printf '[function big_xform]\nsignature = i32 big_xform(in[n] src, u64 n, out[n] dst)\n' >>"$full"
  cm_memo full.2 "$full" "$prog" xform 9000000 1
  cm_memo full.3 "$full" "$prog" xform 9000000 1
  cm_expect_eq "full tmpfs: a 9 MB value still fits, answered by the next process" \
    "$(cm_fn full.3 big_xform .hits.shared)" 1
  # The segment's ring grows on demand: 100 results of 100 KB (into the ring) on a tmpfs with
  # 8 MiB left. The ring's stores beyond the space left are dropped and counted, never a SIGBUS.
  umount "$mnt"
  mount -t tmpfs -o size=8m,mode=0700 cloudm-test "$mnt"
  cm_plain many.plain "$prog" many 100 100000
  cm_memo many.1 "$full" "$prog" many 100 100000
  cm_same many.plain many.1
  cm_expect_eq "full tmpfs while the ring grows: exit status (no SIGBUS)" "$(cat "$CM_TMP/many.1.rc")" 0
  "$CLOUDM" stats -c "$full" --json >"$CM_TMP/many.stats.json" 2>&1
  cm_expect_ge "full tmpfs while the ring grows: dropped stores counted" \
    "$(jq -r '.segment.ring_nospace' "$CM_TMP/many.stats.json")" 1
  cm_expect_ge "full tmpfs while the ring grows: earlier entries kept" \
    "$(jq -r '.segment.entries' "$CM_TMP/many.stats.json")" 10
  cm_memo many.2 "$full" "$prog" many 100 100000
  cm_same many.plain many.2
  cm_expect_ge "full tmpfs: the entries stored are answered by the next process" \
    "$(cm_fn many.2 big_gen .hits.shared)" 10
  export CLOUDM_SHARED_PATH=$seg
  umount "$mnt"
  trap 'rm -rf "$CM_TMP"' EXIT
else
  echo "skip: full tmpfs (needs root and mount)"
fi

cm_done
