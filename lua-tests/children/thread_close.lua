-- Child: ROUNDS times, a luv thread (its own Lua state) loads fscache, gets some results
-- delivered, starts ~1,150 more jobs and returns: its state is closed (lua_close) with those jobs
-- in flight. Prints the process's descriptor count before and after, once every pool job had
-- time to finish. Usage: thread_close.lua DIR ROUNDS
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local uv = require("luv")
local dir, rounds = arg[1], tonumber(arg[2])

local function fd_count()
  local n = 0
  local scan = assert(uv.fs_scandir("/proc/self/fd"))
  while uv.fs_scandir_next(scan) do
    n = n + 1
  end
  return n
end

local base = fd_count()
for r = 1, rounds do
  local thread = uv.new_thread(function(cpath, d)
    package.cpath = cpath
    local fscache = require("fscache")
    local files = fscache.FileCache.new()
    local dirs = fscache.DirectoryCache.new()
    -- Some results delivered normally first (native wait + dispatch).
    assert(fscache.block_on(function()
      return files:get_async(d .. "/f1")
    end, 10000))
    -- Then jobs left in flight when the state closes: their callbacks must never run.
    for i = 1, 1000 do
      files:get(d .. "/f" .. (i % 50 + 1), function()
        error("a callback ran after its Lua state was closed")
      end)
    end
    for _ = 1, 50 do
      dirs:get(d, function() end)
    end
    for _ = 1, 100 do
      fscache.run(function()
        files:get_async(d .. "/f2")
      end)
    end
    files:write(d .. "/written", { content = "x" }, function() end)
  end, package.cpath, dir)
  thread:join()
end
collectgarbage()
-- Pool jobs finish on their own; each runtime's wake-up descriptor closes with its last job.
local deadline = uv.hrtime() + 10e9
while fd_count() > base and uv.hrtime() < deadline do
  uv.sleep(10)
end
print("fds_before=" .. base)
print("fds_after=" .. fd_count())
print("rounds=" .. rounds)
