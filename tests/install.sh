#!/usr/bin/env bash
# install.sh - heapkit used the way a project uses it: configured with a
# fresh --prefix, installed, and then programs built against that prefix
# with nothing but pkg-config (or CMake) and run.
#
#   tests/install.sh linux WORKDIR     (run natively)
#   tests/install.sh mingw WORKDIR     (cross; programs run under Wine)
#
# Every step is one check; the output ends with a Check-style summary
# ("Running suite(s): install:LANE" ... "NN%: Checks: N, Failures: N,
# Errors: 0") that ci/test counts.  A missing tool is a failed check.
set -u
lane=$1 work=$2
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/ci/lib.sh"
prefix=$work/prefix
rm -rf "$work"; mkdir -p "$work/app" || exit 99
checks=0 fails=0
log=$work/steps.log; : > "$log"

# check NAME CMD...: run CMD (its output into the step log), count it.
check() {
  local name=$1; shift
  checks=$((checks + 1))
  if ( "$@" ) >> "$log" 2>&1; then
    echo "  ok   $name"
  else
    fails=$((fails + 1))
    echo "  FAIL $name"
    tail -n 25 "$log" | sed 's/^/       /'
  fi
  echo "---- $name" >> "$log"
}
have() { command -v "$1" >/dev/null 2>&1 || { echo "missing tool: $1"; return 1; }; }
need_file() { local f; for f; do [ -f "$prefix/$f" ] || { echo "not installed: $f"; return 1; }; done; }

echo "Running suite(s): install:$lane"

# ---------------------------------------------------------------------------
if [ "$lane" = linux ]; then
  build() {
    mkdir -p "$work/build" && cd "$work/build" \
      && "$src/configure" --prefix="$prefix" --with-mimalloc > configure.out \
      && make -j "$HK_JOBS" > make.out && make install > install.out
  }
  check "configure --prefix, make, make install" build
  check "installed: headers, .pc files, CMake package, both libraries" need_file \
    include/heapkit.h include/heapkit/win32.h include/heapkit/win32/windows.h \
    include/heapkit/win32/heapapi.h lib/pkgconfig/heapkit.pc \
    lib/pkgconfig/heapkit-win32.pc lib/cmake/heapkit/heapkitConfig.cmake \
    lib/cmake/heapkit/heapkitConfigVersion.cmake lib/libheapkit.a lib/libheapkit.so

  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  static_libs() {
    have pkg-config || return 1
    local l; l=$(pkg-config --static --libs heapkit) || return 1
    echo "pkg-config --static --libs heapkit: $l"
    case "$l" in *mimalloc*) echo "names mimalloc"; return 1 ;; esac
  }
  check "pkg-config --static resolves and never names mimalloc" static_libs
  archive_clean() {
    ! nm "$prefix/lib/libheapkit.a" 2>/dev/null | grep -E ' [UT] mi_' \
      && nm "$prefix/lib/libheapkit.a" | grep -q ' T hk_alloc$'
  }
  check "libheapkit.a has no mimalloc symbols, defined or needed" archive_clean

  cd "$work/app" || exit 99
  cp "$src/tests/pkg/app.c" "$src/tests/pkg/w32prog.c" "$src/tests/pkg/CMakeLists.txt" . || exit 99
  # malloc must bind to libc: the dynamic loader says so itself.
  binds_to_libc() {
    local out; out=$(LD_DEBUG=bindings LD_LIBRARY_PATH=$prefix/lib "$@" 2>&1 >/dev/null) || return 1
    printf '%s\n' "$out" | grep -E "normal symbol .malloc'" | head -n 3
    printf '%s\n' "$out" | grep -E "normal symbol .malloc'" | grep -q 'libc.so.6' \
      && ! printf '%s\n' "$out" | grep -E "normal symbol .malloc'" | grep -q mimalloc
  }
  shared_app() {
    gcc -o app_shared app.c $(pkg-config --cflags --libs heapkit) \
      && LD_LIBRARY_PATH=$prefix/lib ./app_shared mimalloc glibc-malloc \
      && binds_to_libc ./app_shared
  }
  check "shared: pkg-config link, mimalloc backend, malloc bound to libc" shared_app
  static_lib_app() {
    gcc -o app_slib app.c $(pkg-config --cflags heapkit) -L"$prefix/lib" \
        -Wl,-Bstatic -lheapkit -Wl,-Bdynamic $(pkg-config --static --libs-only-other heapkit) \
        $(pkg-config --static --libs-only-l heapkit | sed 's/-lheapkit//g') \
      && ! readelf -d app_slib | grep -E 'NEEDED.*(mimalloc|heapkit)' \
      && ./app_slib no-mimalloc glibc-malloc && binds_to_libc ./app_slib
  }
  check "libheapkit.a in a dynamic program: no libmimalloc, malloc is glibc's" static_lib_app
  full_static() {
    gcc -static -o app_static app.c $(pkg-config --static --cflags --libs heapkit) \
      && ! nm app_static | grep -E ' T mi_(malloc|free)$' \
      && ./app_static no-mimalloc glibc-malloc
  }
  check "gcc -static with pkg-config --static: links, runs, glibc malloc" full_static
  w32_unchanged() {
    gcc -o w32prog w32prog.c $(pkg-config --cflags --libs heapkit-win32) \
      && LD_LIBRARY_PATH=$prefix/lib ./w32prog
  }
  check "unchanged Win32 program via pkg-config heapkit-win32" w32_unchanged
  # bin/heapkit finds lib/libheapkit-preload.so by the libdir compiled in
  preload_installed() {
    [ -x "$prefix/bin/heapkit" ] && [ -f "$prefix/lib/libheapkit-preload.so" ] || return 1
    printf '#include <stdlib.h>\nvoid *volatile s;\nint main(void) { s = malloc(42); return 0; }\n' \
      > leak42.c && gcc -g -o leak42 leak42.c || return 1
    rm -f leak42.json
    env -u HEAPKIT_PRELOAD "$prefix/bin/heapkit" run --json -o leak42.json --error-exitcode 9 --leak-kinds all \
      -- ./leak42
    [ $? = 9 ] && grep '"size":42' leak42.json
  }
  check "heapkit run (installed) runs a program under the installed preload" preload_installed
  cmake_app() {
    have cmake || return 1
    cmake -S . -B cm -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
      && cmake --build cm \
      && LD_LIBRARY_PATH=$prefix/lib cm/app mimalloc glibc-malloc \
      && cm/app_static no-mimalloc glibc-malloc
  }
  check "CMake find_package(heapkit 0.1): heapkit::heapkit, heapkit::heapkit_static" cmake_app
  cmake_version() {
    have cmake || return 1
    mkdir -p v && printf 'cmake_minimum_required(VERSION 3.13)\nproject(v C)\nfind_package(heapkit 9.0 QUIET)\nif(heapkit_FOUND)\n  message(FATAL_ERROR "9.0 accepted")\nendif()\nfind_package(heapkit 0.1.0 EXACT REQUIRED)\n' > v/CMakeLists.txt \
      && cmake -S v -B v/b -DCMAKE_PREFIX_PATH="$prefix"
  }
  check "CMake version file: 9.0 refused, 0.1.0 exact accepted" cmake_version

# ---------------------------------------------------------------------------
elif [ "$lane" = mingw ]; then
  cache=$(hk_mingw_prefix)
  wine=$(hk_wine) || wine=""
  build() {
    mkdir -p "$work/build" && cd "$work/build" \
      && PKG_CONFIG_LIBDIR=$cache/lib/pkgconfig "$src/configure" --host="$HK_HOST" \
           --prefix="$prefix" --with-mimalloc CFLAGS="-O2 -g" > configure.out \
      && make -j "$HK_JOBS" > make.out && make install > install.out
  }
  check "configure --host --prefix, make, make install" build
  check "installed: headers, heapkit.pc, DLL, import and static libraries" need_file \
    include/heapkit.h include/heapkit/win32.h lib/pkgconfig/heapkit.pc \
    lib/cmake/heapkit/heapkitConfig.cmake bin/libheapkit-0.dll \
    lib/libheapkit.dll.a lib/libheapkit.a
  # Only this prefix: the CI cache is not on pkg-config's path.
  export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=
  pc_alone() {
    have pkg-config || return 1
    pkg-config --cflags --libs heapkit && pkg-config --static --libs heapkit \
      && ! grep -n "$cache" "$prefix/lib/pkgconfig/heapkit.pc"
  }
  check "heapkit.pc resolves with only the new prefix (no CI cache)" pc_alone
  # system DLLs, or a DLL of the prefix's own bin/ that itself imports only
  # system DLLs
  imports() { "$HK_HOST-objdump" -p "$1" | sed -n 's/.*DLL Name: //p' | tr 'A-Z' 'a-z'; }
  sysdll='^(kernel32|msvcrt|ucrtbase|advapi32|user32|shell32|psapi|bcrypt|ntdll|api-ms-win-.*)\.dll$'
  dlls_stand_alone() {
    local d dep n=0
    for d in "$prefix"/bin/*.dll; do
      [ -f "$d" ] || continue
      n=$((n + 1))
      echo "$(basename "$d") imports:" $(imports "$d")
      for dep in $(imports "$d"); do
        printf '%s\n' "$dep" | grep -qE "$sysdll" && continue
        [ "$(basename "$d")" = libheapkit-0.dll ] && [ -f "$prefix/bin/$dep" ] \
          && ! imports "$prefix/bin/$dep" | grep -vqE "$sysdll" && continue
        echo "needs $dep"; return 1
      done
    done
    [ "$n" -gt 0 ]
  }
  check "bin/: libheapkit-0.dll needs only system DLLs and bin/'s own" dlls_stand_alone
  cd "$work/app" || exit 99
  cp "$src/tests/pkg/app.c" "$src/tests/pkg/w32prog.c" "$src/tests/pkg/loadlib.c" . || exit 99
  run_wine() {
    [ -n "$wine" ] || { echo "wine not found"; return 1; }
    WINEPATH="$prefix/bin" "$wine" "$@"
  }
  dll_app() {
    "$HK_HOST-gcc" -o app_dll.exe app.c $(pkg-config --cflags --libs heapkit) \
      && run_wine ./app_dll.exe mimalloc
  }
  check "DLL: pkg-config link, runs under Wine from the prefix's bin/ alone" dll_app
  static_app() {
    "$HK_HOST-gcc" -static -o app_static.exe app.c $(pkg-config --static --cflags --libs heapkit) \
      && "$wine" ./app_static.exe mimalloc
  }
  check "-static with pkg-config --static: mimalloc inside, runs under Wine" static_app
  load_unload() {
    "$HK_HOST-gcc" -o loadlib.exe loadlib.c && run_wine ./loadlib.exe
  }
  check "LoadLibrary/FreeLibrary of the installed DLL, 3 rounds: process heap intact" load_unload
  # bin/heapkit.exe finds bin/heapkit-hook.dll next to itself
  hook_installed() {
    [ -f "$prefix/bin/heapkit.exe" ] && [ -f "$prefix/bin/heapkit-hook.dll" ] || return 1
    printf '#include <stdlib.h>\nvoid *volatile s;\nint main(void) { s = malloc(42); return 0; }\n' \
      > leak42.c && "$HK_HOST-gcc" -g -o leak42.exe leak42.c || return 1
    rm -f leak42.json
    # the block is in a global (still reachable): all kinds count here
    env -u HEAPKIT_HOOK_DLL "$wine" "$prefix/bin/heapkit.exe" run --json -o leak42.json \
      --leak-kinds all --error-exitcode 9 -- ./leak42.exe
    [ $? = 9 ] && tr -d '\r' < leak42.json | grep '"size":42'
  }
  check "heapkit.exe run (installed) runs a program under the installed hook DLL" hook_installed
  cmake_mingw() {
    have cmake || return 1
    cp "$src/tests/pkg/CMakeLists.txt" . || return 1
    printf 'set(CMAKE_SYSTEM_NAME Windows)\nset(CMAKE_C_COMPILER %s-gcc)\nset(CMAKE_RC_COMPILER %s-windres)\nset(CMAKE_FIND_ROOT_PATH %s)\nset(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)\nset(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)\nset(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)\nset(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)\n' \
      "$HK_HOST" "$HK_HOST" "$prefix" > mingw.cmake
    cmake -S . -B cm -DCMAKE_TOOLCHAIN_FILE="$work/app/mingw.cmake" \
          -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
      && cmake --build cm \
      && run_wine cm/app.exe mimalloc && "$wine" cm/app_static.exe mimalloc
  }
  check "CMake (MinGW toolchain) find_package(heapkit): both targets run under Wine" cmake_mingw
  w32_native() {
    "$HK_HOST-gcc" -o w32prog.exe w32prog.c && "$wine" ./w32prog.exe
  }
  check "the same unchanged Win32 program, real <windows.h>, under Wine" w32_native
else
  echo "usage: $0 linux|mingw WORKDIR" >&2; exit 99
fi

pct=100; [ "$checks" -gt 0 ] && pct=$(( (checks - fails) * 100 / checks ))
echo "$pct%: Checks: $checks, Failures: $fails, Errors: 0"
[ "$fails" = 0 ]
