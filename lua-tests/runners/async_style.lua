-- A vim.async / async.nvim-style runner for protocol tests, written from docs/runners.md
-- (not async.nvim's code). `await` checks it runs in a task ("Not in async context"), then
-- yields a private yield marker plus an awaitable; the task calls `awaitable(callback)` with
-- `callback(err, ...)` (error slot first) and resumes its thread with a private resume marker.
-- A yield without the marker fails the task ("Unexpected coroutine.yield()"); a resume without it
-- raises "Unexpected coroutine.resume()". An awaitable may return a closable; `task:close()`
-- closes it and the task finishes with "closed". Registered as package.loaded.async.

local unpack = table.unpack or unpack
local function pack(...)
  return { n = select("#", ...), ... }
end

local M = {}
local yield_marker, resume_marker = {}, {}
local threads = setmetatable({}, { __mode = "k" })

local function running()
  local co = coroutine.running()
  local task = co and threads[co]
  if task and not task.done then
    return task
  end
end

local function check_yield(marker, err, ...)
  if marker ~= resume_marker then
    error("Unexpected coroutine.resume()", 0)
  elseif err ~= nil then
    error(err, 0)
  end
  return ...
end

local Task = {}
Task.__index = Task

function Task:_finish(ok, ...)
  if self.done then
    return
  end
  self.done = true
  threads[self.thread] = nil
  if ok then
    self.result = pack(...)
  else
    self.err = (...)
  end
  if self.on_complete then
    if ok then
      self.on_complete(nil, ...)
    else
      self.on_complete(self.err)
    end
  end
end

function Task:_resume(...)
  if self.done or coroutine.status(self.thread) == "dead" then
    return
  end
  local r = pack(coroutine.resume(self.thread, resume_marker, ...))
  if coroutine.status(self.thread) == "dead" then
    return self:_finish(unpack(r, 1, r.n))
  end
  local marker, awaitable = r[2], r[3]
  if marker ~= yield_marker or type(awaitable) ~= "function" then
    return self:_finish(false, "Unexpected coroutine.yield()")
  end
  local settled = false
  local ok, closable = pcall(awaitable, function(...)
    if settled then
      return
    end
    settled = true
    self.awaiting = nil
    return self:_resume(...)
  end)
  if not ok then
    settled = true
    return self:_resume(closable)
  end
  if not settled and type(closable) == "table" and type(closable.close) == "function" then
    self.awaiting = closable
    self.settle = function()
      settled = true
    end
  end
end

---Closes the task: a closable it waits on is closed first, then it finishes with "closed".
function Task:close()
  if self.done or self.closing then
    return
  end
  self.closing = true
  local awaiting = self.awaiting
  self.awaiting = nil
  if awaiting then
    self.settle()
    awaiting:close(function()
      self:_resume("closed")
    end)
  elseif coroutine.status(self.thread) == "suspended" then
    self:_resume("closed")
  end
end

---Starts func(...) as a task.
function M.run(func, ...)
  local args = pack(...)
  local task = setmetatable({ done = false }, Task)
  task.thread = coroutine.create(function(marker, err)
    check_yield(marker, err)
    return func(unpack(args, 1, args.n))
  end)
  threads[task.thread] = task
  task:_resume()
  return task
end

-- await(fn) or await(argc, fn, ...): fn's callback (at argc) gets the results; the task's
-- callback gets them with a nil error slot in front.
local function to_awaitable(a, ...)
  if type(a) == "function" then
    return to_awaitable(1, a)
  end
  local argc, fn = a, ...
  local args = pack(select(2, ...))
  return function(callback)
    args[argc] = function(...)
      callback(nil, ...)
    end
    return fn(unpack(args, 1, math.max(args.n, argc)))
  end
end

function M.await(...)
  assert(running(), "Not in async context")
  return check_yield(coroutine.yield(yield_marker, to_awaitable(...)))
end

function M.pawait(...)
  return pcall(M.await, ...)
end

---Registers as package.loaded[name] (default "async", async.nvim's name; "vim.async" is core's).
function M.install(name)
  M.installed_as = name or "async"
  package.loaded[M.installed_as] = M
end

function M.uninstall()
  local name = M.installed_as or "async"
  if package.loaded[name] == M then
    package.loaded[name] = nil
  end
end

---Test harness: runs fn as a task; done(...) gets its results, fail(err) its error.
function M.start(fn, done, fail)
  local task = setmetatable({ done = false }, Task)
  task.on_complete = function(err, ...)
    if err ~= nil then
      if fail then
        fail(err)
      end
    else
      done(...)
    end
  end
  task.thread = coroutine.create(function(marker, err)
    check_yield(marker, err)
    return fn()
  end)
  threads[task.thread] = task
  task:_resume()
  return task
end

return M
