-- Control side of the fault-injection preload library (tests/faultshim/faultshim.c).
--
-- The suite runs busted with LD_PRELOAD=<libfaultshim.so> and FSCACHE_FAULT_CTL=<dir>. A spec arms
-- a rule ("pause the first read of files under this prefix"), starts a get, waits until a pool
-- worker is stopped at that point, changes the file system, and releases the worker.

local uv = test_uv

local F = {}

F.ctl = os.getenv("FSCACHE_FAULT_CTL")

-- errno values (Linux) for "fail" rules.
F.EIO = 5
F.ENOSPC = 28

---True when the shim is preloaded and has a control directory.
function F.active()
  return F.ctl ~= nil and (os.getenv("LD_PRELOAD") or ""):find("faultshim", 1, true) ~= nil and uv.fs_stat(F.ctl) ~= nil
end

local function put(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
end

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

---Arms `point` for paths starting with `prefix`; with `fail_errno` the call fails instead of pausing.
function F.arm(point, prefix, fail_errno)
  put(F.ctl .. "/" .. point, prefix .. (fail_errno and ("\nfail " .. fail_errno) or ""))
end

---Standing rule: every first read of a file under `prefix` sleeps `ms` first (a slow disk). The
---shim records the most such files open at once; F.slow_max() reads it.
function F.slow(prefix, ms)
  os.remove(F.ctl .. "/slowread.max")
  put(F.ctl .. "/slowread", prefix .. "\ndelay " .. ms)
end

---The most slow files (F.slow) open at once since F.slow was armed.
function F.slow_max()
  local f = io.open(F.ctl .. "/slowread.max", "rb")
  if not f then
    return 0
  end
  local n = tonumber(f:read("*a"))
  f:close()
  return n or 0
end

---True once a worker is stopped at `point` (or a fail rule fired).
function F.fired(point)
  return exists(F.ctl .. "/" .. point .. ".paused")
end

---Drives the loop until a worker stops at `point`.
function F.wait_paused(point, timeout_ms)
  assert(
    wait_until(function()
      return F.fired(point)
    end, timeout_ms or 5000),
    "no worker stopped at fault point " .. point
  )
end

---Lets the worker stopped at `point` continue, and waits until it has.
function F.release(point)
  put(F.ctl .. "/" .. point .. ".go", "")
  assert(
    wait_until(function()
      return not exists(F.ctl .. "/" .. point .. ".go")
    end, 5000),
    "the worker at " .. point .. " did not continue"
  )
end

---Removes every rule and marker (after each test).
function F.reset()
  local scan = uv.fs_scandir(F.ctl)
  while scan do
    local name = uv.fs_scandir_next(scan)
    if not name then
      break
    end
    os.remove(F.ctl .. "/" .. name)
  end
end

return F
