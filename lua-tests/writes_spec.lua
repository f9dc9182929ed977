-- Writes through a FileCache: read-your-writes (a get never returns content older than a write
-- issued before it), coalescing of queued writes, the write lane (reads do not wait behind
-- writes), durable = false, string data, optional callbacks, and faults around queued writes.

local fscache = require("fscache")

local BIG = 8 * 1024 * 1024

-- Queues a large durable write of `path` (its fsync keeps the lane busy for a while), waits
-- until it runs, and returns a table filled with its callback's results.
local function slow_write(files, path)
  local got = {}
  files:write(path, string.rep("z", BIG), function(...)
    got.res = pack(...)
  end)
  assert(wait_until(function()
    return fscache.pool_stats().writes_running > 0 or got.res ~= nil
  end))
  return got
end

describe("read-your-writes", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("a get right after write() returns the written content, not the cached one", function()
    local p = dir .. "/f"
    write_file(p, "A")
    assert.are.equal("A", files:get_sync(p).content)
    run_async(function()
      files:write(p, { content = "B" })
      assert.are.equal("B", files:get_async(p).content)
      files:write(p, "C")
      files:write(p, "D")
      assert.are.equal("D", files:get_async(p).content)
    end)
    assert.are.equal("D", read_file(p))
  end)

  it("holds for every get form: callback, sync, JSON and peek", function()
    local p = dir .. "/f.json"
    write_file(p, '{"v":1}')
    assert.are.equal(1, files:get_json_sync(p).v)
    files:write(p, { json = { v = 2 } })
    local res = callback_results(files, "get", p)
    assert.are.equal('{"v":2}', res[1].content)
    files:write(p, { json = { v = 3 } })
    assert.are.equal(3, files:get_json_sync(p).v)
    files:write(p, '{"v":4}')
    assert.is_nil(files._native:peek(p)) -- a write is pending: no hit without waiting for it
    assert.are.equal('{"v":4}', files:get_sync(p).content)
    files:write(p, '{"v":5}')
    res = callback_results(files, "get_json", p)
    assert.are.equal(5, res[1].v)
  end)

  it("a get from another coroutine while the write is in flight sees the write", function()
    local p = dir .. "/f"
    write_file(p, "old")
    files:get_sync(p)
    local seen = {}
    run_async(function()
      local got = slow_write(files, p)
      files:write(p, "new")
      for i = 1, 5 do
        fscache.run(function()
          seen[i] = files:get_async(p).content
        end)
      end
      assert.are.equal("new", files:get_async(p).content)
      assert.is_true(got.res ~= nil and got.res[1])
    end, 20000)
    assert.are.same({ "new", "new", "new", "new", "new" }, seen)
  end)

  it("a get issued after a write does not join a read started before it", function()
    local p = dir .. "/f"
    write_file(p, "A")
    local first, second
    files:get(p, function(e)
      first = e.content
    end)
    files:write(p, "B")
    files:get(p, function(e)
      second = e.content
    end)
    assert.is_true(wait_until(function()
      return first ~= nil and second ~= nil
    end))
    assert.are.equal("B", second)
    assert.are.equal("B", files:get_sync(p).content)
  end)

  it("after a failed write, a get returns what is on disk", function()
    local p = dir .. "/f"
    write_file(p, "on disk")
    files:get_sync(p)
    local res = callback_results(files, "write", p, { json = { f = print } })
    assert.is_nil(res[1])
    assert.are.equal("EJSON", res[3])
    assert.are.equal(
      "on disk",
      run_async(function()
        return files:get_async(p).content
      end)
    )
    local missing = dir .. "/no/such/dir/f"
    files:write(missing, "x", function() end)
    local e, err, code = run_async(function()
      return files:get_async(missing)
    end)
    assert.is_nil(e)
    assert.are.equal("ENOENT", code)
    assert.matches(missing, err, 1, true)
  end)

  it("write_sync lands after the writes queued before it, and a get sees it", function()
    local p = dir .. "/f"
    write_file(p, "A")
    local got = slow_write(files, p)
    files:write(p, "queued")
    assert.is_true(files:write_sync(p, "sync"))
    assert.are.equal("sync", read_file(p))
    assert.are.equal("sync", files:get_sync(p).content)
    assert.is_true(wait_until(function()
      return got.res ~= nil
    end, 20000))
    wait_until(function()
      return files:stats().writes_pending == 0
    end)
    -- The older writes' completions arrive later and must not replace the newer entry.
    assert.are.equal(
      "sync",
      run_async(function()
        return files:get_async(p).content
      end)
    )
  end)
end)

describe("write coalescing", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("writes queued behind a running write collapse into the newest; every callback gets its result once", function()
    local p = dir .. "/f"
    local got = slow_write(files, p)
    local calls = {}
    for i = 1, 50 do
      files:write(p, "v" .. i, function(...)
        calls[i] = (calls[i] or 0) + 1
        assert.is_true((...))
      end)
    end
    assert.is_true(wait_until(function()
      local n = 0
      for _ in pairs(calls) do
        n = n + 1
      end
      return n == 50 and got.res ~= nil
    end, 20000))
    for i = 1, 50 do
      assert.are.equal(1, calls[i], "callback " .. i)
    end
    local s = files:stats()
    assert.are.equal(51, s.writes)
    assert.are.equal(49, s.writes_coalesced)
    assert.are.equal("v50", read_file(p))
    assert.are.equal("v50", files:get_sync(p).content)
  end)

  it("a coroutine suspended in a replaced write_async gets the replacing write's result", function()
    local p = dir .. "/f"
    slow_write(files, p)
    local results = {}
    for i = 1, 3 do
      fscache.run(function()
        results[i] = pack(files:write_async(p, "w" .. i))
      end)
    end
    assert.is_true(wait_until(function()
      return #results == 3
    end, 20000))
    for i = 1, 3 do
      assert.is_true(results[i][1])
    end
    assert.are.equal("w3", read_file(p))
    assert.are.equal(2, files:stats().writes_coalesced)
  end)

  it("a burst of writes issued by one stretch of Lua code collapses before any starts", function()
    local p = dir .. "/f"
    local n = 0
    for i = 1, 100 do
      files:write(p, "burst" .. i, function(ok)
        assert.is_true(ok)
        n = n + 1
      end)
    end
    assert.is_true(wait_until(function()
      return n == 100
    end))
    local s = files:stats()
    assert.are.equal(100, s.writes)
    assert.are.equal(99, s.writes_coalesced)
    assert.are.equal("burst100", read_file(p))
  end)

  it("writes of different paths and different caches are not coalesced", function()
    local other = fscache.FileCache.new()
    slow_write(files, dir .. "/big")
    files:write(dir .. "/a", "a")
    files:write(dir .. "/b", "b")
    other:write(dir .. "/a", "a2")
    assert.is_true(wait_until(function()
      return files:stats().writes_pending == 0 and other:stats().writes_pending == 0
    end, 20000))
    assert.are.equal(0, files:stats().writes_coalesced)
    assert.are.equal("b", read_file(dir .. "/b"))
  end)
end)

describe("the write lane", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("a get issued while 64 writes of 64 files are queued does not wait for them", function()
    write_file(dir .. "/read-me", "r")
    local payload = string.rep("w", 512 * 1024)
    for i = 1, 64 do
      files:write(dir .. "/w" .. i, payload)
    end
    local pending_at_answer
    local e = run_async(function()
      local entry = files:get_async(dir .. "/read-me")
      pending_at_answer = files:stats().writes_pending
      return entry
    end, 20000)
    assert.are.equal("r", e.content)
    -- Behind the writes (one FIFO) at most a pool's width of them would still be running.
    assert.is_true(pending_at_answer >= 32, "writes pending when the read was answered: " .. pending_at_answer)
    assert.is_true(wait_until(function()
      return files:stats().writes_pending == 0
    end, 30000))
    for i = 1, 64 do
      assert.are.equal(#payload, #read_file(dir .. "/w" .. i))
    end
  end)

  -- A write holds the file it replaces open across its rename (so the rename does not pay for
  -- freeing it) and lets go of it in its second stage: once the callbacks have run, nothing of
  -- the write is left open, durable or not, landed or failed.
  it("lets go of the replaced file once the write has landed (no descriptor kept)", function()
    local fds = function()
      return #dir_names("/proc/self/fd")
    end
    local p, q = dir .. "/f", dir .. "/g"
    write_file(p, "old")
    write_file(q, "old")
    -- Warm up: the first write may start the lane's threads and the watcher.
    assert.is_true(callback_results(files, "write", p, "warm")[1])
    local before = fds()
    for i = 1, 20 do
      local results = {}
      files:write(p, "durable " .. i, function(ok)
        results[#results + 1] = ok
      end)
      files:write(q, { content = "fast " .. i, durable = false }, function(ok)
        results[#results + 1] = ok
      end)
      assert.is_true(wait_until(function()
        return #results == 2
      end, 10000))
      assert.are.same({ true, true }, results)
    end
    local failed = callback_results(files, "write", dir .. "/missing/f", "x")
    assert.are.equal("ENOENT", failed[3])
    assert.are.equal(before, fds())
    assert.are.equal("durable 20", read_file(p))
    assert.are.equal("fast 20", read_file(q))
  end)
end)

describe("write conveniences", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("write, write_async and write_sync accept a string", function()
    assert.is_true(files:write_sync(dir .. "/a", "sync"))
    assert.is_true(run_async(function()
      return files:write_async(dir .. "/b", "async")
    end))
    assert.is_true(callback_results(files, "write", dir .. "/c", "cb")[1])
    assert.are.equal("sync", read_file(dir .. "/a"))
    assert.are.equal("async", read_file(dir .. "/b"))
    assert.are.equal("cb", read_file(dir .. "/c"))
  end)

  it("get without a callback warms the cache (files and directories)", function()
    write_file(dir .. "/f", "warm")
    local dirs = fscache.DirectoryCache.new()
    files:get(dir .. "/f")
    dirs:get(dir)
    assert.is_true(wait_until(function()
      return files:stats().entries == 1 and dirs:stats().entries == 1
    end))
    assert.are.equal("warm", files:get_sync(dir .. "/f").content)
  end)

  it("a failed write without a callback goes to the error handler, naming path and cause", function()
    local p = dir .. "/missing/f"
    local reports = capture_reports(function(got)
      files:write(p, "x")
      assert.is_true(wait_until(function()
        return #got > 0
      end))
    end)
    assert.are.equal(1, #reports)
    assert.matches("ENOENT", reports[1], 1, true)
    assert.matches(p, reports[1], 1, true)
  end)

  it("a successful write without a callback reports nothing", function()
    local reports = capture_reports(function()
      files:write(dir .. "/ok", "x")
      assert.is_true(wait_until(function()
        return files:stats().writes_pending == 0
      end))
    end)
    assert.are.same({}, reports)
  end)

  it("durable = false (per cache and per write) still replaces the file atomically", function()
    local fast = fscache.FileCache.new({ durable = false })
    assert.is_false(fast:stats().durable)
    assert.is_true(files:stats().durable)
    write_file(dir .. "/f", "old")
    assert.is_true(fast:write_sync(dir .. "/f", "new"))
    assert.is_true(files:write_sync(dir .. "/g", { content = "g", durable = false }))
    assert.are.equal("new", read_file(dir .. "/f"))
    assert.are.equal("g", read_file(dir .. "/g"))
    assert.are.same({ "f", "g" }, dir_names(dir))
  end)

  it("durable = false skips every fsync; the default fsyncs file and directory (strace)", function()
    local C = require("support.child")
    local function fsyncs(how)
      local d = tmpdir()
      local rc, out = C.run(
        "strace -f -qq -c -e trace=fsync,fdatasync -o " .. C.q(d .. "/trace") .. " " .. C.lua_cmd("durable", { d, how })
      )
      assert.are.equal(0, rc, out)
      local trace = read_file(d .. "/trace") or ""
      rm_rf(d)
      local n = 0
      for line in trace:gmatch("[^\n]+") do
        if line:find("fsync%s*$") then
          local fields = {}
          for w in line:gmatch("%S+") do
            fields[#fields + 1] = w
          end
          n = n + tonumber(fields[4])
        end
      end
      return n, trace
    end
    local durable, t1 = fsyncs("true")
    assert.are.equal(20, durable, t1)
    local fast, t2 = fsyncs("false")
    assert.are.equal(0, fast, t2)
    local per_write, t3 = fsyncs("per-write")
    assert.are.equal(0, per_write, t3)
  end)

  it("durable writes landing together in one directory share its fsync (strace)", function()
    local C = require("support.child")
    local d = tmpdir()
    local n = 8
    local rc, out = C.run(
      "strace -f -qq -y -e trace=fsync -o "
        .. C.q(d .. "/trace")
        .. " "
        .. C.lua_cmd("durable_burst", { d, tostring(n) })
    )
    assert.are.equal(0, rc, out)
    assert.matches("written=" .. n, out, 1, true)
    local trace = read_file(d .. "/trace") or ""
    rm_rf(d)
    -- strace -y names each descriptor: fsync(5</dir>) for the directory, a temp file otherwise.
    local of_dir, of_files = 0, 0
    for target in trace:gmatch("fsync%(%d+<([^>]*)>") do
      if target == d then
        of_dir = of_dir + 1
      else
        of_files = of_files + 1
      end
    end
    assert.are.equal(n, of_files, trace)
    -- One fsync per write before sharing; shared, typically 1 or 2.
    assert.is_true(of_dir >= 1 and of_dir < n, ("%d directory fsyncs for %d writes\n%s"):format(of_dir, n, trace))
  end)

  it("rejects bad durable, bad data and bad callbacks as Lua errors naming them", function()
    local ok, err = pcall(fscache.FileCache.new, { durable = "yes" })
    assert.is_false(ok)
    assert.matches("durable", err)
    ok, err = pcall(files.write, files, dir .. "/f", { content = "x", durable = 1 })
    assert.is_false(ok)
    assert.matches("durable", err)
    ok, err = pcall(files.write, files, dir .. "/f", 42)
    assert.is_false(ok)
    assert.matches("data", err)
    ok, err = pcall(files.write, files, dir .. "/f", "x", "not a function")
    assert.is_false(ok)
    assert.matches("callback", err)
  end)
end)

describe("faults around queued writes", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("the parent directory disappears between queueing and landing", function()
    local sub = dir .. "/sub"
    assert(test_uv.fs_mkdir(sub, 448))
    local got = slow_write(files, dir .. "/big")
    local res
    files:write(sub .. "/f", "x", function() end)
    files:write(sub .. "/f", "y", function(...)
      res = pack(...)
    end)
    rm_rf(sub)
    assert.is_true(wait_until(function()
      return res ~= nil and got.res ~= nil
    end, 20000))
    if res[1] then
      -- The write landed before the directory went: then it went with the directory.
      assert.is_nil(read_file(sub .. "/f"))
    else
      assert.are.equal("ENOENT", res[3])
    end
    local e, _, code = files:get_sync(sub .. "/f")
    assert.is_nil(e)
    assert.are.equal("ENOENT", code)
    assert.are.same({ "big" }, dir_names(dir))
  end)

  it("a write replaced while its predecessor is failing: each callback once, nothing left behind", function()
    local p = dir .. "/missing/f"
    local calls = {}
    for i = 1, 20 do
      files:write(p, "v" .. i, function(ok, _, code)
        calls[i] = (calls[i] or 0) + 1
        assert.is_nil(ok)
        assert.are.equal("ENOENT", code)
      end)
    end
    assert.is_true(wait_until(function()
      local n = 0
      for _ in pairs(calls) do
        n = n + 1
      end
      return n == 20
    end))
    for i = 1, 20 do
      assert.are.equal(1, calls[i])
    end
    assert.are.same({}, dir_names(dir))
  end)

  it("invalidate and clear_all with writes queued: the writes still land, later gets see them", function()
    local p = dir .. "/f"
    write_file(p, "A")
    files:get_sync(p)
    slow_write(files, p)
    files:write(p, "B")
    files:invalidate(p)
    files:write(p, "C")
    files:clear_all()
    assert.are.equal(
      "C",
      run_async(function()
        return files:get_async(p).content
      end, 20000)
    )
    assert.are.equal("C", read_file(p))
  end)
end)
