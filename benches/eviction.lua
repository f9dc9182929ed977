-- Eviction under a scan: hit ratios of fscache's S3-FIFO and of plain LRU on one trace.
--
-- Trace: 20 hot files read 10 times in a row each (warm-up), then 30 blocks of (100 files never
-- seen before, read once, then the 20 hot files once). Every file is 1 KiB; the cache holds
-- 100 KiB (100 files). fscache runs for real (FileCache{ max_bytes }, get_sync, hits counted by
-- stats()); LRU is simulated on the same trace with the same byte budget.
--
-- Run: nvim -u NONE -i NONE -n --headless -l benches/eviction.lua  (make bench does)

package.cpath = "./lua/?.so;" .. package.cpath
local fscache = require("fscache")
local measure = require("benches.lib.measure")
local uv = vim.uv

local KIB = 1024
local HOT, BLOCKS, SCAN_PER_BLOCK, CAPACITY = 20, 30, 100, 100

local dir = assert(uv.fs_mkdtemp("/tmp/fscache-bench-evict-XXXXXX"))
local function file(name)
  local p = dir .. "/" .. name
  local f = assert(io.open(p, "wb"))
  f:write(name .. string.rep(".", KIB - #name))
  f:close()
  return p
end

-- The trace: a list of { path, hot }.
local trace, hot = {}, {}
for i = 1, HOT do
  hot[i] = file("hot" .. i)
end
for i = 1, HOT do
  for _ = 1, 10 do
    trace[#trace + 1] = { hot[i], true, warm = true }
  end
end
local n = 0
for _ = 1, BLOCKS do
  for _ = 1, SCAN_PER_BLOCK do
    n = n + 1
    trace[#trace + 1] = { file("scan" .. n), false }
  end
  for i = 1, HOT do
    trace[#trace + 1] = { hot[i], true }
  end
end

local function ratio(h, t)
  return t > 0 and h / t or 0
end

-- fscache, for real.
local files = fscache.FileCache.new({ max_bytes = CAPACITY * KIB })
local fs = { hot_hits = 0, hot = 0, hits = 0, all = 0 }
for _, step in ipairs(trace) do
  local before = files:stats().hits
  assert(files:get_sync(step[1]))
  if not step.warm then
    local hit = files:stats().hits > before
    fs.all = fs.all + 1
    fs.hits = fs.hits + (hit and 1 or 0)
    if step[2] then
      fs.hot = fs.hot + 1
      fs.hot_hits = fs.hot_hits + (hit and 1 or 0)
    end
  end
end
assert(files:stats().bytes <= CAPACITY * KIB)

-- LRU, simulated: a recency list (the last element is the most recent).
local lru = { hot_hits = 0, hot = 0, hits = 0, all = 0 }
local order, present = {}, {}
for _, step in ipairs(trace) do
  local p = step[1]
  local hit = present[p] ~= nil
  if hit then
    for i, q in ipairs(order) do
      if q == p then
        table.remove(order, i)
        break
      end
    end
  elseif #order >= CAPACITY then
    present[table.remove(order, 1)] = nil
  end
  order[#order + 1] = p
  present[p] = true
  if not step.warm then
    lru.all = lru.all + 1
    lru.hits = lru.hits + (hit and 1 or 0)
    if step[2] then
      lru.hot = lru.hot + 1
      lru.hot_hits = lru.hot_hits + (hit and 1 or 0)
    end
  end
end

local out = {
  ("## Eviction under a scan (%d hot files, %d blocks of %d one-off files, cache of %d files)"):format(
    HOT,
    BLOCKS,
    SCAN_PER_BLOCK,
    CAPACITY
  ),
  "",
  "| policy | hit ratio, hot files | hit ratio, all reads |",
  "| --- | --- | --- |",
  ("| fscache (S3-FIFO) | %.3f | %.3f |"):format(ratio(fs.hot_hits, fs.hot), ratio(fs.hits, fs.all)),
  ("| LRU (simulated) | %.3f | %.3f |"):format(ratio(lru.hot_hits, lru.hot), ratio(lru.hits, lru.all)),
}
measure.publish("eviction", out)
vim.fn.delete(dir, "rf")
