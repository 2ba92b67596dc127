#!/bin/bash
# test_html.sh - `cloudm discover --html FILE` in a real headless browser (Debian's chromium):
# the page renders (a screenshot is taken and is a non-trivial PNG), and the rendered DOM has
# the bars (with the saved time of the top function), the miss-ratio curves, the ranked table
# and the generated config; `cloudm profile --html` too. Skips, saying so, only when chromium is
# not installed.
. "$(dirname "$0")/../e2e/lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
  echo "SKIP: chromium is not installed (bash .ci/install-deps installs it)"
  exit 0
fi
P=$CM_BIN/disc_prog
"$CLOUDM" discover --html "$CM_TMP/r.html" --json "$CM_TMP/r.json" -- "$P" >"$CM_TMP/d.out" 2>"$CM_TMP/d.err"
cm_expect_eq "discover exit" "$?" 0
cm_expect_nomatch "self-contained: no external resource" "$CM_TMP/r.html" '(src|href)="(https?:)?//'

browser() {
  # Only what the test needs: no network, no sandbox (root in CI), a throwaway profile.
  local prof
  prof=$(mktemp -d "$CM_TMP/chrome.XXXXXX")
  LD_PRELOAD= timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$prof" "$@" 2>>"$CM_TMP/chrome.err"
}
browser --window-size=1200,1800 --screenshot="$CM_TMP/shot.png" "file://$CM_TMP/r.html" >/dev/null
CM_CHECKS=$((CM_CHECKS + 1))
if [ -s "$CM_TMP/shot.png" ] && [ "$(head -c 8 "$CM_TMP/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
  [ "$(stat -c %s "$CM_TMP/shot.png")" -gt 20000 ]; then
  cm_ok "screenshot taken ($(stat -c %s "$CM_TMP/shot.png") bytes of PNG)"
else
  cm_fail "no usable screenshot"; tail -5 "$CM_TMP/chrome.err" >&2
fi
browser --dump-dom "file://$CM_TMP/r.html" >"$CM_TMP/dom.html"
D=$CM_TMP/dom.html
saved=$(jq -r '.functions[] | select(.name=="disc_slow_repeat") | .saved_within_ns | floor' "$CM_TMP/r.json")
cm_expect_match "bars chart" "$D" '<svg id="bars"'
cm_expect_match "top bar with its saved time" "$D" "class=\"bar\" data-fn=\"disc_slow_repeat\" data-total-ns=\"[0-9]+\" data-saved-ns=\"$saved\""
cm_expect_match "saved and must-run parts" "$D" '<rect class="saved".*<rect class="run"'
cm_expect_match "miss-ratio curves" "$D" '<polyline class="curve" data-fn="disc_slow_repeat"'
cm_expect_match "ranked table" "$D" '<table id="ranked">'
cm_expect_match "table row" "$D" '<td>1</td><td>disc_slow_repeat</td><td>libdisc.so</td><td>60</td><td>4</td>'
cm_expect_match "generated config" "$D" '^\[function disc_slow_repeat\]'

# cloudm profile --html: the same page from the shim's profile reports, with the config used
"$CLOUDM" discover -o "$CM_TMP/gen.conf" -- "$P" >/dev/null 2>&1
"$CLOUDM" profile -c "$CM_TMP/gen.conf" --html "$CM_TMP/p.html" -- "$P" >"$CM_TMP/p.out" 2>"$CM_TMP/p.err"
cm_expect_eq "profile --html exit" "$?" 0
cmp -s "$CM_TMP/p.out" "$CM_TMP/d.out"
cm_expect_eq "profile --html: program output unchanged" "$?" 0
browser --dump-dom "file://$CM_TMP/p.html" >"$CM_TMP/pdom.html"
cm_expect_match "profile page: bar of the memoized function" "$CM_TMP/pdom.html" 'class="bar" data-fn="disc_slow_repeat"'
cm_expect_match "profile page: table row" "$CM_TMP/pdom.html" '<td>[0-9]+</td><td>disc_slow_repeat</td><td>disc_prog</td><td>60</td><td>4</td>'
cm_expect_match "profile page: the config it ran with" "$CM_TMP/pdom.html" '^signature = f64 disc_slow_repeat'
cm_done
