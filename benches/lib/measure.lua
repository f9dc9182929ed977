-- Timing harness: one warm-up, then N repetitions; each repetition is verified (a run that loses
-- data is reported as failed, not timed). Async work is driven by Neovim's own loop (vim.wait).

local uv = vim.uv
local ffi = require("ffi")

local M = {}

ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } fscache_bench_timespec;
int clock_gettime(int clk, fscache_bench_timespec *ts);
]])
local CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 2, 3
local ts = ffi.new("fscache_bench_timespec")

---CPU time of the calling (main) thread, in nanoseconds.
function M.thread_cpu_ns()
  ffi.C.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts)
  return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

---Writes a standalone bench's report (lines of Markdown) as `<name>.md` into BENCH_OUT, when
---that names a directory.
---@param name string
---@param lines string[]
function M.write_report(name, lines)
  local od = os.getenv("BENCH_OUT")
  if od then
    local f = assert(io.open(od .. "/" .. name .. ".md", "wb"))
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
  end
end

---Prints a standalone bench's report, then writes it (`write_report`).
---@param name string
---@param lines string[]
function M.publish(name, lines)
  print(table.concat(lines, "\n"))
  M.write_report(name, lines)
end

---CPU time of the whole process (every thread, including threads that have exited), in ns.
function M.process_cpu_ns()
  ffi.C.clock_gettime(CLOCK_PROCESS_CPUTIME_ID, ts)
  return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

---Runs start(done) and the loop until done(...) is called. Returns elapsed ns (start to done)
---and the first value passed to done.
function M.drive(start, timeout_ms)
  local finished, t1, result = false, nil, nil
  local t0 = uv.hrtime()
  start(function(r)
    t1 = uv.hrtime()
    finished, result = true, r
  end)
  if not finished then
    vim.wait(timeout_ms or 120000, function()
      return finished
    end, 1000)
  end
  if not finished then
    error("timed out after " .. tostring(timeout_ms or 120000) .. " ms")
  end
  return t1 - t0, result
end

function M.median(xs)
  local s = {}
  for i, v in ipairs(xs) do
    s[i] = v
  end
  table.sort(s)
  local n = #s
  if n == 0 then
    return nil
  end
  if n % 2 == 1 then
    return s[(n + 1) / 2]
  end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

function M.min(xs)
  local m
  for _, v in ipairs(xs) do
    m = (m == nil or v < m) and v or m
  end
  return m
end

-- A case's context (its setup's result); a setup that raises fails the case, not the run.
local function setup_of(spec)
  return spec.setup and spec.setup() or {}
end

---Measures one (workload, system) case.
---spec: { ops = n, reps = n, setup = fn() -> ctx, run = fn(ctx, done), verify = fn(ctx, result) -> ok, msg }
---Returns { per_op_us = {...}, ok = bool, error = msg|nil }.
function M.case(spec)
  local res = { per_op_us = {}, ok = true }
  for rep = 0, spec.reps do -- rep 0 is the warm-up
    local oks, ctx = pcall(setup_of, spec)
    if not oks then
      res.ok, res.error = false, "setup failed: " .. tostring(ctx)
      return res
    end
    collectgarbage()
    local okc, dt, result = pcall(M.drive, function(done)
      spec.run(ctx, done)
    end, spec.timeout_ms)
    if not okc then
      res.ok, res.error = false, tostring(dt)
      return res
    end
    local ok, msg = spec.verify(ctx, result)
    if not ok then
      res.ok, res.error = false, "data check failed: " .. tostring(msg)
      return res
    end
    if rep > 0 then
      res.per_op_us[#res.per_op_us + 1] = dt / 1e3 / spec.ops
    end
    if spec.teardown then
      spec.teardown(ctx)
    end
  end
  return res
end

---Measures the loop's worst stall during start(done): a 1 ms vim.uv timer records the largest
---gap between its ticks from just before the burst until done; also main-thread CPU.
---Returns { per_op_us (worst gap, ms), cpu_ms = {...}, ok } like case().
function M.stall(spec)
  local res = { per_op_us = {}, cpu_ms = {}, total_ms = {}, after_ms = {}, submit_ms = {}, ok = true }
  for rep = 0, spec.reps do
    local oks, ctx = pcall(setup_of, spec)
    if not oks then
      res.ok, res.error = false, "setup failed: " .. tostring(ctx)
      return res
    end
    collectgarbage()
    local timer = uv.new_timer()
    local last, worst, ticking = nil, 0, true
    -- worst_after: gaps that began after the caller's submitting loop returned (delivery only)
    local submitted_at, worst_after = nil, 0
    timer:start(1, 1, function()
      local now = uv.hrtime()
      if last and ticking then
        worst = math.max(worst, now - last)
        if submitted_at and last >= submitted_at then
          worst_after = math.max(worst_after, now - last)
        end
      end
      last = now
    end)
    -- let the timer settle into its rhythm
    vim.wait(20, function()
      return false
    end, 1)
    local cpu0 = M.thread_cpu_ns()
    local t_start
    local okc, dt, result = pcall(M.drive, function(done)
      t_start = uv.hrtime()
      spec.run(ctx, done)
      submitted_at = uv.hrtime()
    end, spec.timeout_ms)
    local cpu1 = M.thread_cpu_ns()
    -- the gap that ends with the tick after the last delivery belongs to the burst too
    local t_done = uv.hrtime()
    vim.wait(5, function()
      return last ~= nil and last > t_done
    end, 1)
    ticking = false
    timer:stop()
    timer:close()
    if not okc then
      res.ok, res.error = false, tostring(dt)
      return res
    end
    local ok, msg = spec.verify(ctx, result)
    if not ok then
      res.ok, res.error = false, "data check failed: " .. tostring(msg)
      return res
    end
    if rep > 0 then
      res.per_op_us[#res.per_op_us + 1] = worst / 1e3
      res.cpu_ms[#res.cpu_ms + 1] = (cpu1 - cpu0) / 1e6
      res.total_ms[#res.total_ms + 1] = dt / 1e6
      res.after_ms[#res.after_ms + 1] = worst_after / 1e6
      res.submit_ms[#res.submit_ms + 1] = (submitted_at - t_start) / 1e6
    end
  end
  return res
end

return M
