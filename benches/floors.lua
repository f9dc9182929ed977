-- Where the time of the workloads with a missed 0.2 target goes, and the floors under them, in
-- one run on the same fixtures as bench.lua. For each case: wall time per operation, the CPU time
-- of the Lua (main) thread, and the CPU time of every other thread of the process (the pool's
-- workers; Neovim's own threads are idle meanwhile), read with CLOCK_THREAD_CPUTIME_ID and
-- CLOCK_PROCESS_CPUTIME_ID around each repetition. Pinned to one CPU, as `make bench` runs it,
-- the two CPU columns share that CPU: wall ≈ Lua thread + pool + switching between them.
--
-- Floors measured alongside: a sequential get of a missing file (the same round trip to the pool
-- and back, with a job that fails at open), the read's system calls made directly on the Lua
-- thread (vim.uv.fs_* synchronous: open, fstat, read, close), and fscache.run of a function that
-- returns at once (the runner's share of a start).
--
-- Run: taskset -c 0 nvim -u NONE -i NONE -n --headless -l benches/floors.lua  (make bench does)
-- Env: BENCH_REPS (default 7), BENCH_OUT (writes floors.md there).

local script_dir = debug.getinfo(1, "S").source:sub(2):match("(.*)/") or "."
package.path = script_dir .. "/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_LIB_DIR") or (script_dir .. "/../lua")) .. "/?.so;" .. package.cpath

local fscache = require("fscache")
local fixtures = require("lib.fixtures")
local measure = require("lib.measure")
local workloads = require("lib.workloads")
local uv = vim.uv

local REPS = tonumber(os.getenv("BENCH_REPS") or "7")
local W4_OPS = 5

io.stdout:write("floors: generating fixtures...\n")
local fx = fixtures.create()
local N = #fx.w1
local missing = {}
for i = 1, N do
  missing[i] = ("%s/w1/missing%04d.txt"):format(fx.root, i)
end

-- The drivers and checks bench.lua's workloads use (a case's verify gets (ctx, result)).
local seq, conc, fs_spawn = workloads.seq, workloads.conc, workloads.fs_spawn
local function files_ok(_, out)
  return workloads.check_files(fx, out)
end

-- Each case: name, ops per repetition, unit ("µs" or "ms" per op), target (same unit, or nil),
-- setup() -> ctx, run(ctx, done(result)), verify(ctx, result) -> ok, msg, drain(ctx) (after the
-- timed part: waits for work the case started but does not time).
local cases = {
  {
    name = "W1 sequential: get_async, one file after another",
    ops = N,
    unit = "µs",
    target = 15,
    run = function(_, done)
      local c = fscache.FileCache.new()
      seq(fs_spawn, function(p)
        return c:get_async(p)
      end, fx.w1, done)
    end,
    verify = files_ok,
  },
  {
    name = "floor: get_async of a missing file, sequential (round trip, job fails at open)",
    ops = N,
    unit = "µs",
    run = function(_, done)
      local c = fscache.FileCache.new()
      seq(fs_spawn, function(p)
        local e, _, code = c:get_async(p)
        return e == nil and code
      end, missing, done)
    end,
    verify = function(_, out)
      for i = 1, N do
        if out[i] ~= "ENOENT" then
          return false, "missing file " .. i .. " gave " .. tostring(out[i])
        end
      end
      return true
    end,
  },
  {
    name = "floor: open, fstat, read, close on the Lua thread (vim.uv synchronous)",
    ops = N,
    unit = "µs",
    run = function(_, done)
      local out = {}
      for i = 1, N do
        local fd = assert(uv.fs_open(fx.w1[i], "r", 0))
        local st = assert(uv.fs_fstat(fd))
        out[i] = assert(uv.fs_read(fd, st.size, 0))
        uv.fs_close(fd)
      end
      done(out)
    end,
    verify = function(_, out)
      local entries = {}
      for i, content in ipairs(out) do
        entries[i] = { content = content }
      end
      return workloads.check_files(fx, entries)
    end,
  },
  {
    name = "W1 concurrent: get_async in 2,000 coroutines at once",
    ops = N,
    unit = "µs",
    target = 10,
    run = function(_, done)
      local c = fscache.FileCache.new()
      conc(fs_spawn, function(p)
        return c:get_async(p)
      end, fx.w1, done)
    end,
    verify = files_ok,
  },
  {
    name = "batch: one get_many_async of 2,000",
    ops = N,
    unit = "µs",
    target = 8,
    run = function(_, done)
      local c = fscache.FileCache.new()
      fscache.run(function()
        return (c:get_many_async(fx.w1))
      end, done, error)
    end,
    verify = files_ok,
  },
  {
    name = "W5 caller's loop: 2,000 × fscache.run + get_async (the loop alone)",
    ops = N,
    unit = "µs",
    target = 2,
    target_note = " (4 ms / 2,000)", -- the loop runs in one piece: W5's stall target spread over it
    run = function(ctx, done)
      -- The main table's W5 loop; timed until it returns, the deliveries are drained after.
      local c = fscache.FileCache.new()
      local function get(p)
        return c:get_async(p)
      end
      local function delivered(out)
        ctx.out = out
      end
      conc(fs_spawn, get, fx.w1, delivered)
      done(true)
    end,
    drain = function(ctx)
      assert(vim.wait(60000, function()
        return ctx.out ~= nil
      end, 1))
      assert(workloads.check_files(fx, ctx.out))
    end,
  },
  {
    name = "floor: 2,000 × fscache.run of a function that returns at once",
    ops = N,
    unit = "µs",
    run = function(_, done)
      local left = N
      local function one()
        left = left - 1
      end
      for _ = 1, N do
        fscache.run(function()
          return 1
        end, one, error)
      end
      done(left == 0)
    end,
    verify = function(_, ok)
      return ok, "a coroutine did not finish"
    end,
  },
  {
    name = "W3: get_json_async of a 20 KiB document, sequential",
    ops = #fx.w3,
    unit = "µs",
    target = 150,
    run = function(_, done)
      local c = fscache.FileCache.new()
      seq(fs_spawn, function(p)
        return c:get_json_async(p)
      end, fx.w3, done)
    end,
    verify = function(_, out)
      return workloads.check_docs(fx, out)
    end,
  },
  {
    name = "W4 cold: a 10,000-entry directory, a new cache each time",
    ops = W4_OPS,
    unit = "ms",
    target = 5,
    run = function(_, done)
      local dirs = {}
      for k = 1, W4_OPS do
        dirs[k] = fx.w4
      end
      seq(fs_spawn, function(p)
        return fscache.DirectoryCache.new():get_async(p)
      end, dirs, done)
    end,
    verify = function(_, out)
      return workloads.check_listings(out, W4_OPS)
    end,
  },
}

-- Runs one case REPS times after a warm-up; returns medians of wall, Lua-thread and pool CPU
-- time per op, in the case's unit.
local function sample(c)
  local scale = c.unit == "ms" and 1e6 or 1e3
  local wall, lua, pool = {}, {}, {}
  for rep = 0, REPS do
    local ctx = {}
    collectgarbage()
    local finished, result, t1, c1, p1 = false, nil, nil, nil, nil
    local function done(r)
      t1, c1, p1 = uv.hrtime(), measure.thread_cpu_ns(), measure.process_cpu_ns()
      finished, result = true, r
    end
    local t0, c0, p0 = uv.hrtime(), measure.thread_cpu_ns(), measure.process_cpu_ns()
    c.run(ctx, done)
    if not finished then
      vim.wait(120000, function()
        return finished
      end, 1000)
    end
    assert(finished, c.name .. ": timed out")
    if c.verify then
      local ok, msg = c.verify(ctx, result)
      assert(ok, c.name .. ": " .. tostring(msg))
    end
    if c.drain then
      c.drain(ctx)
    end
    if rep > 0 then
      wall[#wall + 1] = (t1 - t0) / scale / c.ops
      lua[#lua + 1] = (c1 - c0) / scale / c.ops
      -- The two clocks tick separately: a case with no other thread at work can read as -0.01.
      pool[#pool + 1] = math.max(0, (p1 - p0) - (c1 - c0)) / scale / c.ops
    end
  end
  return measure.median(wall), measure.median(lua), measure.median(pool)
end

local lines = {
  ("## Where the time goes: Lua thread and pool CPU per operation (%d reps, medians)"):format(REPS),
  "",
  "| case | wall per op | Lua thread CPU | pool CPU | Lua + pool | target |",
  "| --- | --- | --- | --- | --- | --- |",
}
for _, c in ipairs(cases) do
  io.stdout:write(("  %s ... "):format(c.name))
  io.stdout:flush()
  local w, l, p = sample(c)
  io.stdout:write(("%.2f %s (Lua %.2f, pool %.2f)\n"):format(w, c.unit, l, p))
  local fmt = c.unit == "ms" and "%.2f ms" or "%.1f µs"
  lines[#lines + 1] = ("| %s | %s | %s | %s | %s | %s |"):format(
    c.name,
    fmt:format(w),
    fmt:format(l),
    fmt:format(p),
    fmt:format(l + p),
    c.target and ("≤ " .. fmt:format(c.target) .. (c.target_note or "")) or "—"
  )
end
lines[#lines + 1] = ""
lines[#lines + 1] = "Pinned to one CPU, wall ≈ Lua thread + pool + switching between them. A target below"
  .. " a floor row (or below the pool's CPU alone) cannot be met by work on the Lua thread."
measure.publish("floors", lines)
fixtures.remove(fx)
