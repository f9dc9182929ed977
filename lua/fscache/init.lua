-- fscache/init.lua: finds and loads the native library, and warns when it is stale.
--
-- Neovim's runtimepath loader, and package.path entries like "lua/?/init.lua", find this file
-- before any fscache.so, so this file loads the library itself: first the one next to it
-- (lua/fscache.so: `make build`, build.lua), then a per-ABI library of a binary rock on
-- package.cpath (fscache_luajit, fscache_lua51 or fscache_lua54: the binary rock installs this
-- file as its `fscache` module), then fscache on package.cpath (a `luarocks make` install).
-- When none is there it raises an error that says how to get one.
--
-- Stale library: the version these Lua files expect is in fscache/version.lua; a library of
-- another version loads, with one warning (vim.notify WARN in Neovim, stderr elsewhere) that names
-- both versions and the command that fixes it.

local ENTRY = "luaopen_fscache"
local windows = package.config:sub(1, 1) == "\\"
local LIB = windows and "fscache.dll" or "fscache.so"
-- The ABI of the running interpreter, as the binary rock names its libraries.
local ABI = jit and "luajit" or (_VERSION == "Lua 5.4" and "lua54" or "lua51")

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- The lua/ directory holding this file as fscache/init.lua (a checkout), or nil (a rock's
-- fscache.lua, or a chunk without a file name).
local function lua_dir()
  local source = debug.getinfo(1, "S").source
  return source:match("^@(.*)[/\\]fscache[/\\]init%.lua$")
end

-- package.searchpath for Lua 5.1 (which lacks it).
local function search_cpath(name)
  if package.searchpath then
    return (package.searchpath(name, package.cpath))
  end
  for template in package.cpath:gmatch("[^;]+") do
    local path = template:gsub("%?", name)
    if file_exists(path) then
      return path
    end
  end
end

-- The version these files expect: fscache/version.lua next to this file, else on package.path.
local function expected_version()
  local dir = lua_dir()
  if dir then
    local ok, v = pcall(dofile, dir .. "/fscache/version.lua")
    if ok and type(v) == "string" then
      return v
    end
  end
  local ok, v = pcall(require, "fscache.version")
  return ok and type(v) == "string" and v or nil
end

local BUILD_HELP = table.concat({
  "  download or build it:  cd %s && make build",
  '  lazy.nvim:  build = "build.lua" in the plugin spec, then :Lazy build fscache',
  "  luarocks:   luarocks install fscache (binary rock), or luarocks make fscache-scm-1.rockspec",
  "  see :help fscache-install",
}, "\n")

local function notify_warn(msg)
  if type(vim) == "table" and type(vim.notify) == "function" then
    vim.notify(msg, vim.log.levels.WARN)
  else
    io.stderr:write(msg, "\n")
  end
end

---@return fscache
local function load_library(path, fix)
  local open, err = package.loadlib(path, ENTRY)
  if not open then
    local msg = ("fscache: cannot load the native library %s:\n  %s"):format(path, tostring(err))
    if tostring(err):find("undefined symbol: lua", 1, true) then
      msg = msg
        .. "\n  it was built for another Lua ("
        .. (jit and "this is LuaJIT" or _VERSION)
        .. "): rebuild with the matching feature, e.g. make build FEATURE="
        .. ABI
    end
    error(msg, 0)
  end
  local mod = open("fscache", path)
  local expected = expected_version()
  if type(mod) == "table" then
    rawset(mod, "_library_path", path)
    rawset(mod, "_expected_version", expected)
    -- once per Lua state: the native side's shared table outlives a re-require
    local shared = type(mod._native) == "table" and type(mod._native.shared) == "function" and mod._native.shared()
      or {}
    if expected and mod.version ~= expected and not shared.stale_warned then
      shared.stale_warned = true
      notify_warn(
        ("fscache: stale native library: %s is version %s, these Lua files expect %s.\n  fix: %s"):format(
          path,
          tostring(mod.version),
          expected,
          fix
        )
      )
    end
  end
  return mod
end

local dir = lua_dir()
local root = dir and dir:gsub("[/\\]lua$", "") or "<the fscache checkout>"
local local_lib = dir and (dir .. "/" .. LIB)
if local_lib and file_exists(local_lib) then
  return load_library(local_lib, ("cd %s && make build (in Neovim: :Lazy build fscache)"):format(root))
end

local rock_lib = search_cpath("fscache_" .. ABI)
if rock_lib then
  local v = expected_version()
  return load_library(rock_lib, "luarocks install fscache " .. (v or ""))
end

local installed = search_cpath("fscache")
if installed then
  return load_library(installed, "luarocks make fscache-scm-1.rockspec (in the fscache checkout)")
end

error(
  ("fscache: the native library is not built.\n  looked for %s and for fscache on package.cpath\n"):format(
    local_lib or LIB
  ) .. BUILD_HELP:format(root),
  0
)
