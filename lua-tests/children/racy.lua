-- Child: N times, rewrites DIR/f in place with different content of the same size and renames
-- an entry of DIR/d (same entry count), then reads both back through the cache. Meant for a
-- file system with coarse timestamps, where both changes can keep size, mtime and ctime: only
-- the racy re-check can see them. Prints how many answers were stale.
-- Usage: racy.lua DIR N
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir, n = arg[1], tonumber(arg[2])
local files = fscache.FileCache.new()
local dirs = fscache.DirectoryCache.new()
local f_path, d_path = dir .. "/f", dir .. "/d"
os.execute("mkdir -p '" .. d_path .. "'")
local function put(p, s)
  local h = assert(io.open(p, "wb"))
  h:write(s)
  h:close()
end
put(d_path .. "/e0", "")
local stale_files, stale_dirs, same_stamp = 0, 0, 0
local last_mtime
for i = 1, n do
  local v = ("%06d"):format(i)
  put(f_path, v)
  local e = (i % 2 == 0) and files:get_sync(f_path)
    or fscache.block_on(function()
      return files:get_async(f_path)
    end)
  if e.content ~= v then
    stale_files = stale_files + 1
  end
  if last_mtime and e.mtime == last_mtime.sec and e.mtime_nsec == last_mtime.nsec then
    same_stamp = same_stamp + 1
  end
  last_mtime = { sec = e.mtime, nsec = e.mtime_nsec }
  assert(os.rename(d_path .. "/e" .. (i - 1), d_path .. "/e" .. i))
  local l = dirs:get_sync(d_path)
  if #l.entries ~= 1 or l.entries[1].name ~= "e" .. i then
    stale_dirs = stale_dirs + 1
  end
end
print("stale_files=" .. stale_files)
print("stale_dirs=" .. stale_dirs)
print("same_timestamp=" .. same_stamp)
print("n=" .. n)
