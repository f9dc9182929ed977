-- Exit with a write stuck in a hung file system (a lane worker stopped inside fsync by the fault
-- shim, which holds it for 10 s): the exit flush gives up at its limit (3 s), so the process exits
-- while the write is still stuck: that write never lands and its temp file is removed, and every
-- other accepted write has landed. An unbounded flush would wait out the pause and land all six.

local F = require("support.faults")
local C = require("support.child")

describe("exit with a hung write", function()
  local dir
  before_each(function()
    assert(F.active(), "run with the fault shim (scripts/suites.d/reliability.sh)")
    dir = tmpdir()
  end)
  after_each(function()
    F.reset()
    rm_rf(dir)
  end)

  it("gives up on the stuck write, lands the rest, leaves no temp file", function()
    F.arm("fsync", dir .. "/")
    local _, raw, rc = C.lua("exit_writes", { dir, "exit", "6" })
    assert.are.equal(0, rc, raw)
    assert.is_true(F.fired("fsync"), "no write was stopped in fsync")
    local names = dir_names(dir)
    for _, name in ipairs(names) do
      assert.is_nil(name:find("%.tmp$"), "temp file left behind: " .. name)
    end
    local landed = 0
    for i = 1, 6 do
      local content = read_file(dir .. "/f" .. i)
      if content == "v3" then
        landed = landed + 1
      else
        assert.is_nil(content, "f" .. i .. " holds an older version: " .. tostring(content))
      end
    end
    -- Five landed (the flush waited for them); the stuck one did not (the flush did not wait
    -- out the pause).
    assert.are.equal(5, landed, "writes landed")
  end)
end)
