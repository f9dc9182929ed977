-- fscache/deliver.lua: deliver(cb, ...), the one function Rust calls every user callback
-- through (registered with native.set_deliver; `lua_util::deliver` pushes it per waiter). The
-- callback runs under xpcall: its error is reported with a traceback and never escapes into
-- the host's event loop.

local native, base = ...

local unpack = table.unpack or unpack
local report, pack = base.report, base.pack

local function traceback(e)
  return debug.traceback(tostring(e), 2)
end

local deliver
if jit or _VERSION ~= "Lua 5.1" then
  deliver = function(cb, ...)
    local ok, err = xpcall(cb, traceback, ...)
    if not ok then
      report("error in callback: " .. tostring(err))
    end
  end
else -- PUC 5.1: xpcall passes no arguments
  deliver = function(cb, ...)
    local args = pack(...)
    local ok, err = xpcall(function()
      return cb(unpack(args, 1, args.n))
    end, traceback)
    if not ok then
      report("error in callback: " .. tostring(err))
    end
  end
end
native.set_deliver(deliver)

return deliver
