-- A plugin's spec written with fscache.testing: the bodies await fscache (and a callback API)
-- directly. Two tests must fail: the suite checks that the error carries its traceback and that a
-- hung body fails with the time-out instead of hanging. Runs under busted (LuaJIT, Lua 5.1, 5.4,
-- Neovim as the interpreter) and under a plenary-style harness (global describe / it).
local fscache = require("fscache")
local t = require("fscache.testing")

local here = debug.getinfo(1, "S").source:match("^@(.*)$")

describe("a plugin using fscache", function()
  t.it("reads a file with get_async", function()
    local entry, err = fscache.FileCache.new():get_async(here)
    assert(entry, err)
    assert(entry.content:find("a plugin using fscache", 1, true), "content read")
    local listing = assert(fscache.DirectoryCache.new():get_async((here:match("^(.*)/"))))
    assert(#listing.entries >= 1, "listing")
    print("TESTING-READ " .. entry.size)
  end)

  t.it("awaits a callback API with fscache.await", function()
    local uv = (vim and (vim.uv or vim.loop)) or require("luv")
    local value = fscache.await(function(done)
      local timer = uv.new_timer()
      timer:start(20, 0, function()
        timer:stop()
        timer:close()
        done("ticked")
      end)
    end)
    assert(value == "ticked", tostring(value))
    print("TESTING-AWAIT " .. value)
  end)

  t.it("fails with the body's error", function()
    assert(fscache.FileCache.new():get_async(here))
    error("EXPECTED-BOOM")
  end)

  t.it("fails when the body hangs", function()
    fscache.await(function() end) -- never resumed
  end, 300)
end)
