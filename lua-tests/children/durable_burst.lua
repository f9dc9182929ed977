-- Child: N durable writes of distinct files in one directory, issued together on a write lane
-- N workers wide, flushed, then checked. Usage: durable_burst.lua DIR N
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir, n = arg[1], tonumber(arg[2])
fscache.setup({ write_threads = n })
local files = fscache.FileCache.new()
for i = 1, n do
  files:write(dir .. "/f" .. i, "v" .. i)
end
assert(fscache.flush_writes(10000), "writes still pending")
for i = 1, n do
  local f = assert(io.open(dir .. "/f" .. i, "rb"))
  assert(f:read("*a") == "v" .. i, "f" .. i)
  f:close()
end
print("written=" .. n)
