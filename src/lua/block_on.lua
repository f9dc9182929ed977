-- fscache/block_on.lua: fscache.block_on, for code that must have a result now (startup,
-- scripts, tests): runs a function under fscache.run and sleeps natively on the wake-up
-- descriptor, dispatching results, until it finishes or the timeout passes.

local native, base, run = ...

local unpack = table.unpack or unpack
local pack = base.pack

---Runs `fn` in a coroutine and blocks natively (no polling loop) until it returns.
---Returns fn's results; raises fn's error, or "timed out after N ms".
---@param fn function
---@param timeout_ms? number default 10000
return function(fn, timeout_ms)
  if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms < 0) then
    error(
      "bad argument #2 to 'block_on' (timeout_ms: non-negative number expected, got "
        .. (type(timeout_ms) == "number" and tostring(timeout_ms) or type(timeout_ms))
        .. ")",
      2
    )
  end
  timeout_ms = timeout_ms or 10000
  local done, res
  run(fn, function(...)
    done, res = true, pack(true, ...)
  end, function(err)
    done, res = true, { false, err, n = 2 }
  end)
  local deadline = native.now_ms() + timeout_ms
  while not done do
    local left = deadline - native.now_ms()
    if left <= 0 then
      error(("fscache.block_on: timed out after %s ms"):format(tostring(timeout_ms)), 2)
    end
    if native.wait(left) then
      native.dispatch()
    end
  end
  if not res[1] then
    error(res[2], 0)
  end
  return unpack(res, 2, res.n)
end
