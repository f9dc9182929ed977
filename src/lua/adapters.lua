-- fscache/adapters.lua: the adapter registry and the generic fallback. A leaf running in a
-- coroutine that fscache.run did not start asks each registered adapter in turn whether its
-- runner drives the coroutine (runners.lua registers nio, coop and vim.async); when none
-- claims it, the fallback serves plenary, vim._async, bare coroutines and polling drivers.
-- docs/runners.md describes each protocol and how it is recognised.

local shared, base = ...

local unpack = table.unpack or unpack
local pack, report = base.pack, base.report
local yield, resume, status = coroutine.yield, coroutine.resume, coroutine.status

local M = {}

-- Private resume token: a resume that does not carry it is spurious and ignored.
shared.token = shared.token or {}
local TOKEN = shared.token

-- { name, fn } in the order they are tried; shared across re-require.
shared.adapters = shared.adapters or {}
local adapters = shared.adapters

---Registers a runner adapter, tried in order before the generic fallback. `fn(co, start, native)`
---returns false when `co` is not driven by its runner; otherwise it waits for `start`'s result
---(through `M.begin(start, on_result, native)`) and returns `true, results...`. An adapter
---whose operation completes before it would yield returns the results without yielding.
---@param name string
---@param fn fun(co: thread, start: fun(cb: function): any, native: any): boolean, ...
function M.add_adapter(name, fn)
  for i, a in ipairs(adapters) do
    if a.name == name then
      adapters[i] = { name = name, fn = fn }
      return
    end
  end
  adapters[#adapters + 1] = { name = name, fn = fn }
end

---Starts an operation whose callback can be withdrawn. `start(cb)` begins it; when `native` is
---given, start returns the waiter id for `native:cancel(id)` (a cache userdata), otherwise what
---it returns is ignored. `on_result(...)` runs at most once. Returns `cancel()`: after it, a late
---result is dropped, the callback and everything it holds (coroutine, runner state) are
---released, and the native waiter is removed. `cancel()` returns false when the result had
---already arrived.
---@param start fun(cb: function): any
---@param on_result function
---@param native? { cancel: fun(self, id: integer): boolean }
---@return fun(): boolean cancel
function M.begin(start, on_result, native)
  local armed = true
  local id = start(function(...)
    if not armed then
      return
    end
    armed = false
    local f = on_result
    on_result = nil
    return f(...)
  end)
  return function()
    if not armed then
      return false
    end
    armed = false
    on_result = nil
    if native ~= nil and id ~= nil then
      native:cancel(id)
    end
    return true
  end
end

-- The fallback: plenary / vim._async shape, plus self-resume for drivers that ignore what is
-- yielded. The operation starts BEFORE the yield, so a result that arrives at once is returned
-- without yielding, and a driver that never calls the yielded function (coroutine.wrap,
-- LSP-handler style, a polling loop) still gets its result; resumes that do not carry the
-- private TOKEN are spurious and answered by yielding again.
local function fallback(co, start)
  local runner_cb, yielded, early
  start(function(...)
    if not yielded then
      early = pack(...)
      return
    end
    if runner_cb then
      return runner_cb(TOKEN, ...)
    end
    if status(co) == "suspended" then
      local ok, err = resume(co, TOKEN, ...)
      if not ok then
        report("error in coroutine resumed by fscache: " .. debug.traceback(co, tostring(err)))
      end
    end
    -- dead: the coroutine ended (or was closed) meanwhile; the result has no taker
  end)
  if early then
    return unpack(early, 1, early.n)
  end
  yielded = true
  local function register(cb)
    runner_cb = cb
  end
  while true do
    local r = pack(yield(register, 1))
    if r[1] == TOKEN then
      return unpack(r, 2, r.n)
    end
    -- anything else is a spurious resume: yield again until the real result arrives
  end
end

-- Tries adapters i, i+1, ... then the fallback, without allocating per adapter.
local try_from
local function claimed_or_next(i, co, start, native, claimed, ...)
  if claimed then
    return ...
  end
  return try_from(i + 1, co, start, native)
end
try_from = function(i, co, start, native)
  local a = adapters[i]
  if a == nil then
    return fallback(co, start)
  end
  return claimed_or_next(i, co, start, native, a.fn(co, start, native))
end

---`try_from(1, co, start, native)` waits for `start`'s result in the running coroutine `co`
---under whichever runner claims it (adapters from the i-th on), or the fallback.
M.try_from = try_from

return M
