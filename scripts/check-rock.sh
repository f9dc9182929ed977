#!/bin/sh
# The luarocks route for one interpreter, as a user takes it (offline).
#   check-rock.sh install LUA TREE  luarocks make into TREE, then require the module from there
#                                   in a clean directory with only `luarocks path` (and, for the
#                                   LuaJIT and Lua 5.1 rocks, in Neovim through LUA_CPATH)
#   check-rock.sh test LUA TREE     luarocks test: the busted suite on TREE's library
# LUA: luajit | lua5.1 | lua5.4. Extra arguments after TREE go to busted (luarocks test).
set -eu
mode=${1:?usage: check-rock.sh install|test luajit|lua5.1|lua5.4 TREE}
lua=${2:?interpreter}
tree=${3:?tree}
shift 3
cd "$(dirname "$0")/.."
repo=$(pwd)

case "$lua" in
luajit) ver=5.1; feature=luajit; export LUAROCKS_CONFIG="$repo/scripts/luarocks-luajit.lua" ;;
lua5.1) ver=5.1; feature=lua51; unset LUAROCKS_CONFIG || true ;;
lua5.4) ver=5.4; feature=lua54; unset LUAROCKS_CONFIG || true ;;
*) echo "check-rock: unknown interpreter $lua" >&2; exit 2 ;;
esac
rocks() { luarocks --lua-version="$ver" --tree="$tree" "$@"; }

if [ "$mode" = test ]; then
  # as a user would: with the tree's `luarocks path` in the environment (it sets LUA_PATH for
  # this Lua version, which other Lua interpreters must not trip over)
  eval "$(rocks path)"
  FSCACHE_LIB_DIR="$tree/lib/lua/$ver" rocks test -- "$@"
  exit
fi

rm -rf "$tree"
if [ "$lua" = lua5.1 ]; then
  # as lazy.nvim's rockspec route does it (no rockspec named, Lua 5.1)
  rocks make --deps-mode one
else
  rocks make fscache-scm-1.rockspec
fi
[ "$(cat build/feature)" = "$feature" ] || { echo "check-rock: built $(cat build/feature), not $feature" >&2; exit 1; }
lib="$tree/lib/lua/$ver/fscache.so"
[ -f "$lib" ] || { echo "check-rock: $lib was not installed" >&2; exit 1; }
[ -f "$tree/lib/luarocks/rocks-$ver/fscache/scm-1/doc/fscache.txt" ] || {
  echo "check-rock: doc/fscache.txt was not installed with the rock" >&2; exit 1; }
rocks list --porcelain | grep -q '^fscache	scm-1	installed' || { echo "check-rock: luarocks list lacks fscache" >&2; exit 1; }

# Use it from an unrelated directory with only what `luarocks path` sets.
work=$(mktemp -d)
printf 'hello from the rock\n' >"$work/data.txt"
cat >"$work/use.lua" <<'LUA'
local fscache = require("fscache")
local lib = package.searchpath and package.searchpath("fscache", package.cpath) or "?"
local maps = io.open("/proc/self/maps"):read("*a")
local mapped = maps:match("%s(/[^\n]-fscache%.so)\n")
print("VERSION " .. fscache.version .. " " .. _VERSION .. (jit and " jit" or ""))
print("MAPPED " .. tostring(mapped))
print("SEARCH " .. tostring(lib))
local files = fscache.FileCache.new()
local sync = assert(files:get_sync("data.txt"))
local listing = fscache.block_on(function()
  local entry = assert(files:get_async("data.txt"))
  assert(entry.content == sync.content)
  return assert(fscache.DirectoryCache.new():get_async("."))
end, 5000)
local names = {}
for _, e in ipairs(listing.entries) do names[#names + 1] = e.name end
print("CONTENT " .. sync.content:gsub("\n", ""))
print("ENTRIES " .. table.concat(names, ","))
LUA
log=$(mktemp)
trap 'rm -rf "$work" "$log"' EXIT
run_use() { # command...: runs use.lua and checks what it printed (nvim -l prints CR LF)
  if ! (cd "$work" && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
    sh -c "eval \"\$(luarocks --lua-version=$ver --tree='$tree' path)\" && $*") >"$log" 2>&1; then
    cat "$log"; echo "check-rock: '$*' failed" >&2; exit 1
  fi
  out=$(tr -d '\r' <"$log")
  echo "$out"
  real=$(readlink -f "$lib")
  echo "$out" | grep -qx "MAPPED $real" || { echo "check-rock: did not load $real" >&2; exit 1; }
  echo "$out" | grep -qx "CONTENT hello from the rock" || { echo "check-rock: wrong content" >&2; exit 1; }
  echo "$out" | grep -qx "ENTRIES data.txt,use.lua" || { echo "check-rock: wrong listing" >&2; exit 1; }
}
run_use "$lua use.lua"
# Neovim takes the rock through LUA_CPATH (rocks.nvim and lazy.nvim's rockspec route put their
# tree on package.cpath the same way); lazy.nvim builds that rock for Lua 5.1.
case "$lua" in
luajit | lua5.1) run_use "nvim -u NONE -i NONE -n --headless -l use.lua" ;;
esac
echo "check-rock: $lua ok"
