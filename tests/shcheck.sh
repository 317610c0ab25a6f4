# shcheck.sh - the harness of the shell tests, sourced with HK_SUITE set:
# counts checks and failures and ends with the Check-style summary line
# ("N%: Checks: C, Failures: F, Errors: 0") that ci/test counts.
echo "Running suite(s): $HK_SUITE"
checks=0 fails=0
fail() { fails=$((fails + 1)); echo "$HK_SUITE.sh: FAIL: $*"; }
expect() {   # expect NAME WANT GOT
  checks=$((checks + 1))
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}
# A failure for each tool that is not on PATH (ci/setup installs them).
need() {
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      checks=$((checks + 1)); fail "$tool is missing (ci/setup installs it)"
    fi
  done
}
# The summary line; exit 0 when nothing failed.
summary() {
  pct=100
  [ "$checks" -gt 0 ] && pct=$(( (checks - fails) * 100 / checks ))
  echo "$pct%: Checks: $checks, Failures: $fails, Errors: 0"
  [ "$fails" -eq 0 ]
  exit $?
}
