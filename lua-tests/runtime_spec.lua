-- The runtime: bounded pool, manual fd + dispatch hosts, sliced delivery, lifetime.
local fscache = require("fscache")
local uv = test_uv

local function make_files(dir, n)
  for i = 1, n do
    write_file(("%s/f%04d"):format(dir, i), tostring(i))
  end
end

describe("runtime", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    fscache.setup({ threads = 8, slice_ms = 2 })
    if not fscache.attached() then
      fscache.attach(test_uv)
    end
    rm_rf(dir)
  end)

  it("never runs more pool jobs than `threads`", function()
    fscache.setup({ threads = 2 })
    assert.are.equal(2, fscache.pool_stats().threads)
    make_files(dir, 300)
    local files = fscache.FileCache.new()
    local done, max_running = 0, 0
    for i = 1, 300 do
      files:get(("%s/f%04d"):format(dir, i), function(e)
        assert(e.content == tostring(i))
        local s = fscache.pool_stats()
        max_running = math.max(max_running, s.running)
        done = done + 1
      end)
      local s = fscache.pool_stats()
      max_running = math.max(max_running, s.running)
    end
    assert.is_true(wait_until(function()
      return done == 300
    end))
    assert.is_true(max_running <= 2, "running " .. max_running)
  end)

  it("serves a host that watches fscache.fd() and calls fscache.dispatch()", function()
    fscache.detach()
    assert.is_false(fscache.attached())
    write_file(dir .. "/a", "A")
    local files = fscache.FileCache.new()
    local got
    files:get(dir .. "/a", function(e)
      got = e.content
    end)
    assert.is_number(fscache.fd())
    -- block on the descriptor natively, then deliver
    assert.is_true(fscache._native.wait(2000))
    local n = fscache.dispatch()
    assert.are.equal(1, n)
    assert.are.equal("A", got)
    assert.is_false(fscache._native.wait(0)) -- nothing left: not readable
  end)

  it("delivers a burst in slices and re-arms the descriptor for the rest", function()
    fscache.detach()
    make_files(dir, 400)
    local files = fscache.FileCache.new()
    local done = 0
    for i = 1, 400 do
      files:get(("%s/f%04d"):format(dir, i), function()
        done = done + 1
      end)
    end
    -- wait until every job has finished on the pool
    local t0 = fscache._native.now_ms()
    while fscache.pool_stats().running + fscache.pool_stats().queued > 0 do
      assert(fscache._native.now_ms() - t0 < 5000, "pool did not finish")
      fscache._native.wait(10)
    end
    local first = fscache.dispatch(0.001) -- a tiny budget: one or a few per slice
    assert.is_true(first >= 1 and first < 400, "first slice delivered " .. first)
    assert.is_true(fscache._native.wait(0), "descriptor re-armed for the rest")
    local slices = 1
    while done < 400 do
      fscache.dispatch(0.05)
      slices = slices + 1
      assert(slices < 100000)
    end
    assert.are.equal(400, done)
    assert.is_true(slices > 1)
  end)

  it("on one CPU, read workers pause while run_ahead results wait (elsewhere they never do)", function()
    local C = require("support.child")
    local n = 1000
    make_files(dir, n)
    local function stats(out)
      local t = {}
      for k, v in out:gmatch("(%w[%w_]*)=(%d+)") do
        t[k] = tonumber(v)
      end
      return t
    end
    -- Pinned to one CPU: the workers stop once 128 results wait (each worker may have found
    -- room for one last job), and every result is still delivered, in full, afterwards.
    local rc, out = C.run("taskset -c 0 " .. C.lua_cmd("run_ahead", { dir, tostring(n) }))
    assert.are.equal(0, rc, out)
    local s = stats(out)
    assert.are.equal(128, s.run_ahead, out)
    assert.is_true(s.waiting >= 128 and s.waiting < 128 + s.threads, out)
    assert.are.equal(n, s.delivered_ok, out)
    -- With every CPU: no bound (unless the machine itself has one CPU), nothing held.
    rc, out = C.run(C.lua_cmd("run_ahead", { dir, tostring(n) }))
    assert.are.equal(0, rc, out)
    s = stats(out)
    if s.run_ahead == 0 then
      assert.are.equal(n, s.waiting, out)
    else
      assert.are.equal(128, s.run_ahead, out)
    end
    assert.are.equal(n, s.delivered_ok, out)
  end)

  it("setup run_ahead: n holds read workers at n waiting results, false never, true is the default", function()
    local n = 300
    make_files(dir, n)
    local files = fscache.FileCache.new()
    local default = fscache.pool_stats().run_ahead
    assert.is_true(default == 0 or default == 128, tostring(default))
    local ok, err = pcall(function()
      fscache.setup({ run_ahead = 16 })
      assert.are.equal(16, fscache.pool_stats().run_ahead)
      local done = 0
      for i = 1, n do
        files:get(("%s/f%04d"):format(dir, i), function(e)
          if e and e.content == tostring(i) then
            done = done + 1
          end
        end)
      end
      -- Nothing is delivered while this thread sleeps: the workers stop at the bound.
      uv.sleep(200)
      local s = fscache.pool_stats()
      assert.is_true(s.waiting >= 16 and s.waiting < 16 + s.threads, ("%d waiting"):format(s.waiting))
      -- Lifted: the held workers read the rest, still with nothing delivered.
      fscache.setup({ run_ahead = false })
      assert.are.equal(0, fscache.pool_stats().run_ahead)
      local all = false
      for _ = 1, 500 do
        if fscache.pool_stats().waiting == n then
          all = true
          break
        end
        uv.sleep(10)
      end
      assert.is_true(all, "waiting: " .. fscache.pool_stats().waiting)
      assert.is_true(wait_until(function()
        return done == n
      end))
      for _, bad in ipairs({ 0, 1, 1.5, -3, 2 ^ 40, "8", {} }) do
        local okb, msg = pcall(fscache.setup, { run_ahead = bad })
        assert.is_false(okb)
        assert.matches("bad option 'run_ahead' to 'setup' (integer 2..1000000, true or false expected", msg, 1, true)
      end
    end)
    fscache.setup({ run_ahead = true })
    assert(ok, err)
    assert.are.equal(default, fscache.pool_stats().run_ahead)
  end)

  it("a callback that blocks on a read while the run-ahead bound holds the pool is not stuck", function()
    local n = 40
    make_files(dir, n + 1)
    local files = fscache.FileCache.new()
    fscache.setup({ run_ahead = 4 })
    local ok, err = pcall(function()
      local delivered, inner = 0, nil
      for i = 1, n do
        files:get(("%s/f%04d"):format(dir, i), function()
          delivered = delivered + 1
          if delivered == 4 then
            -- Four results were taken by this dispatch: they no longer hold the workers, so the
            -- read this callback waits for (queued behind the other 36) gets done.
            inner = fscache.block_on(function()
              return files:get_async(("%s/f%04d"):format(dir, n + 1))
            end, 5000)
          end
        end)
      end
      uv.sleep(100) -- the workers stop at the bound: 4 results (or one per worker more) wait
      assert.is_true(fscache.pool_stats().waiting >= 4)
      fscache.dispatch(5000)
      assert.is_table(inner)
      assert.are.equal(tostring(n + 1), inner.content)
      assert.is_true(wait_until(function()
        return delivered == n
      end))
    end)
    fscache.setup({ run_ahead = true })
    assert(ok, err)
  end)

  it("survives coroutines dropped while their reads are in flight", function()
    make_files(dir, 50)
    local files = fscache.FileCache.new()
    local finished = 0
    for i = 1, 1000 do
      local co = coroutine.create(function()
        local e = files:get_async(("%s/f%04d"):format(dir, (i % 50) + 1))
        if e then
          finished = finished + 1
        end
      end)
      coroutine.resume(co)
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_true(wait_until(function()
      return finished == 1000
    end))
  end)

  it("re-require after package.loaded.fscache = nil keeps working on the same loop", function()
    write_file(dir .. "/a", "A")
    package.loaded.fscache = nil
    local again = require("fscache")
    assert.are_not.equal(fscache, again)
    local got
    again.FileCache.new():get(dir .. "/a", function(e)
      got = e.content
    end)
    local old
    fscache.FileCache.new():get(dir .. "/a", function(e)
      old = e.content
    end)
    assert.is_true(wait_until(function()
      return got ~= nil and old ~= nil
    end))
    assert.are.equal("A", got)
    assert.are.equal("A", old)
    package.loaded.fscache = fscache
  end)
end)
