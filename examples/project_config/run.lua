-- The demo `make demo` runs: load the bundled project config cold and warm, print the merged
-- result and the timings, persist an edit, and show the reload picking it up.
-- Run from the repository root after `make build`:  luajit examples/project_config/run.lua

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
package.cpath = here .. "../../lua/?.so;" .. package.cpath
package.path = here .. "?.lua;" .. package.path

local fscache = require("fscache")
local project_config = require("project_config")

-- Work on a copy so the demo never edits the repository.
local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute(("mkdir -p '%s' && cp -R '%sdata/.' '%s'"):format(tmp, here, tmp)))

local function ms(t0)
  return fscache._native.now_ms() - t0
end

local loader = project_config.new({ config_dir = tmp, name = "demo" })

local t0 = fscache._native.now_ms()
local ctx = fscache.block_on(function()
  return loader:load_await()
end, 5000)
local cold = ms(t0)

t0 = fscache._native.now_ms()
local warm_ctx = fscache.block_on(function()
  return loader:load_await()
end, 5000)
local warm = ms(t0)

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
print(assert(fscache.json_encode(ctx.json, { indent = 2 })))
print(
  ("load: cold %.3f ms, warm %.3f ms (warm = %d cache hits, %d reads)"):format(
    cold,
    warm,
    loader.files:stats().hits,
    loader.files:stats().reads
  )
)
assert(fscache.json_encode(warm_ctx.json) == fscache.json_encode(ctx.json), "warm load differs")

-- Edit and persist through the cache, then reload: the change is picked up.
ctx.json.build.jobs = 16
local ok, err = fscache.block_on(function()
  return ctx:save_async()
end, 5000)
assert(ok, err)
local again = fscache.block_on(function()
  return loader:load_await()
end, 5000)
assert(again.json.build.jobs == 16, "the saved edit was not picked up")
print(("after save: build.jobs = %d, persisted in %s"):format(again.json.build.jobs, again.overrides:sub(#tmp + 2)))
print(assert(io.open(again.overrides)):read("*a"))

os.execute(("rm -rf '%s'"):format(tmp))
