-- Child: rewrites one file forever, alternating two versions, until it is killed.
-- Usage: writer.lua TARGET sync|cb|async. Prints "ready" after the first completed write.
-- Version A is 64 KiB of "a" after an "A", version B 256 KiB of "b" after a "B": any torn or
-- mixed file differs from both.
package.cpath = assert(os.getenv("FSCACHE_LIB_DIR"), "FSCACHE_LIB_DIR") .. "/?.so;" .. package.cpath
local fscache = require("fscache")
local uv = require("luv")
fscache.attach(uv)

local target, shape = arg[1], arg[2]
local versions = { "A" .. string.rep("a", 64 * 1024 - 1), "B" .. string.rep("b", 256 * 1024 - 1) }
local files = fscache.FileCache.new()
local n = 0

local function ready()
  n = n + 1
  if n == 1 then
    io.stdout:write("ready\n")
    io.stdout:flush()
  end
end

local function check(ok, err)
  if not ok then
    io.stderr:write("write failed: ", tostring(err), "\n")
    os.exit(3)
  end
  ready()
end

if shape == "sync" then
  while true do
    check(files:write_sync(target, { content = versions[n % 2 + 1] }))
  end
elseif shape == "cb" then
  -- Several writes queued at once: they are serialized per path.
  local function more()
    for _ = 1, 4 do
      files:write(target, { content = versions[(n + _) % 2 + 1] }, function(ok, err)
        check(ok, err)
        if n % 4 == 0 then
          more()
        end
      end)
    end
  end
  more()
  uv.run()
else
  fscache.run(
    function()
      while true do
        check(files:write_async(target, { content = versions[n % 2 + 1] }))
      end
    end,
    nil,
    function(err)
      io.stderr:write(err, "\n")
      os.exit(4)
    end
  )
  uv.run()
end
