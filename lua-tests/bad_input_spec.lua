-- Every bad input a user can give: errors as values for I/O, Lua errors for misuse.
local fscache = require("fscache")
local C = require("support.child")

-- Runs `script` (Lua source) as an unprivileged user in a child LuaJIT with the module copied
-- to a world-readable dir; returns its stdout. Root bypasses permission checks, so this is
-- the only honest way to test EACCES here.
local function as_nobody(dir, script)
  local lib = dir .. "/lib"
  assert(
    sh(
      ("mkdir -p %s && cp lua/fscache.so %s/ && chmod -R a+rX %s"):format(
        shell_quote(lib),
        shell_quote(lib),
        shell_quote(lib)
      )
    )
  )
  write_file(dir .. "/script.lua", ("package.cpath = %q .. '/?.so;' .. package.cpath\n"):format(lib) .. script)
  assert(test_uv.fs_chmod(dir .. "/script.lua", tonumber("644", 8)))
  local ok, out = sh(C.unprivileged() .. "luajit " .. shell_quote(dir .. "/script.lua"))
  assert(ok, out)
  return out
end

describe("bad input", function()
  local dir, files, dirs
  before_each(function()
    dir = tmpdir()
    assert(test_uv.fs_chmod(dir, tonumber("755", 8)))
    files = fscache.FileCache.new({ max_size = 1000 })
    dirs = fscache.DirectoryCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function both(fn)
    -- sync and async must agree
    local sync = { fn("sync") }
    local async = { run_async(function()
      return fn("async")
    end) }
    return sync, async
  end

  it("missing file: nil, message naming the path, ENOENT", function()
    local p = dir .. "/missing"
    local s, a = both(function(mode)
      if mode == "sync" then
        return files:get_sync(p)
      end
      return files:get_async(p)
    end)
    for _, r in ipairs({ s, a }) do
      assert.is_nil(r[1])
      assert.are.equal("ENOENT: no such file or directory: " .. p, r[2])
      assert.are.equal("ENOENT", r[3])
    end
  end)

  it("directory given to FileCache: EISDIR", function()
    local e, err, code = run_async(function()
      return files:get_async(dir)
    end)
    assert.is_nil(e)
    assert.are.equal("EISDIR", code)
    assert.matches(dir, err, 1, true)
  end)

  it("file given to DirectoryCache: ENOTDIR", function()
    write_file(dir .. "/f", "x")
    local l, err, code = run_async(function()
      return dirs:get_async(dir .. "/f")
    end)
    assert.is_nil(l)
    assert.are.equal("ENOTDIR", code)
    assert.matches(dir .. "/f", err, 1, true)
  end)

  it("FIFO: an error at once, never a blocked worker", function()
    local p = dir .. "/fifo"
    assert(sh("mkfifo " .. shell_quote(p)))
    local t0 = os.clock()
    local e, err, code = run_async(function()
      return files:get_async(p)
    end, 2000)
    assert.is_nil(e)
    assert.are.equal("EINVAL", code)
    assert.matches("not a regular file", err)
    assert.matches(p, err, 1, true)
    local e2, _, code2 = files:get_sync(p)
    assert.is_nil(e2)
    assert.are.equal("EINVAL", code2)
    assert.is_true(os.clock() - t0 < 1)
  end)

  it("character device: an error, not an endless read", function()
    local e, _, code = files:get_sync("/dev/zero")
    assert.is_nil(e)
    assert.are.equal("EINVAL", code)
  end)

  it("file over max_size: EFBIG", function()
    local p = dir .. "/big"
    write_file(p, string.rep("x", 1001))
    local e, err, code = run_async(function()
      return files:get_async(p)
    end)
    assert.is_nil(e)
    assert.are.equal("EFBIG", code)
    assert.matches(p, err, 1, true)
    write_file(p, string.rep("x", 1000))
    assert.are.equal(1000, files:get_sync(p).size)
  end)

  it("path with a NUL byte: EINVAL as a value", function()
    local p = dir .. "/a\0b"
    local e, err, code = run_async(function()
      return files:get_async(p)
    end)
    assert.is_nil(e)
    assert.are.equal("EINVAL", code)
    assert.matches("NUL", err)
    local l, _, code2 = dirs:get_sync(p)
    assert.is_nil(l)
    assert.are.equal("EINVAL", code2)
    local ok, _, code3 = files:write_sync(p, { content = "x" })
    assert.is_nil(ok)
    assert.are.equal("EINVAL", code3)
  end)

  it("non-string paths are Lua errors naming the argument; numbers are coerced", function()
    for _, bad in ipairs({ {}, true, function() end }) do
      local ok, err = pcall(files.get_sync, files, bad)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'get_sync' %(path: string expected", err)
      ok, err = pcall(files.get, files, bad, function() end)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'get'", err)
      ok, err = pcall(dirs.get_sync, dirs, bad)
      assert.is_false(ok)
      assert.matches("path: string expected", err)
      local res = { run_async(function()
        return pcall(files.get_async, files, bad)
      end) }
      assert.is_false(res[1])
      assert.matches("bad argument #1 to 'get_async'", res[2])
    end
    local ok, err = pcall(files.get_sync, files, nil)
    assert.is_false(ok)
    assert.matches("got nil", err)
    local e, msg, code = files:get_sync(12345)
    assert.is_nil(e)
    assert.are.equal("ENOENT", code)
    assert.matches("12345", msg)
  end)

  it("a callback that is not a function is a Lua error (nil means: warm the cache)", function()
    assert.has_error(function()
      files:get(dir .. "/x", "nope")
    end)
    assert.has_error(function()
      files:write(dir .. "/x", "data", 42)
    end)
    assert.has_error(function()
      dirs:get(dir, {})
    end)
  end)

  it("dot-call instead of colon-call is a clear Lua error", function()
    local ok, err = pcall(files.get_sync, dir .. "/x")
    assert.is_false(ok)
    assert.matches("with a colon", err)
  end)

  it("*_async outside a coroutine names the alternatives", function()
    local ok, err = pcall(files.get_async, files, dir .. "/x")
    assert.is_false(ok)
    assert.matches("get_async must be called inside a coroutine", err)
    assert.matches("get%(", err)
    assert.matches("get_sync", err)
    ok, err = pcall(files.write_async, files, dir .. "/x", { content = "" })
    assert.is_false(ok)
    assert.matches("write_sync", err)
    ok, err = pcall(dirs.get_async, dirs, dir)
    assert.is_false(ok)
    assert.matches("get_sync", err)
  end)

  it("bad options are Lua errors", function()
    assert.has_error(function()
      fscache.FileCache.new({ trust_mtime = "yes" })
    end)
    assert.has_error(function()
      fscache.FileCache.new({ max_size = -1 })
    end)
    assert.has_error(function()
      fscache.FileCache.new("x")
    end)
    assert.has_error(function()
      fscache.setup({ threads = 0 })
    end)
  end)

  it("permission denied on read, on the directory, and on write (as an unprivileged user)", function()
    write_file(dir .. "/secret", "s")
    assert(test_uv.fs_chmod(dir .. "/secret", 0))
    assert(sh("mkdir " .. shell_quote(dir .. "/closed")))
    write_file(dir .. "/closed/inside", "i")
    assert(test_uv.fs_chmod(dir .. "/closed", 0))
    assert(sh("mkdir " .. shell_quote(dir .. "/ro")))
    write_file(dir .. "/ro/keep.txt", "original")
    assert(test_uv.fs_chmod(dir .. "/ro/keep.txt", tonumber("666", 8)))
    assert(test_uv.fs_chmod(dir .. "/ro", tonumber("555", 8)))
    local out = as_nobody(
      dir,
      ([[
      local fscache = require("fscache")
      local files = fscache.FileCache.new()
      local dirs = fscache.DirectoryCache.new()
      local d = %q
      local function show(tag, v, err, code) print(tag, tostring(v), tostring(code), tostring(err)) end
      show("read", files:get_sync(d .. "/secret"))
      show("inside", files:get_sync(d .. "/closed/inside"))
      show("list", dirs:get_sync(d .. "/closed"))
      show("write", files:write_sync(d .. "/ro/keep.txt", { content = "clobbered" }))
      show("async", fscache.block_on(function() return files:get_async(d .. "/secret") end, 2000))
    ]]):format(dir)
    )
    assert.matches("read\tnil\tEACCES\tEACCES: permission denied: " .. dir .. "/secret", out, 1, true)
    assert.matches("inside\tnil\tEACCES", out, 1, true)
    assert.matches("list\tnil\tEACCES", out, 1, true)
    assert.matches("write\tnil\tEACCES", out, 1, true)
    assert.matches("async\tnil\tEACCES", out, 1, true)
    -- the failed write left the original intact and no temp file behind
    assert.are.equal("original", read_file(dir .. "/ro/keep.txt"))
    assert.are.same({ "keep.txt" }, dir_names(dir .. "/ro"))
  end)
end)
