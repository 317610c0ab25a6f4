#!/bin/sh
# view.sh - heap snapshots, heapkit diff and heapkit view (issue 13), on
# tests/view/grow, whose growth between its two snapshots is known:
# grow_a +100 blocks of 24 B, shrink_b -10 of 200 B.  Snapshots from
# hk_debug_snapshot and from heapkit run --snapshot-on (exit, SIGUSR1,
# N-allocs); the diff's counts exact; the HTML opened in headless Chromium
# (--dump-dom: table rows, heap-map ranges and figures against the JSON;
# --screenshot: not blank, within 1280 px).  jq reads the JSON and
# python3 the PNG; a missing tool (Chromium too) is a failure.  Prints a
# Check-style summary that ci/test counts.  Run from the build directory.
b=$(pwd)
src=$(cd "${HK_SRCDIR:-.}" && pwd)
HK_SUITE=view; . "$src/tests/shcheck.sh"
need jq python3 chromium
[ "$fails" -eq 0 ] || summary
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
grow=$b/tests/view/grow
hk=$b/tools/heapkit
cd "$tmp" || exit 99
unset HEAPKIT_REPORT HEAPKIT_FORMAT HEAPKIT_ERROR_EXITCODE HEAPKIT_SUPPRESSIONS \
  HEAPKIT_BACKTRACE HEAPKIT_SNAPSHOT HEAPKIT_SNAPSHOT_ON
q() { jq -r "$1" "$2" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }

# ---- 1. snapshots: hk_debug_snapshot --------------------------------------
HEAPKIT_REPORT=/dev/null "$grow" old.json new.json
expect "grow's status" 0 $?
expect "schema" "heapkit-snapshot 1" "$(q '"\(.schema) \(.version)"' old.json)"
# 20 + 30 malloc blocks, 25 arena blocks of 64 B and the large one
expect "old: live blocks" 76 "$(q '.live_blocks' old.json)"
expect "old: blocks listed" 76 "$(q '.blocks | length' old.json)"
expect "new: live blocks" 166 "$(q '.live_blocks' new.json)"
expect "new: live bytes = sum of the blocks" "$(q '.live_bytes' new.json)" \
  "$(q '[.blocks[][1]] | add' new.json)"
expect "old: blocks of grow_a" "20 480" \
  "$(q '[.sites[] | select(.function == "grow_a") | .id] as $s | [.blocks[] | select(.[2] as $x | $s | index($x))] | "\(length) \([.[][1]] | add)"' old.json)"
expect "sites name the file" "tests/view/grow.c" \
  "$(q '[.sites[].file] | unique | join(",")' new.json)"
# the arena heap: one region, every other 64 B block free, the large block
expect "arena heap walked: busy 64 B blocks" 25 \
  "$(q '[.heaps[].regions[] | select(.busy_count == 25)] | length as $n | if $n == 1 then 25 else $n end' new.json)"
expect "free blocks counted" true \
  "$(q '[.heaps[].regions[] | select(.busy_count == 25) | .free_count >= 25] | all' new.json)"
expect "busy ranges carry the site and allocation number" true \
  "$(q '[.heaps[].regions[].ranges[] | select(.[0] == "B" and .[6] == 64) | .[4] > 0 and .[5] > 0] | (length == 25 and all)' new.json)"
expect "the large block" 4194304 "$(q '[.heaps[].large[][1]] | add' new.json)"

# ---- 1b. heapkit run --snapshot-on --------------------------------------------
"$hk" run -o rep.txt --snapshot-on exit --snapshot 'x.%p.%n.json' -- "$grow" --exit
expect "run --snapshot-on exit: status" 0 $?
set -- x.*.json
expect "one exit snapshot" 1 "$#"
expect "exit snapshot: trigger, blocks" "exit 166" "$(q '"\(.trigger) \(.live_blocks)"' "$1")"
"$hk" run -o rep.txt --snapshot-on SIGUSR1 --snapshot 'sig.%n.json' -- "$grow" --signal
expect "run --snapshot-on SIGUSR1: status" 0 $?
expect "signal snapshot" "signal 166" "$(q '"\(.trigger) \(.live_blocks)"' sig.1.json)"
"$hk" run -o rep.txt --snapshot-on 100-allocs --snapshot 'n.%n.json' -- "$grow" --wait
expect "N-allocs snapshot: at least 100 registered" true "$(q '.registered >= 100' n.1.json)"
# an unmodified program (tests/view/plain.c; tests/winview.sh runs its
# MinGW build under Wine): the blocks of its two sites, by symbols
"$hk" run -o rep.txt --snapshot-on exit --snapshot 'p.%n.json' -- "$b/tests/view/plain"
expect "plain: status" 0 $?
expect "plain: plain_a's and plain_b's blocks" "plain_a 50 1200 plain_b 10 2000" \
  "$(q '. as $d | [.sites[] | select(.function == "plain_a" or .function == "plain_b")] | group_by(.function)[] | [.[].id] as $s | "\(.[0].function) \([$d.blocks[] | select(.[2] as $x | $s | index($x))] | "\(length) \([.[][1]] | add)")"' p.1.json)"
"$hk" run --snapshot-on sometimes -- "$grow" --exit 2>err.txt
expect "bad --snapshot-on: usage error" 2 $?

# ---- 2. heapkit diff -------------------------------------------------------------
"$hk" diff --json -o diff.json old.json new.json
expect "diff: status" 0 $?
expect "diff: schema" "heapkit-diff 1" "$(q '"\(.schema) \(.version)"' diff.json)"
expect "diff: grow_a first, +100 blocks, +2400 bytes" "grow_a 100 2400" \
  "$(q '.sites[0] | "\(.function) \(.count) \(.bytes)"' diff.json)"
expect "diff: shrink_b -10 blocks, -2000 bytes" "-10 -2000" \
  "$(q '.sites[] | select(.function == "shrink_b") | "\(.count) \(.bytes)"' diff.json)"
expect "diff: unchanged sites are 0" "0" \
  "$(q '[.sites[] | select(.function == "main") | .count] | add' diff.json)"
expect "diff: new blocks" "100 2400" "$(q '"\(.new_blocks.count) \(.new_blocks.bytes)"' diff.json)"
expect "diff: freed blocks" "10 2000" \
  "$(q '"\(.freed_blocks.count) \(.freed_blocks.bytes)"' diff.json)"
expect "diff: new blocks by site" "grow_a 100" \
  "$(q '.sites[] | select(.allocated.count > 0) | "\(.function) \(.allocated.count)"' diff.json)"
expect "diff: freed by site" "shrink_b 10" \
  "$(q '.sites[] | select(.freed.count > 0) | "\(.function) \(.freed.count)"' diff.json)"
expect "diff: stacks, largest first" "100 -10" \
  "$(q '[.stacks[] | select(.count != 0) | .count] | join(" ")' diff.json)"
"$hk" diff old.json new.json > diff.txt
expect "diff text: status" 0 $?
expect "diff text: the growth lines" "+100 +2400 grow_a|-10 -2000 shrink_b" \
  "$(awk '/^Growth by call site/ { on = 1; getline; next } on && NF == 0 { on = 0 }
      on { printf "%s%s %s %s", sep, $1, $2, $5; sep = "|" }' diff.txt)"
"$hk" diff old.json nothing.json 2>err.txt
expect "diff: a missing file is an error" 2 $?
printf '{"schema":"heapkit-snapshot","version":1,"blocks":[[1,2' > bad.json
"$hk" diff old.json bad.json 2>err.txt
expect "diff: broken JSON is an error" 2 $?

# ---- 3. heapkit view, in headless Chromium ---------------------------------------
# The DOM after the page's script ran; attr FILE NAME: every value of
# the attribute NAME, one a line, in document order.
dom() { chromium --headless --no-sandbox --window-size=1280,900 --dump-dom "$1" 2>/dev/null; }
attr() { grep -o "$2=\"[^\"]*\"" "$1" | sed 's/^[^"]*"//; s/"$//'; }
body() { attr "$1" "$2" | head -n 1; }
lines() { tr '\n' ' ' | sed 's/ $//'; }

"$hk" view new.json -o new.html
expect "view snapshot: status" 0 $?
expect "view: self-contained (nothing to fetch)" "" \
  "$(grep -Eio '(src|href)="[a-z]+:[^"]*"|url\((https?:|//)[^)]*|@import' new.html | head -n 3)"
dom new.html > new.dom
expect "view snapshot: the page ran" snapshot "$(body new.dom data-kind)"
# the table: one row per site, its blocks and bytes those of the JSON
expect "table rows = sites with blocks" "$(q '[.blocks[][2]] | unique | length' new.json)" \
  "$(grep -o '<tr class="row"' new.dom | wc -l | tr -d ' ')"
expect "table: blocks and bytes per site" \
  "$(q '[.blocks[] | {s: .[2], b: .[1]}] | group_by(.s) | map("\(length)/\([.[].b] | add)") | sort | join(" ")' new.json)" \
  "$(awk 'BEGIN { RS = "<tr class=\"row\"" } NR > 1 { split($0, c, "data-v=\""); split(c[2], a, "\""); split(c[3], d, "\""); print a[1] "/" d[1] }' new.dom | sort | lines)"
# the heap map: every range of every region, drawn as one rect each
expect "heap map: the ranges of the JSON" \
  "$(q '[.heaps[].regions[].ranges[] | "\(.[0]):\(.[1]):\(.[2]):\(.[4]):\(.[5])"] | join(" ")' new.json)" \
  "$(grep -o '<rect [^>]*class="rg"[^>]*>' new.dom | grep -v 'data-k="L"' |
     sed 's/.*data-k="\([A-Z]\)" data-off="\([0-9]*\)" data-len="\([0-9]*\)" data-count="[0-9]*" data-site="\([0-9]*\)" data-no="\([0-9]*\)".*/\1:\2:\3:\4:\5/' | lines)"
expect "heap map: the large block's strip" "4194304" \
  "$(grep -o '<rect [^>]*data-k="L"[^>]*>' new.dom | sed 's/.*data-bytes="\([0-9]*\)".*/\1/' | lines)"
expect "heap map: free bytes per region" \
  "$(q '[.heaps[].regions[].free_bytes] | join(" ")' new.json) 0" \
  "$(attr new.dom data-free-bytes | lines)"
expect "heap map: largest free block per region" \
  "$(q '[.heaps[].regions[].largest_free] | join(" ")' new.json) 0" \
  "$(attr new.dom data-largest-free | lines)"
expect "heap map: free blocks per region" \
  "$(q '[.heaps[].regions[].free_count] | join(" ")' new.json) 0" \
  "$(attr new.dom data-free-count | lines)"
expect "heap map: hover names size, site and allocation number" 25 \
  "$(grep -o 'busy: 64 bytes, main tests/view/grow.c:[0-9]*, allocation No. [0-9]*' new.dom | sort -u | wc -l | tr -d ' ')"
expect "icicle drawn" true "$([ "$(body new.dom data-flame-nodes)" -ge 2 ] && echo true)"
expect "within 1280 px" true "$([ "$(body new.dom data-scroll-width)" -le 1280 ] && echo true)"
# the picture: not blank (many colours, a tenth of it not background)
chromium --headless --no-sandbox --hide-scrollbars --window-size=1280,900 \
  --screenshot="$b/tests/view/snapshot.png" new.html >/dev/null 2>&1
set -- $(python3 "$src/tests/view/png.py" "$b/tests/view/snapshot.png")
expect "screenshot: 1280x900" "1280 900" "$1 $2"
expect "screenshot: many colours, not blank" true \
  "$([ "${3:-0}" -ge 50 ] && [ "${4:-0}" -ge 10 ] && echo true)"

# the diff: growth bars, the table
"$hk" view diff.json -o diff.html
expect "view diff: status" 0 $?
dom diff.html > diff.dom
expect "view diff: the page ran" diff "$(body diff.dom data-kind)"
expect "diff bars: one per changed site, bytes" "2400 -2000" \
  "$(grep -o '<rect [^>]*class="bar [^>]*>' diff.dom | sed 's/.*data-bytes="\([-0-9]*\)".*/\1/' | lines)"
expect "diff table: a row per site" "$(q '.sites | length' diff.json)" \
  "$(grep -o '<tr class="row"' diff.dom | wc -l | tr -d ' ')"

# a report (JSON Lines, schema 2): the entries and the summary
"$hk" run -o rep.json --json --backtrace 8 -- "$grow" --exit
"$hk" view rep.json -o rep.html
expect "view report: status" 0 $?
dom rep.html > rep.dom
expect "view report: the page ran" report "$(body rep.dom data-kind)"
expect "report table: a row per entry" "$(tail -n 1 rep.json | jq '.entries | length')" \
  "$(grep -o '<tr class="row"' rep.dom | wc -l | tr -d ' ')"
expect "report: backtraces folded in the rows" true \
  "$([ "$(grep -o '<details>' rep.dom | wc -l)" -ge 1 ] && echo true)"
want=$(tail -n 1 rep.json | jq -r '"\(.leak_summary.definite.count) blocks, \(.leak_summary.definite.bytes) bytes"')
expect "report: the leak summary" true \
  "$(grep -q "Leaks, definite</dt><dd>$want<" rep.dom && echo true)"

# bad input: a message and status 2, never a crash
printf 'not json\n' > junk.json
"$hk" view junk.json -o junk.html 2>err.txt
expect "view: junk is an error" 2 $?
"$hk" view bad.json -o junk.html 2>err.txt
expect "view: a cut snapshot is an error" 2 $?

# ---- a million blocks: aggregated on the way in, drawn as ranges ------------------
HEAPKIT_REPORT=/dev/null "$grow" --blocks 1000000 big.json
expect "1M blocks: snapshot" 0 $?
"$hk" view big.json -o big.html
expect "1M blocks: view" 0 $?
dom big.html > big.dom
expect "1M blocks: the page ran" snapshot "$(body big.dom data-kind)"
# blocks column: every fourth of the two sites' blocks freed
expect "1M blocks: live blocks in the table" 750000 \
  "$(awk 'BEGIN { RS = "<tr class=\"row\"" } NR > 1 { split($0, c, "data-v=\""); split(c[2], a, "\""); s += a[1] } END { print s }' big.dom)"
expect "1M blocks: at most 1200 ranges a strip" true \
  "$([ "$(body big.dom data-ranges)" -le $(( $(body big.dom data-regions) * 1201 )) ] && echo true)"

# ---- 4. heapkit walk: the sample's table, by the library -------------------------
cols() { tr -d '\r' | awk -F, 'NR > 1 { print $1 "," $2 "," $4 "," $5 "," $7 }'; }
"$hk" walk --demo --format csv > walk.csv
expect "walk csv: status" 0 $?
expect "walk csv: the sample's header" \
  "heapno,backend,dataptr,datasize,overhead,regindex,flags,committed,uncommitted,firstblock,lastblock" \
  "$(head -n 1 walk.csv | tr -d '\r')"
"$b/examples/heapwalk" --csv > sample.csv
expect "walk --demo: the rows of examples/heapwalk (addresses aside)" "$(cols < sample.csv | lines)" \
  "$(cols < walk.csv | lines)"
expect "walk: busy rows of the demo blocks" true \
  "$(cols < walk.csv | grep -q ',BUSY$' && echo true)"
"$hk" walk --demo --format json > walk.json
expect "walk json: a row per csv row" "$(($(wc -l < walk.csv) - 1))" "$(q '.rows | length' walk.json)"
expect "walk json: regions have their figures" true \
  "$(q '[.rows[] | select(.flags == "REGION") | .committed > 0] | (length > 0 and all)' walk.json)"
"$hk" walk > walk.txt
expect "walk text: the header" "heapno backend dataptr datasize overhead regindex flags committed uncommitted firstblock lastblock" \
  "$(head -n 1 walk.txt | tr -s ' ' | sed 's/ $//')"
"$hk" walk --format xml 2>err.txt
expect "walk: a bad format is a usage error" 2 $?

summary
