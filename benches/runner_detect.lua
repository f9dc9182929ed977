-- What the *_async leaf costs per suspension under each runner, without I/O: the operation's
-- callback is fired by a driver loop right after the coroutine yields, so one iteration is
-- leaf + detection + yield + the runner's resume. Baseline, in the same run: a bare
-- coroutine.yield()/coroutine.resume() round trip. Medians of 9 rounds of 100,000.
--   make build && taskset -c 0 luajit benches/runner_detect.lua
--   taskset -c 0 nvim -l benches/runner_detect.lua
--   FSCACHE_LIB_DIR=build/lua54 taskset -c 0 lua5.4 benches/runner_detect.lua   (likewise 5.1)
package.cpath = (os.getenv("FSCACHE_LIB_DIR") or "./lua") .. "/?.so;" .. package.cpath
package.path = "lua-tests/?.lua;" .. package.path
_G.test_uv = {} -- the test drivers module wants it; unused here
local fscache = require("fscache")
local await = fscache._await
local clock = os.clock
local N = 100000

local pending
local function start(cb)
  pending = cb
end

-- Runs `launch(body)` (which starts body in some runner) and fires callbacks until done.
local function drive(launch)
  local done = false
  local t0 = clock()
  launch(function()
    for _ = 1, N do
      await.await(start, "get_async", "get", "get_sync")
    end
    done = true
  end)
  while not done do
    local cb = pending
    pending = nil
    cb("value")
  end
  return (clock() - t0) * 1e9 / N
end

local function median(f)
  local t = {}
  for r = 1, 9 do
    t[r] = f()
  end
  table.sort(t)
  return t[5]
end

local rows = {}
rows[1] = {
  "baseline: bare yield/resume round trip",
  median(function()
    local co = coroutine.create(function()
      for _ = 1, N do
        coroutine.yield()
      end
    end)
    local t0 = clock()
    while coroutine.resume(co) and coroutine.status(co) ~= "dead" do
    end
    return (clock() - t0) * 1e9 / N
  end),
}

local function row(name, launch, install, uninstall)
  if install then
    install()
  end
  rows[#rows + 1] = { name, median(function()
    return drive(launch)
  end) }
  if uninstall then
    uninstall()
  end
end

local nio = require("runners.nio_style")
local coop = require("runners.coop_style")
local async = require("runners.async_style")
local plenary = require("runners.plenary_style")

row("fscache.run (own runner)", function(body)
  fscache.run(body)
end)
row("plenary-style a.run (fallback)", function(body)
  plenary.run(body)
end)
row("bare coroutine.wrap (fallback, self-resume)", function(body)
  coroutine.wrap(body)()
end)
row("nio-style task", function(body)
  nio.run(body)
end, nio.install, nio.uninstall)
row("coop-style task", function(body)
  coop.spawn(body)
end, coop.install, coop.uninstall)
row("vim.async-style task", function(body)
  async.run(body)
end, async.install, async.uninstall)
row("bare coroutine.wrap, async.nvim-style loaded", function(body)
  coroutine.wrap(body)()
end, async.install, async.uninstall)

local base = rows[1][2]
print(("%s, %s"):format(_VERSION, jit and jit.version or "PUC"))
for _, r in ipairs(rows) do
  print(("%-46s %8.0f ns  (%5.1fx baseline)"):format(r[1], r[2], r[2] / base))
end
