#!/bin/sh
# headers.sh - every public header compiles alone, warning-free, in the
# dialects users build with: C99 -pedantic, C11 -pedantic, and C++ (clang++
# on POSIX, the MinGW g++ for Windows).  One check per header and dialect;
# prints a Check-style summary that ci/test counts.  A missing compiler is
# a failure, never a skip.
: "${HK_SRCDIR:?}" "${HK_CC:?}"
inc=$HK_SRCDIR/include
headers="heapkit.h heapkit/backend.h heapkit/debug.h heapkit/win32.h"
if [ "$HK_HOST_WINDOWS" = yes ]; then
  cxx="$HK_HOST-g++"
else
  headers="$headers heapkit/win32/windows.h heapkit/win32/heapapi.h heapkit/win32/winbase.h"
  cxx=clang++
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
checks=0 fails=0
check() {   # check NAME LANG COMPILER FLAGS...
  name=$1 lang=$2; shift 2
  checks=$((checks + 1))
  if ! $* -x "$lang" -fsyntax-only -I"$inc" "$tmp/t" > "$tmp/out" 2>&1; then
    fails=$((fails + 1))
    echo "headers.sh: FAIL: $name: $*"
    sed 's/^/    /' "$tmp/out" | head -n 20
  fi
}
echo "Running suite(s): headers"
for h in $headers; do
  printf '#include <%s>\nint hk_headers_test(void);\nint hk_headers_test(void) { return 0; }\n' "$h" > "$tmp/t"
  check "$h c99" c $HK_CC -std=c99 -pedantic -Wall -Wextra -Werror
  check "$h c11" c $HK_CC -std=c11 -pedantic -Wall -Wextra -Werror
  if command -v "$cxx" >/dev/null 2>&1; then
    check "$h c++" c++ $cxx -Wall -Wextra -Werror -pedantic
  else
    checks=$((checks + 1)); fails=$((fails + 1))
    echo "headers.sh: FAIL: $h c++: $cxx not found"
  fi
done
# all of them in one translation unit, in both orders that matter
printf '#include <heapkit/win32.h>\n#include <heapkit/backend.h>\n#include <heapkit.h>\n#include <heapkit/debug.h>\n' > "$tmp/t"
check "all c99" c $HK_CC -std=c99 -pedantic -Wall -Wextra -Werror
# debug.h's HeapAlloc/HeapReAlloc/HeapFree macros with win32.h (or, on
# Windows, <windows.h>) included before and after it
body='int hk_w(void);\nint hk_w(void) { HANDLE h = GetProcessHeap(); void *p = HeapAlloc(h, 0, 8);\n  p = HeapReAlloc(h, 0, p, 16); return HeapFree(h, 0, p) ? 0 : 1; }\n'
printf "#include <heapkit/debug.h>\n#include <heapkit/win32.h>\n$body" > "$tmp/t"
check "debug.h then win32.h c99" c $HK_CC -std=c99 -pedantic -Wall -Wextra -Werror
printf "#include <heapkit/win32.h>\n#include <heapkit/debug.h>\n$body" > "$tmp/t"
check "win32.h then debug.h c99" c $HK_CC -std=c99 -pedantic -Wall -Wextra -Werror
if command -v "$cxx" >/dev/null 2>&1; then
  printf "#include <heapkit/debug.h>\n#include <heapkit/win32.h>\n$body" > "$tmp/t"
  check "debug.h then win32.h c++" c++ $cxx -Wall -Wextra -Werror
fi
# C++ that spells the std:: names still compiles after debug.h
printf '#include <cstdlib>\n#include <heapkit/debug.h>\nint hk_cxx(void);\nint hk_cxx(void) { void *p = std::malloc(8); p = std::realloc(p, 16);\n  std::free(std::calloc(2, 4)); std::free(p); if (!p) std::exit(1); return 0; }\n' > "$tmp/t"
if command -v "$cxx" >/dev/null 2>&1; then
  check "debug.h std:: c++" c++ $cxx -Wall -Wextra -Werror
else
  checks=$((checks + 1)); fails=$((fails + 1))
  echo "headers.sh: FAIL: debug.h std:: c++: $cxx not found"
fi
pct=100; [ "$checks" -gt 0 ] && pct=$(( (checks - fails) * 100 / checks ))
echo "$pct%: Checks: $checks, Failures: $fails, Errors: 0"
[ "$fails" = 0 ]
