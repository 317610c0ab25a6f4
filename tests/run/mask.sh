#!/bin/sh
# mask.sh - a heapkit run report (text or JSON) with what differs between
# runs and between Linux and Windows masked, so that the reports of one
# program under `heapkit run` and `heapkit.exe run` compare byte for byte
# (tests/golden/run/).  Usage: mask.sh MODE FILE, MODE one of
#   text, json: the whole report masked;
#   problems, jproblems: its problem rows only (FM, FK, S, FS), text, JSON;
#   sites, jsites: its call-site summary's rows, text, JSON;
#   crash:      its runtime-error line.
# The masks, each a platform or run fact, never a finding:
#   - addresses (0x...), padded to their column's width: ASLR;
#   - the pid and the program's path;
#   - module names and offsets (leaky / leaky.exe+0x...): file formats;
#   - a source file's directories: the checkout's location (both OSes
#     give the same path, but the golden files live in the repository);
#     its base name is kept;
#   - EXCEPTION_ACCESS_VIOLATION is written SIGSEGV: Windows has no
#     signals, the crash line's layout is the same.
# Allocation numbers, the registered count and the leak totals are not
# masked: the C runtimes' own blocks are numbered apart (r1, r2...).
mode=$1 file=$2
[ -r "$file" ] || { echo "mask.sh: cannot read '$file'" >&2; exit 2; }
text_mask() {
  tr -d '\r' < "$1" | awk '
    function pad_to(r, w, sp,   p) { p = w + sp - length(r); if (p < 1) p = 1; return r sprintf("%" p "s", "") }
    # one token class at a time: module+offset, path, address
    function mask(s, re, kind,   out, m, w, sp, r) {
      out = ""
      while (match(s, re)) {
        out = out substr(s, 1, RSTART - 1)
        m = substr(s, RSTART, RLENGTH); w = RLENGTH
        s = substr(s, RSTART + RLENGTH)
        if (kind == "mod") r = "MODULE+0x?"
        else if (kind == "path") { r = m; sub(/.*[\/\\]/, "", r) }
        else r = "0x?"
        sp = 0; while (substr(s, sp + 1, 1) == " ") sp++
        # in a column (2 spaces or more follow) the width is kept
        if (sp >= 2 && substr(s, sp + 1) != "") { s = substr(s, sp + 1); r = pad_to(r, w, sp) }
        out = out r
      }
      return out s
    }
    {
      sub(/\(pid [0-9]+\)/, "(pid ?)"); sub(/\(PID [0-9]+\)/, "(PID ?)")
      $0 = mask($0, "[A-Za-z0-9_.+-]+\\+0x[0-9a-f]+", "mod")
      $0 = mask($0, "[^ ]*[\\/\\\\][^ ]*\\.(c|cc|h|cpp)", "path")
      $0 = mask($0, "0x[0-9a-f]+", "addr")
      sub(/EXCEPTION_ACCESS_VIOLATION/, "SIGSEGV")
      print
    }'
}
json_mask() {
  tr -d '\r' < "$1" | sed -e 's/"pid":[0-9]*/"pid":0/' \
    -e 's/"program":"[^"]*"/"program":"?"/' \
    -e 's/"\(pointer\|caller\|pc\|offset\)":"0x[0-9a-f]*"/"\1":"0x?"/g' \
    -e 's/"module":"[^"]*"/"module":"?"/g' \
    -e 's/"file":"[^"]*[\/\\]\([^"\/\\]*\)"/"file":"\1"/g' \
    -e 's/EXCEPTION_ACCESS_VIOLATION at 0x[0-9a-f]*/SIGSEGV at 0x?/g' \
    -e 's/SIGSEGV at 0x[0-9a-f][0-9a-f]*/SIGSEGV at 0x?/g' \
    -e 's/ in \([A-Za-z_][A-Za-z0-9_]*\) ([^")]*+0x[0-9a-f]*)/ in \1 (MODULE+0x?)/g' \
    -e 's/{"no":/\n{"no":/g' -e 's/\],"entries_omitted"/\n],"entries_omitted"/' \
    -e 's/"sites":\[{"file":/"sites":[\n{"file":/' -e 's/\]},{"file":/]},\n{"file":/g' \
    -e 's/\],"sites_omitted"/\n],"sites_omitted"/'
}
case $mode in
text) text_mask "$file" ;;
json) json_mask "$file" ;;
problems)
  # text: a problem row has no number, or FK/S flags after the size
  text_mask "$file" | awk '/^  (No|Nr)  / { on = 1; next } /^[A-Z][a-z]/ { on = 0 }
    on && ($2 == "FM" || $3 == "FS" || $4 == "FK" || $4 == "S")' ;;
jproblems)
  json_mask "$file" | grep -E '^\{"no":.*"flags":"(FM|FK|S|FS)"' | sed 's/,$//' ;;
crash) text_mask "$file" | grep '^runtime-error ' ;;
sites)
  # text: the call-site summary's rows
  text_mask "$file" | awk '/^(Summary by call site|Zusammenfassung nach)/ { on = 1; getline; next }
    on && !/^ +[0-9]/ { on = 0 } on' ;;
jsites)
  json_mask "$file" | grep -E '^\{"file":' | sed 's/,$//' ;;
*) echo "mask.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac
