-- DirectoryCache: sorted listings with luv's type words, revalidated by the directory's identity.
local fscache = require("fscache")

describe("DirectoryCache", function()
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
      out[i] = e.name .. ":" .. e.type
    end
    return table.concat(out, " ")
  end

  it("lists entries sorted by name with luv's type words", function()
    write_file(dir .. "/b.txt", "b")
    write_file(dir .. "/a.txt", "a")
    assert(sh("mkdir " .. shell_quote(dir .. "/sub")))
    assert(test_uv.fs_symlink("a.txt", dir .. "/link"))
    assert(sh("mkfifo " .. shell_quote(dir .. "/fifo")))
    local pipe = test_uv.new_pipe(false)
    assert(pipe:bind(dir .. "/sock"))
    local l = run_async(function()
      return dirs:get_async(dir)
    end)
    local st = test_uv.fs_stat(dir)
    pipe:close() -- (libuv unlinks the socket file on close)
    assert.are.equal(dir, l.path)
    assert.are.equal("a.txt:file b.txt:file fifo:fifo link:link sock:socket sub:directory", names(l))
    assert.are.equal(st.mtime.sec, l.mtime)
    assert.are.equal(st.mtime.nsec, l.mtime_nsec)
  end)

  it("serves an unchanged directory as a hit and sees added and removed entries", function()
    write_file(dir .. "/one", "1")
    test_uv.sleep(60) -- past the racy window
    local l1 = dirs:get_sync(dir)
    local l2 = run_async(function()
      return dirs:get_async(dir)
    end)
    assert.are.equal(l1, l2)
    assert.are.equal(1, dirs:stats().hits)
    write_file(dir .. "/two", "2")
    local l3 = run_async(function()
      return dirs:get_async(dir)
    end)
    assert.are.equal("one:file two:file", names(l3))
    os.remove(dir .. "/one")
    assert.are.equal("two:file", names(dirs:get_sync(dir)))
    local s = dirs:stats()
    assert.are.equal(3, s.misses)
    assert.are.equal(1, s.entries)
  end)

  it("lists an empty directory and a large one", function()
    local l = dirs:get_sync(dir)
    assert.are.equal(0, #l.entries)
    assert(sh(("cd %s && seq -w 1 1000 | xargs touch"):format(shell_quote(dir))))
    l = run_async(function()
      return dirs:get_async(dir)
    end)
    assert.are.equal(1000, #l.entries)
    assert.are.equal("0001", l.entries[1].name)
    assert.are.equal("1000", l.entries[1000].name)
  end)

  it("reports a removed directory as ENOENT and drops its entry", function()
    local sub = dir .. "/sub"
    assert(sh("mkdir " .. shell_quote(sub)))
    assert.is_table(dirs:get_sync(sub))
    rm_rf(sub)
    local l, err, code = run_async(function()
      return dirs:get_async(sub)
    end)
    assert.is_nil(l)
    assert.are.equal("ENOENT", code)
    assert.matches(sub, err, 1, true)
    assert.are.equal(0, dirs:stats().entries)
  end)

  it("coalesces concurrent gets, invalidates and clears", function()
    write_file(dir .. "/x", "x")
    local got = 0
    for _ = 1, 50 do
      dirs:get(dir, function(l)
        assert(#l.entries == 1)
        got = got + 1
      end)
    end
    assert.is_true(wait_until(function()
      return got == 50
    end))
    assert.are.equal(1, dirs:stats().misses)
    assert.is_true(dirs:invalidate(dir))
    assert.are.equal(0, dirs:stats().entries)
    dirs:get_sync(dir)
    dirs:clear_all()
    assert.are.equal(0, dirs:stats().entries)
  end)
end)
