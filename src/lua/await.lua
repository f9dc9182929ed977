-- fscache/await.lua: the yielding leaf shared by every *_async method and fscache.await, and the
-- one table the other chunks (runners, loop, caches, init) take the runtime from. The pieces
-- live in their own chunks: report.lua (errors nobody can take), deliver.lua (how Rust calls
-- callbacks), yield.lua (may this code suspend?), adapters.lua (which runner drives this
-- coroutine), run.lua and block_on.lua (fscache's own runner). docs/runners.md has the protocols.

local base, deliver, yield, adapters, runner, block_on = ...

local own = runner.own
local can_yield, refuse = yield.can_yield, yield.refuse
local yield_co = coroutine.yield
local try_from = adapters.try_from

local M = {
  in_nvim = base.in_nvim,
  pack = base.pack,
  is_callable = base.is_callable,
  report = base.report,
  set_error_handler = base.set_error_handler,
  deliver = deliver,
  pcall_yields = yield.pcall_yields,
  add_adapter = adapters.add_adapter,
  begin = adapters.begin,
  run = runner.run,
  block_on = block_on,
}

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
  local co, ismain = coroutine.running() -- looked up per call: tests swap in either convention
  if co == nil or ismain or not can_yield() then
    refuse(name, cb_name, sync_name)
  end
  -- fscache.run: it calls start(resume) and resumes with the results.
  if own[co] then
    return yield_co(start, 1)
  end
  -- runners that must be detected (nio, coop, vim.async), then the fallback.
  return try_from(1, co, start, native)
end

return M
