-- fscache/report.lua: where an error goes when no caller can take it (a failing callback, a
-- failed coroutine nobody handles), plus the three small helpers every other runtime chunk
-- uses (in_nvim, pack, is_callable).

local shared = ...

local M = {}

M.in_nvim = type(vim) == "table" and type(vim.schedule) == "function"

---Packs varargs with their count (`n`), so trailing nils survive.
function M.pack(...)
  return { n = select("#", ...), ... }
end

---True for functions and for tables or userdata with a `__call` metamethod.
---@param f any
---@return boolean
function M.is_callable(f)
  if type(f) == "function" then
    return true
  end
  local mt = getmetatable(f)
  return type(mt) == "table" and type(mt.__call) == "function"
end

---Reports an error that has no caller to go to: to the handler set with set_error_handler,
---else to vim.notify (Neovim) or stderr.
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
  if M.in_nvim then
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

return M
