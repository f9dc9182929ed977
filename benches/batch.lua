-- Batch of 2,000 cold 2 KiB files: FileCache:get_many_async against one get_async per file
-- (2,000 coroutines at once, and sequential awaits) and raw vim.uv callbacks (2,000 at once),
-- same run, same files. Cold = a new cache each repetition (the OS page cache is warm for all).
-- Reports µs per file (median over reps) and the worst gap of a 1 ms timer while the work runs
-- (the main-loop stall), against the targets (≤ 8 µs per file, worst stall ≤ 3 ms).
--
-- Run: taskset -c 0 nvim -u NONE -i NONE -n --headless -l benches/batch.lua  (make bench does)

package.cpath = "./lua/?.so;" .. package.cpath
local fscache = require("fscache")
local measure = require("benches.lib.measure")
local uv = vim.uv

local REPS = tonumber(os.getenv("BENCH_REPS") or "7")
local N = 2000

local dir = assert(uv.fs_mkdtemp("/tmp/fscache-bench-batch-XXXXXX"))
local paths = {}
for i = 1, N do
  paths[i] = ("%s/f%04d"):format(dir, i)
  local f = assert(io.open(paths[i], "wb"))
  f:write(("%04d"):format(i), string.rep("x", 2044))
  f:close()
end

-- Runs start(done) under a 1 ms timer; returns elapsed ns and the worst timer gap in ms.
local function timed(start)
  local worst, last = 0, uv.hrtime()
  local timer = uv.new_timer()
  timer:start(1, 1, function()
    local now = uv.hrtime()
    worst = math.max(worst, (now - last) / 1e6)
    last = now
  end)
  last = uv.hrtime()
  local ns = measure.drive(start, 60000)
  local now = uv.hrtime()
  worst = math.max(worst, (now - last) / 1e6)
  timer:stop()
  timer:close()
  return ns, worst
end

local systems = {
  {
    "fscache get_many_async (one batch)",
    function(done)
      local files = fscache.FileCache.new()
      fscache.run(function()
        local entries = files:get_many_async(paths)
        assert(#entries == N and entries[N].content:sub(1, 4) == ("%04d"):format(N))
        done()
      end)
    end,
  },
  {
    "fscache get_async x 2,000 coroutines",
    function(done)
      local files = fscache.FileCache.new()
      local left = N
      for i = 1, N do
        fscache.run(function()
          assert(files:get_async(paths[i]))
          left = left - 1
          if left == 0 then
            done()
          end
        end)
      end
    end,
  },
  {
    "fscache get_async sequential",
    function(done)
      local files = fscache.FileCache.new()
      fscache.run(function()
        for i = 1, N do
          assert(files:get_async(paths[i]))
        end
        done()
      end)
    end,
  },
  {
    "vim.uv callbacks x 2,000 (open, fstat, read, close)",
    function(done)
      local left = N
      for i = 1, N do
        uv.fs_open(paths[i], "r", 420, function(e1, fd)
          assert(not e1, e1)
          uv.fs_fstat(fd, function(e2, st)
            assert(not e2, e2)
            uv.fs_read(fd, st.size, 0, function(e3, data)
              assert(not e3 and #data == 2048, e3)
              uv.fs_close(fd, function()
                vim.schedule(function()
                  left = left - 1
                  if left == 0 then
                    done()
                  end
                end)
              end)
            end)
          end)
        end)
      end
    end,
  },
}

local rows = {}
for _, s in ipairs(systems) do
  local per, gaps = {}, {}
  for rep = 0, REPS do
    collectgarbage()
    local ns, gap = timed(s[2])
    if rep > 0 then
      per[#per + 1] = ns / N / 1000
      gaps[#gaps + 1] = gap
    end
  end
  rows[#rows + 1] = { s[1], measure.median(per), measure.min(per), measure.median(gaps) }
end

local out = {
  ("## Batch of %d cold 2 KiB files (%d reps, medians)"):format(N, REPS),
  "",
  "| system | µs per file | min | worst loop gap, ms |",
  "| --- | --- | --- | --- |",
}
for _, r in ipairs(rows) do
  out[#out + 1] = ("| %s | %.2f | %.2f | %.1f |"):format(r[1], r[2], r[3], r[4])
end
out[#out + 1] = ""
out[#out + 1] = ("targets: batch ≤ 8 µs per file: %s (%.2f); worst stall during the batch ≤ 3 ms: %s (%.1f)"):format(
  rows[1][2] <= 8 and "met" or "NOT met",
  rows[1][2],
  rows[1][4] <= 3 and "met" or "NOT met",
  rows[1][4]
)
measure.publish("batch", out)
vim.fn.delete(dir, "rf")
