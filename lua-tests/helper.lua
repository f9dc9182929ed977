-- Busted helper, loaded before every spec under LuaJIT and under Neovim (`nvim -l`).
-- Loads the library under test, attaches fscache to a luv loop outside Neovim, and provides
-- loop-driving and temp-dir helpers.
--
-- By default that is ./lua/fscache.so, found through the repo's loader lua/fscache/init.lua
-- (busted's lpath has lua/?/init.lua). FSCACHE_LIB_DIR=<dir> tests <dir>/fscache.so instead (a
-- luarocks tree, build/): it is preloaded from there, so the repo's loader cannot substitute
-- ./lua/fscache.so for it.

local libdir = os.getenv("FSCACHE_LIB_DIR")
if libdir then
  _G.fscache_lib_path = libdir .. "/fscache.so"
  package.cpath = libdir .. "/?.so;" .. package.cpath
  package.preload.fscache = function(...)
    return assert(package.loadlib(_G.fscache_lib_path, "luaopen_fscache"))(...)
  end
else
  _G.fscache_lib_path = "./lua/fscache.so"
  package.cpath = "./lua/?.so;" .. package.cpath
end

local fscache = require("fscache")
local uv = (vim and (vim.uv or vim.loop)) or require("luv")
_G.test_uv = uv
_G.in_nvim = vim ~= nil

if not vim then
  fscache.attach(uv)
end

-- Runs the event loop until pred() is true or timeout_ms passes; returns pred().
function _G.wait_until(pred, timeout_ms)
  timeout_ms = timeout_ms or 5000
  if vim then
    return vim.wait(timeout_ms, pred, 1) and true or false
  end
  uv.update_time()
  local deadline = uv.now() + timeout_ms
  local timer = uv.new_timer()
  timer:start(2, 2, function() end)
  while not pred() and uv.now() < deadline do
    uv.run("once")
    uv.update_time()
  end
  timer:stop()
  timer:close()
  uv.run("nowait")
  return pred() and true or false
end

-- Starts fn with start(fn, on_done, on_error) (fscache.run, or a runner's start), drives the loop
-- until it finishes (asserted within timeout_ms, message `what`); returns its results packed (with
-- their count in n) and its error.
function _G.run_settled(start, fn, timeout_ms, what)
  local done, res, err = false, nil, nil
  start(fn, function(...)
    done, res = true, { n = select("#", ...), ... }
  end, function(e)
    done, err = true, e
  end)
  assert(
    wait_until(function()
      return done
    end, timeout_ms or 5000),
    what
  )
  return res, err
end

-- Runs fn in fscache.run, drives the loop until it finishes, returns its results (raises its error).
function _G.run_async(fn, timeout_ms)
  local res, err = run_settled(fscache.run, fn, timeout_ms, "run_async: timed out")
  if err then
    error(err, 0)
  end
  return (table.unpack or unpack)(res, 1, res.n)
end

-- A coroutine body that awaits n leaves calling back synchronously (with 1 for odd i, 0 for
-- even) and returns the sum: constant stack under a runner, or a "stack overflow" without it.
function _G.synchronous_completions(n)
  return function()
    local sum = 0
    for i = 1, n do
      sum = sum + fscache.await(function(cb)
        cb(i % 2)
      end)
    end
    return sum
  end
end

-- A fresh temp directory (removed by rm_rf).
function _G.tmpdir()
  return assert(uv.fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/fscache-spec-XXXXXX"))
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
_G.shell_quote = shell_quote

function _G.rm_rf(path)
  os.execute("rm -rf " .. shell_quote(path))
end

function _G.write_file(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
end

function _G.read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs a shell command, returns (ok, output, exit status). The status is echoed by the shell:
-- LuaJIT's popen close() returns true whatever the command's exit status was.
function _G.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ') 2>&1; echo "__exit=$?"'))
  local out = p:read("*a")
  p:close()
  local status = tonumber(out:match("__exit=(%d+)%s*$"))
  out = out:gsub("__exit=%d+%s*$", "")
  return status == 0, out, status
end

-- Captures errors fscache reports (callback errors, failed coroutines) during fn().
function _G.capture_reports(fn)
  local got = {}
  fscache.set_error_handler(function(msg)
    got[#got + 1] = msg
  end)
  local ok, err = pcall(fn, got)
  fscache.set_error_handler(nil)
  if not ok then
    error(err, 0)
  end
  return got
end

-- Packs its arguments into a table with their count in n (table.pack, also under Lua 5.1).
function _G.pack(...)
  return { n = select("#", ...), ... }
end

-- Sets path's mtime to exactly sec + nsec ns (touch -m -d @sec.nsec); its ctime moves to now.
function _G.set_mtime(path, sec, nsec)
  local ok, out = sh(("touch -m -d @%d.%09d %s"):format(sec, nsec, shell_quote(path)))
  assert(ok, out)
end

-- The names in dir (like `ls -A`: no "." or ".."), sorted. Raises if dir cannot be opened.
function _G.dir_names(dir)
  local out = {}
  local scan = assert(uv.fs_scandir(dir))
  while true do
    local name = uv.fs_scandir_next(scan)
    if not name then
      break
    end
    out[#out + 1] = name
  end
  table.sort(out)
  return out
end

-- Longer than the racy window (50 ms): a cached entry older than this is trusted on identity alone.
local PAST_RACY_WINDOW_MS = 120

-- Sleeps past the racy window, so the next validation is by identity (stat) alone.
function _G.sleep_past_racy_window()
  uv.sleep(PAST_RACY_WINDOW_MS)
end

-- Calls obj:method(..., cb), waits (5 s at most, asserted) for cb and returns cb's arguments
-- packed (with their count in n). Nil arguments are passed through as given.
function _G.callback_results(obj, method, ...)
  local args = pack(...)
  local got
  args.n = args.n + 1
  args[args.n] = function(...)
    got = pack(...)
  end
  obj[method](obj, (table.unpack or unpack)(args, 1, args.n))
  assert(
    wait_until(function()
      return got ~= nil
    end),
    method .. ": the callback was not called within 5 s"
  )
  return got
end
