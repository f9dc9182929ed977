-- FileCache: every method, hit / miss / revalidation, invalidate, clear_all, coalescing, writes.
local fscache = require("fscache")

describe("FileCache", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("returns the documented entry fields (path, content, mtime, mtime_nsec, size)", function()
    local p = dir .. "/a.txt"
    write_file(p, "hello world")
    local e = run_async(function()
      return files:get_async(p)
    end)
    assert.are.equal(p, e.path)
    assert.are.equal("hello world", e.content)
    assert.are.equal(11, e.size)
    local st = test_uv.fs_stat(p)
    assert.are.equal(st.mtime.sec, e.mtime)
    assert.are.equal(st.mtime.nsec, e.mtime_nsec)
    assert.is_nil(e.json)
  end)

  it("serves an unchanged file as a hit (same entry, no new read)", function()
    local p = dir .. "/a.txt"
    write_file(p, "one")
    set_mtime(p, 1600000000, 0)
    sleep_past_racy_window() -- the ctime moved with touch
    local e1 = files:get_sync(p)
    local e2 = run_async(function()
      return files:get_async(p)
    end)
    assert.are.equal(e1, e2)
    local s = files:stats()
    assert.are.equal(1, s.hits)
    assert.are.equal(1, s.misses)
    assert.are.equal(1, s.reads)
    assert.are.equal(1, s.entries)
    assert.are.equal(3, s.bytes)
  end)

  it("sees an edit within the same second that keeps the size and the mtime", function()
    local p = dir .. "/same.txt"
    write_file(p, "aaaa")
    local e1 = files:get_sync(p)
    local st = test_uv.fs_stat(p)
    write_file(p, "bbbb")
    -- put the mtime back exactly: only ctime (and the content) tell the difference
    set_mtime(p, st.mtime.sec, st.mtime.nsec)
    local e2 = run_async(function()
      return files:get_async(p)
    end)
    assert.are.equal("aaaa", e1.content)
    assert.are.equal("bbbb", e2.content)
    assert.are.equal("bbbb", files:get_sync(p).content)
  end)

  it("sees back-to-back same-size rewrites every time (racy window)", function()
    local p = dir .. "/racy.txt"
    for i = 1, 200 do
      local s = ("%04d"):format(i)
      write_file(p, s)
      local e = files:get_sync(p)
      assert.are.equal(s, e.content)
    end
    for i = 1, 50 do
      local s = ("%04d"):format(i)
      write_file(p, s)
      local e = run_async(function()
        return files:get_async(p)
      end)
      assert.are.equal(s, e.content)
    end
  end)

  it("re-reads after the file is replaced by rename", function()
    local p = dir .. "/r.txt"
    write_file(p, "old")
    assert.are.equal("old", files:get_sync(p).content)
    write_file(dir .. "/tmp", "new")
    assert(os.rename(dir .. "/tmp", p))
    assert.are.equal("new", files:get_sync(p).content)
  end)

  it("drops the entry when the file disappears", function()
    local p = dir .. "/gone.txt"
    write_file(p, "x")
    assert.is_table(files:get_sync(p))
    os.remove(p)
    local e, err, code = run_async(function()
      return files:get_async(p)
    end)
    assert.is_nil(e)
    assert.are.equal("ENOENT", code)
    assert.are.equal("ENOENT: no such file or directory: " .. p, err)
    assert.are.equal(0, files:stats().entries)
  end)

  it("invalidate forgets one path, clear_all forgets everything", function()
    write_file(dir .. "/1", "1")
    write_file(dir .. "/2", "2")
    files:get_sync(dir .. "/1")
    files:get_sync(dir .. "/2")
    assert.are.equal(2, files:stats().entries)
    assert.is_true(files:invalidate(dir .. "/1"))
    assert.is_false(files:invalidate(dir .. "/1"))
    assert.are.equal(1, files:stats().entries)
    files:get_sync(dir .. "/1")
    assert.are.equal(3, files:stats().misses)
    files:clear_all()
    local s = files:stats()
    assert.are.equal(0, s.entries)
    assert.are.equal(0, s.bytes)
  end)

  it("coalesces concurrent gets of one cold path into one read", function()
    local p = dir .. "/hot.txt"
    write_file(p, string.rep("z", 4096))
    local got = 0
    for _ = 1, 200 do
      fscache.run(function()
        local e = files:get_async(p)
        assert(e and #e.content == 4096)
        got = got + 1
      end)
    end
    assert.is_true(wait_until(function()
      return got == 200
    end))
    local s = files:stats()
    assert.are.equal(1, s.misses)
    assert.are.equal(0, s.hits)
    assert.are.equal(1, s.reads)
  end)

  it("with trust_mtime = false re-reads every time and never hits", function()
    local f2 = fscache.FileCache.new({ trust_mtime = false })
    local p = dir .. "/t.txt"
    write_file(p, "t")
    set_mtime(p, 1600000000, 0)
    for _ = 1, 3 do
      assert.are.equal("t", f2:get_sync(p).content)
    end
    run_async(function()
      f2:get_async(p)
    end)
    local s = f2:stats()
    assert.are.equal(0, s.hits)
    assert.are.equal(4, s.misses)
    assert.are.equal(4, s.reads)
  end)

  it("calls callbacks later, exactly once, never inside the call", function()
    local p = dir .. "/cb.txt"
    write_file(p, "cb")
    local calls, inside = 0, true
    files:get(p, function(e)
      assert.is_false(inside)
      assert.are.equal("cb", e.content)
      calls = calls + 1
    end)
    inside = false
    assert.are.equal(0, calls)
    assert.is_true(wait_until(function()
      return calls == 1
    end))
    wait_until(function()
      return false
    end, 30)
    assert.are.equal(1, calls)
  end)

  it("reads to EOF: a size-0 /proc file has content", function()
    local e = files:get_sync("/proc/self/status")
    assert.is_table(e)
    assert.matches("Name:", e.content)
  end)

  it("reads a large file whole", function()
    local p = dir .. "/big"
    local chunk = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB
    write_file(p, chunk:rep(3))
    local e = run_async(function()
      return files:get_async(p)
    end)
    assert.are.equal(3 * #chunk, #e.content)
    assert.are.equal(chunk:rep(3), e.content)
  end)

  describe("writes", function()
    it("write_async replaces the file atomically and updates the cache", function()
      local p = dir .. "/w.txt"
      write_file(p, "old")
      assert.are.equal("old", files:get_sync(p).content)
      local ok, err = run_async(function()
        return files:write_async(p, { content = "new content" })
      end)
      assert.is_true(ok, err)
      assert.are.equal("new content", read_file(p))
      sleep_past_racy_window()
      local hits = files:stats().hits
      -- written moments ago (racy): one content re-check, then the identity alone decides
      assert.are.equal("new content", files:get_sync(p).content)
      assert.are.equal("new content", files:get_sync(p).content)
      local before = files:stats().reads
      assert.are.equal("new content", files:get_sync(p).content)
      assert.are.equal(before, files:stats().reads)
      assert.are.equal(hits + 3, files:stats().hits)
      assert.are.same({ "w.txt" }, dir_names(dir)) -- no temp file left
    end)

    it("write (callback) and write_sync work and keep the mode", function()
      local p = dir .. "/m.txt"
      write_file(p, "m")
      assert(test_uv.fs_chmod(p, tonumber("640", 8)))
      local res
      files:write(p, { content = "cb" }, function(...)
        res = { ... }
      end)
      assert.is_true(wait_until(function()
        return res ~= nil
      end))
      assert.is_true(res[1])
      assert.are.equal("cb", read_file(p))
      assert.is_true(files:write_sync(p, { content = "sync" }))
      assert.are.equal("sync", read_file(p))
      assert.are.equal(tonumber("640", 8), test_uv.fs_stat(p).mode % 512)
    end)

    it("writes through a symlink to the real file", function()
      local real = dir .. "/real.txt"
      write_file(real, "r")
      assert(test_uv.fs_symlink(real, dir .. "/link.txt"))
      assert.is_true(files:write_sync(dir .. "/link.txt", { content = "through" }))
      assert.are.equal("through", read_file(real))
      assert.are.equal("link", test_uv.fs_lstat(dir .. "/link.txt").type)
    end)

    it("keeps call order for concurrent writes to one path", function()
      local p = dir .. "/order.txt"
      local done = 0
      for i = 1, 20 do
        files:write(p, { content = tostring(i) }, function(ok)
          assert.is_true(ok)
          done = done + 1
        end)
      end
      assert.is_true(wait_until(function()
        return done == 20
      end))
      assert.are.equal("20", read_file(p))
      assert.are.equal("20", files:get_sync(p).content)
    end)

    it("fails as a value into a missing directory and leaves nothing behind", function()
      local p = dir .. "/nope/x.txt"
      local ok, err, code = run_async(function()
        return files:write_async(p, { content = "x" })
      end)
      assert.is_nil(ok)
      assert.are.equal("ENOENT", code)
      assert.matches(p, err, 1, true)
      assert.are.same({}, dir_names(dir))
    end)

    it("rejects bad data as a Lua error", function()
      assert.has_error(function()
        files:write_sync(dir .. "/x", 42)
      end)
      assert.has_error(function()
        files:write_sync(dir .. "/x", { content = 42 })
      end)
      assert.has_error(function()
        files:write_sync(dir .. "/x", {})
      end)
    end)
  end)
end)
