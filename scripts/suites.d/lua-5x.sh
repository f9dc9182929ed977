# Sourced by scripts/test-all.sh: the busted suite under PUC Lua 5.1 and 5.4.
# Each variant is built with its own feature into its own target dir (no rebuild churn with the
# LuaJIT build) and copied to build/lua5x/fscache.so; busted then runs the whole suite with that
# interpreter and FSCACHE_LIB_DIR pointing at the variant. A failed build fails its suite: the
# old copy is removed first, so stale code is never tested.

build_lua_variant() { # feature (lua51 | lua54)
  dir="build/$1"
  target="${CARGO_TARGET_DIR:-target}/$1"
  rm -f "$dir/fscache.so"
  mkdir -p "$dir"
  CARGO_TARGET_DIR="$target" cargo build --release --no-default-features --features "$1" || return 1
  if [ -f "$target/release/libfscache.so" ]; then
    cp "$target/release/libfscache.so" "$dir/fscache.so"
  else
    cp "$target/release/libfscache.dylib" "$dir/fscache.so"
  fi
}

for v in lua51 lua54; do
  check "build-$v" build_lua_variant "$v"
  busted_suite "busted-$v" "$v" FSCACHE_LIB_DIR="build/$v"
done
