-- A coop.nvim-style task module for protocol tests, written from docs/runners.md (not
-- coop's code). Tasks are coroutines resumed only through `resume(task, ...)`, which records the
-- running task in a module-level variable. Leaves yield no values; `pyield()` returns
-- `true, ...` or `false, "cancelled"` after `cancel`, which flags the task and resumes it.
-- Errors stay in the task's future (nothing printed). Registered as package.loaded["coop.task"],
-- where fscache's detection looks for it.

local unpack = table.unpack or unpack
local function pack(...)
  return { n = select("#", ...), ... }
end

local M = { resumes = 0 }
local running_task = nil

---A task for tf; not started.
function M.create(tf)
  local task = { cancelled = false, future = { done = false } }
  task.thread = coroutine.create(function(...)
    local r = pack(tf(...))
    task.future.done = true
    task.future.result = r
  end)
  return setmetatable(task, {
    __index = {
      cancel = function(self)
        return M.cancel(self)
      end,
      resume = function(self, ...)
        return M.resume(self, ...)
      end,
      status = function(self)
        return M.status(self)
      end,
    },
  })
end

---Resumes a suspended task (the only way a task may be resumed).
function M.resume(task, ...)
  if M.status(task) ~= "suspended" then
    error("Tried to resume a task that is not suspended but " .. M.status(task) .. ".", 0)
  end
  M.resumes = M.resumes + 1
  local previous = running_task
  running_task = task
  local r = pack(coroutine.resume(task.thread, ...))
  running_task = previous
  if not r[1] then
    task.future.done = true
    task.future.error = r[2]
  end
  return unpack(r, 1, r.n)
end

---Cancels a suspended task: its pending pyield returns false, "cancelled".
function M.cancel(task)
  local st = M.status(task)
  if st == "dead" then
    return
  end
  if st == "running" or st == "normal" then
    error("You cannot cancel the currently running task.", 0)
  end
  task.cancelled = true
  M.resume(task)
end

---The task being resumed, or nil.
function M.running()
  return running_task
end

---Protected yield: true, ... (the resume arguments) or false, "cancelled".
function M.pyield()
  local args = pack(coroutine.yield())
  local this = running_task
  if not this then
    error("coroutine.yield returned without a running task. Make sure that you use task.resume to resume tasks.", 0)
  end
  if this.cancelled then
    this.cancelled = false
    return false, "cancelled"
  end
  return true, unpack(args, 1, args.n)
end

---Yield that raises "cancelled".
function M.yield()
  local r = pack(M.pyield())
  if not r[1] then
    error(r[2], 0)
  end
  return unpack(r, 2, r.n)
end

function M.status(task)
  return coroutine.status(task.thread)
end

---Creates and starts a task.
function M.spawn(tf, ...)
  local t = M.create(tf)
  M.resume(t, ...)
  return t
end

---`cb_to_tf(f)`: a task function from a callback function whose callback comes FIRST,
---`f(cb, ...)`. A synchronous callback returns at once; otherwise the task yields and the
---callback resumes it through `resume`. A late callback after a cancel is ignored.
function M.cb_to_tf(f)
  return function(...)
    local this = assert(M.running(), "The result of cb_to_tf must be called within a task.")
    local status, ret = "running", nil
    f(function(...)
      if status == "cancelled" then
        return
      end
      status, ret = "done", pack(...)
      if M.status(this) == "suspended" then
        M.resume(this)
      end
    end, ...)
    if status == "running" then
      local ok, err = M.pyield()
      if not ok then
        status = "cancelled"
        error(err, 0)
      end
    end
    return unpack(ret, 1, ret.n)
  end
end

function M.install()
  package.loaded["coop.task"] = M
end

function M.uninstall()
  if package.loaded["coop.task"] == M then
    package.loaded["coop.task"] = nil
  end
end

---Test harness: spawns fn; done(...) gets its results, fail(err) its error.
function M.start(fn, done, fail)
  local t = M.create(fn)
  local future = t.future
  setmetatable(future, {
    __newindex = function(f, k, v)
      rawset(f, k, v)
      if k == "result" then
        done(unpack(v, 1, v.n))
      elseif k == "error" and fail then
        fail(v)
      end
    end,
  })
  M.resume(t)
  return t
end

return M
