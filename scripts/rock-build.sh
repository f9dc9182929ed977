#!/bin/sh
# Builds the native module for the Lua interpreter $1 (luarocks passes $(LUA)) and leaves it as
# build/fscache.so, with build/feature naming the Lua ABI it was built for.
# The cargo feature comes from the interpreter: LuaJIT -> luajit, Lua 5.1 -> lua51, 5.4 -> lua54.
# Non-default features build in their own target directory, so switching interpreters does not
# throw away the other builds.
set -eu
lua=${1:?usage: rock-build.sh /path/to/lua-interpreter}
cd "$(dirname "$0")/.."

feature=$("$lua" -e 'if jit then print("luajit") else
  local v = _VERSION:match("%d+%.%d+"); print(({ ["5.1"] = "lua51", ["5.4"] = "lua54" })[v] or ("unsupported " .. _VERSION)) end')
case "$feature" in
luajit) args="--features luajit"; target="${CARGO_TARGET_DIR:-target}" ;;
lua51 | lua54) args="--no-default-features --features $feature"; target="${CARGO_TARGET_DIR:-target}/$feature" ;;
*) echo "fscache: $lua is $feature; LuaJIT, Lua 5.1 and Lua 5.4 are supported" >&2; exit 1 ;;
esac

echo "fscache: building for $lua (cargo feature $feature)"
# shellcheck disable=SC2086 # args is a list of words
cargo build --release --locked $args --target-dir "$target"

lib="$target/release/libfscache.so"
[ "$(uname -s)" = Darwin ] && lib="$target/release/libfscache.dylib"
mkdir -p build
cp "$lib" build/fscache.so.tmp
mv -f build/fscache.so.tmp build/fscache.so
echo "$feature" >build/feature
