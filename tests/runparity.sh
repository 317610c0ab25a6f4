#!/bin/sh
# runparity.sh - the Linux half of the report parity of issue 12: the
# programs of tests/run/ that tests/winrun.sh runs under `heapkit.exe
# run` run here under `heapkit run`; each report, masked by
# tests/run/mask.sh, must equal tests/golden/run/ byte for byte, the same
# files winrun.sh compares the Windows reports with.  Compared: the
# problem rows (FM, FK, S/FS) of leaky.c and cxx.cc, the call site of
# threads.c's 40 leaks, in text and JSON, crash.c's crash line, and the
# whole default reports of leaky.c, cxx.cc, threads.c and crash.c, text
# and JSON.  Masked: addresses, pids, module names and source directories
# only (the C runtimes' own blocks are numbered apart, so allocation
# numbers and counts are the same on both OSes).
# Prints a Check-style summary that ci/test counts.
: "${HK_SRCDIR:?}" "${HEAPKIT_PRELOAD:?}"
HK_SUITE=runparity; . "$HK_SRCDIR/tests/shcheck.sh"
mask="$HK_SRCDIR/tests/run/mask.sh" golden="$HK_SRCDIR/tests/golden/run"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
unset HEAPKIT_REPORT HEAPKIT_FORMAT HEAPKIT_ERROR_EXITCODE HEAPKIT_SUPPRESSIONS HEAPKIT_BACKTRACE \
  HEAPKIT_LEAK_KINDS HEAPKIT_LANG
same() {   # same NAME GOLDEN MODE REPORT
  checks=$((checks + 1))
  if [ "$3" = cat ]; then cp "$4" "$tmp/got"; else sh "$mask" "$3" "$4" > "$tmp/got"; fi
  # HK_GOLDEN_UPDATE=1: write the goldens from this run (then review git diff)
  [ "${HK_GOLDEN_UPDATE:-0}" = 1 ] && cp "$tmp/got" "$2"
  if ! cmp -s "$2" "$tmp/got"; then
    fails=$((fails + 1))
    echo "runparity.sh: FAIL: $1: the masked report differs from $2:"
    diff "$2" "$tmp/got" | head -n 20
  fi
}
for p in leaky cxx; do
  tools/heapkit run -o "$tmp/$p.txt" -- "tests/run/$p" > /dev/null 2>&1
  tools/heapkit run --json -o "$tmp/$p.json" -- "tests/run/$p" > /dev/null 2>&1
  same "$p text" "$golden/$p.problems.txt" problems "$tmp/$p.txt"
  same "$p json" "$golden/$p.problems.json" jproblems "$tmp/$p.json"
done
# leaky and cxx: the whole default report, text and JSON (issue 12)
for p in leaky cxx; do
  same "$p whole report, text" "$golden/$p.txt" text "$tmp/$p.txt"
  same "$p whole report, json" "$golden/$p.json" json "$tmp/$p.json"
done
tools/heapkit run --lang de -o "$tmp/cxx-de.txt" -- tests/run/cxx > /dev/null 2>&1
same "cxx text, German" "$golden/cxx.problems.de.txt" problems "$tmp/cxx-de.txt"
# threads: the site of the 40 leaks, every kind listed (which of them a
# stale word still holds differs from run to run)
tools/heapkit run --leak-kinds all -o "$tmp/threads.txt" -- tests/run/threads 1000 > /dev/null 2>&1
tools/heapkit run --leak-kinds all --json -o "$tmp/threads.json" -- tests/run/threads 1000 > /dev/null 2>&1
sh "$mask" sites "$tmp/threads.txt" | grep ' work ' > "$tmp/threads.site.txt"
sh "$mask" jsites "$tmp/threads.json" | grep '"function":"work"' > "$tmp/threads.site.json"
same "threads site, text" "$golden/threads.site.txt" cat "$tmp/threads.site.txt"
same "threads site, json" "$golden/threads.site.json" cat "$tmp/threads.site.json"
# and its whole default report
tools/heapkit run -o "$tmp/threads-d.txt" -- tests/run/threads 1000 > /dev/null 2>&1
tools/heapkit run --json -o "$tmp/threads-d.json" -- tests/run/threads 1000 > /dev/null 2>&1
same "threads whole report, text" "$golden/threads.txt" text "$tmp/threads-d.txt"
same "threads whole report, json" "$golden/threads.json" json "$tmp/threads-d.json"
(tools/heapkit run -o "$tmp/crash.txt" -- tests/run/crash) > /dev/null 2>&1
st=$?
checks=$((checks + 1))
[ "$st" = 139 ] || { fails=$((fails + 1)); echo "runparity.sh: FAIL: crash status $st, not 139 (SIGSEGV)"; }
same "crash line" "$golden/crash.txt" crash "$tmp/crash.txt"
# and the whole report, symbolized as at a normal exit (the child
# process of the crash handler), text and JSON
(tools/heapkit run --json -o "$tmp/crash.json" -- tests/run/crash) > /dev/null 2>&1
same "crash whole report, text" "$golden/crash.report.txt" text "$tmp/crash.txt"
same "crash whole report, json" "$golden/crash.report.json" json "$tmp/crash.json"
summary
