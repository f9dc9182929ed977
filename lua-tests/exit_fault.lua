-- Exit with a write stuck in a hung file system (a lane worker stopped inside fsync by the fault
-- shim): the exit flush waits at most its limit (3 s), then the process exits anyway, removes the
-- stuck write's temp file, and every other accepted write has landed.

local F = require("support.faults")
local C = require("support.child")
local uv = test_uv

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

  it("waits at most the flush limit, lands the rest, leaves no temp file", function()
    F.arm("fsync", dir .. "/")
    local t0 = uv.hrtime()
    local _, raw, rc = C.lua("exit_writes", { dir, "exit", "6" })
    local elapsed = (uv.hrtime() - t0) / 1e9
    assert.are.equal(0, rc, raw)
    assert.is_true(F.fired("fsync"), "no write was stopped in fsync")
    assert.is_true(elapsed >= 2.5, ("exited after %.1f s: did not wait for the writes"):format(elapsed))
    assert.is_true(elapsed < 9, ("exited after %.1f s: the flush is not bounded"):format(elapsed))
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
    assert.is_true(landed >= 5, "writes landed: " .. landed)
  end)
end)
