-- Cancellation: a task cancelled while it waits in get_async drops the late result cleanly,
-- releases what the request holds, never resumes a dead coroutine and never raises.

local fscache = require("fscache")
local nio = require("runners.nio_style")
local coop = require("runners.coop_style")
local async = require("runners.async_style")

-- Wraps a cache's native userdata so the test sees every native cancel and its answer.
local function spy_cancels(cache)
  local native = cache._native
  local log = {}
  cache._native = setmetatable({
    cancel = function(_, id)
      local removed = native:cancel(id)
      log[#log + 1] = removed
      return removed
    end,
  }, {
    __index = function(_, k)
      return function(_, ...)
        return native[k](native, ...)
      end
    end,
  })
  return log
end

-- True when fn is held by the Lua registry (where native callbacks wait).
local function in_registry(fn)
  for _, v in pairs(debug.getregistry()) do
    if v == fn then
      return true
    end
  end
  return false
end

local function settled(files)
  return wait_until(function()
    return files:stats().inflight == 0 and fscache.pool_stats().pending == 0
  end, 5000)
end

describe("native cancel", function()
  local dir
  before_each(function()
    dir = tmpdir()
    write_file(dir .. "/a.txt", "hello")
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("get returns a handle; cancel(handle) releases the callback at once and only once", function()
    local files = fscache.FileCache.new()
    local called = false
    local cb = function()
      called = true
    end
    local id = files._native:get(dir .. "/a.txt", cb)
    assert.is_number(id)
    assert.is_true(in_registry(cb))
    assert.is_true(files._native:cancel(id))
    assert.is_false(in_registry(cb))
    assert.is_false(files._native:cancel(id))
    assert.is_true(settled(files))
    assert.is_false(called)
    -- nobody waited any more, but the read still filled the cache
    assert.are.equal(1, files:stats().entries)
  end)

  it("cancelling one of two coalesced waiters leaves the other one served", function()
    local files = fscache.FileCache.new()
    local got1, got2
    local id1 = files._native:get(dir .. "/a.txt", function(e)
      got1 = e
    end)
    files._native:get(dir .. "/a.txt", function(e)
      got2 = e
    end)
    assert.is_true(files._native:cancel(id1))
    assert.is_true(wait_until(function()
      return got2 ~= nil
    end))
    assert.are.equal("hello", got2.content)
    assert.is_nil(got1)
  end)

  it("a cancelled read that was invalidated meanwhile is dropped from the runtime at once", function()
    local files = fscache.FileCache.new()
    local dirs = fscache.DirectoryCache.new()
    local id = files._native:get(dir .. "/a.txt", function() end)
    local did = dirs._native:get(dir, function() end)
    files:invalidate(dir .. "/a.txt")
    dirs:invalidate(dir)
    assert.are.equal(2, fscache.pool_stats().pending)
    assert.is_true(files._native:cancel(id))
    assert.is_true(dirs._native:cancel(did))
    assert.are.equal(0, fscache.pool_stats().pending)
    assert.are.equal(0, files:stats().inflight)
    assert.is_true(settled(files))
    assert.are.equal(0, files:stats().entries)
  end)
end)

describe("a task cancelled while waiting in get_async", function()
  local dir, path
  before_each(function()
    dir = tmpdir()
    path = dir .. "/a.txt"
    write_file(path, "hello")
    nio.install()
    coop.install()
    async.install()
  end)
  after_each(function()
    nio.uninstall()
    coop.uninstall()
    async.uninstall()
    rm_rf(dir)
  end)

  it("nio-style cancel: the task ends 'cancelled', the late result is dropped, nothing resumes", function()
    local files = fscache.FileCache.new()
    local after, outcome = false, nil
    local task
    local reports = capture_reports(function()
      task = nio.run(function()
        local e = files:get_async(path)
        after = true
        return e
      end, function(...)
        outcome = { ... }
      end)
      assert.are.equal("suspended", coroutine.status(task.co))
      task.cancel()
      assert.are.same({ false, "Task was cancelled" }, outcome)
      -- nio gives a leaf no cancel hook: the waiter goes when the read completes
      assert.is_true(settled(files))
    end)
    assert.are.same({}, reports)
    assert.is_false(after)
    assert.are.equal("suspended", coroutine.status(task.co)) -- never resumed again
    assert.are.equal(1, files:stats().entries)
  end)

  it("coop-style cancel: the task fails 'cancelled', the waiter is removed at once", function()
    local files = fscache.FileCache.new()
    local cancels = spy_cancels(files)
    local after = false
    local weak = setmetatable({}, { __mode = "v" })
    local reports = capture_reports(function()
      local task = coop.spawn(function()
        files:get_async(path)
        after = true
      end)
      weak.co = task.thread
      assert.are.equal("suspended", coop.status(task))
      task:cancel()
      assert.are.equal("cancelled", task.future.error)
      assert.are.equal("dead", coop.status(task))
      assert.are.same({ true }, cancels)
      task = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak.co) -- nothing holds the dead coroutine any more
      assert.is_true(settled(files))
    end)
    assert.are.same({}, reports)
    assert.is_false(after)
  end)

  it("coop-style cancel of a DirectoryCache and a get_json_async wait", function()
    local files = fscache.FileCache.new()
    local dirs = fscache.DirectoryCache.new()
    write_file(dir .. "/c.json", "[1]")
    local fcancels, dcancels = spy_cancels(files), spy_cancels(dirs)
    local reports = capture_reports(function()
      local t1 = coop.spawn(function()
        dirs:get_async(dir)
        error("must not run")
      end)
      local t2 = coop.spawn(function()
        files:get_json_async(dir .. "/c.json")
        error("must not run")
      end)
      t1:cancel()
      t2:cancel()
      assert.are.equal("cancelled", t1.future.error)
      assert.are.equal("cancelled", t2.future.error)
      assert.is_true(settled(files))
      assert.is_true(settled(dirs))
    end)
    assert.are.same({}, reports)
    assert.are.same({ true }, fcancels)
    assert.are.same({ true }, dcancels)
  end)

  it("coop-style cancel during write_async: the write still lands, its result is dropped", function()
    local files = fscache.FileCache.new()
    local reports = capture_reports(function()
      local task = coop.spawn(function()
        files:write_async(path, { content = "new" })
        error("must not run")
      end)
      task:cancel()
      assert.are.equal("cancelled", task.future.error)
      assert.is_true(wait_until(function()
        return read_file(path) == "new"
      end))
      assert.is_true(settled(files))
    end)
    assert.are.same({}, reports)
  end)

  it("vim.async-style close: the closable withdraws the request and the task ends 'closed'", function()
    local files = fscache.FileCache.new()
    local cancels = spy_cancels(files)
    local after = false
    local reports = capture_reports(function()
      local task = async.run(function()
        files:get_async(path)
        after = true
      end)
      assert.is_false(task.done)
      task:close()
      assert.is_true(task.done)
      assert.are.equal("closed", task.err)
      assert.are.equal("dead", coroutine.status(task.thread))
      assert.are.same({ true }, cancels)
      assert.is_true(settled(files))
    end)
    assert.are.same({}, reports)
    assert.is_false(after)
  end)

  if coroutine.close then
    it("a bare coroutine closed while waiting is not resumed when the result arrives", function()
      local files = fscache.FileCache.new()
      local co = coroutine.create(function()
        files:get_async(path)
        error("must not run")
      end)
      local reports = capture_reports(function()
        assert.is_true(coroutine.resume(co))
        assert.is_true(coroutine.close(co))
        assert.is_true(settled(files))
      end)
      assert.are.same({}, reports)
      assert.are.equal("dead", coroutine.status(co))
    end)
  end
end)

describe("fscache.await (generic leaf) in a cancelled task", function()
  before_each(function()
    coop.install()
  end)
  after_each(function()
    coop.uninstall()
  end)

  it("ignores what the user's start returns and drops the late done(...)", function()
    local late
    local reports = capture_reports(function()
      local task = coop.spawn(function()
        fscache.await(function(done)
          late = done
          return { cancel = error }, 7 -- looks like a native waiter; must never be used as one
        end)
        error("must not run")
      end)
      task:cancel()
      assert.are.equal("cancelled", task.future.error)
      late("too late")
    end)
    assert.are.same({}, reports)
  end)
end)
