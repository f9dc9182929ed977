-- The rockspec to publish on luarocks.org (`luarocks upload`). It builds with the rust-mlua
-- backend (luarocks-build-rust-mlua), which picks the cargo feature from the target Lua:
-- luajit, lua51 or lua54. For an offline build from a checkout use fscache-scm-1.rockspec.
-- Release: copy this file to fscache-<version>-1.rockspec, bump version and source.tag.
rockspec_format = "3.0"
package = "fscache"
version = "0.2.0-1"
source = {
  url = "git+https://github.com/fscache/fscache.git",
  tag = "v0.2.0",
}
description = {
  summary = "Cached, non-blocking file and directory access for Lua and Neovim (coroutine-first)",
  detailed = [[
A native module written in Rust (mlua): FileCache and DirectoryCache objects whose *_async
methods suspend the calling coroutine while the I/O runs on a thread pool. LuaJIT, Lua 5.1,
Lua 5.4 and Neovim. Building needs a Rust toolchain (cargo).]],
  homepage = "https://github.com/fscache/fscache",
  license = "MIT",
  labels = { "neovim", "filesystem", "cache", "async", "coroutines" },
}
dependencies = { "lua >= 5.1, < 5.5" }
build_dependencies = { "luarocks-build-rust-mlua" }
build = {
  type = "rust-mlua",
  -- module fscache from target/release/libfscache.so
  modules = { "fscache" },
  -- luajit is the crate's default feature; the backend adds the one matching the target Lua
  default_features = false,
  copy_directories = { "doc" },
}
