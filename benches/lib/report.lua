-- Turns measured cases into the Markdown table, JSON lines and the chart's data file.

local measure = require("lib.measure")

local M = {}

local fscache = require("fscache")

local function has_batches()
  return fscache.FileCache.get_many_async ~= nil
end

local function has_roots()
  return fscache.root_async ~= nil and vim.fs.root ~= nil
end

-- Rows of the report, in order. target: fscache's median must be at most this; target_ratio:
-- the `ratio_of` system's median ÷ fscache's must be at least this; built: nil or a function
-- telling whether the feature exists (rows of features not built yet say so).
M.WORKLOADS = {
  { id = "W1-seq", label = "W1 cold read 2 KiB, sequential awaits", unit = "µs/op", target = 15 },
  { id = "W1-conc", label = "W1 cold read 2 KiB, 2,000 concurrent", unit = "µs/op", target = 10 },
  {
    id = "B-batch",
    label = "batch of 2,000 cold reads (get_many_async)",
    unit = "µs/file",
    target = 8,
    built = has_batches,
  },
  { id = "W2-seq", label = "W2 cache hit, sequential", unit = "µs/op", target = 3 },
  { id = "W2-conc", label = "W2 cache hit, 2,000 concurrent", unit = "µs/op", target = 3 },
  { id = "W3", label = "W3 read + JSON decode 20 KiB", unit = "µs/op", target = 150 },
  { id = "W4-cold", label = "W4 list 10,000 entries, cold", unit = "ms/op", scale = 1e-3, target = 5 },
  { id = "W4-cached", label = "W4 list 10,000 entries, cached", unit = "µs/op" },
  { id = "W5", label = "W5 worst loop stall, 2,000-file burst", unit = "ms", scale = 1e-3, target = 4 },
  { id = "W5-cpu", label = "W5 main-thread CPU during the burst", unit = "ms" },
  { id = "W5-submit", label = "W5 … of which the caller's loop starting 2,000 gets", unit = "ms", chart = false },
  { id = "W5-after", label = "W5 worst stall once that loop returned (delivery)", unit = "ms", chart = false },
  {
    id = "B-stall",
    label = "worst loop stall, batch of 2,000",
    unit = "ms",
    scale = 1e-3,
    target = 3,
    built = has_batches,
  },
  {
    id = "R-root",
    label = "root detection, unchanged tree, 10 levels (uv_sync = vim.fs.root)",
    unit = "µs/op",
    target_ratio = 20,
    ratio_of = "uv_sync",
    built = has_roots,
  },
  {
    id = "BIG",
    label = "worst loop gap, 3.8 MB JSON via get_json_async (uv_sync = read + vim.json.decode)",
    unit = "ms",
    scale = 1e-3,
    target = 4,
  },
  { id = "BIG-total", label = "… total time for the 3.8 MB document", unit = "ms", chart = false },
}
M.SYSTEMS = { "fscache", "uv_callbacks", "uv_sync", "native", "idle" }

local function fmt(v)
  if v == nil then
    return "—"
  end
  if v >= 100 then
    return ("%.0f"):format(v)
  elseif v >= 10 then
    return ("%.1f"):format(v)
  end
  return ("%.2f"):format(v)
end

local function ratio(a, b)
  if not a or not b or b == 0 then
    return nil
  end
  return a / b
end

---Summarises raw results: results[workload][system] = { values (in the workload's unit), ok, error }.
function M.summarise(raw)
  local out = {}
  for _, r in ipairs(raw) do
    local wl = r.workload
    out[wl] = out[wl] or {}
    out[wl][r.system] = r
    if r.values and #r.values > 0 then
      r.median = measure.median(r.values)
      r.min = measure.min(r.values)
    end
  end
  return out
end

---"≤ x" or "≥ n× vs system" (or "—").
function M.target_text(w)
  if w.target then
    return "≤ " .. fmt(w.target)
  elseif w.target_ratio then
    return ("≥ %s× faster than %s"):format(fmt(w.target_ratio), w.ratio_of)
  end
  return "—"
end

---"met", "not met (+x%)", "n/a (not built)", "not measured" or "—" (no target).
function M.status(w, row)
  if not w.target and not w.target_ratio then
    return "—"
  end
  if w.built and not w.built() then
    return "n/a (not built)"
  end
  local f = row.fscache and row.fscache.ok and row.fscache.median
  if not f then
    return row.fscache and "FAILED" or "not measured"
  end
  if w.target then
    return f <= w.target and "met" or ("not met (+%d%%)"):format(math.floor((f / w.target - 1) * 100 + 0.5))
  end
  local b = row[w.ratio_of]
  local r = b and b.ok and ratio(b.median, f)
  if not r then
    return "not measured"
  end
  return r >= w.target_ratio and ("met (%s×)"):format(fmt(r)) or ("not met (%s×)"):format(fmt(r))
end

---Every target row: fscache's median, its range over the repetitions, the target and the status.
function M.targets(sum)
  local lines = {
    "| target row | fscache median | range over repetitions | target | status |",
    "| --- | --- | --- | --- | --- |",
  }
  for _, w in ipairs(M.WORKLOADS) do
    if w.target or w.target_ratio then
      local row = sum[w.id] or {}
      local r = row.fscache
      local med, range = "—", "—"
      if r and r.ok and r.median then
        med = fmt(r.median) .. " " .. w.unit
        local hi
        for _, v in ipairs(r.values) do
          hi = (hi == nil or v > hi) and v or hi
        end
        range = fmt(r.min) .. " – " .. fmt(hi)
      end
      lines[#lines + 1] = ("| %s | %s | %s | %s | %s |"):format(w.label, med, range, M.target_text(w), M.status(w, row))
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

---The Markdown table (medians, minimums in parentheses, ratios baseline ÷ fscache).
function M.markdown(sum, meta)
  local lines = {
    ("Pinned to CPU %s · %d repetitions after a warm-up · medians (minimum in parentheses) · %s"):format(
      meta.cpu_pin,
      meta.reps,
      meta.host
    ),
    "",
    "| workload | unit | fscache | uv_callbacks | uv_sync | native | idle loop | × vs uv_callbacks | × vs uv_sync | fscache ÷ native | target | met |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  }
  for _, w in ipairs(M.WORKLOADS) do
    local row = sum[w.id] or {}
    local cells = { w.label, w.unit }
    for _, s in ipairs(M.SYSTEMS) do
      local r = row[s]
      if r == nil then
        cells[#cells + 1] = "—"
      elseif not r.ok then
        cells[#cells + 1] = "FAILED"
      else
        cells[#cells + 1] = ("%s (%s)"):format(fmt(r.median), fmt(r.min))
      end
    end
    local f = row.fscache and row.fscache.ok and row.fscache.median
    local function speedup(s)
      local r = row[s]
      local v = r and r.ok and ratio(r.median, f)
      return v and (fmt(v) .. "×") or "—"
    end
    cells[#cells + 1] = speedup("uv_callbacks")
    cells[#cells + 1] = speedup("uv_sync")
    local n = row.native and row.native.ok and ratio(f, row.native.median)
    cells[#cells + 1] = n and (fmt(n) .. "×") or "—"
    cells[#cells + 1] = M.target_text(w)
    cells[#cells + 1] = M.status(w, row)
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "× vs X = X's median ÷ fscache's (above 1: fscache is faster). fscache ÷ native = how far"
    .. " fscache is from a tight native loop of the same syscalls. uv_sync has no concurrency: its"
    .. " concurrent rows run the same sequential loop. W5: worst gap between ticks of a 1 ms timer;"
    .. " 'idle loop' is the same timer with nothing else running for 60 ms (the machine's noise floor)."
    .. " BIG: the same timer while a 3.8 MB package-lock-shaped document becomes a Lua table"
    .. " (fscache converts it a slice at a time; uv_sync and uv_callbacks call vim.json.decode)."
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Targets:"
  lines[#lines + 1] = ""
  lines[#lines + 1] = M.targets(sum)
  return table.concat(lines, "\n") .. "\n"
end

local function json_num(v)
  return v and ("%.4f"):format(v) or "null"
end

---One JSON object per (workload, system).
function M.jsonl(sum, meta)
  local lines = {}
  for _, w in ipairs(M.WORKLOADS) do
    for _, s in ipairs(M.SYSTEMS) do
      local r = sum[w.id] and sum[w.id][s]
      if r then
        local vals = {}
        for i, v in ipairs(r.values or {}) do
          vals[i] = json_num(v)
        end
        local ops_s = (r.median and w.unit:match("/op$")) and (1 / (r.median * (w.scale and 1e3 or 1) * 1e-6)) or nil
        lines[#lines + 1] = (
          '{"workload":"%s","system":"%s","unit":"%s","median":%s,"min":%s,"ops_per_s":%s,'
          .. '"values":[%s],"ok":%s,"error":%s,"pinned":"%s","commit":"%s"}'
        ):format(
          w.id,
          s,
          w.unit,
          json_num(r.median),
          json_num(r.min),
          json_num(ops_s),
          table.concat(vals, ","),
          tostring(r.ok),
          r.error and vim.json.encode(r.error) or "null",
          meta.cpu_pin,
          meta.commit
        )
      end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

---Data for the chart: one row per workload, columns = baseline ÷ fscache for each baseline.
function M.chart_data(sum)
  local lines = { "# workload uv_callbacks uv_sync native" }
  for _, w in ipairs(M.WORKLOADS) do
    local row = sum[w.id] or {}
    local f = row.fscache and row.fscache.ok and row.fscache.median
    if w.chart ~= false and row.fscache then
      local cols = { '"' .. w.id .. '"' }
      for _, s in ipairs({ "uv_callbacks", "uv_sync", "native" }) do
        local r = row[s]
        local v = f and r and r.ok and ratio(r.median, f)
        cols[#cols + 1] = v and ("%.4f"):format(v) or "NaN"
      end
      lines[#lines + 1] = table.concat(cols, " ")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
