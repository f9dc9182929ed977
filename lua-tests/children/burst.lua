-- Child: N concurrent gets of N distinct files (callbacks, then coroutines), meant to run under a
-- low descriptor limit (ulimit -n 256). Prints how many succeeded, the error codes seen, and the
-- Lua heap / RSS before, at the peak and after clear_all, per round. Each file DIR/f<i> holds
-- "f<i>;" padded to 1 KiB. Usage: burst.lua DIR N [ROUNDS]
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local uv = require("luv")
fscache.attach(uv)
local dir, n = arg[1], tonumber(arg[2])

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function heap_kb()
  collectgarbage()
  collectgarbage()
  return math.floor(collectgarbage("count"))
end

local files = fscache.FileCache.new()
local codes = {}
local ok = 0
local function on_answer(e, _, code)
  if e and #e.content == 1024 and e.content:find(e.path:match("/(f%d+)$") .. ";", 1, true) == 1 then
    ok = ok + 1
  else
    codes[#codes + 1] = tostring(code)
  end
end
local function drive(total)
  while ok + #codes < total do
    uv.run("once")
  end
end

-- Warm-up: pool threads and allocator arenas exist before the baseline is taken.
for i = 1, 200 do
  files:get(dir .. "/f" .. i, on_answer)
end
drive(200)
files:clear_all()
ok, codes = 0, {}
local heap0, rss0 = heap_kb(), rss_kb()
print(("baseline heap_kb=%d rss_kb=%d"):format(heap0, rss0))

-- ROUNDS identical bursts: memory must come back after each clear_all and not grow per round.
local rounds = tonumber(arg[3] or "3")
for round = 1, rounds do
  ok, codes = 0, {}
  for i = 1, n do
    files:get(dir .. "/f" .. i, on_answer)
  end
  drive(n)
  local by_callback = ok
  for i = 1, n do
    fscache.run(function()
      files:invalidate(dir .. "/f" .. i)
      on_answer(files:get_async(dir .. "/f" .. i))
    end)
  end
  drive(2 * n)
  local s = files:stats()
  local heap_peak, rss_peak = heap_kb(), rss_kb()
  files:clear_all()
  local heap1, rss1 = heap_kb(), rss_kb()
  local p = fscache.pool_stats()
  print(
    (
      "round=%d ok_callbacks=%d ok_total=%d errors=%s entries_peak=%d bytes_peak=%d entries_after=%d "
      .. "bytes_after=%d pending=%d threads=%d heap_peak_kb=%d heap_after_kb=%d rss_peak_kb=%d rss_after_kb=%d"
    ):format(
      round,
      by_callback,
      ok,
      table.concat(codes, ","),
      s.entries,
      s.bytes,
      files:stats().entries,
      files:stats().bytes,
      p.pending,
      p.threads,
      heap_peak,
      heap1,
      rss_peak,
      rss1
    )
  )
end
