-- Child: a JSON document too big to build at once (~300,000 values) is read through the async
-- get; once the read has completed and its table is being built a slice at a time (stats():
-- one read, no parse yet), the process ends: MODE "end" returns from the main chunk (the host
-- closes the Lua state: LuaJIT lua_close, Neovim -l exit), "exit" calls os.exit(0) (LuaJIT: no
-- close; atexit runs). Prints building=1 when the exit came in the middle of a build.
-- Usage: exit_building.lua DIR MODE
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local args = _G.arg or arg
local dir, mode = args[1], args[2] or "end"

local path = dir .. "/big.json"
local parts = {}
for i = 1, 100000 do
  parts[i] = ('{"k":%d,"v":"x"}'):format(i)
end
local f = assert(io.open(path, "wb"))
f:write("[", table.concat(parts, ","), "]")
f:close()

local files = fscache.FileCache.new()
local answered = false
files:get_json(path, function()
  answered = true
end)

local function building()
  local s = files:stats()
  return s.reads == 1 and s.parses == 0
end
if vim then
  vim.wait(20000, function()
    return files:stats().reads > 0 or answered
  end, 1)
else
  local uv = require("luv")
  fscache.attach(uv)
  while files:stats().reads == 0 and not answered do
    uv.run("once")
  end
end
print("building=" .. (building() and not answered and "1" or "0"))
io.stdout:flush()
if mode == "exit" then
  os.exit(0)
end
