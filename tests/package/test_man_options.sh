#!/bin/bash
# test_man_options.sh - the man pages document what the command accepts: every option that a
# subcommand's --help lists appears in that subcommand's section of cloudm(1) ("## cloudm CMD"
# in docs/man/cloudm.1.scd), keycache's in cloudm-keycache(8); every command of `cloudm --help`
# has a section; every config key the parser knows (config/config.c) is in cloudm.conf(5); the
# built pages render. It also checks itself: a copy of cloudm(1) with --mode removed must fail.
#
# Usage: test_man_options.sh CLOUDM SOURCE_DIR MAN_BUILD_DIR
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib_install.sh"
CLOUDM=$1 SRC=$2 MANOUT=$3
MAN=$SRC/docs/man

# section FILE CMD: the text of "## cloudm CMD" up to the next heading
section() { awk -v h="## cloudm $2" '$0 == h {f = 1; next} /^#/ {f = 0} f' "$1"; }
# missing TEXTFILE OPTIONS...: the options that do not occur as words in TEXTFILE
missing() {
  local f=$1 o
  shift
  for o in "$@"; do
    grep -Eq -- "(^|[^-a-z])$o([^-a-z]|\$)" "$f" || printf '%s ' "$o"
  done
}

# Every command of the general usage has its section, with every option of its --help.
cmds=$("$CLOUDM" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\{1,\}\) .*/\1/p')
cm_expect_ge "cloudm --help lists commands" "$(echo "$cmds" | wc -w)" 8
for c in $cmds; do
  cm_expect_eq "cloudm(1) has ## cloudm $c" "$(grep -c "^## cloudm $c\$" "$MAN/cloudm.1.scd")" 1
done
for c in $cmds; do
  case $c in keycache | help) continue ;; esac
  section "$MAN/cloudm.1.scd" "$c" >"$CM_TMP/sec.$c"
  cm_expect_ge "cloudm(1) has a section for $c (lines)" "$(wc -l <"$CM_TMP/sec.$c")" 5
  cm_expect_eq "cloudm(1) ## cloudm $c documents every option of 'cloudm $c --help'" \
    "$(missing "$CM_TMP/sec.$c" $(cm_help_options "$CLOUDM" "$c"))" ""
done
cm_expect_eq "cloudm-keycache(8) documents every option of 'cloudm keycache --help'" \
  "$(missing "$MAN/cloudm-keycache.8.scd" $(cm_help_options "$CLOUDM" keycache))" ""
cm_expect_eq "cloudm(1) documents -h --help --version" \
  "$(missing "$MAN/cloudm.1.scd" -h --help --version)" ""

# Every key of [cache] and [function NAME], read from the parser's own tables.
keys=$(sed -n '/^static const char \*const \(cache\|function\)_keys\[\]/,/};/p' "$SRC/config/config.c" |
  grep -oE '"[a-z_]+"' | tr -d '"')
cm_expect_ge "keys found in config/config.c" "$(echo "$keys" | wc -w)" 25
nokey=""
for k in $keys; do
  grep -Eq "^\*$k\* =" "$MAN/cloudm.conf.5.scd" || nokey="$nokey$k "
done
cm_expect_eq "cloudm.conf(5) has an entry '*KEY* =' for every key" "$nokey" ""

# The self-check: without --mode in the run section, the check must report it.
grep -v -- '--mode' "$CM_TMP/sec.run" >"$CM_TMP/sec.broken"
cm_expect_eq "the check catches a missing option" "$(missing "$CM_TMP/sec.broken" --mode --config)" "--mode "

# The built pages render with man, with their NAME section.
for p in cloudm.1 cloudm.conf.5 cloudm-keycache.8; do
  # (not under the sanitizer runtime lib.sh preloads: groff is C++ and trips ASan)
  MANWIDTH=80 env -u LD_PRELOAD man -l "$MANOUT/$p" 2>"$CM_TMP/$p.err" | col -b >"$CM_TMP/$p.txt"
  cm_expect_match "$p renders" "$CM_TMP/$p.txt" '^NAME'
  cm_expect_nomatch "$p renders without warnings" "$CM_TMP/$p.err" '.'
done
cm_done
