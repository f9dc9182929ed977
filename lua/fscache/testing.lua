-- fscache/testing.lua: busted helpers for plugins that use fscache.
--
--   local t = require("fscache.testing")
--   describe("my plugin", function()
--     t.it("reads the config", function()
--       local entry = assert(files:get_async("config.json")) -- awaited directly
--     end)
--   end)
--
-- `it` registers a test with the harness running the spec (busted's `it`, from
-- `require("busted")`, or the global `it` of plenary's harness) whose body runs in a coroutine
-- driven to completion: by vim.wait inside Neovim, else by the luv loop (fscache attaches to luv
-- when it is installed and fscache is not attached yet), else by fscache's own blocking wait. The body's error fails the test with its traceback; a body still
-- running after the time-out fails it with a message naming the time-out.

local fscache = require("fscache")

local M = {}

---Default time-out of a test body in milliseconds (5000, or $FSCACHE_TEST_TIMEOUT).
M.timeout_ms = tonumber(os.getenv("FSCACHE_TEST_TIMEOUT") or "") or 5000

local in_nvim = type(vim) == "table" and type(vim.wait) == "function"

-- Drives the host loop until done() is true or timeout_ms passes.
local function wait_until(done, timeout_ms)
  if in_nvim then
    vim.wait(timeout_ms, done, 1)
    return
  end
  local native = fscache._native
  if not fscache.attached() then
    -- outside Neovim: attach to luv when it is installed, so callback APIs (timers, fs) awaited
    -- with fscache.await run too; else fscache's own blocking wait drives its results
    local ok, luv = pcall(require, "luv")
    if ok and type(luv) == "table" then
      fscache.attach(luv)
    end
  end
  local uv = package.loaded.luv
  if uv and fscache.attached() then
    -- fscache's completions arrive through the luv loop; other callbacks (timers) run too
    local timer = uv.new_timer()
    local expired = false
    timer:start(timeout_ms, 0, function()
      expired = true
    end)
    while not done() and not expired do
      uv.run("once")
    end
    timer:stop()
    timer:close()
    -- run the close callbacks now (of this timer and of handles the body closed): luv under
    -- Lua 5.4 crashes at exit when a closed handle's callback never ran
    uv.run("nowait")
    return
  end
  local deadline = native.now_ms() + timeout_ms
  while not done() do
    local left = deadline - native.now_ms()
    if left <= 0 then
      return
    end
    if native.wait(left) then
      fscache.dispatch()
    end
  end
end

local function check_timeout(timeout_ms, fname, argn)
  if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms < 0 or timeout_ms ~= timeout_ms) then
    error(
      ("bad argument #%d to '%s' (timeout_ms: non-negative number expected, got %s)"):format(
        argn,
        fname,
        type(timeout_ms) == "number" and tostring(timeout_ms) or type(timeout_ms)
      ),
      3
    )
  end
end

---Runs `fn` in a coroutine (the *_async methods may be called directly) and drives it to its
---end; raises its error with the coroutine's traceback, or a time-out error.
---@param fn async fun()
---@param timeout_ms? number default M.timeout_ms
function M.run(fn, timeout_ms)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'run' (function expected, got " .. type(fn) .. ")", 2)
  end
  check_timeout(timeout_ms, "run", 2)
  timeout_ms = timeout_ms or M.timeout_ms
  local finished, failure = false, nil
  fscache.run(fn, function()
    finished = true
  end, function(err)
    finished, failure = true, err
  end)
  if not finished then
    wait_until(function()
      return finished
    end, timeout_ms)
  end
  if not finished then
    error(
      (
        "fscache.testing: the test body did not finish within its time-out of %s ms"
        .. " (pass a larger timeout_ms, or set FSCACHE_TEST_TIMEOUT)"
      ):format(tostring(timeout_ms)),
      0
    )
  end
  if failure ~= nil then
    error(failure, 0)
  end
end

---The test function for any harness's `it`: `it("...", t.wrap(function() ... end))`.
---@param fn async fun()
---@param timeout_ms? number
---@return fun()
function M.wrap(fn, timeout_ms)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'wrap' (function expected, got " .. type(fn) .. ")", 2)
  end
  check_timeout(timeout_ms, "wrap", 2)
  return function()
    M.run(fn, timeout_ms)
  end
end

-- The `it` of the harness running the specs: plenary's global, else busted's API.
local function harness_it()
  local it = rawget(_G, "it")
  if type(it) == "function" then
    return it
  end
  local ok, busted = pcall(require, "busted")
  if ok and type(busted) == "table" and type(busted.it) == "function" then
    return busted.it
  end
  error("fscache.testing.it: no test harness here (run the spec with busted or plenary's harness)", 3)
end

---Registers a test whose body runs in a coroutine driven to completion.
---@param description string
---@param fn async fun()
---@param timeout_ms? number default M.timeout_ms (5000)
function M.it(description, fn, timeout_ms)
  if type(description) ~= "string" then
    error("bad argument #1 to 'it' (string expected, got " .. type(description) .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'it' (function expected, got " .. type(fn) .. ")", 2)
  end
  check_timeout(timeout_ms, "it", 3)
  harness_it()(description, function()
    M.run(fn, timeout_ms)
  end)
end

return M
