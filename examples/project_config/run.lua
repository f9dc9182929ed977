-- The demo `make demo` runs: load the bundled project config cold and warm, print the merged
-- result and the timings, persist an edit, and show the reload picking it up.
-- Run from the repository root after `make build`:  luajit examples/project_config/run.lua

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
package.cpath = here .. "../../lua/?.so;" .. package.cpath
package.path = here .. "?.lua;" .. package.path

local fscache = require("fscache")
local project_config = require("project_config")

local WARM_RUNS = 25

local function now_ms()
  return fscache._native.now_ms()
end

local function load(loader)
  return fscache.block_on(function()
    return loader:load_await()
  end, 5000)
end

-- Counter changes between two stats() snapshots, divided by `runs`.
local function delta(after, before, runs)
  local d = {}
  for _, k in ipairs({ "reads", "parses", "hits" }) do
    d[k] = (after[k] - before[k]) / (runs or 1)
  end
  return d
end

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) / 2] or (xs[n / 2] + xs[n / 2 + 1]) / 2
end

local function main(tmp)
  -- Work on a copy so the demo never edits the repository.
  assert(os.execute(("cp -R '%sdata/.' '%s'"):format(here, tmp)))
  -- Real config files were written long before they are loaded. Files changed in the last
  -- 50 ms are re-read to compare content (fscache's racy window), so wait that out: the warm
  -- numbers then show what a warm load really costs (stat-only validation, no read, no parse).
  os.execute("sleep 0.1")

  -- The project is found from a file inside it, as a plugin does for a buffer: the directory
  -- holding a marker (.git here), with fscache.root_async (vim.fs.root, cached).
  assert(os.execute(("mkdir -p '%s/work/demo/.git' '%s/work/demo/src/deep'"):format(tmp, tmp)))
  local buffer = tmp .. "/work/demo/src/deep/main.lua"
  local loader, root = fscache.block_on(function()
    return project_config.for_path_async(buffer, { config_dir = tmp })
  end, 5000)
  assert(loader and loader.name == "demo", "the project root was not found")
  print(("project root of %s: %s"):format(buffer:sub(#tmp + 2), root:sub(#tmp + 2)))

  local s0 = loader.files:stats()
  local t0 = now_ms()
  local ctx = load(loader)
  local cold = now_ms() - t0
  local cold_n = delta(loader.files:stats(), s0)

  local s1 = loader.files:stats()
  local times = {}
  local warm_ctx
  for i = 1, WARM_RUNS do
    t0 = now_ms()
    warm_ctx = load(loader)
    times[i] = now_ms() - t0
  end
  local warm_n = delta(loader.files:stats(), s1, WARM_RUNS)
  assert(fscache.json_encode(warm_ctx.json) == fscache.json_encode(ctx.json), "warm load differs")

  print(("fscache %s demo: project %q from %s"):format(fscache.version, ctx.name, tmp))
  print("files, in merge order:")
  for _, f in ipairs(ctx.files) do
    print("  " .. f:sub(#tmp + 2))
  end
  if #ctx.errors > 0 then
    print("errors:")
    for _, e in ipairs(ctx.errors) do
      print("  " .. e)
    end
  end
  print("merged config:")
  io.write(assert(fscache.json_encode(ctx.json, { indent = 2 })))
  print(
    ("load cold: %.3f ms, first load in this process (%d files: %d reads, %d parses)"):format(
      cold,
      #ctx.files,
      cold_n.reads,
      cold_n.parses
    )
  )
  print(
    ("load warm: %.3f ms, median of %d loads (per load: %g reads, %g parses, %g cache hits)"):format(
      median(times),
      WARM_RUNS,
      warm_n.reads,
      warm_n.parses,
      warm_n.hits
    )
  )

  -- Edit and persist through the cache, then reload: the change is picked up.
  ctx.json.build.jobs = 16
  local ok, err = fscache.block_on(function()
    return ctx:save_async()
  end, 5000)
  assert(ok, err)
  local again = load(loader)
  assert(again.json.build.jobs == 16, "the saved edit was not picked up")
  print(("after save: build.jobs = %d, persisted in %s:"):format(again.json.build.jobs, again.overrides:sub(#tmp + 2)))
  io.write(assert(io.open(again.overrides)):read("*a"))
end

local tmp = assert(io.popen("mktemp -d")):read("*l")
assert(tmp and tmp ~= "", "mktemp -d failed")
local ok, err = xpcall(main, debug.traceback, tmp)
os.execute(("rm -rf '%s'"):format(tmp))
if not ok then
  io.stderr:write("demo failed: ", tostring(err), "\n")
  os.exit(1)
end
