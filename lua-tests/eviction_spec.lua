-- Bounded memory: max_bytes (defaults, bad values, 0), the bound holding after every operation,
-- files larger than the bound, scan resistance (S3-FIFO), watches released on eviction, and
-- eviction racing a read of the same path.

local fscache = require("fscache")

local KIB = 1024

local function make(dir, name, size)
  local p = dir .. "/" .. name
  write_file(p, name .. string.rep(".", size - #name))
  return p
end

describe("max_bytes", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("has finite defaults, reported by stats()", function()
    assert.are.equal(128 * 1024 * 1024, fscache.FileCache.new():stats().max_bytes)
    assert.are.equal(16 * 1024 * 1024, fscache.DirectoryCache.new():stats().max_bytes)
    assert.are.equal(4096, fscache.FileCache.new({ max_bytes = 4096 }):stats().max_bytes)
    assert.are.equal(4096, fscache.DirectoryCache.new({ max_bytes = 4096 }):stats().max_bytes)
  end)

  it("rejects negative, NaN, huge, fractional and non-numbers with an error naming the option", function()
    for _, bad in ipairs({ -1, 0 / 0, 2 ^ 60, math.huge, 1.5, "100", true, {} }) do
      for _, class in ipairs({ fscache.FileCache, fscache.DirectoryCache }) do
        local ok, err = pcall(class.new, { max_bytes = bad })
        assert.is_false(ok, tostring(bad))
        assert.matches("bad option 'max_bytes'", err, 1, true)
      end
    end
  end)

  it("0 caches nothing: every get reads, concurrent gets still share one read", function()
    local p = make(dir, "f", 100)
    local files = fscache.FileCache.new({ max_bytes = 0 })
    assert.are.equal("f", files:get_sync(p).content:sub(1, 1))
    assert.are.equal("f", files:get_sync(p).content:sub(1, 1))
    local s = files:stats()
    assert.are.equal(0, s.entries)
    assert.are.equal(2, s.reads)
    local n = 0
    for _ = 1, 10 do
      files:get(p, function(e)
        assert.are.equal(100, #e.content)
        n = n + 1
      end)
    end
    assert.is_true(wait_until(function()
      return n == 10
    end))
    assert.are.equal(3, files:stats().reads)
  end)

  it("holds after every get: bytes never exceed the bound, evictions are counted", function()
    local files = fscache.FileCache.new({ max_bytes = 10 * KIB })
    for i = 1, 100 do
      local p = make(dir, "f" .. i, KIB)
      assert.are.equal(KIB, #files:get_sync(p).content)
      assert.is_true(files:stats().bytes <= 10 * KIB)
    end
    run_async(function()
      for i = 1, 100 do
        files:get_async(dir .. "/f" .. i)
        assert.is_true(files:stats().bytes <= 10 * KIB)
      end
    end)
    local s = files:stats()
    assert.is_true(s.evictions >= 90, "evictions " .. s.evictions)
    assert.is_true(s.entries <= 10)
  end)

  it("holds for directory listings (names)", function()
    local dirs = fscache.DirectoryCache.new({ max_bytes = 200 })
    for i = 1, 20 do
      local d = dir .. "/d" .. i
      assert(test_uv.fs_mkdir(d, 448))
      for j = 1, 5 do
        write_file(d .. "/name-" .. j, "")
      end
      assert.are.equal(5, #dirs:get_sync(d).entries)
      assert.is_true(dirs:stats().bytes <= 200)
    end
    assert.is_true(dirs:stats().evictions > 0)
  end)

  it("a file larger than the bound is served but not cached", function()
    local files = fscache.FileCache.new({ max_bytes = 1000 })
    local p = make(dir, "big", 5000)
    local e = files:get_sync(p)
    assert.are.equal(5000, #e.content)
    local s = files:stats()
    assert.are.equal(0, s.entries)
    assert.are.equal(0, s.bytes)
    -- and a written file larger than the bound is not kept either
    assert.is_true(files:write_sync(dir .. "/w", string.rep("w", 2000)))
    assert.are.equal(0, files:stats().entries)
    assert.are.equal(2000, #files:get_sync(dir .. "/w").content)
  end)

  it("entries already handed out stay valid after eviction", function()
    local files = fscache.FileCache.new({ max_bytes = 2 * KIB })
    local first = files:get_sync(make(dir, "first", KIB))
    for i = 1, 10 do
      files:get_sync(make(dir, "f" .. i, KIB))
    end
    collectgarbage()
    assert.are.equal(KIB, #first.content)
    assert.are.equal("first", first.content:sub(1, 5))
  end)
end)

describe("eviction resists scans", function()
  local dir
  setup(function()
    dir = tmpdir()
  end)
  teardown(function()
    rm_rf(dir)
  end)

  it("a one-off pass over 2,000 files does not flush 10 files read over and over", function()
    local files = fscache.FileCache.new({ max_bytes = 100 * KIB })
    local hot = {}
    for i = 1, 10 do
      hot[i] = make(dir, "hot" .. i, KIB)
    end
    for _ = 1, 20 do
      for i = 1, 10 do
        files:get_sync(hot[i])
      end
    end
    for i = 1, 2000 do
      files:get_sync(make(dir, "scan" .. i, KIB))
    end
    local before = files:stats()
    for i = 1, 10 do
      files:get_sync(hot[i])
    end
    local after = files:stats()
    assert.are.equal(before.misses, after.misses, "hot files were evicted by the scan")
    assert.are.equal(before.hits + 10, after.hits)
    assert.is_true(after.bytes <= 100 * KIB)
  end)

  it("a file read again after it left the cache comes back into the protected queue", function()
    local files = fscache.FileCache.new({ max_bytes = 20 * KIB })
    local p = make(dir, "again", KIB)
    files:get_sync(p)
    for i = 1, 40 do
      files:get_sync(make(dir, "x" .. i, KIB))
    end
    local s = files:stats()
    files:get_sync(p) -- evicted by now: a miss, remembered as recently evicted
    assert.are.equal(s.misses + 1, files:stats().misses)
    for i = 41, 80 do
      files:get_sync(make(dir, "x" .. i, KIB))
    end
    s = files:stats()
    files:get_sync(p)
    assert.are.equal(s.misses, files:stats().misses, "a returning file was evicted by the next scan")
  end)
end)

describe("eviction and the rest of the engine", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("evicted entries release their inotify watches", function()
    collectgarbage()
    collectgarbage()
    local base = fscache.pool_stats().watched_paths
    local files = fscache.FileCache.new({ max_bytes = 5 * KIB })
    for i = 1, 200 do
      files:get_sync(make(dir, "f" .. i, KIB))
    end
    local ps = fscache.pool_stats()
    if not ps.watching then
      pending("inotify is not available here")
      return
    end
    -- One tracked path per cached file plus the directories on the way (at most ~10 here).
    local tracked = ps.watched_paths - base
    assert.is_true(tracked >= 1 and tracked <= files:stats().entries + 16, "tracked " .. tracked)
    files:clear_all()
    collectgarbage()
  end)

  it("eviction while a read of the same path is in flight: the read answers and the bound holds", function()
    local files = fscache.FileCache.new({ max_bytes = 3 * KIB, trust_mtime = false })
    local p = make(dir, "p", KIB)
    files:get_sync(p)
    local got
    files:get(p, function(e)
      got = e
    end)
    for i = 1, 10 do
      files:get_sync(make(dir, "o" .. i, KIB))
    end
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal(KIB, #got.content)
    assert.is_true(files:stats().bytes <= 3 * KIB)
  end)
end)
