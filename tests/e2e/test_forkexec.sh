#!/bin/bash
# test_forkexec.sh - memoization across fork and exec (prog/forker.c, conf/forker.conf).
#
# Proves: after fork, parent and child are both memoized and each writes its own report
# (--report=DIR/NAME.%p.json), with exact counts for each; a child that inherited a parent's
# cache entries still gets right answers; a program exec'ed by a memoized program (same pid,
# or a forked child) is memoized too, because it inherits the configuration, and writes the
# report for its pid with its own path as "program". Output identical to the plain runs.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/forker
SIGS=$CM_BIN/sigs_O2
CONF=$CM_SRC/conf/forker.conf
cm_require "$CLOUDM" "$PROG" "$SIGS" || cm_done

# pid_of RUN ROLE: the pid forker printed for ROLE (child, parent, exec)
pid_of() { sed -n "s/^forker: $2 pid \([0-9]*\)\$/\1/p" "$CM_TMP/$1.err" | head -1; }
# execs_nth RUN FUNC N: the Nth "legacy: execs FUNC" count on RUN's stderr
execs_nth() { sed -n "s/^legacy: execs $2 \([0-9]*\)\$/\1/p" "$CM_TMP/$1.err" | sed -n "$3p"; }
reports() { ls "$CM_TMP" | grep -c "^$1\.[0-9]*\.json\$"; }

# --- fork: no memoized call before the fork ----------------------------------------------------
cm_plain fork.plain "$PROG" fork
cm_run fork -c "$CONF" --report="$CM_TMP/fork.%p.json" -- "$PROG" fork
cm_same fork.plain fork
cm_expect_eq "fork: child exited 0" "$(grep '^child status' "$CM_TMP/fork.out")" "child status 0"
cm_expect_eq "fork: reports written" "$(reports fork)" 2
child=$(pid_of fork child) parent=$(pid_of fork parent)
cm_expect_eq "fork: child report pid" "$(cm_json "fork.$child" .pid)" "$child"
cm_expect_eq "fork: parent report pid" "$(cm_json "fork.$parent" .pid)" "$parent"
cm_counts "fork.$child" lg_sq 30 20 10 0
cm_counts "fork.$parent" lg_sq 30 15 15 0
cm_expect_eq "fork: child execs lg_sq" "$(execs_nth fork lg_sq 1)" 10
cm_expect_eq "fork: parent execs lg_sq" "$(execs_nth fork lg_sq 2)" 15
cm_expect_eq "fork.plain: child execs lg_sq" "$(execs_nth fork.plain lg_sq 1)" 30

# --- prefork: the child starts with whatever the parent cached --------------------------------
cm_plain prefork.plain "$PROG" prefork
cm_run prefork -c "$CONF" --report="$CM_TMP/prefork.%p.json" -- "$PROG" prefork
cm_same prefork.plain prefork
cm_expect_eq "prefork: reports written" "$(reports prefork)" 2
child=$(pid_of prefork child) parent=$(pid_of prefork parent)
cm_counts "prefork.$parent" lg_sq 10 0 10 0
cm_invariant "prefork.$child" lg_sq
cm_expect_ge "prefork: child hits" "$(cm_hits "prefork.$child" lg_sq)" 10
# The child's counter starts at the parent's 10; 20 calls must not all have run.
cm_expect_le "prefork: child execs lg_sq (10 inherited)" "$(execs_nth prefork lg_sq 1)" 20

# --- exec: the new image keeps the pid and inherits the configuration --------------------------
cm_plain exec.plain "$PROG" exec "$SIGS" sq
cm_run exec -c "$CONF" --report="$CM_TMP/exec.%p.json" -- "$PROG" exec "$SIGS" sq
cm_same exec.plain exec
pid=$(pid_of exec exec)
cm_expect_eq "exec: report of the exec'ed program" "$(cm_json "exec.$pid" .program)" "$(realpath "$SIGS")"
cm_counts "exec.$pid" lg_sq 30 20 10 0
cm_expect_eq "exec: exec'ed program's execs lg_sq" "$(cm_execs exec lg_sq)" 10

# --- fork + exec -------------------------------------------------------------------------------
cm_plain forkexec.plain "$PROG" forkexec "$SIGS" sq
cm_run forkexec -c "$CONF" --report="$CM_TMP/forkexec.%p.json" -- "$PROG" forkexec "$SIGS" sq
cm_same forkexec.plain forkexec
cm_expect_eq "forkexec: reports written" "$(reports forkexec)" 2
child=$(pid_of forkexec child) parent=$(pid_of forkexec parent)
cm_expect_eq "forkexec: child report program" "$(cm_json "forkexec.$child" .program)" "$(realpath "$SIGS")"
cm_counts "forkexec.$child" lg_sq 30 20 10 0
cm_expect_eq "forkexec: parent report program" "$(cm_json "forkexec.$parent" .program)" "$(realpath "$PROG")"
cm_counts "forkexec.$parent" lg_sq 20 10 10 0

cm_done
