-- An nvim-nio-style runner for protocol tests, written from docs/runners.md (not nio's
-- code). Leaves yield `(argc, fn, ...)`; the scheduler puts its step at position argc, calls
-- fn, and resumes with what step receives. Leaves made by `wrap` insert a success flag
-- (`cb(true, ...)` / `cb(false, err)`) and raise when it is false. `current_task()` is the task
-- only inside the task's own coroutine. A cancelled task is never resumed again; a late result
-- is dropped. Registered as package.loaded.nio, where fscache's detection looks for it.

local unpack = table.unpack or unpack
local function pack(...)
  return { n = select("#", ...), ... }
end

local M = {}
local tasks = {}

-- Both coroutine.running conventions (5.1: nil on main; 5.2+: (main, true)).
local function current_non_main_co()
  local co, is_main = coroutine.running()
  if co == nil or is_main then
    return nil
  end
  return co
end

---Runs func as a task; cb(true, ...) on success, cb(false, err) on failure or cancel.
function M.run(func, cb)
  local co = coroutine.create(func)
  local cancelled = false
  local step
  local task = { co = co }

  local function close_task(result, err)
    if not tasks[co] then
      return
    end
    tasks[co] = nil
    if err then
      if cb then
        cb(false, err)
      elseif not cancelled then
        error("Async task failed without callback: " .. err)
      end
    elseif cb then
      cb(true, unpack(result, 1, result.n))
    end
  end

  function task.cancel()
    if cancelled or coroutine.status(co) == "dead" then
      return
    end
    cancelled = true
    step()
  end

  tasks[co] = task

  step = function(...)
    if cancelled then
      close_task(nil, "Task was cancelled")
      return
    end
    local yielded = pack(coroutine.resume(co, ...))
    if not yielded[1] then
      close_task(nil, debug.traceback(co, tostring(yielded[2])))
      return
    end
    if coroutine.status(co) == "dead" then
      close_task(pack(unpack(yielded, 2, yielded.n)))
      return
    end
    local nargs, fn = yielded[2], yielded[3]
    if type(fn) ~= "function" then
      error(("Async internal error: expected function, got %s"):format(type(fn)))
    end
    local args = { unpack(yielded, 4, yielded.n) }
    args[nargs] = step
    fn(unpack(args, 1, nargs))
  end

  step()
  return task
end

---The task whose coroutine is running, or nil.
function M.current_task()
  local co = current_non_main_co()
  if not co then
    return nil
  end
  return tasks[co]
end

---A leaf for a callback function whose callback is argument argc (success flag protocol).
function M.wrap(func, argc)
  local protected = function(...)
    local args = pack(...)
    local cb = args[argc]
    args[argc] = function(...)
      cb(true, ...)
    end
    local ok, err = pcall(function()
      return func(unpack(args, 1, argc))
    end)
    if not ok then
      cb(false, err)
    end
  end
  return function(...)
    if not current_non_main_co() then
      error("Cannot call async function from non-async context")
    end
    local ret = pack(coroutine.yield(argc, protected, ...))
    if not ret[1] then
      error(("Wrapped function failed: %s"):format(tostring(ret[2])))
    end
    return unpack(ret, 2, ret.n)
  end
end

function M.install()
  package.loaded["nio"] = M
end

function M.uninstall()
  if package.loaded["nio"] == M then
    package.loaded["nio"] = nil
  end
end

---Test harness: runs fn as a task; done(...) gets its results, fail(err) its error.
function M.start(fn, done, fail)
  return M.run(fn, function(ok, ...)
    if ok then
      done(...)
    elseif fail then
      fail(...)
    end
  end)
end

return M
