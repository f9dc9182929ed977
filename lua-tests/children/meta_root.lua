-- Child: one fscache.root_sync lookup, printed as "root=<dir>" ("root=-" for nil).
-- Usage: meta_root.lua SOURCE MARKER... [--repeat=N]
-- With --repeat=N: the lookup runs once, again after the racy window (so the watcher vouches
-- for its stats), then N more times (meta_spec counts the system calls of those with strace).
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local source, markers, rep = arg[1], {}, nil
for i = 2, #arg do
  local n = arg[i]:match("^%-%-repeat=(%d+)$")
  if n then
    rep = tonumber(n)
  else
    markers[#markers + 1] = arg[i]
  end
end
local r = fscache.root_sync(source, markers)
if rep then
  os.execute("sleep 0.15")
  r = fscache.root_sync(source, markers)
  r = fscache.root_sync(source, markers)
  for _ = 1, rep do
    r = fscache.root_sync(source, markers)
  end
end
io.write("root=", r or "-", "\n")
