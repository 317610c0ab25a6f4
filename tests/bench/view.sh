#!/bin/sh
# view.sh - make bench's heapkit view figure: a million-block snapshot
# (tests/view/grow --blocks: two sites taking turns, every fourth block
# freed, so nothing in the walk merges) rendered by heapkit view and
# opened in headless Chromium.  Prints the snapshot's size and the times:
# hk_debug_snapshot, heapkit view, Chromium's load (wall, --dump-dom) and
# the page's own script; the target is under 5 s for view + Chromium.
#   view.sh GROW HEAPKIT
grow=$1 hk=$2
command -v chromium >/dev/null 2>&1 || { echo "bench-view: FAILED: no chromium (ci/setup installs it)" >&2; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
t0=$(now)
HEAPKIT_REPORT=/dev/null "$grow" --blocks 1000000 "$tmp/big.json" || exit 1
t1=$(now)
"$hk" view "$tmp/big.json" -o "$tmp/big.html" || exit 1
t2=$(now)
chromium --headless --no-sandbox --window-size=1280,900 --dump-dom "$tmp/big.html" \
  2>/dev/null > "$tmp/big.dom" || exit 1
t3=$(now)
ms=$(grep -o 'data-render-ms="[0-9]*"' "$tmp/big.dom" | grep -o '[0-9]*')
[ -n "$ms" ] || { echo "bench-view: FAILED: the page did not render" >&2; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v ms="$ms" \
    -v json="$(wc -c < "$tmp/big.json")" -v html="$(wc -c < "$tmp/big.html")" 'BEGIN {
  printf "heapkit view, 1,000,000 blocks (750,000 live): snapshot %.2f s (%.1f MB JSON), view %.2f s (%.0f KB HTML), Chromium %.2f s (script %d ms); view + Chromium %.2f s (target < 5 s): %s\n",
    b - a, json / 1e6, c - b, html / 1e3, d - c, ms, d - b, (d - b < 5 ? "ok" : "SLOWER")
}'
