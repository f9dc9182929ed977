-- Hits validated by the inotify watcher must be exactly as correct as stat validation: every
-- change whose system call returned before a get began is seen by that get. Each scenario edits
-- cached files and gets them back immediately, thousands of times.
local fscache = require("fscache")
local uv = test_uv

local N = 2000 -- files per round
-- Entries read less than 50 ms after their file changed are re-checked by content and never
-- served by the watcher; age the files past that so the watcher path is what gets exercised.
local age = sleep_past_racy_window

local function watching()
  return fscache.pool_stats().watching
end

local function make_files(dir, n, tag)
  local paths = {}
  for i = 1, n do
    paths[i] = ("%s/f%04d.txt"):format(dir, i)
    write_file(paths[i], ("%s %d\n"):format(tag, i))
  end
  return paths
end

-- Caches every path (read after the files aged) and returns how many of a second round of gets
-- the watcher served without a pool trip.
local function cache_all(files, paths)
  age()
  for _, p in ipairs(paths) do
    assert(files:get_async(p))
  end
  local before = files:stats().fast_hits
  for _, p in ipairs(paths) do
    assert(files:get_async(p))
  end
  return files:stats().fast_hits - before
end

-- Gets every path now (inside a coroutine) and checks its content is "<tag> <i>\n".
local function expect_all(files, paths, tag)
  for i, p in ipairs(paths) do
    assert.are.equal(("%s %d\n"):format(tag, i), assert(files:get_async(p)).content)
  end
end

describe("watcher-validated hits", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("is active on this machine (inotify on a local file system)", function()
    assert.is_true(watching())
    local paths = make_files(dir, 10, "a")
    local fast = run_async(function()
      return cache_all(files, paths)
    end)
    assert.are.equal(10, fast)
    assert.is_true(fscache.pool_stats().watches > 0)
  end)

  it("sees every in-place rewrite (io.open 'w') made right before the get", function()
    local paths = make_files(dir, N, "old")
    run_async(function()
      assert.are.equal(N, cache_all(files, paths))
      local fast0 = files:stats().fast_hits
      for i, p in ipairs(paths) do
        write_file(p, ("new content %d, longer than before\n"):format(i))
        local e = assert(files:get_async(p))
        assert.are.equal(("new content %d, longer than before\n"):format(i), e.content)
      end
      assert.are.equal(fast0, files:stats().fast_hits)
    end, 60000)
  end)

  it("sees same-size rewrites, also inside one timestamp tick", function()
    local paths = make_files(dir, N, "x")
    run_async(function()
      assert.are.equal(N, cache_all(files, paths))
      for i, p in ipairs(paths) do
        local f = assert(io.open(p, "r+b"))
        f:write("y") -- same size, first byte changed
        f:close()
        local e = assert(files:get_async(p))
        assert.are.equal(("y %d\n"):format(i), e.content)
        -- and again immediately: same size, same tick, content back to 'x'
        f = assert(io.open(p, "r+b"))
        f:write("x")
        f:close()
        e = assert(files:get_async(p))
        assert.are.equal(("x %d\n"):format(i), e.content)
      end
    end, 60000)
  end)

  it("sees rename-over, truncate, delete and re-create", function()
    local paths = make_files(dir, N, "orig")
    run_async(function()
      assert.are.equal(N, cache_all(files, paths))
      for i, p in ipairs(paths) do
        local tmp = p .. ".tmp"
        write_file(tmp, "renamed over " .. i)
        assert(os.rename(tmp, p))
        assert.are.equal("renamed over " .. i, assert(files:get_async(p)).content)
      end
      age()
      for _, p in ipairs(paths) do
        assert(files:get_async(p)) -- cached and aged again
      end
      for _, p in ipairs(paths) do
        assert(io.open(p, "wb")):close() -- truncate
        assert.are.equal("", assert(files:get_async(p)).content)
      end
      age()
      for _, p in ipairs(paths) do
        assert(files:get_async(p))
      end
      for i, p in ipairs(paths) do
        assert(os.remove(p))
        local e, err, code = files:get_async(p)
        assert.is_nil(e)
        assert.are.equal("ENOENT", code, err)
        write_file(p, "back " .. i)
        assert.are.equal("back " .. i, assert(files:get_async(p)).content)
      end
    end, 60000)
  end)

  it("sees attribute-only changes that make the file unreadable", function()
    if sh("id -u") and select(2, sh("id -u")):match("^0") then
      -- root reads anything: check that a chmod is at least noticed (no stale fast hit)
      local paths = make_files(dir, 20, "m")
      run_async(function()
        assert.are.equal(20, cache_all(files, paths))
        local fast0 = files:stats().fast_hits
        for _, p in ipairs(paths) do
          assert(uv.fs_chmod(p, 384))
          assert(files:get_async(p))
        end
        assert.are.equal(fast0, files:stats().fast_hits)
      end)
      return
    end
    local paths = make_files(dir, 20, "m")
    run_async(function()
      assert.are.equal(20, cache_all(files, paths))
      for _, p in ipairs(paths) do
        assert(uv.fs_chmod(p, 0))
        local e, _, code = files:get_async(p)
        assert.is_nil(e)
        assert.are.equal("EACCES", code)
      end
    end)
  end)

  -- A new directory `name` under the test's directory holding `n` files tagged "first".
  local function subdir(name, n)
    local sub = dir .. "/" .. name
    assert(uv.fs_mkdir(sub, 493))
    return sub, make_files(sub, n, "first")
  end

  it("sees a directory on the path renamed away and replaced", function()
    local sub, paths = subdir("sub", 50)
    run_async(function()
      assert.are.equal(50, cache_all(files, paths))
      assert(os.rename(sub, dir .. "/sub.old"))
      assert(uv.fs_mkdir(sub, 493))
      make_files(sub, 50, "second")
      expect_all(files, paths, "second")
    end)
  end)

  it("a watch kept after its cache went away never vouches for a directory that replaced it", function()
    local sub, paths = subdir("kept", 20)
    run_async(function()
      local gone = fscache.FileCache.new()
      assert.are.equal(20, cache_all(gone, paths))
      gone = nil -- luacheck: ignore (dropped: its directory watches are kept a while, unused)
      collectgarbage()
      collectgarbage()
      -- The directory is replaced while only the kept watch (on the old inode) exists.
      assert(os.rename(sub, dir .. "/kept.old"))
      assert(uv.fs_mkdir(sub, 493))
      make_files(sub, 20, "second")
      cache_all(files, paths)
      expect_all(files, paths, "second")
      -- Changes in the new directory must be seen, through a watch on it (or by stat).
      make_files(sub, 20, "third")
      expect_all(files, paths, "third")
    end)
  end)

  it("a cache dropped and made again gets its directory watches back without new ones", function()
    -- Adding a watch to a directory walks every entry the kernel caches for it (milliseconds
    -- for a busy /tmp); watches nobody needs are kept a while, so the second cache reuses them.
    local C = require("support.child")
    write_file(dir .. "/f", "kept")
    local trace = dir .. "/trace"
    local rc, out = C.run(
      "strace -f -qq -e trace=inotify_add_watch,inotify_rm_watch -o "
        .. C.q(trace)
        .. " "
        .. C.lua_cmd("kept_watch", { dir })
    )
    assert.are.equal(0, rc, out)
    assert.matches("content=kept", out, 1, true)
    local text = read_file(trace) or ""
    local adds, removes = 0, 0
    for target in text:gmatch('inotify_add_watch%(%d+, "([^"]*)"') do
      if target == dir then
        adds = adds + 1
      end
    end
    for _ in text:gmatch("inotify_rm_watch%(") do
      removes = removes + 1
    end
    assert.are.equal(1, adds, text)
    assert.are.equal(0, removes, text)
  end)

  it("removes kept watches once nobody has needed them for a few seconds", function()
    local _, in_sub = subdir("expire", 1)
    write_file(dir .. "/other", "y")
    write_file(dir .. "/third", "z")
    local function read_and_drop(path)
      local c = fscache.FileCache.new()
      assert(c:get_sync(path))
      c = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end
    read_and_drop(dir .. "/other") -- the ancestors' watches exist before counting
    read_and_drop(in_sub[1])
    local kept = fscache.pool_stats().watches
    -- Removal runs in rounds at releases, each taking what was given up before the previous
    -- round: two rounds 2 s apart remove what was given up before the first.
    for _ = 1, 2 do
      uv.sleep(2100)
      read_and_drop(dir .. "/third")
    end
    local now = fscache.pool_stats().watches
    assert.is_true(now < kept, ("%d watches, %d before"):format(now, kept))
  end)

  it("sees a grandparent directory renamed away and replaced", function()
    local top = dir .. "/top"
    assert(uv.fs_mkdir(top, 493))
    assert(uv.fs_mkdir(top .. "/mid", 493))
    local paths = make_files(top .. "/mid", 20, "first")
    run_async(function()
      assert.are.equal(20, cache_all(files, paths))
      assert(os.rename(top, dir .. "/top.old"))
      assert(uv.fs_mkdir(top, 493))
      assert(uv.fs_mkdir(top .. "/mid", 493))
      make_files(top .. "/mid", 20, "second")
      expect_all(files, paths, "second")
    end)
  end)

  it("stays correct through a symlinked directory and a retargeted symlink", function()
    assert(uv.fs_mkdir(dir .. "/a", 493))
    assert(uv.fs_mkdir(dir .. "/b", 493))
    write_file(dir .. "/a/f.txt", "in a")
    write_file(dir .. "/b/f.txt", "in b")
    assert(uv.fs_symlink(dir .. "/a", dir .. "/link"))
    assert(uv.fs_symlink(dir .. "/a/f.txt", dir .. "/flink"))
    run_async(function()
      for _ = 1, 200 do
        assert(os.remove(dir .. "/link"))
        assert(uv.fs_symlink(dir .. "/a", dir .. "/link"))
        assert.are.equal("in a", assert(files:get_async(dir .. "/link/f.txt")).content)
        assert.are.equal("in a", assert(files:get_async(dir .. "/flink")).content)
        assert(os.remove(dir .. "/link"))
        assert(uv.fs_symlink(dir .. "/b", dir .. "/link"))
        assert(os.remove(dir .. "/flink"))
        assert(uv.fs_symlink(dir .. "/b/f.txt", dir .. "/flink"))
        assert.are.equal("in b", assert(files:get_async(dir .. "/link/f.txt")).content)
        assert.are.equal("in b", assert(files:get_async(dir .. "/flink")).content)
        assert(os.remove(dir .. "/flink"))
        assert(uv.fs_symlink(dir .. "/a/f.txt", dir .. "/flink"))
      end
    end)
  end)

  it("sees a change made through another hard link", function()
    write_file(dir .. "/one", "v1")
    assert(uv.fs_mkdir(dir .. "/other", 493))
    assert(uv.fs_link(dir .. "/one", dir .. "/other/two"))
    run_async(function()
      age()
      assert(files:get_async(dir .. "/one"))
      for i = 1, 500 do
        local f = assert(io.open(dir .. "/other/two", "r+b"))
        f:write(("v%d"):format(i % 10))
        f:close()
        assert.are.equal(("v%d"):format(i % 10), assert(files:get_async(dir .. "/one")).content)
      end
    end)
  end)

  it("sees a change made through a hard link created after the file was cached", function()
    assert(uv.fs_mkdir(dir .. "/a", 493))
    assert(uv.fs_mkdir(dir .. "/b", 493)) -- nothing under b is cached or watched
    local paths = make_files(dir .. "/a", 300, "orig")
    run_async(function()
      assert.are.equal(300, cache_all(files, paths))
      for i, p in ipairs(paths) do
        local other = ("%s/b/g%04d"):format(dir, i)
        assert(uv.fs_link(p, other))
        local f = assert(io.open(other, "r+b"))
        f:write("L") -- same size, through the new link only
        f:close()
        assert.are.equal(("Lrig %d\n"):format(i), assert(files:get_async(p)).content)
      end
    end)
  end)

  it("answers get() callbacks for watched hits later, never synchronously", function()
    local paths = make_files(dir, 5, "cb")
    run_async(function()
      cache_all(files, paths)
    end)
    local hits0 = files:stats().hits
    local got, sync = {}, true
    for i, p in ipairs(paths) do
      files:get(p, function(e)
        got[i] = e.content
        assert.is_false(sync)
      end)
    end
    sync = false
    assert.are.equal(0, #got)
    assert.is_true(wait_until(function()
      return #got == 5
    end))
    assert.are.equal(("cb %d\n"):format(5), got[5])
    assert.are.equal(hits0 + 5, files:stats().hits)
  end)

  it("keeps working (by stat) when the watch limit is reached", function()
    local limit = fscache.pool_stats().watch_limit
    fscache.setup({ watch_limit = 0 })
    local ok, err = pcall(function()
      local other = fscache.FileCache.new()
      local paths = make_files(dir, 50, "limited")
      run_async(function()
        age()
        for _, p in ipairs(paths) do
          assert(other:get_async(p))
        end
        for i, p in ipairs(paths) do
          write_file(p, "changed " .. i)
          assert.are.equal("changed " .. i, assert(other:get_async(p)).content)
        end
        assert.are.equal(0, other:stats().fast_hits)
      end)
    end)
    fscache.setup({ watch_limit = limit })
    assert(ok, err)
  end)
end)

describe("watcher-validated directory listings", function()
  local dir, dirs
  before_each(function()
    dir = tmpdir()
    dirs = fscache.DirectoryCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function names(listing)
    local out = {}
    for i, e in ipairs(listing.entries) do
      out[i] = e.name
    end
    return table.concat(out, ",")
  end

  it("sees every entry added and removed right before the get", function()
    local subs = {}
    for i = 1, 200 do
      subs[i] = ("%s/d%03d"):format(dir, i)
      assert(uv.fs_mkdir(subs[i], 493))
      write_file(subs[i] .. "/keep", "")
    end
    run_async(function()
      age()
      for _, d in ipairs(subs) do
        assert(dirs:get_async(d))
      end
      local fast0 = dirs:stats().fast_hits
      for _, d in ipairs(subs) do
        assert.are.equal("keep", names(assert(dirs:get_async(d))))
      end
      assert.are.equal(fast0 + #subs, dirs:stats().fast_hits)
      for _, d in ipairs(subs) do
        write_file(d .. "/new", "")
        assert.are.equal("keep,new", names(assert(dirs:get_async(d))))
        assert(os.remove(d .. "/keep"))
        assert.are.equal("new", names(assert(dirs:get_async(d))))
        assert(os.rename(d .. "/new", d .. "/renamed"))
        assert.are.equal("renamed", names(assert(dirs:get_async(d))))
      end
    end, 60000)
  end)

  it("does not treat a file's content change as a listing change", function()
    write_file(dir .. "/a", "1")
    run_async(function()
      age()
      assert(dirs:get_async(dir))
      local fast0 = dirs:stats().fast_hits
      write_file(dir .. "/a", "22")
      assert.are.equal("a", names(assert(dirs:get_async(dir))))
      assert.are.equal(fast0 + 1, dirs:stats().fast_hits)
    end)
  end)
end)

describe("performance settings", function()
  it("validates and reports worker_nice and watch_limit", function()
    local before = fscache.pool_stats()
    assert.are.equal(10, before.worker_nice)
    fscache.setup({ worker_nice = 5 })
    assert.are.equal(5, fscache.pool_stats().worker_nice)
    fscache.setup({ worker_nice = before.worker_nice })
    local ok, err = pcall(fscache.setup, { worker_nice = 20 })
    assert.is_false(ok)
    assert.matches(
      "bad option 'worker_nice' to 'setup' (integer 0..19 expected, got number 20)",
      tostring(err),
      1,
      true
    )
    ok, err = pcall(fscache.setup, { watch_limit = "many" })
    assert.is_false(ok)
    assert.matches(
      "bad option 'watch_limit' to 'setup' (integer >= 0 or false expected, got string \"many\")",
      tostring(err),
      1,
      true
    )
    fscache.setup({ watch_limit = false })
    assert.are.equal(0, fscache.pool_stats().watch_limit)
    assert.is_false(fscache.pool_stats().watching)
    fscache.setup({ watch_limit = before.watch_limit })
    assert.is_true(fscache.pool_stats().watching)
  end)

  it("still reads correctly while the pool runs at normal priority", function()
    local dir = tmpdir()
    write_file(dir .. "/a", "A")
    fscache.setup({ worker_nice = 0 })
    local ok, err = pcall(function()
      local files = fscache.FileCache.new()
      assert.are.equal(
        "A",
        run_async(function()
          return assert(files:get_async(dir .. "/a")).content
        end)
      )
    end)
    fscache.setup({ worker_nice = 10 })
    rm_rf(dir)
    assert(ok, err)
  end)
end)
