-- Deterministic races on real files: a pool worker is stopped at an exact point (between fstat and
-- read, between two reads, between the validation stat and the open, before readdir, before
-- fsync/rename of a write) by the fault-injection preload library, the test changes the file
-- system, and the worker continues. Run by scripts/suites.d/reliability.sh with
-- LD_PRELOAD=libfaultshim.so (pattern "_fault", so the plain busted runs skip this file).

local fscache = require("fscache")
local F = require("support.faults")
local uv = test_uv
local unpack = table.unpack or unpack

local function start(cache, method, ...)
  local box = { done = false }
  local args = { ... }
  args[#args + 1] = function(...)
    assert(not box.done, "callback called twice")
    box.done, box.n, box.r = true, select("#", ...), { ... }
  end
  cache[method](cache, unpack(args))
  return box
end

local function finish(box)
  assert(
    wait_until(function()
      return box.done
    end, 5000),
    "no answer"
  )
  return unpack(box.r, 1, box.n)
end

local function get(cache, path)
  return finish(start(cache, "get", path))
end

local function size_of(path)
  local st = uv.fs_stat(path)
  return st and st.size
end

local function leftovers(dir)
  local names = {}
  for name in
    (function()
      local scan = uv.fs_scandir(dir)
      return function()
        return scan and uv.fs_scandir_next(scan)
      end
    end)()
  do
    if name:find("fscache%-") then
      names[#names + 1] = name
    end
  end
  return names
end

local function idle_pool()
  return wait_until(function()
    return fscache.pool_stats().running == 0
  end, 3000)
end

describe("fault injection (preloaded faultshim)", function()
  local dir, P
  before_each(function()
    assert(F.active(), "run with LD_PRELOAD=libfaultshim.so and FSCACHE_FAULT_CTL (make test)")
    F.reset()
    dir = tmpdir()
    P = dir .. "/victim.txt"
  end)
  after_each(function()
    F.reset()
    rm_rf(dir)
  end)

  describe("file changed between fstat and the first read", function()
    it("deleted: answers what the open descriptor holds, then ENOENT and the entry is gone", function()
      write_file(P, "old content")
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      assert(os.remove(P))
      F.release("read1")
      local e = finish(box)
      assert.are.equal("old content", e.content)
      local none, msg, code = get(files, P)
      assert.is_nil(none)
      assert.are.equal("ENOENT", code)
      assert.matches("victim.txt", msg, 1, true)
      assert.are.equal(0, files:stats().entries)
    end)

    it("truncated: answers the bytes actually there, with a matching size", function()
      write_file(P, string.rep("x", 5000))
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      write_file(P, "")
      F.release("read1")
      local e = finish(box)
      assert.are.equal("", e.content)
      assert.are.equal(0, e.size)
      write_file(P, "rewritten")
      assert.are.equal("rewritten", get(files, P).content)
    end)

    it("replaced by rename: answers the opened file, the next get the replacement", function()
      write_file(P, "first version")
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      write_file(dir .. "/next", "second version")
      assert(os.rename(dir .. "/next", P))
      F.release("read1")
      assert.are.equal("first version", finish(box).content)
      assert.are.equal("second version", get(files, P).content)
    end)

    it("growing: reads to EOF, past the size fstat announced", function()
      write_file(P, string.rep("a", 100))
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      local f = assert(io.open(P, "ab"))
      f:write(string.rep("b", 200000))
      f:close()
      F.release("read1")
      local e = finish(box)
      assert.are.equal(200100, #e.content)
      assert.is_true(e.content == string.rep("a", 100) .. string.rep("b", 200000))
      assert.are.equal(200100, e.size)
    end)

    it("growing past max_size: EFBIG, never more than max_size + 1 bytes held", function()
      write_file(P, string.rep("a", 500))
      local files = fscache.FileCache.new({ max_size = 1000 })
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      local f = assert(io.open(P, "ab"))
      f:write(string.rep("b", 10 * 1024 * 1024))
      f:close()
      F.release("read1")
      local none, msg, code = finish(box)
      assert.is_nil(none)
      assert.are.equal("EFBIG", code)
      assert.matches("max_size 1000", msg, 1, true)
      assert.are.equal(0, files:stats().bytes)
    end)
  end)

  describe("file changed while a read is in flight (after the fstat, before the bytes are read)", function()
    it("rewritten in place, same size and mtime: the next get sees the change", function()
      write_file(P, string.rep("A", 4096))
      -- Older than the racy window: only the identity taken before the read can tell.
      sleep_past_racy_window()
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      -- Same size, mtime restored to the nanosecond: only ctime says the file changed.
      assert(sh("touch -r " .. shell_quote(P) .. " " .. shell_quote(dir .. "/ref")))
      local f = assert(io.open(P, "r+b"))
      f:write(string.rep("B", 4096))
      f:close()
      assert(sh("touch -r " .. shell_quote(dir .. "/ref") .. " " .. shell_quote(P)))
      sleep_past_racy_window()
      F.release("read1")
      -- A regular file is read with one read() once fstat gave its size, so the pause sits between
      -- the fstat (the identity kept) and the bytes: the answer is the new bytes, never torn, and
      -- the kept identity is the old one, so the next get re-reads.
      assert.is_true(finish(box).content == string.rep("B", 4096), "the read saw the bytes on disk")
      local e = get(files, P)
      assert.is_true(e.content == string.rep("B", 4096), "stale content served after an in-flight change")
    end)

    it("deleted: answers the bytes read, then ENOENT", function()
      write_file(P, "soon gone")
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      assert(os.remove(P))
      F.release("read1")
      assert.are.equal("soon gone", finish(box).content)
      local _, _, code = get(files, P)
      assert.are.equal("ENOENT", code)
    end)

    it("appended: the read continues to the new EOF, and the next get is consistent", function()
      write_file(P, "head;")
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      local f = assert(io.open(P, "ab"))
      f:write("tail")
      f:close()
      sleep_past_racy_window()
      F.release("read1")
      assert.are.equal("head;tail", finish(box).content)
      assert.are.equal("head;tail", get(files, P).content)
    end)
  end)

  describe("file rewritten in place between two reads of one get", function()
    it("never answers a mix of two versions: the read starts again", function()
      -- fstat sees 5,000 bytes; before the first read the file becomes 100 bytes of "c" (the
      -- first read ends short of the announced size, so a second read follows); before that
      -- second read it becomes 6,000 bytes of "b". Read on from where the first stopped, the
      -- answer was 100 "c" and then 5,900 "b": a version that never existed. A read that took
      -- more than one call must see the identity of its fstat again afterwards.
      write_file(P, string.rep("a", 5000))
      local files = fscache.FileCache.new()
      F.arm("read1", P)
      F.arm("read2", P)
      local box = start(files, "get", P)
      F.wait_paused("read1")
      write_file(P, string.rep("c", 100))
      F.release("read1")
      F.wait_paused("read2")
      write_file(P, string.rep("b", 6000))
      F.release("read2")
      local e = finish(box)
      assert.are.equal(6000, #e.content)
      assert.is_true(e.content == string.rep("b", 6000), "a torn read was answered")
      assert.are.equal(6000, e.size)
      assert.is_true(get(files, P).content == string.rep("b", 6000))
    end)
  end)

  describe("file changed between the validation stat and the open", function()
    local files
    before_each(function()
      write_file(P, "version A")
      sleep_past_racy_window()
      files = fscache.FileCache.new()
      assert.are.equal("version A", get(files, P).content)
      write_file(P, "version BB") -- different size: the validation stat sees it and reads again
    end)

    it("replaced again: the entry holds what was opened, and it is served as a hit", function()
      F.arm("open", P)
      local box = start(files, "get", P)
      F.wait_paused("open")
      write_file(dir .. "/c", "version CCC")
      assert(os.rename(dir .. "/c", P))
      F.release("open")
      assert.are.equal("version CCC", finish(box).content)
      sleep_past_racy_window()
      local hits = files:stats().hits
      assert.are.equal("version CCC", get(files, P).content)
      assert.are.equal(hits + 1, files:stats().hits)
    end)

    it("removed: ENOENT and the stale entry is dropped", function()
      F.arm("open", P)
      local box = start(files, "get", P)
      F.wait_paused("open")
      assert(os.remove(P))
      F.release("open")
      local none, _, code = finish(box)
      assert.is_nil(none)
      assert.are.equal("ENOENT", code)
      assert.are.equal(0, files:stats().entries)
    end)

    it("replaced by a FIFO: an error, never a worker blocked on the FIFO", function()
      F.arm("open", P)
      local box = start(files, "get", P)
      F.wait_paused("open")
      assert(os.remove(P))
      assert(sh("mkfifo " .. shell_quote(P)))
      F.release("open")
      local none, msg, code = finish(box)
      assert.is_nil(none)
      assert.are.equal("EINVAL", code)
      assert.matches("not a regular file (fifo)", msg, 1, true)
      assert.is_true(idle_pool())
    end)

    it("replaced by a directory: EISDIR", function()
      F.arm("open", P)
      local box = start(files, "get", P)
      F.wait_paused("open")
      assert(os.remove(P))
      assert(uv.fs_mkdir(P, 493))
      F.release("open")
      local _, _, code = finish(box)
      assert.are.equal("EISDIR", code)
    end)
  end)

  describe("directory changed while listed (before the first readdir)", function()
    it("removed: no crash, then ENOENT", function()
      local D = dir .. "/d"
      assert(uv.fs_mkdir(D, 493))
      for i = 1, 20 do
        write_file(D .. "/f" .. i, "x")
      end
      local dirs = fscache.DirectoryCache.new()
      F.arm("readdir", D)
      local box = start(dirs, "get", D)
      F.wait_paused("readdir")
      rm_rf(D)
      F.release("readdir")
      local listing, _, code = finish(box)
      -- Linux lists a removed directory as empty; either way the answer is a value, not a crash.
      assert.is_true(listing ~= nil or code ~= nil)
      if listing then
        assert.are.equal(0, #listing.entries)
      end
      local none, _, code2 = finish(start(dirs, "get", D))
      assert.is_nil(none)
      assert.are.equal("ENOENT", code2)
    end)

    it("entries added and removed: the next get shows the current entries", function()
      local D = dir .. "/d"
      assert(uv.fs_mkdir(D, 493))
      write_file(D .. "/keep", "")
      write_file(D .. "/gone", "")
      sleep_past_racy_window()
      local dirs = fscache.DirectoryCache.new()
      F.arm("readdir", D)
      local box = start(dirs, "get", D)
      F.wait_paused("readdir")
      assert(os.remove(D .. "/gone"))
      write_file(D .. "/new", "")
      sleep_past_racy_window()
      F.release("readdir")
      assert.is_table(finish(box))
      local names = {}
      for _, e in ipairs(finish(start(dirs, "get", D)).entries) do
        names[#names + 1] = e.name
      end
      assert.are.same({ "keep", "new" }, names)
    end)
  end)

  describe("write faults: an error, the target byte-for-byte intact, no temp file", function()
    local original = "original\0bytes " .. string.rep("z", 3000)
    local function check_intact(files, want_code, r_ok, r_msg, r_code)
      assert.is_nil(r_ok)
      assert.are.equal(want_code, r_code)
      assert.matches(P, r_msg, 1, true)
      assert.is_true(read_file(P) == original, "target changed by a failed write")
      assert.are.same({}, leftovers(dir))
      assert.is_true(get(files, P).content == original)
    end

    for _, case in ipairs({
      { point = "write", errno = F.ENOSPC, code = "ENOSPC", what = "write(2) fails ENOSPC" },
      { point = "write", errno = F.EIO, code = "EIO", what = "write(2) fails EIO" },
      { point = "fsync", errno = F.EIO, code = "EIO", what = "fsync fails EIO" },
      { point = "rename", errno = F.EIO, code = "EIO", what = "rename fails EIO" },
    }) do
      it(case.what .. " (write_sync and write)", function()
        write_file(P, original)
        local files = fscache.FileCache.new()
        assert.is_true(get(files, P).content == original)
        local prefix = case.point == "rename" and P or (dir .. "/.victim.txt.fscache-")
        F.arm(case.point, prefix, case.errno)
        local ok, msg, code = files:write_sync(P, { content = "new content" })
        assert.is_true(F.fired(case.point), "the fault did not fire")
        check_intact(files, case.code, ok, msg, code)
        F.reset()
        F.arm(case.point, prefix, case.errno)
        check_intact(files, case.code, finish(start(files, "write", P, { content = "new content" })))
      end)
    end

    it("the temp file is never more readable than the target while it is written", function()
      for _, mode in ipairs({ 384, 416, 420 }) do -- 0600, 0640, 0644
        write_file(P, original)
        assert(uv.fs_chmod(P, mode))
        local files = fscache.FileCache.new()
        local temp_modes = {}
        for _, point in ipairs({ "write", "fsync" }) do
          F.arm(point, dir .. "/.victim.txt.fscache-")
          local box = start(files, "write", P, { content = "secret" })
          F.wait_paused(point)
          local names = leftovers(dir)
          assert.are.equal(1, #names)
          assert.matches("^%.victim%.txt%.fscache%-%d+%-%d+%.tmp$", names[1])
          local st = assert(uv.fs_lstat(dir .. "/" .. names[1]))
          assert.are.equal("file", st.type)
          temp_modes[point] = st.mode % 4096
          F.release(point)
          assert.is_true(finish(box))
        end
        assert.are.equal(384, temp_modes.write) -- 0600 while the content goes in
        assert.are.equal(mode, temp_modes.fsync) -- the target's bits before the rename
        assert.are.equal(mode, uv.fs_stat(P).mode % 4096)
        assert.are.same({}, leftovers(dir))
      end
    end)
  end)

  describe("bounded pool", function()
    it("2,000 gets of slow files (1 ms per read) never hold more than `threads` files open", function()
      local many = dir .. "/many"
      assert(uv.fs_mkdir(many, 493))
      for i = 1, 2000 do
        write_file(many .. "/f" .. i, tostring(i))
      end
      F.slow(many .. "/", 1)
      local threads = fscache.pool_stats().threads
      local files = fscache.FileCache.new()
      local answered, good = 0, 0
      for i = 1, 2000 do
        files:get(many .. "/f" .. i, function(e)
          answered = answered + 1
          good = good + ((e and e.content == tostring(i)) and 1 or 0)
        end)
      end
      assert.is_true(wait_until(function()
        return answered == 2000
      end, 30000))
      assert.are.equal(2000, good)
      local max = F.slow_max()
      assert.is_true(max >= 1 and max <= threads, ("%d files open at once, threads = %d"):format(max, threads))
    end)
  end)
end)
