-- Child: N callback gets issued while nothing delivers (no loop runs), a pause, then
-- pool_stats (how many results wait, the run-ahead bound, the pool width), then every result
-- delivered and checked. Usage: run_ahead.lua DIR N (files DIR/f0001.. hold "1", "2", ...).
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local dir, n = arg[1], tonumber(arg[2])
local files = fscache.FileCache.new()
local got = {}
local function path(i)
  return ("%s/f%04d"):format(dir, i)
end
for i = 1, n do
  files:get(path(i), function(e, err)
    got[i] = e and e.content or ("error: " .. tostring(err))
  end)
end
-- The workers read while this process sleeps; nothing is delivered meanwhile.
os.execute("sleep 0.3")
local s = fscache.pool_stats()
print("run_ahead=" .. s.run_ahead)
print("waiting=" .. s.waiting)
print("threads=" .. s.threads)
-- Deliver (no loop here: dispatch by hand) until every callback ran, 10 s at most.
local ok, tries = 0, 0
while ok < n and tries < 10000 do
  fscache.dispatch()
  ok = 0
  for i = 1, n do
    if got[i] ~= nil then
      ok = ok + 1
    end
  end
  if ok < n then
    tries = tries + 1
    os.execute("sleep 0.001")
  end
end
ok = 0
for i = 1, n do
  if got[i] == tostring(i) then
    ok = ok + 1
  end
end
print("delivered_ok=" .. ok)
