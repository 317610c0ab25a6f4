#!/bin/sh
# winview.sh - snapshots under Wine (MinGW lane): tests/view/wplain.exe, an
# unmodified program, run by heapkit.exe run --snapshot-on exit; the
# snapshot has its blocks and the walk of the Win32 heaps (the program's
# own HeapCreate heap: 20 busy, 20 free blocks of 64 B); heapkit.exe view
# renders it, and headless Chromium (native) checks the page as
# tests/view.sh does on Linux.  A missing Wine, jq or Chromium is a
# failure.  Prints a Check-style summary that ci/test counts.
: "${HK_BUILDDIR:?}"
WINEDEBUG=${WINEDEBUG:--all}; export WINEDEBUG
HK_SRCDIR=$(cd "${HK_SRCDIR:?}" && pwd) || exit 99
HK_SUITE=winview; . "$HK_SRCDIR/tests/shcheck.sh"
if [ -z "${HK_WINE:-}" ] || ! command -v "$HK_WINE" >/dev/null 2>&1; then
  checks=$((checks + 1)); fail "no Wine (HK_WINE='${HK_WINE:-}')"
fi
need jq chromium
[ "$fails" -eq 0 ] || summary
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cp "$HK_BUILDDIR/tests/view/wplain.exe" "$tmp"/ || exit 99
cd "$tmp" || exit 99
HEAPKIT_HOOK_DLL="Z:$(printf '%s' "$HK_BUILDDIR/.libs/heapkit-hook.dll" | tr / '\\')"
export HEAPKIT_HOOK_DLL
unset HEAPKIT_REPORT HEAPKIT_FORMAT HEAPKIT_ERROR_EXITCODE HEAPKIT_SUPPRESSIONS HEAPKIT_BACKTRACE \
  HEAPKIT_SNAPSHOT HEAPKIT_SNAPSHOT_ON
hk() { "$HK_WINE" "$HK_BUILDDIR/tools/heapkit.exe" "$@"; }
q() { jq -r "$1" "$2" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
dom() { chromium --headless --no-sandbox --window-size=1280,900 --dump-dom "$1" 2>/dev/null; }
attr() { grep -o "$2=\"[^\"]*\"" "$1" | sed 's/^[^"]*"//; s/"$//'; }
body() { attr "$1" "$2" | head -n 1; }
lines() { tr '\n' ' ' | sed 's/ $//'; }

hk run -o rep.txt --snapshot-on exit --snapshot 'w.%n.json' wplain.exe
expect "run --snapshot-on exit: status" 0 $?
expect "a snapshot" "heapkit-snapshot 1 exit windows" \
  "$(q '"\(.schema) \(.version) \(.trigger) \(.os)"' w.1.json)"
expect "plain_a's blocks" "50 1200" \
  "$(q '[.sites[] | select(.function == "plain_a") | .id] as $s | [.blocks[] | select(.[2] as $x | $s | index($x))] | "\(length) \([.[][1]] | add)"' w.1.json)"
expect "plain_b's blocks" "10 2000" \
  "$(q '[.sites[] | select(.function == "plain_b") | .id] as $s | [.blocks[] | select(.[2] as $x | $s | index($x))] | "\(length) \([.[][1]] | add)"' w.1.json)"
expect "Win32 heaps walked" true "$(q '[.heaps[] | select(.backend == "win32")] | length > 1' w.1.json)"
# the program's own heap: 20 busy blocks of 64 B, each with its site and number
expect "the HeapCreate heap: 20 busy 64 B blocks with site and number" 20 \
  "$(q '[.heaps[].regions[].ranges[] | select(.[0] == "B" and .[6] == 64 and .[4] > 0 and .[5] > 0) | .[3]] | add' w.1.json)"

hk view w.1.json -o w.html
expect "heapkit.exe view: status" 0 $?
dom w.html > w.dom
expect "the page ran" snapshot "$(body w.dom data-kind)"
expect "table rows = sites with blocks" "$(q '[.blocks[][2]] | unique | length' w.1.json)" \
  "$(grep -o '<tr class="row"' w.dom | wc -l | tr -d ' ')"
expect "heap map: free bytes per region" \
  "$(q '[.heaps[] | (.regions[].free_bytes), (if (.large | length) > 0 then 0 else empty end)] | join(" ")' w.1.json)" \
  "$(attr w.dom data-free-bytes | lines)"
expect "heap map: ranges (at most 1200 a strip)" true \
  "$([ "$(body w.dom data-ranges)" -ge 20 ] && [ "$(body w.dom data-ranges)" -le $(( $(body w.dom data-regions) * 1201 )) ] && echo true)"
expect "heap map: hover names the site and number" true \
  "$(grep -q 'busy: 64 bytes, main [^,]*, allocation No. [0-9]' w.dom && echo true)"
expect "within 1280 px" true "$([ "$(body w.dom data-scroll-width)" -le 1280 ] && echo true)"
summary
