-- fscache/runners.lua: adapters that let one *_async leaf serve runners which must be detected
-- (nvim-nio, coop.nvim, vim.async / async.nvim). Registered with await.add_adapter and tried,
-- in this order, after fscache's own runner and before the generic fallback (plenary,
-- vim._async, bare coroutines, polling drivers). docs/runners.md describes each protocol.
--
-- Detection is lazy and safe: each adapter looks its runner up in package.loaded on every call
-- (one table lookup when it is not loaded), never requires anything, and claims the coroutine
-- only when the runner says it owns the *current* coroutine.

local await, shared = ...

local unpack = table.unpack or unpack
local pack = await.pack
local loaded = package.loaded

-- nvim-nio: `nio.current_task()` is the task only inside the task's own coroutine. Its scheduler
-- reads a yield as `(argc, fn, ...)`, calls `fn` with its step at position argc, and resumes with
-- what step receives. A cancelled task is never resumed: step drops the late result itself.
-- nio gives a leaf no cancel hook, so the native waiter is released when the read completes.
await.add_adapter("nio", function(_, start)
  local nio = loaded["nio"]
  if type(nio) ~= "table" then
    return false
  end
  local current_task = nio.current_task
  if type(current_task) ~= "function" or current_task() == nil then
    return false
  end
  local step, early
  await.begin(start, function(...)
    if step then
      return step(...)
    end
    early = pack(...)
  end)
  if early then
    return true, unpack(early, 1, early.n)
  end
  return true,
    coroutine.yield(1, function(s)
      if early then
        return s(unpack(early, 1, early.n))
      end
      step = s
    end)
end)

-- coop.nvim: `running()` is the task whose `task.resume` is on the stack; it owns this coroutine
-- only when its thread is this coroutine (a coroutine.wrap nested in a task is not coop's).
-- Coop's bookkeeping breaks on a raw coroutine.resume, so the result resumes the task through
-- `resume(task)`. A cancel resumes the task with `pyield()` returning `false, "cancelled"`:
-- the request is withdrawn (late result dropped, native waiter released) and the error raised.
local function coop_wait(ct)
  if ct.pyield then
    return ct.pyield()
  end
  -- Older coop: yield() raises "cancelled"; catch it where pcall can yield.
  if await.pcall_yields then
    return pcall(ct.yield)
  end
  return true, ct.yield()
end

await.add_adapter("coop", function(co, start, native)
  local ct = loaded["coop.task"]
  if type(ct) ~= "table" or type(ct.running) ~= "function" or type(ct.resume) ~= "function" then
    return false
  end
  local task = ct.running()
  if type(task) ~= "table" or task.thread ~= co then
    return false
  end
  local done, res = false, nil
  local cancel = await.begin(start, function(...)
    done, res = true, pack(...)
    if coroutine.status(co) == "suspended" then
      ct.resume(task)
    end
  end, native)
  while not done do
    local ok, err = coop_wait(ct)
    if not ok then
      cancel()
      error(err, 0)
    end
    -- resumed without our result (another resume through coop's API): wait again
  end
  return true, unpack(res, 1, res.n)
end)

-- vim.async / async.nvim: private yield/resume markers, and no public "running()". The probe:
-- call its await under pcall. "Not in async context" (raised before it yields) means this
-- coroutine is not an async.nvim task. On PUC Lua 5.1, where pcall cannot yield, a task is
-- recognised by the yield failing instead ("attempt to yield across ... C-call boundary": the
-- context check passed), and await is then called directly. The awaitable returns a closable:
-- Task:close() while waiting withdraws the request and lets the task finish "closed".
-- async.nvim registers a task's thread when it creates it and a thread stays its task until it
-- ends, so the answer is remembered per coroutine (weak keys) and the probe runs once.
-- In a known task the operation starts before the yield: a result that is already there is
-- returned without yielding (the task would otherwise resume the coroutine from inside the
-- callback, one stack level per synchronous completion).
shared.async_task = shared.async_task or setmetatable({}, { __mode = "k" })
local async_task = shared.async_task

local function closable(cancel)
  return {
    close = function(_, done)
      cancel()
      if done then
        done()
      end
    end,
  }
end

local function known_task_result(cancel, ok, ...)
  if ok then
    return ...
  end
  cancel()
  error((...), 0) -- the task was closed, or the operation failed
end

-- Waits in a coroutine known to be a task of `va`.
local function await_in_task(va, start, native)
  local early, target
  local cancel = await.begin(start, function(...)
    if target then
      return target(...)
    end
    early = pack(...)
  end, native)
  if early then
    return unpack(early, 1, early.n)
  end
  local function awaitable(cb)
    if early then -- arrived between the yield and this call
      return cb(unpack(early, 1, early.n))
    end
    target = cb
    return closable(cancel)
  end
  if await.pcall_yields then
    return known_task_result(cancel, pcall(va.await, 1, awaitable))
  end
  return va.await(1, awaitable)
end

await.add_adapter("vim.async", function(co, start, native)
  local known = async_task[co]
  if known == false then
    return false
  end
  local va = loaded["vim.async"] or loaded["async"]
  if va == nil and await.in_nvim then
    va = rawget(vim, "async")
  end
  if type(va) ~= "table" or type(va.await) ~= "function" or va.pawait == nil then
    return false
  end
  if known then
    return true, await_in_task(va, start, native)
  end
  local started = false
  local function awaitable(cb)
    started = true
    return closable(await.begin(start, cb, native))
  end
  local r = pack(pcall(va.await, 1, awaitable))
  if r[1] then
    async_task[co] = true
    return true, unpack(r, 2, r.n)
  end
  if started then
    error(r[2], 0) -- the task was closed, or the operation failed
  end
  local msg = tostring(r[2])
  if msg:find("yield across", 1, true) then
    async_task[co] = true
    return true, va.await(1, awaitable)
  elseif msg:find("async context", 1, true) then
    async_task[co] = false
    return false
  end
  error(r[2], 0) -- e.g. "closed": the task is closing
end)

return true
