-- fscache benchmark (run by `make bench` through benches/run.sh, under `nvim -l`, pinned with
-- taskset). Every system works on the same deterministic fixtures in the same run; every
-- repetition is checked byte for byte / entry for entry.
--
-- `make bench` prints every target of the 0.2 contract as met / not met (n/a for features not
-- built yet) with the baselines measured in the same run, and draws the chart.
--
-- Environment: BENCH_REPS (default 7), BENCH_ONLY (Lua pattern on workload ids, e.g. "W2"),
-- BENCH_SYSTEMS (pattern on system names), BENCH_NATIVE (path of the native baseline binary),
-- BENCH_OUT (output directory, default benches/results), BENCH_PIN (what run.sh pinned to),
-- BENCH_WORKER_NICE (fscache.setup worker_nice for this run), BENCH_LIB_DIR (directory of the
-- fscache.so to measure, default lua/: A/B runs of two builds).

local script_dir = debug.getinfo(1, "S").source:sub(2):match("(.*)/") or "."
local root = vim.fn.fnamemodify(script_dir .. "/..", ":p"):gsub("/$", "")
package.path = script_dir .. "/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_LIB_DIR") or (root .. "/lua")) .. "/?.so;" .. package.cpath

local fscache = require("fscache")
if os.getenv("BENCH_WORKER_NICE") then
  fscache.setup({ worker_nice = tonumber(os.getenv("BENCH_WORKER_NICE")) })
end
local fixtures = require("lib.fixtures")
local measure = require("lib.measure")
local workloads = require("lib.workloads")
local report = require("lib.report")

local reps = tonumber(os.getenv("BENCH_REPS") or "") or 7
local only = os.getenv("BENCH_ONLY")
local systems = os.getenv("BENCH_SYSTEMS")
local out_dir = os.getenv("BENCH_OUT") or (root .. "/benches/results")
local native_bin = os.getenv("BENCH_NATIVE")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p and p:read("*a") or ""
  if p then
    p:close()
  end
  return (s:gsub("%s+$", ""))
end

local meta = {
  reps = reps,
  cpu_pin = os.getenv("BENCH_PIN") or "none",
  commit = sh("git -C " .. root .. " rev-parse --short HEAD"),
  host = ("%s, %s, %s, fscache %s"):format(
    sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'"),
    sh("uname -sr"),
    vim.version and tostring(vim.version()) and ("nvim " .. tostring(vim.version())) or "nvim",
    fscache.version
  ),
}

-- More bench modules (benches/<name>.lua), run in the same harness after the built-in ones.
-- Each returns { cases = function(fx, reps) -> { { workload =, system =, spec = }, ... },
-- workloads = { report rows as in lib/report.lua's WORKLOADS }? }; a spec is as in
-- lib/measure.lua (measure.case, or measure.stall with `stall = true`). Add one line per module.
local EXTRA_MODULES = {
  -- "writes",
  -- "eviction",
}

io.stdout:write("fscache bench: generating fixtures...\n")
local fx = fixtures.create()
local raw = {}

local all_cases = workloads.cases(fx, reps)
for _, name in ipairs(EXTRA_MODULES) do
  local m = require(name)
  for _, c in ipairs(m.cases and m.cases(fx, reps) or {}) do
    c.spec.reps = c.spec.reps or reps
    all_cases[#all_cases + 1] = c
  end
  for _, w in ipairs(m.workloads or {}) do
    report.WORKLOADS[#report.WORKLOADS + 1] = w
  end
end

-- Stall cases report their worst gap in ms; these rows come with them (W5-cpu, BIG-total, ...).
local STALL_EXTRAS = { cpu = "cpu_ms", after = "after_ms", submit = "submit_ms", total = "total_ms" }

for _, c in ipairs(all_cases) do
  if (not only or c.workload:match(only)) and (not systems or c.system:match(systems)) then
    io.stdout:write(("  %-10s %-13s "):format(c.workload, c.system))
    io.stdout:flush()
    local r = c.spec.stall and measure.stall(c.spec) or measure.case(c.spec)
    local scale = 1
    if c.workload == "W4-cold" or c.spec.stall or c.spec.unit_ms then
      scale = 1e-3 -- µs -> ms
    end
    local values = {}
    for i, v in ipairs(r.per_op_us) do
      values[i] = v * scale
    end
    raw[#raw + 1] = { workload = c.workload, system = c.system, values = values, ok = r.ok, error = r.error }
    if c.spec.stall then
      for suffix, field in pairs(STALL_EXTRAS) do
        raw[#raw + 1] =
          { workload = c.workload .. "-" .. suffix, system = c.system, values = r[field], ok = r.ok, error = r.error }
      end
    end
    if r.ok then
      io.stdout:write(
        ("median %.3f  min %.3f%s\n"):format(
          measure.median(values),
          measure.min(values),
          c.spec.stall
              and ("  (cpu %.1f ms, burst %.1f ms, submit loop %.1f ms, worst gap after it %.1f ms)"):format(
                measure.median(r.cpu_ms),
                measure.median(r.total_ms),
                measure.median(r.submit_ms),
                measure.median(r.after_ms)
              )
            or ""
        )
      )
    else
      io.stdout:write("FAILED: " .. tostring(r.error) .. "\n")
    end
  end
end

if native_bin and native_bin ~= "" and (not systems or ("native"):match(systems)) then
  io.stdout:write("  native baseline...\n")
  local res = vim.system({ native_bin, fx.root, tostring(reps) }, { text = true }):wait()
  if res.code ~= 0 then
    io.stderr:write("native baseline failed: " .. (res.stderr or "") .. "\n")
  end
  for line in (res.stdout or ""):gmatch("[^\n]+") do
    local r = vim.json.decode(line)
    if not only or r.workload:match(only) then
      local values = {}
      for i, v in ipairs(r.per_op_us) do
        values[i] = r.workload == "W4-cold" and v * 1e-3 or v
      end
      raw[#raw + 1] = { workload = r.workload, system = "native", values = values, ok = r.ok }
    end
  end
end

fixtures.remove(fx)

local sum = report.summarise(raw)
local md = report.markdown(sum, meta)
vim.fn.mkdir(out_dir, "p")
local function write(name, s)
  local f = assert(io.open(out_dir .. "/" .. name, "wb"))
  f:write(s)
  f:close()
end
write("results.md", md)
write("results.jsonl", report.jsonl(sum, meta))
write("chart.dat", report.chart_data(sum))
io.stdout:write("\n" .. md)

local failed = 0
for _, r in ipairs(raw) do
  if not r.ok then
    failed = failed + 1
  end
end
if failed > 0 then
  io.stderr:write(("fscache bench: %d case(s) FAILED their data checks\n"):format(failed))
  os.exit(1)
end
