-- Child: runs file operations through every API shape and prints one line per call:
--   <shape>.<op>=ok <detail>   or   <shape>.<op>=err <code> <message>
-- (backslash, newline and NUL escaped as \\, \n and \0: see escape() in permissions_spec).
-- Shapes: sync (get_sync / write_sync), cb (get / write with a callback), async (*_async under
-- fscache.run). Usage: io_probe.lua read PATH | list PATH | write PATH CONTENT|@FILE
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local uv = require("luv")
fscache.attach(uv)
local op, path, content = arg[1], arg[2], arg[3]
if content and content:sub(1, 1) == "@" then -- "@FILE": the content is FILE's bytes
  local f = assert(io.open(content:sub(2), "rb"))
  content = f:read("*a")
  f:close()
end

local files = fscache.FileCache.new()
local dirs = fscache.DirectoryCache.new()

-- A NUL byte in a pattern: "%z" in Lua 5.1 / LuaJIT, a literal "\0" from 5.2 on.
local NUL = _VERSION == "Lua 5.1" and "%z" or "\0"

local function show(shape, ok, b, c)
  local line
  if ok == nil then
    line = ("err %s %s"):format(tostring(c), tostring(b))
  elseif op == "read" then
    line = "ok " .. ok.content
  elseif op == "list" then
    local names = {}
    for _, e in ipairs(ok.entries) do
      names[#names + 1] = e.name
    end
    line = "ok " .. table.concat(names, ",")
  else
    line = "ok " .. tostring(ok)
  end
  -- One line per answer: newlines and NUL bytes escaped (PUC Lua 5.1's print stops at a NUL).
  line = line:gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub(NUL, "\\0")
  io.stdout:write(shape, ".", op, "=", line, "\n")
  io.stdout:flush()
end

local calls = {
  read = {
    sync = function()
      return files:get_sync(path)
    end,
    cb = function(cb)
      files:get(path, cb)
    end,
    async = function()
      return files:get_async(path)
    end,
  },
  list = {
    sync = function()
      return dirs:get_sync(path)
    end,
    cb = function(cb)
      dirs:get(path, cb)
    end,
    async = function()
      return dirs:get_async(path)
    end,
  },
  write = {
    sync = function()
      return files:write_sync(path, { content = content })
    end,
    cb = function(cb)
      files:write(path, { content = content }, cb)
    end,
    async = function()
      return files:write_async(path, { content = content })
    end,
  },
}
local c = assert(calls[op], "unknown op " .. tostring(op))

files:clear_all()
dirs:clear_all()
show("sync", c.sync())
files:clear_all()
dirs:clear_all()
local got
c.cb(function(...)
  got = { ... }
end)
while not got do
  uv.run("once")
end
show("cb", got[1], got[2], got[3])
files:clear_all()
dirs:clear_all()
show("async", fscache.block_on(c.async, 10000))
print("done=1")
