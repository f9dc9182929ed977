-- Child: accepts writes and exits right away; the writes must still reach the disk.
-- Usage: exit_writes.lua DIR HOW [N]
--   HOW = exit     os.exit(0) right after queueing (the Lua state is not closed: atexit flush)
--         end      return from the main chunk (LuaJIT closes the state; nvim -l exits)
--         slow     like exit, but N writes of 8 MiB each queued behind each other per path
-- Each file DIR/f<i> gets "v<last>" after several writes ("v1", "v2", ...), so a file holding
-- an older version means a coalesced or later write was lost.
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local args = arg or _G.arg
local dir, how, n = args[1], args[2], tonumber(args[3] or "20")
local files = fscache.FileCache.new()
for i = 1, n do
  for v = 1, 3 do
    files:write(dir .. "/f" .. i, "v" .. v, function() end)
  end
end
print("queued=" .. n)
io.stdout:flush()
if how == "exit" then
  os.exit(0)
end
