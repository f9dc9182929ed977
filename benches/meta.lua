-- Cached metadata: project-root lookups and stats on an unchanged tree, against what plugins use
-- today, measured in the same run.
--
--   root, 10 levels deep   source file 10 directories below the project root, markers
--                          { ".git", "package.json", "Cargo.toml" } (only .git exists, at the top)
--     vim.fs.root          Neovim's own (synchronous stats on the main thread)
--     fscache.root_sync    blocking form
--     fscache.root_async   in one fscache.run coroutine (an unchanged tree never suspends)
--   stat hit               one existing file, stat'ed again and again
--     vim.uv.fs_stat       synchronous luv stat
--     uv callback          vim.uv.fs_stat(path, cb): one loop round trip per stat
--     fscache.stat_async   in one fscache.run coroutine
--
-- Medians of BENCH_REPS (default 7) repetitions of N operations, after one warm-up; ratios are
-- against the baseline of the same run. Pin it: make bench runs
--   taskset -c 0 nvim -u NONE -i NONE -n --headless -l benches/meta.lua
-- Env: BENCH_REPS, BENCH_OUT (results dir: writes meta.md, the table printed).

package.cpath = "./lua/?.so;" .. package.cpath
local fscache = require("fscache")
local measure = require("benches.lib.measure")
local uv = vim.uv

local REPS = tonumber(os.getenv("BENCH_REPS") or "7")
local N_ROOT = 2000
local N_STAT = 20000

local dir = assert(uv.fs_mkdtemp("/tmp/fscache-bench-meta-XXXXXX"))
local deep = dir .. "/project"
for i = 1, 10 do
  deep = deep .. "/d" .. i
end
assert(os.execute("mkdir -p " .. deep .. " " .. dir .. "/project/.git && touch " .. deep .. "/file.lua"))
local source = deep .. "/file.lua"
local markers = { ".git", "package.json", "Cargo.toml" }
local want_root = dir .. "/project"
-- Past the racy window: the watcher vouches for stats of files changed > 50 ms ago.
uv.sleep(120)

local function timed(n, body)
  local samples = {}
  for rep = 0, REPS do
    local t0 = uv.hrtime()
    body(n)
    local dt = uv.hrtime() - t0
    if rep > 0 then
      samples[#samples + 1] = dt / 1e3 / n
    end
  end
  return measure.median(samples)
end

-- body(n, done) inside one fscache.run coroutine, driven to its end by the loop.
local function timed_async(n, body)
  return timed(n, function(k)
    local finished = false
    fscache.run(function()
      body(k)
    end, function()
      finished = true
    end, function(e)
      error(e)
    end)
    if not finished then
      assert(vim.wait(60000, function()
        return finished
      end, 1))
    end
  end)
end

local lines = {}
local function out(line)
  lines[#lines + 1] = line
  print(line)
end
local ratios = {}
local function report(group, name, us, base)
  local ratio = base and (base / us) or 1
  ratios[name] = ratio
  out(("| %-20s | %-18s | %10.3f | %7.1fx |"):format(group, name, us, ratio))
end

out(
  ("Cached metadata: fscache %s, Neovim %s, median of %d reps, CPU pinned: %s"):format(
    fscache.version,
    tostring(vim.version()),
    REPS,
    os.getenv("BENCH_PIN") or "see taskset"
  )
)
out("")
out("| case                 | system             |  us / op   | vs base  |")
out("| -------------------- | ------------------ | ---------- | -------- |")

-- Root lookups: every system must give the same answer.
assert(vim.fs.root(source, markers) == want_root)
assert(fscache.root_sync(source, markers) == want_root)
local base = timed(N_ROOT, function(n)
  for _ = 1, n do
    if vim.fs.root(source, markers) ~= want_root then
      error("vim.fs.root: wrong answer")
    end
  end
end)
report("root, 10 levels deep", "vim.fs.root", base)
report(
  "root, 10 levels deep",
  "fscache.root_sync",
  timed(N_ROOT, function(n)
    for _ = 1, n do
      if fscache.root_sync(source, markers) ~= want_root then
        error("root_sync: wrong answer")
      end
    end
  end),
  base
)
report(
  "root, 10 levels deep",
  "fscache.root_async",
  timed_async(N_ROOT, function(n)
    for _ = 1, n do
      if fscache.root_async(source, markers) ~= want_root then
        error("root_async: wrong answer")
      end
    end
  end),
  base
)

-- Stat hits.
local size = assert(uv.fs_stat(source)).size
local sbase = timed(N_STAT, function(n)
  for _ = 1, n do
    if uv.fs_stat(source).size ~= size then
      error("fs_stat: wrong answer")
    end
  end
end)
report("stat hit", "vim.uv.fs_stat", sbase)
report(
  "stat hit",
  "uv callback",
  timed(N_STAT / 10, function(n)
    local left = n
    local function one()
      uv.fs_stat(source, function(err, st)
        assert(not err and st.size == size)
        left = left - 1
        if left > 0 then
          one()
        end
      end)
    end
    one()
    assert(vim.wait(60000, function()
      return left == 0
    end, 1))
  end),
  sbase
)
assert(fscache.stat_sync(source))
report(
  "stat hit",
  "fscache.stat_async",
  timed_async(N_STAT, function(n)
    for _ = 1, n do
      if fscache.stat_async(source).size ~= size then
        error("stat_async: wrong answer")
      end
    end
  end),
  sbase
)

local s = fscache.meta_stats()
local r = ratios["fscache.root_sync"]
out("")
out(("root_sync vs vim.fs.root: %.1fx (target >= 20x: %s)"):format(r, r >= 20 and "met" or "NOT met"))
out(
  ("meta_stats: hits %d, fast_hits %d, misses %d, root_hits %d, root_misses %d"):format(
    s.hits,
    s.fast_hits,
    s.misses,
    s.root_hits,
    s.root_misses
  )
)

measure.write_report("meta", lines) -- printed line by line above
os.execute("rm -rf " .. dir)
