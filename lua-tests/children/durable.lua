-- Child: 10 write_sync calls of distinct files with the given durability, then exits.
-- Usage: durable.lua DIR true|false|per-write
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir, how = arg[1], arg[2]
local files = fscache.FileCache.new({ durable = how == "true" })
for i = 1, 10 do
  local data = how == "per-write" and { content = "x" .. i, durable = false } or ("x" .. i)
  assert(files:write_sync(dir .. "/f" .. i, data))
end
print("written=10")
