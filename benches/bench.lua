-- fscache benchmark (run by `make bench` through benches/run.sh, under `nvim -l`, pinned with
-- taskset). Every system works on the same deterministic fixtures in the same run; every
-- repetition is checked byte for byte / entry for entry.
--
-- Environment: BENCH_REPS (default 7), BENCH_ONLY (Lua pattern on workload ids, e.g. "W2"),
-- BENCH_SYSTEMS (pattern on system names), BENCH_NATIVE (path of the native baseline binary),
-- BENCH_OUT (output directory, default benches/results), BENCH_PIN (what run.sh pinned to),
-- BENCH_WORKER_NICE (fscache.setup worker_nice for this run).

local script_dir = debug.getinfo(1, "S").source:sub(2):match("(.*)/") or "."
local root = vim.fn.fnamemodify(script_dir .. "/..", ":p"):gsub("/$", "")
package.path = script_dir .. "/?.lua;" .. package.path
package.cpath = root .. "/lua/?.so;" .. package.cpath

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

io.stdout:write("fscache bench: generating fixtures...\n")
local fx = fixtures.create()
local raw = {}

for _, c in ipairs(workloads.cases(fx, reps)) do
  if (not only or c.workload:match(only)) and (not systems or c.system:match(systems)) then
    io.stdout:write(("  %-10s %-13s "):format(c.workload, c.system))
    io.stdout:flush()
    local r = c.spec.stall and measure.stall(c.spec) or measure.case(c.spec)
    local scale = 1
    if c.workload == "W4-cold" or c.spec.stall then
      scale = 1e-3 -- µs -> ms
    end
    local values = {}
    for i, v in ipairs(r.per_op_us) do
      values[i] = v * scale
    end
    raw[#raw + 1] = { workload = c.workload, system = c.system, values = values, ok = r.ok, error = r.error }
    if c.spec.stall then
      raw[#raw + 1] = { workload = "W5-cpu", system = c.system, values = r.cpu_ms, ok = r.ok, error = r.error }
      raw[#raw + 1] = { workload = "W5-after", system = c.system, values = r.after_ms, ok = r.ok, error = r.error }
      raw[#raw + 1] = { workload = "W5-submit", system = c.system, values = r.submit_ms, ok = r.ok, error = r.error }
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
