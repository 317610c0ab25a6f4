#!/bin/sh
# winrun.sh - `heapkit.exe run` under Wine (MinGW lane): unmodified
# programs of tests/run/ (no heapkit header) run under the command, and
# their reports checked exactly, addresses and offsets masked: each entry
# as "SIZE PLACE" or "FM PLACE" (PLACE: the function and file DbgHelp
# names, or the module where it has no file), in report order or, where
# the leak kinds group them, as a set.  A missing Wine is a failure.  Prints a Check-style summary that ci/test counts.
: "${HK_BUILDDIR:?}" "${HK_SRCDIR:?}"
HK_SRCDIR=$(cd "$HK_SRCDIR" && pwd) || exit 99   # the tests run in a directory of their own
WINEDEBUG=${WINEDEBUG:--all}; export WINEDEBUG
HK_SUITE=winrun; . "$HK_SRCDIR/tests/shcheck.sh"
if [ -z "${HK_WINE:-}" ] || ! command -v "$HK_WINE" >/dev/null 2>&1; then
  checks=1; fail "no Wine (HK_WINE='${HK_WINE:-}')"
  summary
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cp "$HK_BUILDDIR"/tests/wrun/*.exe "$HK_BUILDDIR"/tests/wrun/*.dll "$tmp"/ || exit 99
cd "$tmp" || exit 99
# the hook DLL of this build, as a Windows path (Wine's Z: is /)
HEAPKIT_HOOK_DLL="Z:$(printf '%s' "$HK_BUILDDIR/.libs/heapkit-hook.dll" | tr / '\\')"
export HEAPKIT_HOOK_DLL
unset HEAPKIT_REPORT HEAPKIT_FORMAT HEAPKIT_ERROR_EXITCODE HEAPKIT_SUPPRESSIONS HEAPKIT_BACKTRACE \
  HEAPKIT_WALK_DIFF HEAPKIT_UNWIND_CHECK
# Wine under load now and then fails to create the program's process
# (CreateProcess fails: heapkit run's status 126, "cannot run"): such a
# run is made again, at most twice, and says so on stderr.  No program
# here exits with 126 itself.
hk() {
  hk_try=0
  while :; do
    "$HK_WINE" "$HK_BUILDDIR/tools/heapkit.exe" "$@"
    hk_st=$?
    if [ "$hk_st" != 126 ] || [ "$hk_try" -ge 2 ]; then return "$hk_st"; fi
    hk_try=$((hk_try + 1))
    echo "winrun.sh: Wine could not start the process (status 126); again" >&2
  done
}

# Where an entry or a site was made, masked: "FUNCTION@FILE" (the file's
# base name) where DbgHelp found a file, else the module of module+offset.
# shellcheck disable=SC2016
place='function place(f, file, m) { if (file != "?") { sub(/.*\//, "", file); return f "@" file }
  m = $NF; sub(/\+0x[0-9a-f]+$/, "", m); return m }'
# The entries of a text report, masked: "SIZE PLACE" / "FM PLACE" (a
# leak's Flags column holds its kind letter, or is empty).
entries() {
  tr -d '\r' < "$1" | awk "$place"'
    /^  No  Pointer/ { on = 1; next } /^Summary by call site/ { on = 0 }
    on && $1 ~ /^r?[0-9]+$/ { c = $4 ~ /^0x/ ? 4 : 5; printf "%s %s; ", $3, place($(c + 1), $(c + 2)) }
    on && $1 ~ /^0x/ && $2 == "FM" { printf "FM %s; ", place($4, $5) }'
}
# The leak entries with their kind letter (the last of the flags): "SIZE K".
kinds() {
  tr -d '\r' < "$1" | awk '/^  No  Pointer/ { on = 1; next } /^Summary by call site/ { on = 0 }
    on && $1 ~ /^r?[0-9]+$/ { printf "%s %s; ", $3, substr($4, length($4)) }'
}
# The call-site summary, masked: "COUNT BYTES PLACE".
sites() {
  tr -d '\r' < "$1" | awk "$place"'
    /^Summary by call site/ { on = 1; getline; next } on && NF == 0 { on = 0 }
    on { printf "%s %s %s; ", $1, $2, place($4, $5) }'
}
# "a; b; " as a sorted set: the leaks come grouped by kind, whose order
# the conservative scan does not fix for blocks only stale words point to.
set_of() {
  printf '%s' "$1" | tr ';' '\n' | sed 's/^ *//' | grep . | sort | tr '\n' ';' | sed 's/;/; /g'
}

# leaky.c, the Linux lane's source: leaks in the exe (a constructor's
# too) and in its DLL; msvcrt's own blocks (_getcwd's, strdup's) freed
# (no FM); free by pointer in the DLL; double and interior free (FM).
# mingw-w64's startup code copies argv (the array, then "leaky.exe") and
# keeps the copy in a global: still reachable, so not listed by default;
# the constructor's 7 bytes, whose pointer was overwritten, are
# definitely lost.
hk run -o leaky.txt -- leaky.exe > leaky.out 2> leaky.err
expect "leaky status" 0 $?
expect "leaky ran" done "$(tr -d '\r' < leaky.out)"
expect "leaky FM" "FM main@leaky.c; FM main@leaky.c; " "$(entries leaky.txt | tr ';' '\n' | grep FM | sed 's/^ *//' | tr '\n' ';' | sed 's/;/; /g')"
expect "leaky lost" "7 D; " "$(kinds leaky.txt | tr ';' '\n' | grep '^ *7 ' | sed 's/^ *//' | tr '\n' ';' | sed 's/;/; /g')"
expect "leaky argv copies not listed" "" "$(entries leaky.txt | tr ';' '\n' | grep 'leaky\.exe')"
expect "leaky reachable counted" "1" \
  "$(tr -d '\r' < leaky.txt | grep -c '^   Still reachable: [0-9]* blocks, [0-9,]* bytes (not listed)$')"
# every kind: all the leaks and the argv copies still reachable; the
# DLL (a static import: heapkit.exe run puts the hook DLL first in the
# program's imports, so it is initialised before the DLL is) leaks 3 in
# its constructor, as on Linux, and its C runtime startup keeps a
# 256-byte atexit table until it is unloaded, after the report
hk run --leak-kinds all -o leaky-all.txt -- leaky.exe > /dev/null 2>&1
expect "leaky all status" 0 $?
expect "leaky all entries" \
  "$(set_of "16 leaky.exe; 10 leaky.exe; 7 before_main@leaky.c; 100 leak@leaky.c; 200 hkrun_lib_leak@runlib.c; FM main@leaky.c; FM main@leaky.c; 3 hkrun_lib_init@runlib.c; 256 wrunlib.dll; ")" \
  "$(set_of "$(entries leaky-all.txt)")"
expect "leaky all kinds" "$(set_of "16 R; 10 R; 7 D; ")" \
  "$(set_of "$(kinds leaky-all.txt | tr ';' '\n' | grep -E '^ *(16|10|7) ' | tr '\n' ';')")"
# the fallback way in, a remote thread: the DLL's constructor has run
# before the hook DLL loads, so its 3 bytes and the atexit table are not
# seen (the rest is)
HEAPKIT_INJECT=thread hk run --leak-kinds all -o leaky-thread.txt -- leaky.exe > /dev/null 2>&1
expect "leaky by thread status" 0 $?
expect "leaky by thread entries" \
  "$(set_of "16 leaky.exe; 10 leaky.exe; 7 before_main@leaky.c; 100 leak@leaky.c; 200 hkrun_lib_leak@runlib.c; FM main@leaky.c; FM main@leaky.c; ")" \
  "$(set_of "$(entries leaky-thread.txt)")"
HEAPKIT_INJECT=bogus hk run -- wstatus.exe 0 > /dev/null 2> inject.err
expect "HEAPKIT_INJECT=bogus refused" 2 $?
# realloc keeps the block's allocation number: 10 (the DLL's 2 included),
# not 11; the C runtime's blocks (mingw-w64's argv copy, the DLL's atexit
# table) are numbered apart, so Linux counts 10 too (tests/golden/run)
expect "leaky registered" "   10 pointers were registered" "$(tr -d '\r' < leaky.txt | grep 'pointers were registered')"
# ... and listed with reachable blocks, as r1, r2..., on a line of their own
expect "leaky runtime rows" "r1 r2 r3 " \
  "$(tr -d '\r' < leaky-all.txt | awk '$1 ~ /^r[0-9]+$/ { printf "%s ", $1 }')"
expect "leaky runtime line" "   Held by the C runtime: 3 blocks, 282 bytes" \
  "$(tr -d '\r' < leaky-all.txt | grep 'Held by the C runtime')"

# Parity with Linux (tests/runparity.sh compares the same golden files):
# the problem rows of leaky.c and cxx.cc, text and JSON, and the crash
# line, masked by tests/run/mask.sh, equal tests/golden/run/ byte for byte.
mask="$HK_SRCDIR/tests/run/mask.sh" golden="$HK_SRCDIR/tests/golden/run"
same() {   # same NAME GOLDEN MODE REPORT
  checks=$((checks + 1))
  if [ "$3" = cat ]; then cp "$4" masked.out; else sh "$mask" "$3" "$4" > masked.out; fi
  if ! cmp -s "$2" masked.out; then
    fail "$1: the masked report differs from $2: $(diff "$2" masked.out | head -n 20)"
  fi
}
hk run --json -o leaky.json -- leaky.exe > /dev/null 2>&1
same "leaky parity, text" "$golden/leaky.problems.txt" problems leaky.txt
same "leaky parity, json" "$golden/leaky.problems.json" jproblems leaky.json
# the whole default report, text and JSON, as on Linux (issue 12)
same "leaky whole report, text" "$golden/leaky.txt" text leaky.txt
same "leaky whole report, json" "$golden/leaky.json" json leaky.json

# cxx.cc, the Linux lane's source, with libstdc++'s DLL: the new/delete
# family mismatches (FK) and the sized delete (S/FS) as on Linux
hk run -o cxx.txt -- cxx.exe > /dev/null 2>&1
expect "cxx status" 0 $?
hk run --json -o cxx.json -- cxx.exe > /dev/null 2>&1
same "cxx parity, text" "$golden/cxx.problems.txt" problems cxx.txt
same "cxx parity, json" "$golden/cxx.problems.json" jproblems cxx.json
# the whole default report, text and JSON, as on Linux (issue 12)
same "cxx whole report, text" "$golden/cxx.txt" text cxx.txt
same "cxx whole report, json" "$golden/cxx.json" json cxx.json
hk run --lang de -o cxx-de.txt -- cxx.exe > /dev/null 2>&1
same "cxx parity, German" "$golden/cxx.problems.de.txt" problems cxx-de.txt

# a crash: the report written from the unhandled-exception filter, the
# crashing function named, then the process dies with the exception's
# status (0xC0000005; the shell sees its low byte) - no winedbg, no hang
timeout 120 "$HK_WINE" "$HK_BUILDDIR/tools/heapkit.exe" run -o crash.txt -- crash.exe > /dev/null 2>&1
expect "crash status" 5 $?
same "crash line" "$golden/crash.txt" crash crash.txt
checks=$((checks + 1))
tr -d '\r' < crash.txt | grep -q '^runtime-error EXCEPTION_ACCESS_VIOLATION at 0x[0-9a-f]* in main (crash.exe+0x[0-9a-f]*)$' \
  || fail "crash: no crash line naming main: $(tr -d '\r' < crash.txt | tail -n 2)"
# and its leak's row and site, text and JSON, as on Linux
timeout 120 "$HK_WINE" "$HK_BUILDDIR/tools/heapkit.exe" run --json -o crash.json -- crash.exe > /dev/null 2>&1
# the whole crash report: the live block, no runtime's (mingw-w64's argv
# copy is numbered apart and not listed), the crash line
same "crash whole report, text" "$golden/crash.report.txt" text crash.txt
same "crash whole report, json" "$golden/crash.report.json" json crash.json

# HeapAlloc leaks on a private heap and on the process heap; HeapFree of
# a stack address is FM and FALSE.  From here on every kind is listed:
# these check what is recorded, not what is reachable.
hk run --leak-kinds all -o heap.txt -- wheap.exe > heap.out 2> heap.err
expect "wheap status" 0 $?
expect "wheap ran" done "$(tr -d '\r' < heap.out)"
expect "wheap entries" \
  "$(set_of "16 wheap.exe; 10 wheap.exe; 300 main@wheap.c; 300 main@wheap.c; 300 main@wheap.c; 400 main@wheap.c; 25 main@wheap.c; FM main@wheap.c; ")" \
  "$(set_of "$(entries heap.txt)")"

# the CRT's _aligned_* family mixed with malloc's: each wrong pair an FK
# naming both functions, the block still released its own way (free() of
# an aligned block would corrupt msvcrt's heap), a realloc keeps its
# family, and the program runs to its end
hk run -o aligned.txt -- waligned.exe > aligned.out 2> aligned.err
expect "waligned status" 0 $?
expect "waligned ran" done "$(tr -d '\r' < aligned.out)"
expect "waligned FK" \
  "200 _aligned_malloc freed by free; 300 malloc freed by _aligned_free; 48 _aligned_malloc freed by free; " \
  "$(tr -d '\r' < aligned.txt | awk '$4 == "FK" { printf "%s %s %s %s %s; ", $3, $(NF-3), $(NF-2), $(NF-1), $NF }')"
expect "waligned leak" "77 main@waligned.c; " "$(entries aligned.txt | tr ';' '\n' | grep '^ *77 ' | sed 's/^ *//' | tr '\n' ';' | sed 's/;/; /g')"

# a DLL loaded at run time: patched before its DllMain (its constructor's
# leak 3 is seen, and the 256-byte atexit table mingw-w64's DLL startup
# code allocates, which it frees only when the DLL is unloaded, after the
# report), its leak 222; a destroyed heap's blocks are no leaks, a live
# heap's are
hk run --leak-kinds all -o load.txt -- wload.exe > load.out 2> load.err
expect "wload status" 0 $?
expect "wload ran" done "$(tr -d '\r' < load.out)"
expect "wload entries" \
  "$(set_of "16 wload.exe; 10 wload.exe; 256 wrunlib.dll; 3 hkrun_lib_init@runlib.c; 222 hkrun_lib_leak@runlib.c; 33 main@wload.c; ")" \
  "$(set_of "$(entries load.txt)")"

# threads.c: 4 threads x 1000 pairs, 10 leaks each of 1000 + thread: 40
# leaks at one site (winpthreads' own blocks are listed too: linked into
# the exe), and exactly 4 x 1010 allocations more than the run that only
# starts the threads, as tests/preload checks on Linux.
hk run --leak-kinds all -o threads0.txt -- threads.exe 0 > /dev/null 2>&1
hk run --leak-kinds all -o threads.txt -- threads.exe 1000 > /dev/null 2>&1
expect "threads status" 0 $?
expect "threads site" "40 40060 work@threads.c; " \
  "$(sites threads.txt | tr ';' '\n' | grep '^ *40 ' | sed 's/^ *//' | tr '\n' ';' | sed 's/;/; /')"
expect "threads no FM" "" "$(entries threads.txt | tr ';' '\n' | grep FM)"
hk run --leak-kinds all --json -o threads.json -- threads.exe 1000 > /dev/null 2>&1
sh "$mask" sites threads.txt | grep ' work ' > threads.site.txt
sh "$mask" jsites threads.json | grep '"function":"work"' > threads.site.json
same "threads parity, text" "$golden/threads.site.txt" cat threads.site.txt
same "threads parity, json" "$golden/threads.site.json" cat threads.site.json
hk run -o threads-d.txt -- threads.exe 1000 > /dev/null 2>&1
hk run --json -o threads-d.json -- threads.exe 1000 > /dev/null 2>&1
same "threads whole report, text" "$golden/threads.txt" text threads-d.txt
same "threads whole report, json" "$golden/threads.json" json threads-d.json
reg() { tr -d '\r' < "$1" | sed -n 's/^ *\([0-9]*\) pointers were registered$/\1/p'; }
expect "threads exact count" 4040 $(( $(reg threads.txt) - $(reg threads0.txt) ))

# a program on ucrtbase.dll: its malloc family is hooked (the hook DLL is
# initialised before ucrtbase: it is finished at the first call), its own
# block is vouched for, the report comes from its exit()
hk run --leak-kinds all --error-exitcode 23 -o ucrt.txt -- wucrt.exe > ucrt.out 2>&1
expect "wucrt status" 23 $?
expect "wucrt ran" done "$(tr -d '\r' < ucrt.out)"
expect "wucrt entries" \
  "$(set_of "77 main@wucrt.c; 18 main@wucrt.c; 40 main@wucrt.c; FM main@wucrt.c; 16 wucrt.exe; 10 wucrt.exe; ")" \
  "$(set_of "$(entries ucrt.txt)")"
expect "wucrt kinds" "$(set_of "77 D; 18 R; 40 R; ")" \
  "$(set_of "$(kinds ucrt.txt | tr ';' '\n' | grep -E '^ *(77|18|40) ' | tr '\n' ';')")"
HEAPKIT_INJECT=thread hk run --leak-kinds all -o ucrt-thread.txt -- wucrt.exe > /dev/null 2>&1
expect "wucrt by thread" "$(set_of "$(entries ucrt.txt)")" "$(set_of "$(entries ucrt-thread.txt)")"

# the exit status passes through; --error-exitcode with findings; a
# suppressed leak is no finding, so the program's status comes back
hk run -- wstatus.exe 3 > /dev/null 2>&1
expect "status passes" 3 $?
hk run --leak-kinds all --error-exitcode 23 -- wstatus.exe 0 leak > /dev/null 2>&1
expect "error-exitcode" 23 $?
# with the report in a file too (at DLL_PROCESS_DETACH Wine could let the
# program's own status win: the report is written in its exit())
hk run --leak-kinds all -o a-long-file-name-for-the-report-of-wstatus.txt --error-exitcode 23 -- wstatus.exe 0 leak \
  > /dev/null 2>&1
expect "error-exitcode, report in a file" 23 $?
# by default a still reachable block (the 5 bytes stay in a global) is no
# finding: the program's status comes back
hk run --error-exitcode 23 -- wstatus.exe 0 leak > /dev/null 2>&1
expect "reachable: no finding" 0 $?
printf 'leak:wstatus.exe\n' > all.supp
hk run --leak-kinds all --suppressions all.supp --error-exitcode 23 -- wstatus.exe 4 leak > /dev/null 2> supp.txt
expect "suppressed: status passes" 4 $?

# the JSON report and %p in the file name
hk run --leak-kinds all --json -o 'j.%p.json' -- wstatus.exe 0 leak > /dev/null 2>&1
set -- j.*.json
checks=$((checks + 1))
if [ -f "$1" ] && tr -d '\r' < "$1" | grep -q '"size":5'; then :; else
  fail "json: no j.PID.json with the 5-byte leak"; fi

# arguments with spaces, quotes and backslashes reach the program intact:
# mingw's argv copy has one block per argument, of its length + 1
hk run --leak-kinds all -o args.txt -- wstatus.exe 0 'a b' 'q"x' 'c:\d\' '' > /dev/null 2>&1
expect "args" "$(set_of "56 wstatus.exe; 12 wstatus.exe; 2 wstatus.exe; 4 wstatus.exe; 4 wstatus.exe; 6 wstatus.exe; 1 wstatus.exe; ")" \
  "$(set_of "$(entries args.txt)")"

# --walk-diff: blocks from HeapAlloc fetched with GetProcAddress (no hook
# sees them) are listed with their exact size, heap and first bytes; the
# one freed again is not; the malloc block the hooks saw is an entry, not
# untracked.  The program prints the pointers and its private heap.
# Untracked rows: "SIZE HEAP POINTER HEX...|TEXT|".
untracked() {
  tr -d '\r' < "$1" | awk '/^Untracked blocks/ { on = 1; getline; next } /^(Untracked|Nicht erfasst): / { on = 0 }
    on { print }' | sed 's/  */ /g; s/^ //'
}
hk run --walk-diff -o walk.txt -- wwalk.exe > walk.out 2>&1
expect "walk-diff status" 0 $?
wa=$(tr -d '\r' < walk.out | sed -n 's/^A //p'); wb=$(tr -d '\r' < walk.out | sed -n 's/^B //p')
wc_=$(tr -d '\r' < walk.out | sed -n 's/^C //p'); wh=$(tr -d '\r' < walk.out | sed -n 's/^heap //p')
expect "walk-diff A" "77 process $wa 48 4b 57 41 4c 4b 2d 41 08 09 0a 0b 0c 0d 0e 0f |HKWALK-A........|" \
  "$(untracked walk.txt | grep " $wa ")"
expect "walk-diff B (private heap)" "333 $wh $wb 48 4b 57 41 4c 4b 2d 42 08 09 0a 0b 0c 0d 0e 0f |HKWALK-B........|" \
  "$(untracked walk.txt | grep " $wb ")"
expect "walk-diff C (small)" "24 process $wc_ 48 4b 57 41 4c 4b 2d 43 08 09 0a 0b 0c 0d 0e 0f |HKWALK-C........|" \
  "$(untracked walk.txt | grep " $wc_ ")"
expect "walk-diff freed block not listed" "" "$(untracked walk.txt | grep 'HKWALK-D')"
expect "walk-diff malloc block is an entry" "41 main@wwalk.c; " "$(entries walk.txt)"
expect "walk-diff malloc block not untracked" "" "$(untracked walk.txt | grep '^41 ')"
checks=$((checks + 1))
n=$(untracked walk.txt | grep -c .)
tr -d '\r' < walk.txt | grep -q "^Untracked: $n blocks, [0-9,]* bytes (not counted as findings)\$" \
  || fail "walk-diff summary line for $n blocks: $(tr -d '\r' < walk.txt | grep '^Untracked:')"
# without the option: no such section
hk run -o nowalk.txt -- wwalk.exe > /dev/null 2>&1
expect "no walk-diff status" 0 $?
expect "no walk-diff, no section" "0" "$(tr -d '\r' < nowalk.txt | grep -c -i 'untracked')"
# the environment variable alone, in German
HEAPKIT_WALK_DIFF=1 hk run --lang de -o walkde.txt -- wwalk.exe > walkde.out 2>&1
expect "walk-diff de status" 0 $?
wa=$(tr -d '\r' < walkde.out | sed -n 's/^A //p')
checks=$((checks + 1))
tr -d '\r' < walkde.txt | grep -q "^ *77  process *$wa *48 4b 57 41 4c 4b 2d 41 .*|HKWALK-A........|\$" \
  || fail "walk-diff de: no row for A ($wa)"
checks=$((checks + 1))
tr -d '\r' < walkde.txt | grep -q '^Nicht erfasst: [0-9.]* Bl.*cke, [0-9.]* Bytes (keine Befunde)$' \
  || fail "walk-diff de: no summary line"
# JSON: the block with its contents in hex and as text; no key without the option
hk run --walk-diff --json -o walk.json -- wwalk.exe > walkj.out 2>&1
expect "walk-diff json status" 0 $?
wa=$(tr -d '\r' < walkj.out | sed -n 's/^A //p')
checks=$((checks + 1))
tr -d '\r' < walk.json | grep -q "\"untracked\":{\"count\":[0-9]*,\"bytes\":[0-9]*,\"complete\":true,\"blocks\":\[.*{\"pointer\":\"$wa\",\"size\":77,\"heap\":\"process\",\"heap_handle\":\"0x[0-9a-f]*\",\"contents\":\"484b57414c4b2d4108090a0b0c0d0e0f\",\"text\":\"HKWALK-A........\"}" \
  || fail "walk-diff json: no block A ($wa): $(tr -d '\r' < walk.json | grep -o '"untracked".*' | cut -c1-300)"
hk run --json -o nowalk.json -- wwalk.exe > /dev/null 2>&1
expect "no walk-diff json, no key" "0" "$(tr -d '\r' < nowalk.json | grep -c '"untracked"')"
# untracked blocks are no findings: --error-exitcode stays quiet
hk run --walk-diff --error-exitcode 23 -o walkq.txt -- wwalk.exe nomalloc > /dev/null 2>&1
expect "walk-diff no finding" 0 $?
expect "walk-diff no finding, still listed" "1" "$(untracked walkq.txt | grep -c 'HKWALK-A')"

# --backtrace under heapkit.exe run: heapkit's own unwinder (cached rules
# from .pdata) must give exactly RtlCaptureStackBackTrace's stacks, and
# cover every frame of these programs without falling back on it
# (HEAPKIT_UNWIND_CHECK=1 takes each stack both ways and counts).
# wunw.exe: frame-pointer, large, -O0 frames, recursion, callbacks from
# its own DLL and from msvcrt's qsort, a thread.
unw_check() {   # unw_check NAME FILE MIN-COMPARED
  c=$(tr -d '\r' < "$2" | sed -n 's/^unwind check: stacks compared: //p')
  checks=$((checks + 1))
  [ -n "$c" ] && [ "$c" -ge "$3" ] || fail "$1: stacks compared: [$c], want >= $3"
  expect "$1: stacks that differ" "0" "$(tr -d '\r' < "$2" | sed -n 's/^unwind check: stacks that differ: //p')"
  expect "$1: fallbacks" "0" "$(tr -d '\r' < "$2" | sed -n 's/^unwind check: taken by RtlCaptureStackBackTrace: //p')"
}
HEAPKIT_UNWIND_CHECK=1 hk run --backtrace 8 -o unw8.txt -- wunw.exe > /dev/null 2>&1
expect "wunw status" 0 $?
unw_check "wunw bt 8" unw8.txt 6
HEAPKIT_UNWIND_CHECK=1 hk run --backtrace 64 -o unw64.txt -- wunw.exe > /dev/null 2>&1
expect "wunw bt 64 status" 0 $?
unw_check "wunw bt 64" unw64.txt 6
# the frames themselves: through msvcrt's qsort, and through wrunlib.dll
# down to the thread's start
frames_of() {   # frames_of FILE SIZE: the function names of its backtrace
  tr -d '\r' < "$1" | awk -v sz="$2" '$1 ~ /^[0-9]+$/ && $3 == sz && !done { on = 1; done = 1; next }
    on && $1 ~ /^#[0-9]+$/ { printf "%s ", $2; next } { on = 0 }'
}
expect "wunw qsort frames" "from_qsort compare_wrapper quick_sort qsort_s qsort main ? " "$(frames_of unw8.txt 1004)"
expect "wunw dll frames" "with_alloca big_frame at_o0 rec rec rec rec from_dll hkrun_destroy_all main ? ? BaseThreadInitThunk RtlUserThreadStart " \
  "$(frames_of unw64.txt 1003)"
for p in leaky threads wheap; do
  HEAPKIT_UNWIND_CHECK=1 hk run --backtrace 8 -o "unw-$p.txt" -- "$p.exe" > /dev/null 2>&1
  unw_check "$p bt 8" "unw-$p.txt" 3
done
# without the variable, no such lines
hk run --backtrace 8 -o unw-plain.txt -- wunw.exe > /dev/null 2>&1
expect "no unwind check lines" "0" "$(tr -d '\r' < unw-plain.txt | grep -c '^unwind check')"

# errors of the command itself: status 2 and a line
HEAPKIT_HOOK_DLL='Z:\nonexistent\heapkit-hook.dll' hk run -- wstatus.exe 0 > /dev/null 2> nodll.txt
expect "missing hook DLL" 2 $?
checks=$((checks + 1))
grep -q 'hook DLL' nodll.txt || fail "missing hook DLL: no message: $(cat nodll.txt)"
hk run --backend arena -- wstatus.exe 0 > /dev/null 2>&1
expect "--backend refused" 2 $?

summary
