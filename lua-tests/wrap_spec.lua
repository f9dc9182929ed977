-- The callback entry points under each runner's own wrap helper (the README's two-line
-- examples), and foreign leaves (plenary-style, nio-style) running on fscache.run unchanged.

local fscache = require("fscache")
local plenary = require("runners.plenary_style")
local nio = require("runners.nio_style")
local coop = require("runners.coop_style")
local async = require("runners.async_style")

local function wait_for(get)
  assert.is_true(wait_until(function()
    return get() ~= nil
  end, 5000))
  return get()
end

describe("callback entry points under each runner's own wrap helper", function()
  local dir, path, files, dirs
  before_each(function()
    dir = tmpdir()
    path = dir .. "/a.txt"
    write_file(path, "hello")
    files = fscache.FileCache.new()
    dirs = fscache.DirectoryCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("plenary-style: a.wrap(files.get, 3) and a.wrap(dirs.get, 3)", function()
    local get, list = plenary.wrap(files.get, 3), plenary.wrap(dirs.get, 3)
    local got
    plenary.run(function()
      local e = get(files, path)
      local l = list(dirs, dir)
      local missing, err, code = get(files, dir .. "/nope")
      return { e, l, missing, err, code }
    end, function(r)
      got = r
    end)
    local r = wait_for(function()
      return got
    end)
    assert.are.equal("hello", r[1].content)
    assert.are.equal("a.txt", r[2].entries[1].name)
    assert.is_nil(r[3])
    assert.are.equal("ENOENT", r[5])
  end)

  it("nio-style: nio.wrap(files.get, 3) (the success flag is nio's own)", function()
    local get = nio.wrap(files.get, 3)
    local got
    nio.run(function()
      return get(files, path)
    end, function(ok, e)
      got = { ok, e }
    end)
    local r = wait_for(function()
      return got
    end)
    assert.is_true(r[1])
    assert.are.equal("hello", r[2].content)
  end)

  it("coop-style: cb_to_tf(function(cb, p) files:get(p, cb) end) (callback first)", function()
    local get = coop.cb_to_tf(function(cb, p)
      files:get(p, cb)
    end)
    local got
    coop.spawn(function()
      got = get(path)
    end)
    assert.are.equal(
      "hello",
      wait_for(function()
        return got
      end).content
    )
  end)

  it("vim.async-style: async.await(3, files.get, files, path)", function()
    local got
    async.run(function()
      got = async.await(3, files.get, files, path)
    end)
    assert.are.equal(
      "hello",
      wait_for(function()
        return got
      end).content
    )
  end)

  it("write with a callback, through a plenary-style wrap", function()
    local write = plenary.wrap(files.write, 4)
    local got
    plenary.run(function()
      return write(files, path, { content = "new" })
    end, function(ok, err)
      got = { ok, err }
    end)
    assert.are.same(
      { true },
      wait_for(function()
        return got
      end)
    )
    assert.are.equal("new", read_file(path))
  end)
end)

describe("fscache.run runs other libraries' leaves unchanged", function()
  local dir, path, files
  before_each(function()
    dir = tmpdir()
    path = dir .. "/a.txt"
    write_file(path, "hello")
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function sleep_cb(ms, cb)
    local t = test_uv.new_timer()
    t:start(ms, 0, function()
      t:close()
      cb("slept", ms)
    end)
  end

  it("plenary-style leaves (fn, argc, ...), a timer and a cache read", function()
    local sleep = plenary.wrap(sleep_cb, 2)
    local get = plenary.wrap(files.get, 3)
    local got
    fscache.run(function()
      local a, b = sleep(5)
      local e = get(files, path)
      return a, b, e, files:get_async(path)
    end, function(...)
      got = { ... }
    end)
    local r = wait_for(function()
      return got
    end)
    assert.are.equal("slept", r[1])
    assert.are.equal(5, r[2])
    assert.are.equal("hello", r[3].content)
    assert.are.equal(r[3], r[4])
  end)

  it("nio-style leaves (argc, fn, ...) with their success flag, including a failing one", function()
    local sleep = nio.wrap(sleep_cb, 2)
    local boom = nio.wrap(function()
      error("boom")
    end, 1)
    local got, failed
    fscache.run(
      function()
        local a = sleep(3)
        local e = files:get_async(path)
        got = { a, e }
        boom()
      end,
      nil,
      function(err)
        failed = err
      end
    )
    assert.matches(
      "Wrapped function failed: .*boom",
      wait_for(function()
        return failed
      end)
    )
    assert.are.equal("slept", got[1])
    assert.are.equal("hello", got[2].content)
  end)
end)
