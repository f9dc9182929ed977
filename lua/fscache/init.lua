-- fscache/init.lua: finds and loads the native library (lua/fscache.so).
--
-- Neovim's runtimepath loader, and package.path entries like "lua/?/init.lua", find this file
-- before any fscache.so, so this file loads the library itself: first the one built next to it
-- (`make build`, build.lua), then one on package.cpath (a luarocks install). When neither is
-- there it raises an error that says how to build it. A luarocks install does not ship this file:
-- there `require("fscache")` finds the library on package.cpath directly.

local ENTRY = "luaopen_fscache"
local windows = package.config:sub(1, 1) == "\\"
local LIB = windows and "fscache.dll" or "fscache.so"

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- The lua/ directory holding this file, or nil when the chunk has no file name.
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

local BUILD_HELP = table.concat({
  "  build it:  cd %s && make build",
  "             (or: cargo build --release, then copy target/release/libfscache.so to lua/fscache.so)",
  '  lazy.nvim: build = "build.lua" in the plugin spec, then :Lazy build fscache',
  "  luarocks:  luarocks make fscache-scm-1.rockspec",
  "  see :help fscache-install",
}, "\n")

---@return fscache
local function load_library(path)
  local open, err = package.loadlib(path, ENTRY)
  if open then
    return open("fscache", path)
  end
  local msg = ("fscache: cannot load the native library %s:\n  %s"):format(path, tostring(err))
  if tostring(err):find("undefined symbol: lua", 1, true) then
    msg = msg
      .. "\n  it was built for another Lua ("
      .. (jit and "this is LuaJIT" or _VERSION)
      .. "): rebuild with the matching feature, e.g. make build FEATURE="
      .. (jit and "luajit" or (_VERSION == "Lua 5.4" and "lua54" or "lua51"))
  end
  error(msg, 0)
end

local dir = lua_dir()
local local_lib = dir and (dir .. "/" .. LIB)
if local_lib and file_exists(local_lib) then
  return load_library(local_lib)
end

local installed = search_cpath("fscache")
if installed then
  return load_library(installed)
end

local root = dir and dir:gsub("[/\\]lua$", "") or "<the fscache checkout>"
error(
  ("fscache: the native library is not built.\n  looked for %s and for fscache on package.cpath\n"):format(
    local_lib or LIB
  ) .. BUILD_HELP:format(root),
  0
)
