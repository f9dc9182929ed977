-- Write-heavy load shaped like a project-config plugin that saves its merged config after every
-- key it merges: per load, 4 files of 2 KiB; 4 rounds of (read all 4 files, then 25
-- fire-and-forget writes spread over them): 100 writes and 16 reads. Loads run back to back (the
-- next starts when the previous one's coroutine returned, its writes still landing, as in a
-- plugin); the series of 10 ends only once every write has landed (durably, for durable
-- systems), and that total is divided by 10: deferred work is counted, not hidden. The systems'
-- series run interleaved (one of each in turn, BENCH_REPS rounds after a warm-up round).
--
-- Systems, same run, same files:
--   fscache            FileCache defaults (durable writes: fsync + rename + directory fsync)
--   fscache lane=N     the same with setup{ write_threads = N } (the width of the write lane)
--   fscache durable=false
--   uv_callbacks       the pure-Lua cache pattern it replaces: vim.uv callbacks, a table cache
--                      validated by fs_stat mtime, writes as fs_open("w") / fs_write / fs_close
--                      (neither atomic nor durable), reads served from its table after its writes
--   durable I/O floor  no cache, no reads: only the 16 durable writes (temp, write, fsync, rename)
--                      that read-your-writes makes a load wait for, 4 at a time: what any durable
--                      system pays at least on this disk
--
-- Run: taskset -c 0 nvim -u NONE -i NONE -n --headless -l benches/writes.lua  (make bench does)
-- Env: BENCH_REPS (default 7), BENCH_OUT (results dir), BENCH_LIB_DIR (directory of the
-- fscache.so to measure, for A/B runs), BENCH_LANES ("1,2,4,8": the lane widths measured;
-- "none" skips those rows).

package.cpath = (os.getenv("BENCH_LIB_DIR") or "./lua") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local measure = require("benches.lib.measure")
local uv = vim.uv

local REPS = tonumber(os.getenv("BENCH_REPS") or "7")
local LOADS = 10
local FILES = 4
local ROUNDS = 4
local WRITES_PER_ROUND = 25

local dir = assert(uv.fs_mkdtemp("/tmp/fscache-bench-writes-XXXXXX"))
local paths = {}
for i = 1, FILES do
  paths[i] = dir .. "/cfg" .. i .. ".json"
  local f = assert(io.open(paths[i], "wb"))
  f:write(string.rep("x", 2048))
  f:close()
end

local torn = 0

-- Writes issued and not landed yet, over all loads of a series.
local in_flight = 0
local on_all_landed

-- One load, written once for every system: read(i, cb) and write(i, text, cb) are the system's.
-- `done` is called when the load itself is over (its coroutine returned); its writes may still
-- be landing (fire-and-forget), and the next load's reads of the same files wait for them where
-- the system promises read-your-writes.
local function load_with(read, write, done)
  local co
  co = coroutine.create(function()
    local function wrote()
      in_flight = in_flight - 1
      if in_flight == 0 and on_all_landed then
        local f = on_all_landed
        on_all_landed = nil
        f()
      end
    end
    local seq = 0
    for _ = 1, ROUNDS do
      local cfg = {}
      for i = 1, FILES do
        read(i, function(text)
          cfg[i] = text
          local ok, err = coroutine.resume(co)
          if not ok then
            error(debug.traceback(co, err))
          end
        end)
        coroutine.yield()
        if not cfg[i] or #cfg[i] < 2048 then
          -- A read that met a truncated file (a plain write in progress): counted, not fatal.
          torn = torn + 1
          cfg[i] = string.rep("x", 2048)
        end
      end
      for k = 1, WRITES_PER_ROUND do
        seq = seq + 1
        local i = k % FILES + 1
        cfg[i] = cfg[i]:sub(1, 2048) .. "k" .. seq
        in_flight = in_flight + 1
        write(i, cfg[i], wrote)
      end
    end
    done()
  end)
  coroutine.resume(co)
end

local function fscache_system(opts)
  return function()
    local files = fscache.FileCache.new(opts)
    return function(done)
      load_with(function(i, cb)
        files:get(paths[i], function(e)
          cb(e and e.content)
        end)
      end, function(i, text, cb)
        files:write(paths[i], text, function(ok, err)
          assert(ok, err)
          cb()
        end)
      end, done)
    end
  end
end

-- The pure-Lua cache it replaces: a table cache validated by mtime, plain writes.
local function uv_system()
  local cache = {}
  local function read(i, cb)
    local p = paths[i]
    uv.fs_stat(p, function(err, st)
      assert(not err, err)
      local c = cache[p]
      if c and c.mtime == st.mtime.sec and c.size == st.size then
        return vim.schedule(function()
          cb(c.text)
        end)
      end
      uv.fs_open(p, "r", 420, function(e1, fd)
        assert(not e1, e1)
        uv.fs_read(fd, st.size, 0, function(e2, text)
          assert(not e2, e2)
          uv.fs_close(fd, function()
            cache[p] = { mtime = st.mtime.sec, size = st.size, text = text }
            vim.schedule(function()
              cb(text)
            end)
          end)
        end)
      end)
    end)
  end
  local function write(i, text, cb)
    local p = paths[i]
    cache[p] = nil
    uv.fs_open(p, "w", 420, function(e1, fd)
      assert(not e1, e1)
      uv.fs_write(fd, text, 0, function(e2)
        assert(not e2, e2)
        uv.fs_close(fd, function()
          vim.schedule(cb)
        end)
      end)
    end)
  end
  return function(done)
    load_with(read, write, done)
  end
end

-- The I/O floor of any durable cache with read-your-writes, no cache and no reads: a round's
-- reads need the round's writes landed, and a durable atomic write is temp file, write, fsync,
-- rename; so per load, 4 rounds of the 4 files' writes, each round's 4 in parallel (libuv's
-- thread pool) and waited for. Directory fsyncs are left out, so this is below what any durable
-- system can reach on this disk.
local function durable_floor()
  local k = 0
  return function(done)
    local round = 0
    local function next_round()
      round = round + 1
      if round > ROUNDS then
        return done()
      end
      local left = FILES
      for i = 1, FILES do
        k = k + 1
        local tmp = ("%s.floor-%d.tmp"):format(paths[i], k)
        uv.fs_open(tmp, "w", 420, function(e1, fd)
          assert(not e1, e1)
          uv.fs_write(fd, string.rep("f", 2060), 0, function(e2)
            assert(not e2, e2)
            uv.fs_fsync(fd, function(e3)
              assert(not e3, e3)
              uv.fs_rename(tmp, paths[i], function(e4)
                assert(not e4, e4)
                uv.fs_close(fd, function()
                  left = left - 1
                  if left == 0 then
                    vim.schedule(next_round)
                  end
                end)
              end)
            end)
          end)
        end)
      end
    end
    next_round()
  end
end

local systems = {
  { name = "fscache (defaults: durable)", make = fscache_system(nil) },
  { name = "fscache durable=false", make = fscache_system({ durable = false }) },
  {
    name = "uv_callbacks (pure-Lua cache)",
    make = function()
      return uv_system()
    end,
  },
  { name = "durable I/O floor (16 fsync'd writes in 4 rounds, no reads, no cache)", make = durable_floor },
}
local lanes = {}
for n in (os.getenv("BENCH_LANES") or "1,2,4,8"):gmatch("%d+") do
  lanes[#lanes + 1] = tonumber(n)
end

-- One series of LOADS loads with a fresh system; ms per load.
local function series_ms(make)
  local run = make()
  local ns = measure.drive(function(finish)
    local n = 0
    local function next_load()
      n = n + 1
      if n > LOADS then
        -- The series ends once every write of every load has landed.
        if in_flight == 0 then
          return finish()
        end
        on_all_landed = finish
        return
      end
      run(next_load)
    end
    next_load()
  end, 120000)
  return ns / LOADS / 1e6
end

-- Series of every system in turn, REPS rounds after a warm-up round: a durable write's cost
-- depends on what the disk is still writing back, which drifts over a run, so taking the
-- systems' samples interleaved gives each the same conditions. Returns per system
-- { median, min, max }.
local function interleaved(makes)
  local samples, torns = {}, {}
  for i = 1, #makes do
    samples[i], torns[i] = {}, 0
  end
  for rep = 0, REPS do
    for i, make in ipairs(makes) do
      torn = 0
      local ms = series_ms(make)
      if rep > 0 then -- round 0 warms up
        samples[i][#samples[i] + 1] = ms
        torns[i] = torns[i] + torn
      end
    end
  end
  local out = {}
  for i = 1, #makes do
    local list = samples[i]
    out[i] = { measure.median(list), measure.min(list), math.max(unpack(list)), torns[i] }
  end
  return out
end

local rows = {}
local default_lane = fscache.pool_stats().write_threads
local makes = {}
for i, sys in ipairs(systems) do
  makes[i] = sys.make
end
for i, r in ipairs(interleaved(makes)) do
  local name = systems[i].name .. (r[4] > 0 and (" (%d torn reads)"):format(r[4]) or "")
  rows[#rows + 1] = { name, r[1], r[2], r[3] }
end
for _, n in ipairs(lanes) do
  fscache.setup({ write_threads = n })
  local r = interleaved({ fscache_system(nil) })[1]
  rows[#rows + 1] = { ("fscache durable, write lane = %d"):format(n), r[1], r[2], r[3] }
end
fscache.setup({ write_threads = default_lane })

local base = rows[3][2]
local out = {
  ("## Write-heavy load (%d loads x %d reps, median ms per load; each load: %d files, %d writes, %d reads)"):format(
    LOADS,
    REPS,
    FILES,
    ROUNDS * WRITES_PER_ROUND,
    ROUNDS * FILES
  ),
  "",
  "| system | ms per load (median) | min | max | vs uv_callbacks |",
  "| --- | --- | --- | --- | --- |",
}
for _, r in ipairs(rows) do
  out[#out + 1] = ("| %s | %.2f | %.2f | %s | %.2fx |"):format(
    r[1],
    r[2],
    r[3],
    r[4] and ("%.2f"):format(r[4]) or "-",
    base / r[2]
  )
end
out[#out + 1] = ""
out[#out + 1] = ("default write lane width: %d; target: fscache defaults at least as fast as uv_callbacks: %s"):format(
  default_lane,
  rows[1][2] <= base and "met" or "NOT met"
)
measure.publish("writes", out)
vim.fn.delete(dir, "rf")
