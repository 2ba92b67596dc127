#!/bin/bash
# test_dlopen.sh - memoized functions reached through dlsym and in a library dlopen'ed after
# start-up (prog/dl.c, legacy/plugin.c, conf/dl.conf), with RTLD_GLOBAL and RTLD_LOCAL.
#
# Proves: a pointer from dlsym(RTLD_DEFAULT, "lg_poly") calls the memoized entry (lg_poly is
# never called directly); plugin_cube, defined only by libplugin.so (`object = */libplugin.so`),
# is memoized when called through dlsym(handle, ...); libplugin's own GOT slot for lg_sq was
# patched before dlopen returned (checked by reading the slot right after dlopen, and by the
# counts). Each with exact counts, execution counts that drop
# accordingly, and output identical to the plain run.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/dl
PLUGIN=$CM_BIN/libplugin.so
CONF=$CM_SRC/conf/dl.conf
cm_require "$CLOUDM" "$PROG" || cm_done

for how in global local; do
  cm_plain "$how.plain" "$PROG" "$PLUGIN" "$how"
  cm_expect_eq "$how plain exit status" "$(cat "$CM_TMP/$how.plain.rc")" 0
  cm_memo "$how.memo" "$CONF" "$PROG" "$PLUGIN" "$how"
  cm_same "$how.plain" "$how.memo"
  #            function     calls hits misses errors
  cm_counts "$how.memo" lg_poly     40 30 10 0
  cm_counts "$how.memo" plugin_cube 36 24 12 0
  cm_counts "$how.memo" lg_sq       30 15 15 0
  for f in lg_poly plugin_cube lg_sq; do cm_invariant "$how.memo" "$f"; done
  cm_expect_eq "$how plain execs lg_poly" "$(cm_execs "$how.plain" lg_poly)" 40
  cm_expect_eq "$how memo execs lg_poly" "$(cm_execs "$how.memo" lg_poly)" 10
  cm_expect_eq "$how plain execs plugin_cube" "$(cm_execs "$how.plain" plugin_cube)" 36
  cm_expect_eq "$how memo execs plugin_cube" "$(cm_execs "$how.memo" plugin_cube)" 12
  cm_expect_eq "$how plain execs lg_sq" "$(cm_execs "$how.plain" lg_sq)" 30
  # Patched before dlopen returned: the program reads libplugin's GOT slot right after dlopen.
  slot() { sed -n "s/^dl: after dlopen, libplugin's lg_sq slot -> //p" "$CM_TMP/$1.err"; }
  cm_expect_eq "$how plain: slot -> liblegacy.so (the reading works)" "$(slot "$how.plain")" liblegacy.so
  CM_CHECKS=$((CM_CHECKS + 1))
  case "$(slot "$how.memo")" in
    "" | liblegacy.so | "(no slot)" | "(no link map)")
      cm_fail "$how memo: libplugin's lg_sq slot not patched when dlopen returned: '$(slot "$how.memo")'" ;;
    *) cm_ok "$how memo: libplugin's lg_sq slot patched before dlopen returned ($(slot "$how.memo"))" ;;
  esac
  cm_expect_eq "$how memo execs lg_sq" "$(cm_execs "$how.memo" lg_sq)" 15
done

cm_done
