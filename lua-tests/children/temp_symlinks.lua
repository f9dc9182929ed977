-- Child: plants symlinks to DIR/victim at the temp names its own next COUNT writes of DIR/target
-- would use (.target.fscache-<pid>-<n>.tmp, n = 0..COUNT-1: the counter starts at 0 in a fresh
-- process), then writes DIR/target once and prints the result.
-- Usage: temp_symlinks.lua DIR COUNT
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local uv = require("luv")
local fscache = require("fscache")
local dir, count = arg[1], tonumber(arg[2])
local pid = math.floor(uv.os_getpid()) -- luv for Lua 5.4 returns a float
for n = 0, count - 1 do
  assert(uv.fs_symlink(dir .. "/victim", ("%s/.target.fscache-%d-%d.tmp"):format(dir, pid, n)))
end
local files = fscache.FileCache.new()
local ok, msg, code = files:write_sync(dir .. "/target", { content = "written by fscache" })
print("ok=" .. tostring(ok))
print("code=" .. tostring(code))
print("msg=" .. tostring(msg))
print(("pid=%d"):format(pid))
