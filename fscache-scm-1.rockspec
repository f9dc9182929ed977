-- Builds and installs fscache from this checkout, offline: `luarocks make` (add --lua-version=5.4
-- etc. to pick the interpreter; the cargo feature follows it), then `luarocks test`.
-- Needs cargo. The rust-mlua variant for publishing is rockspecs/fscache-<version>-1.rockspec.
rockspec_format = "3.0"
package = "fscache"
version = "scm-1"
source = {
  url = "git+https://github.com/fscache/fscache.git",
}
description = {
  summary = "Cached, non-blocking file and directory access for Lua and Neovim (coroutine-first)",
  detailed = [[
A native module written in Rust (mlua): FileCache and DirectoryCache objects whose *_async
methods suspend the calling coroutine while the I/O runs on a thread pool. LuaJIT, Lua 5.1,
Lua 5.4 and Neovim.]],
  homepage = "https://github.com/fscache/fscache",
  license = "MIT",
  labels = { "neovim", "filesystem", "cache", "async", "coroutines" },
}
dependencies = { "lua >= 5.1, < 5.5" }
build = {
  type = "command",
  build_command = [[sh scripts/rock-build.sh "$(LUA)"]],
  -- luarocks copies libraries without renaming them: scripts/rock-build.sh names it fscache.so.
  install = {
    lib = { fscache = "build/fscache.so" },
    -- the Lua helpers (fscache.testing for plugin specs, :checkhealth, the expected version)
    lua = {
      ["fscache.testing"] = "lua/fscache/testing.lua",
      ["fscache.health"] = "lua/fscache/health.lua",
      ["fscache.version"] = "lua/fscache/version.lua",
    },
  },
  copy_directories = { "doc" },
}
test = {
  type = "command",
  -- run with the interpreter luarocks targets; it runs busted on build/fscache.so
  script = "scripts/rock-test.lua",
}
