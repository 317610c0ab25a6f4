#!/bin/sh
# dispatch.sh PROGRAM [RUNNER...] - make bench's dispatch figure.
#
# Runs PROGRAM (tests/bench/dispatch: churn through hk_alloc/hk_free, then
# hk_realloc, on an arena heap) under valgrind --tool=callgrind and prints,
# per public call, the instructions spent in heapkit's core above the
# backend: the function's own instructions plus everything it calls in
# src/ (a core helper is dispatch too), against what it calls outside src/
# (the backend).  Instruction counts do not depend on the machine's load.
# No valgrind is a failure: the figure is part of the benchmark.
# RUNNER: how to start PROGRAM (libtool --mode=execute for a wrapper).
set -u
prog=$1; shift
target=10
if ! command -v valgrind >/dev/null 2>&1; then
    echo "dispatch: FAILED: valgrind is not installed (ci/setup installs it);" \
         "the dispatch cost per call is NOT measured" >&2
    exit 1
fi
out=${TMPDIR:-/tmp}/hk-dispatch.$$.out
trap 'rm -f "$out"' EXIT
if ! "$@" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$prog" arena "${DISPATCH_OPS:-200000}" >/dev/null 2>"$out.log"; then
    echo "dispatch: FAILED: callgrind run of $prog failed:" >&2
    tail -20 "$out.log" >&2
    rm -f "$out.log"
    exit 1
fi
rm -f "$out.log"
awk -v target="$target" '
# Name compression: "(id) name" the first time, "(id)" after.
function nm(s, kind,    id) {
    if (match(s, /^\([0-9]+\)/)) {
        id = kind substr(s, 2, RLENGTH - 2)
        s = substr(s, RLENGTH + 1); sub(/^ /, "", s)
        if (s != "") names[id] = s
        return names[id]
    }
    return s
}
# Pass 1: the source file of every function.
FNR == NR {
    if (/^fl=/) { f = $0; sub(/^fl=/, "", f); file = nm(f, "f") }
    else if (/^(fi|fe)=/) { f = $0; sub(/^f[ie]=/, "", f); nm(f, "f") }
    else if (/^(cfi|cfl)=/) { f = $0; sub(/^cf[il]=/, "", f); nm(f, "f") }
    else if (/^fn=/) { f = $0; sub(/^fn=/, "", f); fnfile[nm(f, "n")] = file }
    else if (/^cfn=/) { f = $0; sub(/^cfn=/, "", f); nm(f, "n") }
    next
}
FNR == 1 { delete names }
/^fn=/   { f = $0; sub(/^fn=/, "", f); cur = nm(f, "n"); next }
/^cfn=/  { f = $0; sub(/^cfn=/, "", f); callee = nm(f, "n"); next }
/^(fl|fi|fe|cfi|cfl)=/ { f = $0; sub(/^[a-z]+=/, "", f); nm(f, "f"); next }
/^calls=/ { split($0, a, /[= ]/); ncalls = a[2]; incall = 1; next }
/^[0-9+*-]/ {
    if (incall) {
        calls[callee] += ncalls
        if (fnfile[callee] ~ /(^|\/)src\/[^\/]*$/) core[cur] += $NF
        else backend[cur] += $NF
        incall = 0
    } else core[cur] += $NF
    next
}
END {
    bad = 0
    print "dispatch: hk_alloc/hk_free/hk_realloc on an arena heap, debugger off (churn of 10k slots," \
          " 8..1032 B); instructions counted by callgrind: the call itself and the core helpers it" \
          " calls (src/) against the backend it calls"
    split("hk_alloc hk_free hk_realloc", fns, " ")
    for (i = 1; i <= 3; i++) {
        f = fns[i]
        if (!calls[f]) { printf "dispatch: FAILED: no calls of %s seen\n", f; bad = 1; continue }
        d = core[f] / calls[f]
        line = sprintf("dispatch  %-10s %6.1f instructions per call above the backend (backend %.1f; %d calls; callgrind)",
                       f, d, backend[f] / calls[f], calls[f])
        if (f != "hk_realloc") {
            line = line sprintf(": target <= %d %s", target, d <= target ? "met" : "NOT met")
        }
        print line
    }
    if (calls["hk_alloc"] && calls["hk_free"])
        printf "dispatch  free+alloc %6.1f of %.1f instructions per pair are dispatch\n", \
            core["hk_alloc"] / calls["hk_alloc"] + core["hk_free"] / calls["hk_free"], \
            (core["hk_alloc"] + backend["hk_alloc"]) / calls["hk_alloc"] + \
            (core["hk_free"] + backend["hk_free"]) / calls["hk_free"]
    print ""
    exit bad
}' "$out" "$out"
