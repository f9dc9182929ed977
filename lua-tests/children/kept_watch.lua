-- Child: reads DIR/f through one cache, drops that cache (collected), then reads it again
-- through a new cache. Usage: kept_watch.lua DIR (run under strace to count watch calls).
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir = arg[1]
local path = dir .. "/f"
local first = fscache.FileCache.new()
assert(first:get_sync(path))
first = nil -- luacheck: ignore
collectgarbage()
collectgarbage()
local second = fscache.FileCache.new()
local e = assert(second:get_sync(path))
print("content=" .. e.content)
print("watches=" .. fscache.pool_stats().watches)
