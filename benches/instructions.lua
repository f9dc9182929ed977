-- Main-thread instruction counts per cold get, under LuaJIT + luv (run by benches/instructions.sh
-- under `valgrind --tool=callgrind --separate-threads=yes`): instruction counts do not depend on
-- what else the machine runs, so an A/B of two builds gives the same numbers every time.
-- Env: MODE = conc (2,000 fscache.run + get_async at once) | batch (one get_many_async of 2,000)
--      | spawn (2,000 fscache.run of a function that returns at once: the runner's own cost)
--      | hits (2,000 concurrent get_async of files the cache holds, unchanged),
-- BURSTS (default 4), LIB (directory of the fscache.so to load), FILES (directory of the
-- 2,000 2 KiB files; created when missing).

package.cpath = (os.getenv("LIB") or "./lua") .. "/?.so;" .. package.cpath
local uv = require("luv")
local fscache = require("fscache")
fscache.attach(uv)

local N = 2000
local MODE = os.getenv("MODE") or "conc"
local dir = os.getenv("FILES") or "/tmp/fscache-instructions"
local paths = {}
for i = 1, N do
  paths[i] = ("%s/f%04d"):format(dir, i)
end
if not uv.fs_stat(dir) then
  assert(uv.fs_mkdir(dir, 493))
  for i = 1, N do
    local f = assert(io.open(paths[i], "wb"))
    f:write(string.rep("x", 2048))
    f:close()
  end
end

local function burst(c)
  local left, fin = N, false
  local function one()
    left = left - 1
    fin = left == 0
  end
  if MODE == "batch" then
    fscache.run(function()
      local entries = c:get_many_async(paths)
      assert(#entries == N)
    end, function()
      fin = true
    end)
  else
    for i = 1, N do
      if MODE == "conc" then
        fscache.run(function()
          return assert(c:get_async(paths[i]))
        end, one)
      else
        fscache.run(function()
          return 1
        end, one)
      end
    end
  end
  while not fin do
    uv.run("once")
  end
end

if MODE == "hits" then
  MODE = "conc"
  local warm = fscache.FileCache.new()
  for i = 1, N do
    assert(warm:get_sync(paths[i]))
  end
  for _ = 1, tonumber(os.getenv("BURSTS") or "4") do
    collectgarbage()
    burst(warm)
  end
  assert(warm:stats().fast_hits > 0, "hits were not validated by the watcher")
  return
end

for _ = 1, tonumber(os.getenv("BURSTS") or "4") do
  collectgarbage()
  burst(fscache.FileCache.new())
end
