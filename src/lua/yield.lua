-- fscache/yield.lua: may the running code suspend here? A leaf asks before it yields, so a call
-- from plain code, or from a place no coroutine can yield through, is a clear Lua error that
-- names the caller and the callback / blocking alternatives, not a confusing failure later.

local M = {}

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

-- Raises msg blaming the first caller outside fscache's own chunks (tail calls into a leaf
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

M.can_yield = can_yield

---Raises the error for a leaf `name` that may not suspend here: outside any coroutine, or at a
---boundary no yield crosses. The message names the alternatives (`cb_name` takes a callback,
---`sync_name` blocks). A leaf checks `coroutine.running()` and `can_yield()` itself (the hot
---path) and calls this only when one fails.
---@param name string
---@param cb_name string
---@param sync_name string
function M.refuse(name, cb_name, sync_name)
  local co, ismain = coroutine.running()
  if co == nil or ismain then
    blame(
      (
        "fscache: %s must be called inside a coroutine (for example one started by fscache.run); "
        .. "from plain code use %s(..., callback) or %s(...)"
      ):format(name, cb_name, sync_name)
    )
  end
  if not can_yield() then
    blame(
      (
        "fscache: %s cannot yield here (C-call boundary: inside pcall/xpcall on PUC Lua 5.1, "
        .. "a table.sort comparator, a gsub callback or a metamethod); use %s(..., callback) or %s(...)"
      ):format(name, cb_name, sync_name)
    )
  end
end

return M
