-- fscache/run.lua: fscache.run, fscache's own runner. It reads every yield shape the leaves
-- people use produce (plenary `(fn, argc, ...)`, nvim-nio `(argc, fn, ...)`, vim._async `(fn)`),
-- calls the leaf with a one-shot resume callback and resumes the coroutine with what that
-- callback receives. A leaf that calls back before it returns is resumed once it has returned,
-- by a tail call, not by recursion (a trampoline), so any number of synchronous completions in a row run in constant
-- stack. A coroutine ends exactly once, through exactly one of on_done / on_error.

local shared, base = ...

local unpack = table.unpack or unpack
local is_callable, report = base.is_callable, base.report
local resume_co, status = coroutine.resume, coroutine.status

local M = {}

-- Coroutines started by fscache.run (weak keys; shared across re-require). A leaf running in
-- one of them yields `(start, 1)` straight to this runner.
shared.own = shared.own or setmetatable({}, { __mode = "k" })
M.own = shared.own
local own = M.own

local function describe_yield(...)
  local parts = {}
  for i = 1, math.min(select("#", ...), 3) do
    parts[i] = type((select(i, ...)))
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
  local function fail(err)
    local msg = debug.traceback(co, tostring(err))
    if coroutine.close then
      coroutine.close(co) -- 5.4: a coroutine left suspended by a failed leaf closes its variables
    end
    if on_error then
      on_error(msg)
    else
      report("error in fscache.run coroutine: " .. msg)
    end
  end
  -- handle reads what the coroutine yielded from varargs (no table per step: this runs once per
  -- suspension on the hot path) and starts the leaf.
  local step, handle
  handle = function(ok, ...)
    if not ok then
      return fail((...))
    end
    if status(co) == "dead" then
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
          .. describe_yield(...)
          .. "; expected an async leaf: (fn, argc, ...) or (argc, fn, ...)"
      )
    end
    -- This suspension's state, the one upvalue its resume callback adds: 1 while the leaf runs,
    -- 2 once it returned, 0 when answered (later calls are no-ops), or the results packed when
    -- they arrived before the leaf returned. Literals, not named upvalues: this is the hot path.
    local state = 1
    local function resume(...)
      if state == 2 then
        state = 0
        return step(...)
      elseif state == 1 then
        state = { n = select("#", ...), ... }
      end
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
      state = 0 -- a callback the failed leaf still calls must not resume the coroutine
      return fail("fscache.run: the async leaf failed: " .. tostring(err))
    end
    if state == 1 then
      state = 2
      return
    end
    -- Answered before the leaf returned: resume here, in a tail call (constant stack however
    -- many completions in a row are synchronous).
    local r = state
    state = 0
    return handle(resume_co(co, unpack(r, 1, r.n)))
  end
  step = function(...)
    return handle(resume_co(co, ...))
  end
  step()
  return co
end

return M
