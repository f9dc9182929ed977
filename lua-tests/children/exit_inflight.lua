-- Child: starts 1,000 reads, 50 listings and a write, then returns from the main chunk: the host
-- closes the Lua state (LuaJIT: lua_close; Neovim -l: exit) with all of them in flight.
-- Usage: exit_inflight.lua DIR
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir = arg[1] or _G.arg[1]
local files = fscache.FileCache.new()
local dirs = fscache.DirectoryCache.new()
for i = 1, 1000 do
  files:get(dir .. "/f" .. (i % 50 + 1), function() end)
end
for _ = 1, 50 do
  dirs:get(dir, function() end)
end
files:write(dir .. "/written", { content = string.rep("w", 100000) }, function() end)
fscache.run(function()
  files:get_async(dir .. "/f3")
end)
print("started=1")
