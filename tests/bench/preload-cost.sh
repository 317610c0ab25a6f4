#!/bin/sh
# preload-cost.sh CHURN PRELOAD - make bench-run's noise-free figure: the
# instructions per free+malloc pair that libheapkit-preload.so adds to the
# unmodified churn program, and where they go.
#
# Counts with valgrind --tool=callgrind (instruction counts do not depend
# on the machine's load): the churn program at two sizes, plain and under
# the preload (HEAPKIT_BACKTRACE=0 and 8).  The difference between the two
# sizes, divided by the difference in pairs, is the cost per pair without
# start-up, the first fill and the report.  Per function: its own
# instructions per pair, the program's, glibc's and the preload's.
# No valgrind is a failure: the figure is part of the benchmark.
set -u
churn=$1 preload=$2
n1=${HK_COST_PAIRS1:-50000} n2=${HK_COST_PAIRS2:-150000}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
    echo "preload-cost: FAILED: valgrind (with callgrind_annotate) is not installed" \
         "(ci/setup installs it): the instructions per pair are NOT measured" >&2
    exit 1
fi
if [ ! -r "$preload" ]; then
    echo "preload-cost: FAILED: no $preload: the instructions per pair are NOT measured" >&2
    exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hk-preload-cost.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT

# run NAME N [preload BT]: callgrind's self cost per function into $dir/NAME-N.fn
run() {
    name=$1 n=$2
    # what heapkit run sets (LD_PRELOAD, the options' variables); not the
    # command itself, whose exec callgrind would have to follow
    case $name in
    plain) set -- env ;;
    hk) set -- env LD_PRELOAD="$preload" HEAPKIT_REPORT="$dir/report-%p.txt" ;;
    bt8) set -- env LD_PRELOAD="$preload" HEAPKIT_REPORT="$dir/report-%p.txt" HEAPKIT_BACKTRACE=8 ;;
    esac
    if ! "$@" valgrind --tool=callgrind --callgrind-out-file="$dir/$name-$n.cg" \
            "$churn" 1 "$n" 0 >/dev/null 2>"$dir/$name-$n.log"; then
        echo "preload-cost: FAILED: callgrind run of $churn ($name, $n pairs):" >&2
        tail -n 15 "$dir/$name-$n.log" >&2
        exit 1
    fi
    # "  1,234 (12.3%)  file:function [object]" -> "function|object 1234"
    callgrind_annotate --auto=no --threshold=100 "$dir/$name-$n.cg" 2>/dev/null | awk '
        /^ *[0-9,]+ +\([ 0-9.]+%\) +[^ ]/ && !/PROGRAM TOTALS/ {
            ir = $1; gsub(",", "", ir)
            line = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", line)
            obj = "program"
            if (match(line, / \[[^]]*\]$/)) {
                o = substr(line, RSTART + 2, RLENGTH - 3); line = substr(line, 1, RSTART - 1)
                if (o ~ /libheapkit-preload/) obj = "preload"
                else if (o ~ /libc\.so/) obj = "glibc"
                else if (o ~ /ld-linux/) obj = "ld.so"
                else if (o ~ /\/churn$/) obj = "program"
                else { obj = o; sub(/.*\//, "", obj) }
            }
            fn = line; sub(/.*:/, "", fn)
            # code inlined from a header has no object: ours is the preload
            if (line !~ / \[/ && obj == "program" && fn ~ /^hk_/) obj = "preload"
            cost[fn "|" obj] += ir
        }
        /PROGRAM TOTALS/ { t = $1; gsub(",", "", t); print "TOTAL|all", t }
        END { for (k in cost) print k, cost[k] }' > "$dir/$name-$n.fn"
}

for name in plain hk bt8; do
    run "$name" "$n1"
    run "$name" "$n2"
done

# per pair: (count at n2 - count at n1) / (n2 - n1), per function|object
per_pair() {
    awk -v d=$((n2 - n1)) 'NR == FNR { a[$1] = $2; next } { b[$1] = $2 }
        END { for (k in b) { v = (b[k] - a[k]) / d; if (v >= 0.5 || v <= -0.5) printf "%s %.1f\n", k, v } }' \
        "$dir/$1-$n1.fn" "$dir/$1-$n2.fn"
}
per_pair plain > "$dir/plain.pp"
per_pair hk > "$dir/hk.pp"
per_pair bt8 > "$dir/bt8.pp"
total() { awk '$1 == "TOTAL|all" { print $2 }' "$1"; }
tp=$(total "$dir/plain.pp") th=$(total "$dir/hk.pp") tb=$(total "$dir/bt8.pp")
echo
echo "heapkit run's cost in instructions (callgrind; per free+malloc pair of the churn loop," \
     "from runs of $n1 and $n2 pairs):"
awk -v p="$tp" -v h="$th" -v b="$tb" 'BEGIN {
    printf "  untracked (glibc): %.1f   heapkit run: %.1f (+%.1f, %.2fx)   --backtrace 8: %.1f (+%.1f, %.2fx)\n",
        p, h, h - p, h / p, b, b - p, b / p }'
echo "  per function, heapkit run (HEAPKIT_BACKTRACE=0) against untracked, instructions per pair:"
awk 'NR == FNR { p[$1] = $2; next } $1 != "TOTAL|all" { d = $2 - p[$1]; seen[$1] = 1
        printf "%10.1f %10.1f  %s\n", $2, d, $1 }
     END { for (k in p) if (!(k in seen) && k != "TOTAL|all") printf "%10.1f %10.1f  %s\n", 0, -p[k], k }' \
    "$dir/plain.pp" "$dir/hk.pp" | sort -k2,2 -g -r | awk '
    BEGIN { printf "  %10s %10s  %s\n", "heapkit", "+/- plain", "function|object" }
    { printf "  %s\n", $0 }'
if [ "$tb" != "$th" ]; then
    echo "  --backtrace 8 against heapkit run, instructions per pair (the functions that differ):"
    awk 'NR == FNR { h[$1] = $2; next } $1 != "TOTAL|all" { d = $2 - h[$1]; if (d >= 0.5 || d <= -0.5)
            printf "  %10.1f %10.1f  %s\n", $2, d, $1 }' "$dir/hk.pp" "$dir/bt8.pp" | sort -k2,2 -g -r
fi
