-- Batches: FileCache:get_many_async / get_many / get_many_sync. One suspension for the whole
-- batch; entries[i] is the entry or false, errors[i] the failure message (starting with its
-- code); coalescing and read-your-writes hold inside a batch and across batches.

local fscache = require("fscache")

describe("get_many", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function make(n)
    local paths = {}
    for i = 1, n do
      paths[i] = dir .. "/f" .. i
      write_file(paths[i], "content " .. i)
    end
    return paths
  end

  it("returns entries in order, false + message for failures, in every form", function()
    local paths = make(50)
    paths[51] = dir .. "/missing"
    paths[52] = dir -- a directory
    local check = function(entries, errors)
      assert.are.equal(52, #entries)
      for i = 1, 50 do
        assert.are.equal("content " .. i, entries[i].content)
        assert.is_nil(errors[i])
      end
      assert.is_false(entries[51])
      assert.matches("^ENOENT: ", errors[51])
      assert.matches(dir .. "/missing", errors[51], 1, true)
      assert.is_false(entries[52])
      assert.matches("^EISDIR: ", errors[52])
    end
    check(run_async(function()
      return files:get_many_async(paths)
    end))
    files:clear_all()
    local res = callback_results(files, "get_many", paths)
    check(res[1], res[2])
    files:clear_all()
    check(files:get_many_sync(paths))
  end)

  it("answers a batch of 2,000 with one callback, called once, never synchronously", function()
    local paths = make(2000)
    local calls, entries = 0, nil
    files:get_many(paths, function(e)
      calls = calls + 1
      entries = e
    end)
    assert.are.equal(0, calls)
    assert.is_true(wait_until(function()
      return calls > 0
    end, 20000))
    wait_until(function()
      return false
    end, 50)
    assert.are.equal(1, calls)
    assert.are.equal(2000, #entries)
    assert.are.equal("content 2000", entries[2000].content)
    -- all hits: still answered later, not inside the call
    sleep_past_racy_window()
    calls = 0
    files:get_many(paths, function()
      calls = calls + 1
    end)
    assert.are.equal(0, calls)
    assert.is_true(wait_until(function()
      return calls == 1
    end))
  end)

  it("hands a big batch out a slice at a time, not all inside the call", function()
    local paths = make(2000)
    local slice = fscache.pool_stats().slice_ms
    -- A 1 µs budget is spent by the first group of 32 paths (the budget is checked every 32):
    -- the call hands out that group, the rest follow from later dispatches.
    fscache.setup({ slice_ms = 0.001 })
    local ok, err = pcall(function()
      local before = fscache.pool_stats().pending
      local entries
      files:get_many(paths, function(e)
        entries = e
      end)
      local started = fscache.pool_stats().pending - before
      assert.is_true(started >= 32 and started <= 33, "paths handed out inside the call: " .. started)
      assert.is_true(wait_until(function()
        return entries ~= nil
      end, 20000))
      assert.are.equal(2000, #entries)
      for i = 1, 2000, 111 do
        assert.are.equal("content " .. i, entries[i].content)
      end
    end)
    fscache.setup({ slice_ms = slice })
    assert(ok, err)
  end)

  it("{ json = true } decodes every file on the pool; .jsonc files accept comments", function()
    write_file(dir .. "/a.json", '{"a": 1}')
    write_file(dir .. "/b.jsonc", '{"b": 2, // comment\n}')
    write_file(dir .. "/bad.json", "{nope")
    local values, errors = run_async(function()
      return files:get_many_async({ dir .. "/a.json", dir .. "/b.jsonc", dir .. "/bad.json" }, { json = true })
    end)
    assert.are.equal(1, values[1].a)
    assert.are.equal(2, values[2].b)
    assert.is_false(values[3])
    assert.matches("^EJSON", errors[3])
    assert.matches("bad.json", errors[3], 1, true)
    assert.are.equal(2, files:stats().parses)
  end)

  it("an empty batch answers later with two empty tables", function()
    local res = callback_results(files, "get_many", {})
    assert.are.same({}, res[1])
    assert.are.same({}, res[2])
  end)

  it("coalesces repeated paths inside a batch and with gets in flight", function()
    local paths = make(5)
    sleep_past_racy_window()
    local batch = {}
    for i = 1, 100 do
      batch[i] = paths[(i % 5) + 1]
    end
    files:get(paths[1], function() end)
    local entries = run_async(function()
      return files:get_many_async(batch)
    end)
    assert.are.equal(100, #entries)
    assert.are.equal(5, files:stats().reads)
    -- a second batch is served from the cache
    run_async(function()
      return files:get_many_async(batch)
    end)
    assert.are.equal(5, files:stats().reads)
  end)

  it("read-your-writes holds inside a batch", function()
    local paths = make(3)
    files:get_many_sync(paths)
    files:write(paths[2], "written")
    local entries = run_async(function()
      return files:get_many_async(paths)
    end)
    assert.are.equal("written", entries[2].content)
    assert.are.equal("content 1", entries[1].content)
  end)

  it("bad input: not a table, a non-string path, a NUL byte", function()
    local ok, err = pcall(files.get_many, files, "nope", function() end)
    assert.is_false(ok)
    assert.matches("paths: table expected", err)
    ok, err = pcall(files.get_many, files, { dir .. "/a", {} }, function() end)
    assert.is_false(ok)
    assert.matches("paths%[2%]", err)
    ok, err = pcall(files.get_many, files, { dir .. "/a" }, nil, "not a function")
    assert.is_false(ok)
    assert.matches("callback", err)
    ok, err = pcall(files.get_many, files, { dir .. "/a" }, "not options", function() end)
    assert.is_false(ok)
    assert.matches("options", err)
    ok, err = pcall(files.get_many, files, { dir .. "/a" }, { json = 1 }, function() end)
    assert.is_false(ok)
    assert.matches("bad option 'json'", err, 1, true)
    local entries, errors = files:get_many_sync({ dir .. "/a\0b" })
    assert.is_false(entries[1])
    assert.matches("^EINVAL", errors[1])
    -- A number is a path, as for a single get (here a relative one that does not exist), also
    -- between strings.
    entries, errors = files:get_many_sync({ dir .. "/missing-1", 4242424, dir .. "/missing-2" })
    assert.is_false(entries[2])
    assert.matches("^ENOENT.*4242424", errors[2])
    assert.matches("missing%-2", errors[3])
    ok = pcall(files.get_many_async, files, {})
    assert.is_false(ok) -- outside a coroutine
  end)
end)
