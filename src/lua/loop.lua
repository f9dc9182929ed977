-- fscache/loop.lua: wiring the wake-up descriptor into a luv loop (vim.uv in Neovim).
--
-- The poll callback runs as a fast event in Neovim; there it only resets the descriptor and
-- schedules dispatch with vim.schedule, so continuations may call vim.api. Elsewhere it
-- dispatches directly. Dispatch works in time slices: leftovers re-arm the descriptor, so the
-- loop runs its timers between slices.

local native, await, shared = ...

local M = {}

local function run_dispatch()
  shared.scheduled = false
  local ok, err = pcall(native.dispatch)
  if not ok then
    await.report("dispatch failed: " .. tostring(err))
  end
end

---Delivers waiting results now (for hosts that watch `fscache.fd()` themselves).
---@param budget_ms? number time budget; default the configured slice
---@return integer delivered
function M.dispatch(budget_ms)
  return native.dispatch(budget_ms)
end

---Watches the wake-up descriptor from a luv loop. Idempotent; Neovim attaches by itself.
---@param uv? table luv module (default vim.uv, vim.loop or require("luv"))
---@return userdata poll the uv_poll_t handle
function M.attach(uv)
  if shared.poll and not shared.poll:is_closing() then
    return shared.poll
  end
  uv = uv or (type(vim) == "table" and (vim.uv or vim.loop)) or require("luv")
  if type(uv) ~= "table" or type(uv.new_poll) ~= "function" then
    error("bad argument #1 to 'attach' (luv module expected)", 2)
  end
  local poll = assert(uv.new_poll(native.fd()))
  local schedule = await.in_nvim and vim.schedule or nil
  poll:start("r", function(err)
    if err then
      await.report("wake-up poll failed: " .. tostring(err))
      return
    end
    if schedule then
      native.reset_wake()
      if not shared.scheduled then
        shared.scheduled = true
        schedule(run_dispatch)
      end
    else
      run_dispatch()
    end
  end)
  shared.poll = poll
  return poll
end

---Stops watching (closes the poll handle before the descriptor can ever close). Public as
---`fscache.detach`.
function M.close_poll()
  local poll = shared.poll
  shared.poll = nil
  if poll and not poll:is_closing() then
    poll:stop()
    poll:close()
  end
end

---True when a poll handle is watching the descriptor.
function M.attached()
  return shared.poll ~= nil and not shared.poll:is_closing()
end

return M
