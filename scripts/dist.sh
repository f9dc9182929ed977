#!/bin/sh
# make dist: release artifacts in dist/ for this platform (linux-x86_64 by default), no network.
#   fscache-<version>-<platform>-<abi>.so (+ .sha256, sha256sum format) for abi luajit, lua51,
#     lua54; on Linux built with cargo-zigbuild against glibc 2.17 (DIST_TARGET, default
#     <this machine's arch>-unknown-linux-gnu.2.17), so they load on any distribution of the
#     last ten years; on macOS with cargo (x86_64-apple-darwin, aarch64-apple-darwin);
#   fscache-<version>-1.<platform>.rock: one binary rock for Lua 5.1 (LuaJIT and PUC) and 5.4,
#     carrying the three libraries as fscache_<abi>.so and the loader lua/fscache/init.lua as
#     the `fscache` module (it picks the library by `jit` / _VERSION), plus fscache.version,
#     fscache.health, fscache.testing and doc/;
#   manifest (luarocks-admin make_manifest): dist/ served over HTTP is a rocks server.
# Each ABI builds in its own target/dist/<abi> directory (under $CARGO_TARGET_DIR when set), so
# a second run without source changes only copies (cargo's own fingerprints).
# Needs cargo, cargo-zigbuild + ziglang (pip), luarocks.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
version=$(sed -n 's/^return "\([^"]*\)"$/\1/p' lua/fscache/version.lua)
cargo_version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
[ "$version" = "$cargo_version" ] || {
  echo "dist: lua/fscache/version.lua says $version, Cargo.toml $cargo_version" >&2; exit 1; }

case "$(uname -s)-$(uname -m)" in
Darwin-x86_64) default_target=x86_64-apple-darwin ;;
Darwin-arm64) default_target=aarch64-apple-darwin ;;
*-aarch64 | *-arm64) default_target=aarch64-unknown-linux-gnu.2.17 ;;
*) default_target=x86_64-unknown-linux-gnu.2.17 ;;
esac
target=${DIST_TARGET:-$default_target}
case "$target" in
x86_64-unknown-linux-gnu*) platform=linux-x86_64 ;;
aarch64-unknown-linux-gnu*) platform=linux-aarch64 ;;
x86_64-apple-darwin) platform=macos-x86_64 ;;
aarch64-apple-darwin) platform=macos-arm64 ;;
*) echo "dist: unknown target $target" >&2; exit 2 ;;
esac
triple=${target%.2.*}
case "$platform" in
linux-*) build="cargo zigbuild"; libname=libfscache.so ;;
*) build="cargo build"; libname=libfscache.dylib ;;
esac

# sha256sum format ("<hex>  <name>"); macOS has shasum
sum256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi; }

dist_target="${CARGO_TARGET_DIR:-target}/dist"
mkdir -p dist
for abi in luajit lua51 lua54; do
  if [ "$abi" = luajit ]; then features="--features luajit"; else features="--no-default-features --features $abi"; fi
  echo "dist: $build --release --target $target $features"
  # shellcheck disable=SC2086 # word lists
  CARGO_TARGET_DIR="$dist_target/$abi" $build --release --locked --target "$target" $features
  art="fscache-$version-$platform-$abi.so"
  cp "$dist_target/$abi/$triple/release/$libname" "dist/$art.tmp"
  mv -f "dist/$art.tmp" "dist/$art"
  (cd dist && sum256 "$art" >"$art.sha256")
done

# The binary rock: install a "none"-type rockspec from a staging directory into a scratch tree,
# then `luarocks pack` it (that writes the rock_manifest with every file's checksum).
stage=build/dist-stage
rm -rf "$stage"
mkdir -p "$stage/lua/fscache"
cp lua/fscache/init.lua lua/fscache/version.lua lua/fscache/health.lua lua/fscache/testing.lua "$stage/lua/fscache/"
cp -R doc "$stage/doc"
rm -f "$stage/doc/tags"
for abi in luajit lua51 lua54; do
  cp "dist/fscache-$version-$platform-$abi.so" "$stage/fscache_$abi.so"
done
sed -e "s/@VERSION@/$version/g" scripts/dist.rockspec.in >"$stage/fscache-$version-1.rockspec"
(
  cd "$stage"
  luarocks --lua-version=5.1 --tree="$repo/$stage/tree" make --deps-mode=none "fscache-$version-1.rockspec"
  luarocks --lua-version=5.1 --tree="$repo/$stage/tree" pack fscache "$version-1"
)
rm -f dist/fscache-*.rock
mv "$stage"/fscache-"$version"-1.*.rock dist/
luarocks-admin make_manifest dist
echo "dist: $(cd dist && ls | tr '\n' ' ')"
