#!/bin/bash
# check_layout.sh - the layout rules of docs/design.md, checked over the source tree (and, with a
# build directory, over the object files):
#   1. inside shim/, a file includes another folder only through its interface header
#      ("folder/folder.h"; arch's frame.h bare; remote's cm_remote.h) and only folders to its
#      right in:  core -> observe -> probe -> hook -> ident -> arch -> elf -> tier -> chan -> seg
#      -> remote -> base
#      (core = the files at shim/'s top). tools/keycache/ includes nothing from tools/.
#   2. no source file (.c .h .S) over 800 lines; every .c file opens with a comment;
#   3. shim/ holds at most 16 .c files at its top, tools/ no keycache file at its top;
#   4. with BUILD: no circle between the object files of libcloudm.so, cm_seg, the remote
#      plugin, config/, tools/ and the keycache (symbols one file uses that another defines;
#      the entry trampoline entry.S, which calls the dispatcher by design, is left out).
#
# Usage: check_layout.sh ROOT [BUILD]        exit 0 when every rule holds, 1 otherwise
#        check_layout.sh --selftest ROOT     breaks each rule in a copy and expects a failure
set -uo pipefail

ORDER=(core observe probe hook ident arch elf tier chan seg remote base)

rank() {
  local i
  for i in "${!ORDER[@]}"; do
    [ "${ORDER[$i]}" = "$1" ] && { echo "$i"; return; }
  done
  echo -1
}

# The folder of a file relative to shim/: core for the top, arch for arch/<cpu>/.
folder_of() {
  case $1 in
  */*) echo "${1%%/*}" ;;
  *) echo core ;;
  esac
}

check_includes() {
  local root=$1 bad=0 f rel from inc to dir
  while IFS= read -r f; do
    rel=${f#"$root/shim/"}
    from=$(folder_of "$rel")
    dir=$(dirname "$f")
    while IFS= read -r inc; do
      case $inc in
      */*)
        to=${inc%%/*}
        case $inc in
        "$to/$to.h" | remote/cm_remote.h) ;;
        *)
          echo "$rel: includes \"$inc\": other folders are reached only through their interface header ($to/$to.h)"
          bad=1
          continue
          ;;
        esac
        ;;
      frame.h) to=arch ;;
      *)
        # same folder, or config/ and include/ (anyone may include those)
        if [ -e "$dir/$inc" ] || [ -e "$root/config/$inc" ] || [ -e "$root/include/$inc" ]; then
          continue
        fi
        echo "$rel: includes \"$inc\", which is neither in its folder nor in config/ or include/"
        bad=1
        continue
        ;;
      esac
      [ "$to" = "$from" ] && continue
      if [ "$(rank "$to")" -lt 0 ]; then
        echo "$rel: includes \"$inc\" from folder '$to', which has no place in the order (${ORDER[*]})"
        bad=1
      elif [ "$(rank "$to")" -le "$(rank "$from")" ]; then
        echo "$rel: $from includes $to (\"$inc\"): against the order ${ORDER[*]}"
        bad=1
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done < <(find "$root/shim" -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \) | sort)
  while IFS= read -r f; do
    while IFS= read -r inc; do
      if [ -e "$root/tools/$inc" ]; then
        echo "${f#"$root/"}: includes \"$inc\" from tools/: the keycache server depends on nothing of the cloudm command"
        bad=1
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done < <(find "$root/tools/keycache" -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
  return $bad
}

check_files() {
  local root=$1 bad=0 f n
  while IFS= read -r f; do
    n=$(wc -l <"$f")
    if [ "$n" -gt 800 ]; then
      echo "${f#"$root/"}: $n lines (at most 800: split it along its jobs)"
      bad=1
    fi
    case $f in
    *.c)
      if [ "$(head -c 2 "$f")" != "/*" ]; then
        echo "${f#"$root/"}: does not open with a comment saying what it does and does not do"
        bad=1
      fi
      ;;
    esac
  done < <(find "$root" \( -path "$root/build*" -o -path "$root/.git" \) -prune -o -type f \
           \( -name '*.c' -o -name '*.h' -o -name '*.S' \) -print | sort)
  n=$(find "$root/shim" -maxdepth 1 -name '*.c' | wc -l)
  if [ "$n" -gt 16 ]; then
    echo "shim/: $n .c files at the top (at most 16: the core only)"
    bad=1
  fi
  if find "$root/tools" -maxdepth 1 -type f \( -name 'kc_*' -o -name 'keycache*' \) | grep -q .; then
    echo "tools/: keycache files at the top (they belong in tools/keycache/)"
    bad=1
  fi
  return $bad
}

# Object files -> "user definer" edges -> tsort finds circles.
check_circles() {
  local build=$1 root=${2:-} tmp o n src dirs=() d rc=0
  for d in shim/CMakeFiles/cloudm.dir shim/CMakeFiles/cm_seg.dir shim/CMakeFiles/cm_chan.dir shim/remote config tools; do
    [ -d "$build/$d" ] && dirs+=("$build/$d")
  done
  [ ${#dirs[@]} -gt 0 ] || { echo "no object files under $build"; return 1; }
  tmp=$(mktemp -d)
  while IFS= read -r o; do
    n=${o#"$build/"}
    n=${n%.o}
    # an object whose source is gone (a stale build tree from before a move) is left out
    if [ -n "$root" ]; then
      src=$(printf '%s' "$n" | sed -e 's|CMakeFiles/[^/]*\.dir/||' -e 's|__/|../|g')
      [ -e "$root/$src" ] || continue
    fi
    nm -g --defined-only "$o" 2>/dev/null | awk -v f="$n" 'NF == 3 { print $3, f }' >>"$tmp/def"
    nm -u "$o" 2>/dev/null | awk -v f="$n" '{ print $NF, f }' >>"$tmp/use"
  done < <(find "${dirs[@]}" -name '*.o' ! -name 'entry.S.o' ! -path '*/tests/*' | sort)
  touch "$tmp/def" "$tmp/use"
  sort -k1,1 "$tmp/def" >"$tmp/def.s"
  sort -k1,1 "$tmp/use" >"$tmp/use.s"
  # a symbol defined in several objects (one per target) links users to each: a circle in any
  # target shows as a circle here
  join "$tmp/use.s" "$tmp/def.s" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
  if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/err"; then
    echo "files that call each other in a circle:"
    grep -v 'input contains a loop' "$tmp/err" | sed 's/^tsort: /  /' | awk '!seen[$0]++'
    rc=1
  fi
  rm -rf "$tmp"
  return $rc
}

selftest() {
  local root=$1 t fails=0
  t=$(mktemp -d)
  trap 'rm -rf "$t"' RETURN
  cp -r "$root/shim" "$root/config" "$root/include" "$root/tools" "$t/"
  check_includes "$t" >/dev/null || { echo "selftest: the tree itself fails"; return 1; }
  # an upward include, a private header of another folder, an over-long file, a file without
  # its comment, a keycache file including the CLI
  echo '#include "hook/hook.h"' >>"$t/shim/seg/seg.c"
  check_includes "$t" >/dev/null && { echo "selftest: seg -> hook not caught"; fails=1; }
  sed -i '$d' "$t/shim/seg/seg.c"
  echo '#include "seg/seg_int.h"' >>"$t/shim/tier/shared.c"
  check_includes "$t" >/dev/null && { echo "selftest: a private header not caught"; fails=1; }
  sed -i '$d' "$t/shim/tier/shared.c"
  echo '#include "cli.h"' >>"$t/tools/keycache/kc_auth.c"
  check_includes "$t" >/dev/null && { echo "selftest: keycache -> tools not caught"; fails=1; }
  seq 1 801 | sed 's/^/int x/;s/$/;/' >"$t/shim/base/long.c"
  sed -i '1i /* long.c */' "$t/shim/base/long.c"
  check_files "$t" >/dev/null && { echo "selftest: a file over 800 lines not caught"; fails=1; }
  echo 'int y;' >"$t/shim/base/long.c"
  check_files "$t" >/dev/null && { echo "selftest: a file without its comment not caught"; fails=1; }
  rm "$t/shim/base/long.c"
  check_files "$t" >/dev/null || { echo "selftest: the restored tree fails"; fails=1; }
  # a circle between two object files
  mkdir -p "$t/b/config"
  printf 'int a(void);\nint b(void) { return a(); }\n' >"$t/b/x.c"
  printf 'int b(void);\nint a(void) { return b(); }\n' >"$t/b/y.c"
  cc -c -o "$t/b/config/x.o" "$t/b/x.c" && cc -c -o "$t/b/config/y.o" "$t/b/y.c"
  check_circles "$t/b" >/dev/null && { echo "selftest: a circle between files not caught"; fails=1; }
  [ $fails -eq 0 ] && echo "selftest: every broken rule was caught"
  return $fails
}

if [ "${1:-}" = --selftest ]; then
  selftest "$2"
  exit $?
fi
root=${1:?usage: check_layout.sh ROOT [BUILD]}
build=${2:-}
status=0
check_includes "$root" || status=1
check_files "$root" || status=1
if [ -n "$build" ]; then
  check_circles "$build" "$root" || status=1
fi
[ $status -eq 0 ] && echo "layout: every rule holds"
exit $status
