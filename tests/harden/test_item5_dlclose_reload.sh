#!/bin/bash
# test_item5_dlclose_reload.sh - issue 16 item 5: a plugin replaced on disk and reloaded.
#
# Proves: a host that dlcloses libplug.so, replaces it (rename over it, like mv; then an
# in-place overwrite, like cp) and dlopens it again gets the new code's results under cloudm
# (51, 52, 51), with the constructors and destructors running at every load and unload, exactly
# as plain; in every mode, including off; and the reloaded plugin is memoized afresh.
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/plughost" || cm_done
conf=$(cm_conf plug <<'CONF'
[function plug_val]
signature = i64 plug_val(i64 x)
object    = */libplug.so
CONF
)
mkdir -p "$CM_TMP/p0" "$CM_TMP/pr" "$CM_TMP/po"
cm_plain plain "$CM_BIN/plughost" "$CM_TMP/p0" "$CM_BIN/libplug51.so" "$CM_BIN/libplug52.so"
cm_expect_eq "plain: 3 constructors" "$(grep -c constructor "$CM_TMP/plain.out")" 3
cm_expect_match "plain: after mv, 52" "$CM_TMP/plain.out" "^after mv: plug_val\(1\) = 52, again 52$"
for mode in readwrite off; do
  cm_run $mode -c "$conf" --mode $mode --report="$CM_TMP/$mode.json" -- \
    "$CM_BIN/plughost" "$CM_TMP/p${mode:0:1}" "$CM_BIN/libplug51.so" "$CM_BIN/libplug52.so"
  sed -i "s#$CM_TMP/p${mode:0:1}#$CM_TMP/p0#g" "$CM_TMP/$mode.out"
  cm_same plain $mode
done
cm_counts readwrite plug_val 6 3 3
cm_done
