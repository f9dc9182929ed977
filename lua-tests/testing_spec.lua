-- fscache.testing (lua/fscache/testing.lua): run / wrap / it drive a body that awaits fscache to
-- completion, fail with the body's error and traceback, fail with a time-out message instead of
-- hanging, and reject bad arguments naming them. Runs under every interpreter of the suite.
-- (ecosystem-tests/install_spec.lua runs a plugin author's spec with it under busted on each
-- interpreter and under a plenary-style harness.)

local fscache = require("fscache")
local t = require("fscache.testing")

local here = debug.getinfo(1, "S").source:match("^@(.*)$")

describe("fscache.testing", function()
  t.it("it: the body awaits get_async directly", function()
    local entry = assert(fscache.FileCache.new():get_async(here))
    assert.matches("fscache.testing", entry.content, 1, true)
  end)

  it("run returns once the body has finished its awaits", function()
    local steps = {}
    t.run(function()
      steps[#steps + 1] = assert(fscache.FileCache.new():get_async(here)).size
      steps[#steps + 1] = assert(fscache.DirectoryCache.new():get_async("lua-tests")).path
    end)
    assert.are.equal(2, #steps)
  end)

  it("run raises the body's error with the coroutine's traceback", function()
    local ok, err = pcall(t.run, function()
      assert(fscache.FileCache.new():get_async(here))
      error("body-failed")
    end)
    assert.is_false(ok)
    assert.matches("body%-failed", tostring(err))
    assert.matches("stack traceback:", tostring(err), 1, true)
    assert.matches("testing_spec.lua", tostring(err), 1, true)
  end)

  it("run fails a body that never finishes with a message naming the time-out", function()
    local ok, err = pcall(t.run, function()
      fscache.await(function() end) -- never resumed
    end, 100)
    assert.is_false(ok)
    assert.matches("did not finish within its time-out of 100 ms", tostring(err), 1, true)
  end)

  it("wrap gives a test function for any harness", function()
    local ran = false
    local fn = t.wrap(function()
      assert(fscache.FileCache.new():get_async(here))
      ran = true
    end, 2000)
    assert.are.equal("function", type(fn))
    fn()
    assert.is_true(ran)
  end)

  it("rejects bad arguments, naming them", function()
    local function f() end
    local cases = {
      { t.run, { nil }, "bad argument #1 to 'run' (function expected, got nil)" },
      { t.run, { f, "x" }, "bad argument #2 to 'run' (timeout_ms: non-negative number expected, got string)" },
      { t.run, { f, -1 }, "bad argument #2 to 'run' (timeout_ms: non-negative number expected, got -1)" },
      { t.wrap, { 42 }, "bad argument #1 to 'wrap' (function expected, got number)" },
      { t.wrap, { f, {} }, "bad argument #2 to 'wrap' (timeout_ms: non-negative number expected, got table)" },
      { t.it, { 1, f }, "bad argument #1 to 'it' (string expected, got number)" },
      { t.it, { "x", "y" }, "bad argument #2 to 'it' (function expected, got string)" },
      { t.it, { "x", f, 0 / 0 }, "bad argument #3 to 'it' (timeout_ms: non-negative number expected, got" },
    }
    for i, c in ipairs(cases) do
      local ok, err = pcall(c[1], (table.unpack or unpack)(c[2], 1, 3))
      assert.is_false(ok, "case " .. i)
      assert.matches(c[3], tostring(err), 1, true)
    end
  end)
end)
