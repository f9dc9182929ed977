-- fscache/await.lua: the yielding leaf shared by every *_async method, fscache's own runner
-- (run, block_on), callback delivery and error reporting.
--
-- How a leaf finds out who drives the coroutine it runs in is described in
-- shared/docs/runner-protocols.md; the order below follows it. Adapters for runners that need
-- detection (nvim-nio, coop.nvim, vim.async) are registered by runners.lua through add_adapter.

local native, shared = ...

local unpack = table.unpack or unpack
local M = {}

local function pack(...)
  return { n = select("#", ...), ... }
end
M.pack = pack

local in_nvim = type(vim) == "table" and type(vim.schedule) == "function"
M.in_nvim = in_nvim

-- Coroutines started by fscache.run (weak keys; shared across re-require).
shared.own = shared.own or setmetatable({}, { __mode = "k" })
local own = shared.own

-- Private resume token: a resume that does not carry it is spurious and ignored.
shared.token = shared.token or {}
local TOKEN = shared.token

---Reports an error that has no caller to go to (a failing callback, a failed coroutine).
---@param msg string
function M.report(msg)
  msg = tostring(msg)
  local handler = shared.error_handler
  if handler then
    local ok, err = pcall(handler, msg)
    if ok then
      return
    end
    msg = msg .. "\n(and the error handler failed: " .. tostring(err) .. ")"
  end
  if in_nvim then
    vim.schedule(function()
      vim.notify("fscache: " .. msg, vim.log.levels.ERROR)
    end)
  else
    io.stderr:write("fscache: ", msg, "\n")
  end
end

---Routes reported errors to `fn(message)` instead of stderr / vim.notify (nil restores).
---@param fn fun(msg: string)|nil
function M.set_error_handler(fn)
  if fn ~= nil and type(fn) ~= "function" then
    error("bad argument #1 to 'set_error_handler' (function or nil expected, got " .. type(fn) .. ")", 2)
  end
  shared.error_handler = fn
end

local function traceback(e)
  return debug.traceback(tostring(e), 2)
end

-- deliver(cb, ...): how Rust calls every callback. Errors never escape into the host loop.
local deliver
if jit or _VERSION ~= "Lua 5.1" then
  deliver = function(cb, ...)
    local ok, err = xpcall(cb, traceback, ...)
    if not ok then
      M.report("error in callback: " .. tostring(err))
    end
  end
else -- PUC 5.1: xpcall takes no arguments
  deliver = function(cb, ...)
    local args = pack(...)
    local ok, err = xpcall(function()
      return cb(unpack(args, 1, args.n))
    end, traceback)
    if not ok then
      M.report("error in callback: " .. tostring(err))
    end
  end
end
native.set_deliver(deliver)
M.deliver = deliver

local function is_callable(f)
  if type(f) == "function" then
    return true
  end
  local mt = getmetatable(f)
  return type(mt) == "table" and type(mt.__call) == "function"
end

---The running coroutine, or nil on the main thread. Both `coroutine.running` conventions:
---5.1/LuaJIT return nil on the main thread; 5.2+ (and LuaJIT built with LUA52COMPAT) return
---`(main, true)`.
---@return thread|nil
local function current()
  local co, ismain = coroutine.running()
  if co == nil or ismain then
    return nil
  end
  return co
end

-- True when the running coroutine can yield from here. LuaJIT and 5.2+ say so themselves
-- (false inside table.sort comparators, gsub callbacks, and pcall on 5.1-style hosts).
-- PUC Lua 5.1 has no isyieldable: there a yield fails when a C function (pcall, xpcall,
-- table.sort, string.gsub, ...) sits between the caller and the coroutine's base, and those
-- frames are visible to debug.getinfo. A Lua metamethod is a boundary on 5.1 too but does not
-- show; the yield itself then raises "attempt to yield across metamethod/C-call boundary",
-- and since no pcall can be on the stack (it would have been seen) the coroutine ends there.
local can_yield = coroutine.isyieldable
if can_yield == nil then
  local getinfo = type(debug) == "table" and debug.getinfo or nil
  can_yield = function()
    if getinfo == nil then
      return true
    end
    local level = 2
    while true do
      local info = getinfo(level, "S")
      if info == nil then
        return true
      elseif info.what == "C" then
        return false
      end
      level = level + 1
    end
  end
end

-- True where pcall can yield (LuaJIT, 5.2+): adapters that must probe under pcall need it.
M.pcall_yields = jit ~= nil or _VERSION ~= "Lua 5.1"

-- Adapters for runners that need detection: fn(co, start, native) -> handled, ... (runners.lua).
shared.adapters = shared.adapters or {}
local adapters = shared.adapters

---Registers a runner adapter, tried in order before the generic fallback. `fn(co, start, native)`
---returns false when `co` is not driven by its runner; otherwise it waits for `start`'s result
---(through `M.begin(start, on_result, native)`) and returns `true, results...`.
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

-- Raises msg blaming the first caller outside fscache's own chunks (tail calls into await
-- make a fixed level wrong on some hosts).
local function blame(msg)
  local level = 2
  local getinfo = type(debug) == "table" and debug.getinfo or nil
  while getinfo do
    local info = getinfo(level, "S")
    if info == nil or (info.what ~= "tail" and not info.source:find("^=fscache/")) then
      break
    end
    level = level + 1
  end
  error(msg, level)
end

local function outside_error(name, cb_name, sync_name)
  return (
    "fscache: %s must be called inside a coroutine (for example one started by fscache.run); "
    .. "from plain code use %s(..., callback) or %s(...)"
  ):format(name, cb_name, sync_name)
end

-- (e) plenary / vim._async shape, plus self-resume for drivers that ignore what is yielded.
-- The operation starts BEFORE the yield, so a driver that never calls the yielded function
-- (coroutine.wrap, LSP-handler style, a polling loop) still gets its result; resumes that do
-- not carry the private TOKEN are spurious and answered by yielding again.
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
    if coroutine.status(co) == "suspended" then
      local ok, err = coroutine.resume(co, TOKEN, ...)
      if not ok then
        M.report("error in coroutine resumed by fscache: " .. debug.traceback(co, tostring(err)))
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
    local r = pack(coroutine.yield(register, 1))
    if r[1] == TOKEN then
      return unpack(r, 2, r.n)
    end
    -- anything else is a spurious resume: yield again until the real result arrives
  end
end

-- Tries adapters i, i+1, ... then the fallback, without allocating per adapter.
local try_adapter
local function settle(i, co, start, native, handled, ...)
  if handled then
    return ...
  end
  return try_adapter(i + 1, co, start, native)
end
try_adapter = function(i, co, start, native)
  local a = adapters[i]
  if a == nil then
    return fallback(co, start)
  end
  return settle(i, co, start, native, a.fn(co, start, native))
end

---Suspends the running coroutine until `start`'s callback fires, under whichever runner drives it.
---`start(cb)` begins the operation; `cb(...)` is called later, once, on the main thread. With
---`native` (a cache userdata), start returns its waiter id, so a cancelled task can withdraw it
---with `native:cancel(id)`.
---@param start fun(cb: function): any
---@param name string method name for error messages
---@param cb_name string callback alternative
---@param sync_name string blocking alternative
---@param native? { cancel: fun(self, id: integer): boolean }
function M.await(start, name, cb_name, sync_name, native)
  local co, ismain = coroutine.running()
  if co == nil or ismain then
    blame(outside_error(name, cb_name, sync_name))
  end
  if not can_yield() then
    blame(
      (
        "fscache: %s cannot yield here (C-call boundary: inside pcall/xpcall on PUC Lua 5.1, "
        .. "a table.sort comparator, a gsub callback or a metamethod); use %s(..., callback) or %s(...)"
      ):format(name, cb_name, sync_name)
    )
  end
  -- (a) fscache.run: it calls start(step) and resumes with the results.
  if own[co] then
    return coroutine.yield(start, 1)
  end
  -- (b..d) runners that must be detected (nio, coop, vim.async), then (e).
  return try_adapter(1, co, start, native)
end

local function describe_yield(r)
  local parts = {}
  for i = 2, math.min(r.n, 4) do
    parts[#parts + 1] = type(r[i])
  end
  return "(" .. table.concat(parts, ", ") .. ")"
end

---Starts `fn` in a new coroutine driven by fscache (plenary's `async.run` signature).
---Yields of both tuple shapes are served: plenary `(fn, argc, ...)` and nvim-nio `(argc, fn, ...)`,
---and a single function (vim._async). Errors go to `on_error(msg)` if given, else are reported
---with the coroutine's traceback (stderr, or vim.notify in Neovim). Never swallowed.
---@param fn function
---@param on_done? fun(...)
---@param on_error? fun(err: string)
---@return thread
function M.run(fn, on_done, on_error)
  if not is_callable(fn) then
    error("bad argument #1 to 'run' (function expected, got " .. type(fn) .. ")", 2)
  end
  if on_done ~= nil and not is_callable(on_done) then
    error("bad argument #2 to 'run' (function or nil expected, got " .. type(on_done) .. ")", 2)
  end
  if on_error ~= nil and not is_callable(on_error) then
    error("bad argument #3 to 'run' (function or nil expected, got " .. type(on_error) .. ")", 2)
  end
  local co = coroutine.create(fn)
  own[co] = true
  local function fail(err, with_tb)
    local msg = with_tb and debug.traceback(co, tostring(err)) or tostring(err)
    if on_error then
      on_error(msg)
    else
      M.report("error in fscache.run coroutine: " .. msg)
    end
  end
  -- step resumes the coroutine; handle reads what it yielded from varargs (no table per step:
  -- this runs once per await on the hot path).
  local step, handle
  handle = function(ok, ...)
    if not ok then
      return fail((...), true)
    end
    if coroutine.status(co) == "dead" then
      if on_done then
        on_done(...)
      end
      return
    end
    local a, b = ...
    local leaf, argc
    if type(b) == "number" and is_callable(a) then
      leaf, argc = a, b -- plenary: (fn, argc, ...)
    elseif type(a) == "number" and is_callable(b) then
      leaf, argc = b, a -- nvim-nio: (argc, fn, ...)
    elseif is_callable(a) and select("#", ...) == 1 then
      leaf, argc = a, 1 -- vim._async: (fn)
    else
      return fail(
        "fscache.run: the coroutine yielded "
          .. describe_yield(pack(true, ...))
          .. "; expected an async leaf: (fn, argc, ...) or (argc, fn, ...)",
        true
      )
    end
    local called = false
    local function resume(...)
      if called then
        return
      end
      called = true
      return step(...)
    end
    local ok2, err
    if argc == 1 then
      ok2, err = pcall(leaf, resume)
    else
      local args = { select(3, ...) }
      args[argc] = resume
      ok2, err = pcall(leaf, unpack(args, 1, argc))
    end
    if not ok2 then
      fail("fscache.run: the async leaf failed: " .. tostring(err), true)
    end
  end
  step = function(...)
    return handle(coroutine.resume(co, ...))
  end
  step()
  return co
end

---Runs `fn` in a coroutine and blocks natively (no polling loop) until it returns.
---Returns fn's results; raises fn's error, or "timed out after N ms".
---@param fn function
---@param timeout_ms? number default 10000
function M.block_on(fn, timeout_ms)
  if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms < 0) then
    error(
      "bad argument #2 to 'block_on' (timeout_ms: non-negative number expected, got "
        .. (type(timeout_ms) == "number" and tostring(timeout_ms) or type(timeout_ms))
        .. ")",
      2
    )
  end
  timeout_ms = timeout_ms or 10000
  local done, res
  M.run(fn, function(...)
    done, res = true, pack(true, ...)
  end, function(err)
    done, res = true, { false, err, n = 2 }
  end)
  local deadline = native.now_ms() + timeout_ms
  while not done do
    local left = deadline - native.now_ms()
    if left <= 0 then
      error(("fscache.block_on: timed out after %s ms"):format(tostring(timeout_ms)), 2)
    end
    if native.wait(left) then
      native.dispatch()
    end
  end
  if not res[1] then
    error(res[2], 0)
  end
  return unpack(res, 2, res.n)
end

M.is_callable = is_callable
return M
