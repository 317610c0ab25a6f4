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
echo "Running suite(s): view"
checks=0 fails=0
fail() { fails=$((fails + 1)); echo "view.sh: FAIL: $*"; }
expect() {   # expect NAME WANT GOT
  checks=$((checks + 1))
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}
summary() {
  pct=100
  [ "$checks" -gt 0 ] && pct=$(( (checks - fails) * 100 / checks ))
  echo "$pct%: Checks: $checks, Failures: $fails, Errors: 0"
  [ "$fails" -eq 0 ]
  exit $?
}
for tool in jq python3 chromium; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    checks=$((checks + 1)); fail "$tool is missing (ci/setup installs it)"
  fi
done
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

summary
