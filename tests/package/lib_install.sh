# lib_install.sh - checks of an installed cloudm, shared by the --prefix install test
# (test_prefix_install.sh) and the Debian package test (test_deb.sh). Sourced after
# tests/e2e/lib.sh (cm_expect_*, CM_TMP).
#
# cm_install_checks BIN MANDIR COMPLETION [LOADER]
#   BIN         the installed `cloudm` (…/bin/cloudm or /usr/bin/cloudm)
#   MANDIR      "" to ask man's own search path (the package), else the prefix's share/man
#   COMPLETION  the installed completion script
#   LOADER      "loader": load the completion the way bash-completion does for a command it
#               has not seen yet (the package); otherwise source COMPLETION after
#               bash_completion
#
# What it checks: `BIN run` memoizes a test program from an unrelated directory with a clean
# environment (no CLOUDM_* variable, no LD_PRELOAD): same output as without cloudm, hit counts
# from the report, then shared-tier hits in a second process; `man -w` finds the three pages;
# the completion completes `cloudm r` to `run`, --mode values, every option --help lists, and
# function names of the config for `clear --function`; `cloudm doctor` passes on the config.

CM_PKG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# cm_help_options BIN CMD: every option `BIN CMD --help` lists in its option column (lines that
# start with at most 6 spaces and a dash), one per line: -c, --config, --mode, ...
cm_help_options() {
  "$1" "$2" --help | grep -E '^ {1,6}-' | sed -E 's/^ +//; s/  .*//' |
    grep -oE -- '(^|[ ,])--?[a-z][-a-z]*' | sed -E 's/^[ ,]//' | sort -u
}

cm_install_checks() {
  local bin=$1 mandir=$2 comp=$3 loader=${4:-} work=$CM_TMP/elsewhere prog conf
  mkdir -p "$work"
  prog=$CM_TMP/memo_prog
  if ! cc -O0 -fno-builtin -o "$prog" "$CM_PKG_SRC/memo_prog.c" -lm; then
    cm_fail "cannot compile memo_prog.c"
    return
  fi
  conf=$CM_TMP/memo.conf
  cat >"$conf" <<CONF
[cache]
shared_path = $CM_TMP/segment-%u
[function lgamma]
signature = f64 lgamma(f64 x)
writes    = signgam:4
object    = */libm.so*
CONF
  # --- run, from another directory, with nothing in the environment but PATH and HOME ----------
  local envv=(env -i PATH=/usr/bin:/bin HOME="$CM_TMP/home")
  mkdir -p "$CM_TMP/home"
  (cd "$work" && "${envv[@]}" "$prog") >"$CM_TMP/plain.out" 2>"$CM_TMP/plain.err"
  echo $? >"$CM_TMP/plain.rc"
  for r in memo1 memo2; do
    (cd "$work" && "${envv[@]}" "$bin" run -c "$conf" --report="$CM_TMP/$r.json" -- "$prog") \
      >"$CM_TMP/$r.out" 2>"$CM_TMP/$r.err"
    echo $? >"$CM_TMP/$r.rc"
    cm_same plain "$r"
  done
  cm_expect_eq "run 1: lgamma calls" "$(cm_fn memo1 lgamma .calls)" 1000
  cm_expect_eq "run 1: lgamma misses" "$(cm_fn memo1 lgamma .misses)" 20
  cm_expect_eq "run 1: lgamma memory hits" "$(cm_fn memo1 lgamma .hits.memory)" 980
  # 2 per argument: a key's first shared hit does not fill the memory tier, its second does
  cm_expect_eq "run 2: lgamma shared hits (a new process)" "$(cm_fn memo2 lgamma .hits.shared)" 40
  cm_expect_eq "run 2: lgamma misses" "$(cm_fn memo2 lgamma .misses)" 0
  cm_expect_nomatch "run: no cloudm complaint on stderr" "$CM_TMP/memo1.err" '^cloudm: '

  # --- man pages -------------------------------------------------------------------------------
  local page found
  for page in cloudm cloudm.conf cloudm-keycache; do
    if [ -n "$mandir" ]; then
      found=$(man -M "$mandir" -w "$page" 2>&1)
    else
      found=$(man -w "$page" 2>&1)
    fi
    cm_expect_eq "man -w $page finds a page${mandir:+ in $mandir}" \
      "$(case $found in "${mandir:-/}"*) echo found ;; *) echo "$found" ;; esac)" found
  done
  if [ -n "$mandir" ]; then
    man -M "$mandir" 5 cloudm.conf 2>/dev/null | col -b >"$CM_TMP/man5.txt"
  else
    man 5 cloudm.conf 2>/dev/null | col -b >"$CM_TMP/man5.txt"
  fi
  cm_expect_match "cloudm.conf(5) renders and lists shared_path" "$CM_TMP/man5.txt" '^ +shared_path = PATH'

  # --- bash completion in an interactive bash ---------------------------------------------------
  local rc=$CM_TMP/bashrc
  {
    echo '. /usr/share/bash-completion/bash_completion'
    if [ "$loader" = loader ]; then
      echo '_completion_loader cloudm'
    else
      echo ". '$comp'"
    fi
    # complete WORDS...: what the completion function offers for the last word
    cat <<'RC'
complete_line() {
  local COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMP_LINE="$*" COMP_POINT fn
  COMP_POINT=${#COMP_LINE}
  fn=$(complete -p cloudm | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
  COMPREPLY=()
  "$fn" cloudm "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
RC
  } >"$rc"
  local out=$CM_TMP/compl
  bash --rcfile "$rc" -i -c 'complete_line cloudm r' >"$out.r" 2>"$out.r.err" </dev/null
  cm_expect_eq "completion: cloudm r" "$(tr '\n' ' ' <"$out.r")" "run "
  bash --rcfile "$rc" -i -c 'complete_line cloudm run --mode ""' >"$out.mode" 2>/dev/null </dev/null
  cm_expect_eq "completion: --mode values" "$(tr '\n' ' ' <"$out.mode")" \
    "off profile readonly readwrite writeonly "
  bash --rcfile "$rc" -i -c "complete_line cloudm clear -c '$conf' --function ''" \
    >"$out.fn" 2>/dev/null </dev/null
  cm_expect_eq "completion: clear --function names from the config" "$(tr '\n' ' ' <"$out.fn")" "lgamma "
  bash --rcfile "$rc" -i -c "complete_line cloudm stats -c '$CM_TMP/memo.co'" \
    >"$out.file" 2>/dev/null </dev/null
  cm_expect_eq "completion: -c completes a file name" "$(tr '\n' ' ' <"$out.file")" "$CM_TMP/memo.conf "
  bash --rcfile "$rc" -i -c "complete_line cloudm help do" >"$out.help" 2>/dev/null </dev/null
  cm_expect_eq "completion: help COMMAND" "$(tr '\n' ' ' <"$out.help")" "doctor "
  local c o
  for c in $("$bin" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\{1,\}\) .*/\1/p'); do
    [ "$c" = help ] && continue
    bash --rcfile "$rc" -i -c "complete_line cloudm $c -" >"$out.$c" 2>/dev/null </dev/null
    for o in $(cm_help_options "$bin" "$c"); do
      cm_expect_match "completion: cloudm $c offers $o" "$out.$c" "^$o=?\$"
    done
  done

  # --- doctor ----------------------------------------------------------------------------------
  (cd "$work" && "${envv[@]}" "$bin" doctor -c "$conf") >"$CM_TMP/doctor.out" 2>&1
  cm_expect_eq "doctor exit status" "$?" 0
  cm_expect_match "doctor: the installed library loads" "$CM_TMP/doctor.out" '^OK   preload library: .*libcloudm\.so .*loads'
  cm_expect_match "doctor: the segment the runs created" "$CM_TMP/doctor.out" "^OK   shared segment: $CM_TMP/segment-[0-9]+, owner uid [0-9]+, mode 0600"
}
