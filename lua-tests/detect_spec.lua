-- Context detection: "not in a coroutine" and "cannot yield here" under both
-- coroutine.running conventions, precise runner detection (a nested coroutine is not the
-- task's), and failure paths that end in an error message instead of a hang.

local fscache = require("fscache")
local nio = require("runners.nio_style")
local coop = require("runners.coop_style")
local async = require("runners.async_style")
local drivers = require("runners.bare_drivers")

local PUC51 = _VERSION == "Lua 5.1" and not jit

local orig_running = coroutine.running
local FAKE_MAIN = coroutine.create(function() end)

-- (co or nil, is_main) from whatever convention this host uses.
local function normalized()
  local co, main = orig_running()
  if co == nil then
    return nil, true
  end
  return co, main == true
end

local CONVENTIONS = {
  ["5.1 (nil on the main thread)"] = function()
    local co, main = normalized()
    if main then
      return nil
    end
    return co
  end,
  ["5.2+ (main thread, true)"] = function()
    local co, main = normalized()
    if main then
      return co or FAKE_MAIN, true
    end
    return co, false
  end,
}

local function run_to_end(fn)
  return run_settled(fscache.run, fn, 5000, "timed out")
end

describe("detection", function()
  local dir, files, dirs
  before_each(function()
    dir = tmpdir()
    write_file(dir .. "/a.txt", "hello")
    files = fscache.FileCache.new()
    dirs = fscache.DirectoryCache.new()
  end)
  after_each(function()
    coroutine.running = orig_running
    nio.uninstall()
    coop.uninstall()
    async.uninstall()
    package.loaded["async"] = nil
    rm_rf(dir)
  end)

  for name, running in pairs(CONVENTIONS) do
    describe("with coroutine.running convention " .. name, function()
      it("every *_async method outside a coroutine raises, naming the alternatives", function()
        coroutine.running = running
        local calls = {
          {
            "get_async",
            "get",
            function()
              local r = files:get_async(dir .. "/a.txt") -- not a tail call: the error names this line
              return r
            end,
          },
          {
            "get_json_async",
            "get_json",
            function()
              local r = files:get_json_async(dir .. "/a.txt") -- not a tail call: the error names this line
              return r
            end,
          },
          {
            "write_async",
            "write",
            function()
              local r = files:write_async(dir .. "/b.txt", { content = "x" }) -- not a tail call: the error names this line
              return r
            end,
          },
          {
            "get_async",
            "get",
            function()
              local r = dirs:get_async(dir) -- not a tail call: the error names this line
              return r
            end,
          },
        }
        for _, c in ipairs(calls) do
          local ok, err = pcall(c[3])
          coroutine.running = orig_running
          assert.is_false(ok)
          assert.matches(c[1] .. " must be called inside a coroutine", err, 1, true)
          assert.matches(c[2] .. "(..., callback)", err, 1, true)
          assert.matches(c[2] .. "_sync(...)", err, 1, true)
          assert.matches("detect_spec.lua", err, 1, true) -- blamed on the caller
          coroutine.running = running
        end
        coroutine.running = orig_running
        assert.is_nil(read_file(dir .. "/b.txt"))
      end)

      it("inside coroutines (fscache.run, nio-style, bare wrap) the reads work", function()
        nio.install()
        coroutine.running = running
        local res = run_to_end(function()
          return files:get_async(dir .. "/a.txt")
        end)
        local via_nio
        nio.run(function()
          return files:get_async(dir .. "/a.txt")
        end, function(ok, e)
          via_nio = ok and e
        end)
        local via_wrap
        drivers.bare.start(function()
          return dirs:get_async(dir)
        end, function(l)
          via_wrap = l
        end)
        local finished = wait_until(function()
          return via_nio ~= nil and via_wrap ~= nil
        end)
        coroutine.running = orig_running
        assert.is_true(finished)
        assert.are.equal("hello", res[1].content)
        assert.are.equal("hello", via_nio.content)
        assert.are.equal("a.txt", via_wrap.entries[1].name)
      end)
    end)
  end

  it("inside a table.sort comparator: 'cannot yield here', not a hang", function()
    local _, err = run_to_end(function()
      table.sort({ 2, 1 }, function(a, b)
        files:get_async(dir .. "/a.txt")
        return a < b
      end)
    end)
    assert.matches("get_async cannot yield here", err, 1, true)
    assert.matches("detect_spec.lua:%d+: fscache:", err) -- blamed on the comparator
  end)

  it("inside pcall: works where pcall yields, 'cannot yield here' on PUC Lua 5.1", function()
    local res, err = run_to_end(function()
      return pcall(files.get_async, files, dir .. "/a.txt")
    end)
    assert.is_nil(err)
    if PUC51 then
      assert.is_false(res[1])
      assert.matches("get_async cannot yield here", res[2], 1, true)
    else
      assert.is_true(res[1])
      assert.are.equal("hello", res[2].content)
    end
  end)

  it("inside a metamethod: works where the host can yield there, a loud error on PUC Lua 5.1", function()
    local t = setmetatable({}, {
      __index = function(_, k)
        return files:get_async(dir .. "/" .. k)
      end,
    })
    local reports = capture_reports(function()
      local res, err = run_to_end(function()
        return t["a.txt"]
      end)
      if PUC51 then
        assert.matches("attempt to yield across", err, 1, true)
      else
        assert.is_nil(err)
        assert.are.equal("hello", res[1].content)
      end
      -- the read started before the failed yield completes without touching the dead coroutine
      assert.is_true(wait_until(function()
        return files:stats().inflight == 0
      end))
    end)
    assert.are.same({}, reports)
  end)

  it("a coroutine.wrap nested in a nio-style task is not the task: the fallback serves it", function()
    nio.install()
    local got
    nio.run(function()
      local inner = coroutine.wrap(function()
        assert(nio.current_task() == nil)
        got = files:get_async(dir .. "/a.txt")
      end)
      inner()
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal("hello", got.content)
  end)

  it("a coroutine.wrap nested in a coop-style task is not the task: coop is not resumed for it", function()
    coop.install()
    local got
    local task = coop.spawn(function()
      local inner = coroutine.wrap(function()
        assert(coop.running() ~= nil)
        got = files:get_async(dir .. "/a.txt")
      end)
      inner()
    end)
    assert.are.equal("dead", coop.status(task))
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal("hello", got.content)
  end)

  it("a package named 'async' that is not async.nvim is ignored (never called)", function()
    package.loaded["async"] = {
      await = function()
        error("must not be called")
      end,
    }
    local got
    drivers.bare.start(function()
      return files:get_async(dir .. "/a.txt")
    end, function(e)
      got = e
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal("hello", got.content)
  end)

  it("an async.nvim-style await outside a task falls through to the other runners", function()
    async.install()
    local res = run_to_end(function()
      local co = coroutine.wrap(function()
        return files:get_async(dir .. "/a.txt")
      end)
      co()
      return files:get_async(dir .. "/a.txt")
    end)
    assert.are.equal("hello", res[1].content)
  end)

  it("a coroutine found not to be an async.nvim-style task is not probed again", function()
    local probes = 0
    package.loaded["async"] = setmetatable({
      await = function(...)
        probes = probes + 1
        return async.await(...)
      end,
    }, { __index = async })
    local got
    drivers.bare.start(function()
      files:get_async(dir .. "/a.txt")
      files:invalidate(dir .. "/a.txt")
      return files:get_async(dir .. "/a.txt")
    end, function(e)
      got = e
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal("hello", got.content)
    assert.are.equal(1, probes)
  end)

  it("an nio without current_task fails loudly at once (Async internal error), never hangs", function()
    package.loaded["nio"] = { run = nio.run }
    local ok, err = pcall(nio.run, function()
      return files:get_async(dir .. "/a.txt")
    end, function() end)
    package.loaded["nio"] = nil
    assert.is_false(ok)
    assert.matches("Async internal error: expected function, got number", err, 1, true)
    assert.is_true(wait_until(function()
      return files:stats().inflight == 0
    end))
  end)

  it("fscache.run reports a coroutine that yields something that is not a leaf", function()
    local _, err = run_to_end(function()
      coroutine.yield("nonsense", {})
    end)
    assert.matches("expected an async leaf", err, 1, true)
    assert.matches("(string, table)", err, 1, true)
  end)
end)
