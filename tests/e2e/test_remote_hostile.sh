#!/usr/bin/env bash
# test_remote_hostile.sh - the remote tier holds nothing in the host a program can break
# (issue 17): programs that close, dup2 over or close_range every descriptor keep their files
# intact and see the same /proc/self/fd and /proc/self/task as without cloudm; exit() with 8
# threads in lookups never crashes; main ending in pthread_exit() exits; 800 threads under
# `ulimit -n 1024` all open their files; the agent the shim starts is no child of the program;
# SIGKILL, exec() and _exit() right after 1000 misses lose none of them.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
H=$CM_BIN/hostile
cm_require "$H" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS CLOUDM_SHARED_PATH
export CLOUDM_BIN=$CLOUDM
# Sizes: 200 exit() runs and 800 threads (under `ulimit -n 1024`: 224 descriptors to spare).
# Under TSan every thread and process costs 5-15x more: 30 runs and 200 threads under
# `ulimit -n 424` (the same 224 to spare: one descriptor per thread of ours would still run the
# program out). CM_HOSTILE_RUNS and CM_HOSTILE_THREADS override both.
# Under TSan, main ending in pthread_exit() never exits, with or without cloudm (the TSan
# runtime's own background thread keeps the process): that check runs in the other builds.
runs=200 threads=800 tsan=
case ${CLOUDM_TEST_PRELOAD:-} in *libtsan*) runs=30 threads=200 tsan=1 ;; esac
runs=${CM_HOSTILE_RUNS:-$runs}
threads=${CM_HOSTILE_THREADS:-$threads}

cm_keycache_start kc || cm_done
conf=$(cm_remote_conf hostile "$CM_KC_URL")
# preload NAME CMD...: CMD with libcloudm.so preloaded directly (no `cloudm run`: the shim starts
# its agent itself), report in NAME.json
preload() {
  local name=$1; shift
  env CLOUDM_CONFIG="$conf" CLOUDM_REPORT="$CM_TMP/$name.json" \
    LD_PRELOAD="${CLOUDM_TEST_PRELOAD:+$CLOUDM_TEST_PRELOAD:}$CM_BUILD/lib/libcloudm.so" \
    "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"
  echo $? >"$CM_TMP/$name.rc"
}
entries() { cm_curl -s "$CM_KC_URL/metrics" | sed -n 's/^cloudm_keycache_entries \([0-9]*\).*/\1/p'; }

# --- descriptors: closed, dup2()ed over, close_range()d ----------------------------------------
for mode in closeall dup2all closerange; do
  for run in plain memo1 memo2; do mkdir -p "$CM_TMP/$mode.$run"; done
  cm_plain "$mode.plain" "$H" "$mode" "$CM_TMP/$mode.plain" 300
  # First run: misses, stores; second run (another machine): remote hits. Both through the agent.
  machine "$mode-1" preload "$mode.memo1" "$H" "$mode" "$CM_TMP/$mode.memo1" 300
  machine "$mode-1" cm_agent_flush "$conf"
  machine "$mode-2" preload "$mode.memo2" "$H" "$mode" "$CM_TMP/$mode.memo2" 300
  for run in memo1 memo2; do
    cm_same "$mode.plain" "$mode.$run"
    cm_expect_eq "$mode $run: the 8 files intact" \
      "$(cd "$CM_TMP/$mode.$run" && cat file* | md5sum)" "$(cd "$CM_TMP/$mode.plain" && cat file* | md5sum)"
  done
  cm_expect_eq "$mode: first run stored its results (or found them)" \
    "$(($(remote "$mode.memo1" stored) + $(remote "$mode.memo1" hits)))" 300
  cm_expect_eq "$mode: second run all remote hits" "$(cm_fn "$mode.memo2" lg_sq .hits.remote)" 300
done

# --- the agent is no child of the program ------------------------------------------------------
machine kids "$CLOUDM" agent --stop -c "$conf" >/dev/null 2>&1
cm_plain kids.plain "$H" children /x 20
machine kids preload kids.memo "$H" children /x 20
cm_same kids.plain kids.memo
cm_expect_match "children: no SIGCHLD, nothing to wait for" "$CM_TMP/kids.memo.out" \
  '^sigchld 0  waitpid ECHILD$'
cm_expect_eq "children: the agent was started and answered" "$(remote kids.memo hits)" 20

# --- exit() while 8 threads are in lookups ------------------------------------------------------
crashes=0
for i in $(seq 1 "$runs"); do
  machine exit preload exit "$H" exitthreads /x $((200 + (i % 20) * 100))
  [ "$(cat "$CM_TMP/exit.rc")" = 0 ] || crashes=$((crashes + 1))
done
cm_expect_eq "exit() with 8 threads in lookups, $runs runs: no crash" "$crashes" 0

# --- main ends in pthread_exit() ----------------------------------------------------------------
if [ -z "$tsan" ]; then
  cm_plain pexit.plain "$H" pthreadexit /x 50
  CM_TIMEOUT=20 machine pexit cm_run pexit -c "$conf" -- "$H" pthreadexit /x 50
  cm_expect_eq "pthread_exit() in main: the process exits" "$(cat "$CM_TMP/pexit.rc")" 0
  cm_same pexit.plain pexit
fi

# --- 800 threads under ulimit -n 1024 ------------------------------------------------------------
mkdir -p "$CM_TMP/many"
(ulimit -n $((threads + 224)); machine many preload many "$H" manythreads "$CM_TMP/many" "$threads")
cm_expect_match "$threads threads: every open() succeeded" "$CM_TMP/many.out" \
  "^threads $threads  open ok $threads  open failed 0\$"
cm_expect_eq "$threads threads: lookups went to the agent" \
  "$(($(remote many hits) + $(remote many misses) + $(remote many timeouts) + $(remote many skipped)))" "$threads"

# --- SIGKILL, exec(), _exit() right after 1000 misses: all reach the server ----------------------
for how in kill exec _exit; do
  cm_keycache_start "kc-$how" || continue
  c=$(cm_remote_conf "lost-$how" "$CM_KC_URL")
  machine "$how" env CLOUDM_CONFIG="$c" \
    LD_PRELOAD="${CLOUDM_TEST_PRELOAD:+$CLOUDM_TEST_PRELOAD:}$CM_BUILD/lib/libcloudm.so" \
    "$H" "$how" /x 1000 >"$CM_TMP/$how.out" 2>"$CM_TMP/$how.err"
  cm_expect_eq "$how after 1000 misses: output complete" "$(grep -c '^sq ' "$CM_TMP/$how.out")" 1000
  machine "$how" cm_agent_flush "$c"
  cm_expect_eq "$how after 1000 misses: entries on the server" "$(entries)" 1000
done

cm_done
