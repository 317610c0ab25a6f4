# ci/lib.sh - what ci/setup, ci/test and ci/demo share.  Sourced, not run.

HK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HK_HOST=x86_64-w64-mingw32
# The cache outlives clones: MinGW builds of Check and mimalloc, the Wine
# prefix.  Override with HEAPKIT_CACHE.
if [ -z "${HEAPKIT_CACHE:-}" ]; then
  if [ "$(id -u)" = 0 ]; then HEAPKIT_CACHE=/var/cache/heapkit
  else HEAPKIT_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/heapkit; fi
fi
HK_BUILD=${HEAPKIT_BUILD:-$HK_ROOT/_build}
export WINEPREFIX=${WINEPREFIX:-$HEAPKIT_CACHE/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}   # no Mono/Gecko prompts
HK_JOBS=${HK_JOBS:-$(nproc 2>/dev/null || echo 2)}

hk_log() { printf '\n==> %s\n' "$*"; }
hk_die() { printf 'ci: %s\n' "$*" >&2; exit 1; }

# Bump when the recipe below changes, so old caches are not reused.
HK_MINGW_RECIPE=2

# Where the MinGW dependencies live: one folder per (Check, mimalloc,
# compiler, recipe), so any change rebuilds instead of reusing stale files.
hk_mingw_prefix() {
  local ck mi cc
  ck=$(dpkg-query -W -f='${source:Version}' check 2>/dev/null || echo none)
  mi=$(dpkg-query -W -f='${source:Version}' libmimalloc-dev 2>/dev/null || echo none)
  cc=$($HK_HOST-gcc -dumpversion 2>/dev/null || echo none)
  printf '%s/mingw/check-%s_mimalloc-%s_gcc-%s_r%s\n' "$HEAPKIT_CACHE" "$ck" "$mi" "$cc" "$HK_MINGW_RECIPE"
}

# Wine, wherever Debian put it.
hk_wine() {
  local w
  for w in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$w" >/dev/null 2>&1; then command -v "$w"; return 0; fi
  done
  return 1
}
