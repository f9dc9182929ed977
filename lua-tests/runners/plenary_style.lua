-- A plenary.nvim-style runner for protocol tests, written from docs/runners.md (not
-- plenary's code). Leaves yield `(fn, argc, ...)`; the runner calls fn with its step callback
-- rotated into position argc and resumes with whatever step receives (no success flag).
-- Errors are raised in whichever stack called step; run's callback is not called on error.
-- plenary has no context detection, so nothing is registered in package.loaded.

local unpack = table.unpack or unpack
local function pack(...)
  return { n = select("#", ...), ... }
end

local M = { leaf_calls = 0 }

local function execute(async_function, callback, ...)
  local co = coroutine.create(async_function)
  local step
  step = function(...)
    local ret = pack(coroutine.resume(co, ...))
    if not ret[1] then
      error(string.format("The coroutine failed with this message: %s", tostring(ret[2])))
    end
    if coroutine.status(co) == "dead" then
      if callback then
        callback(unpack(ret, 2, ret.n))
      end
      return
    end
    local fn, argc = ret[2], ret[3]
    assert(type(fn) == "function", "type error :: expected func")
    M.leaf_calls = M.leaf_calls + 1
    local args = { unpack(ret, 4, ret.n) }
    args[argc] = step -- missing arguments stay nil, extra ones are dropped by unpack below
    fn(unpack(args, 1, argc))
  end
  step(...)
  return co
end

---`a.run(fn, cb)`: runs fn in a new coroutine; cb gets its results.
function M.run(fn, cb)
  return execute(fn, cb)
end

---`a.void(fn)`: a function that starts fn in a new coroutine with its arguments.
function M.void(fn)
  return function(...)
    return execute(fn, nil, ...)
  end
end

---`a.wrap(fn, argc)`: a leaf. Exactly argc arguments means "callback given": call directly.
function M.wrap(fn, argc)
  return function(...)
    if select("#", ...) == argc then
      return fn(...)
    end
    return coroutine.yield(fn, argc, ...)
  end
end

---Test harness: runs fn under `run`; done(...) gets its results.
function M.start(fn, done)
  return M.run(fn, done)
end

return M
