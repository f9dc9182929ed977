-- Faults that need no preload library: changes that keep size and mtime, directory entries that
-- come and go, special files, a file mutated by another process while it is read, callbacks that
-- fail or re-enter the cache, and the lifetime of caches, coroutines and the module itself.

local fscache = require("fscache")
local C = require("support.child")
local uv = test_uv
local unpack = table.unpack or unpack

local function start(cache, method, ...)
  local box = { done = false, calls = 0 }
  local args = { ... }
  local returned = false
  args[#args + 1] = function(...)
    box.calls = box.calls + 1
    box.sync = not returned
    box.done, box.n, box.r = true, select("#", ...), { ... }
  end
  cache[method](cache, unpack(args))
  returned = true
  return box
end

local function finish(box)
  assert(
    wait_until(function()
      return box.done
    end, 5000),
    "no answer"
  )
  assert.is_false(box.sync, "callback ran inside the call that registered it")
  return unpack(box.r, 1, box.n)
end

local function get(cache, path)
  return finish(start(cache, "get", path))
end

local function names_of(listing)
  local out = {}
  for _, e in ipairs(listing.entries) do
    out[#out + 1] = e.name
  end
  return out
end

local function touch_ref(from, to)
  assert(sh("touch -r " .. shell_quote(from) .. " " .. shell_quote(to)))
end

describe("changes that keep size and mtime", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("content rewritten in place, size and mtime restored: ctime catches it", function()
    local p = dir .. "/f"
    write_file(p, "AAAA")
    sleep_past_racy_window()
    local files = fscache.FileCache.new()
    assert.are.equal("AAAA", get(files, p).content)
    touch_ref(p, dir .. "/ref")
    local f = assert(io.open(p, "r+b"))
    f:write("BBBB")
    f:close()
    touch_ref(dir .. "/ref", p)
    assert.are.equal(uv.fs_stat(dir .. "/ref").mtime.nsec, uv.fs_stat(p).mtime.nsec)
    sleep_past_racy_window()
    assert.are.equal("BBBB", get(files, p).content)
    assert.are.equal("BBBB", files:get_sync(p).content)
  end)

  it("file replaced by rename, same size and mtime: inode and ctime catch it", function()
    local p = dir .. "/f"
    write_file(p, "1111")
    sleep_past_racy_window()
    local files = fscache.FileCache.new()
    assert.are.equal("1111", get(files, p).content)
    write_file(dir .. "/g", "2222")
    touch_ref(p, dir .. "/g")
    assert(os.rename(dir .. "/g", p))
    sleep_past_racy_window()
    assert.are.equal("2222", get(files, p).content)
  end)

  it("rewritten 200 times in a row with the same size: never stale (see coarse_time_spec)", function()
    local p = dir .. "/f"
    local files = fscache.FileCache.new()
    for i = 1, 200 do
      local v = ("%04d"):format(i) -- same size every time
      write_file(p, v)
      assert.are.equal(v, get(files, p).content)
    end
  end)
end)

describe("directory entries between two gets", function()
  it("appearing and disappearing entries are seen at once and after the racy window", function()
    local dir = tmpdir()
    local dirs = fscache.DirectoryCache.new()
    local expect = {}
    for i = 1, 60 do
      local name = ("e%02d"):format(i % 7)
      if expect[name] then
        assert(os.remove(dir .. "/" .. name))
        expect[name] = nil
      else
        write_file(dir .. "/" .. name, "")
        expect[name] = true
      end
      if i % 20 == 0 then
        sleep_past_racy_window()
      end
      local want = {}
      for n in pairs(expect) do
        want[#want + 1] = n
      end
      table.sort(want)
      assert.are.same(want, names_of(finish(start(dirs, "get", dir))))
      assert.are.same(want, names_of(dirs:get_sync(dir)))
    end
    rm_rf(dir)
  end)

  it("a directory removed and recreated between two gets", function()
    local base = tmpdir()
    local d = base .. "/d"
    assert(uv.fs_mkdir(d, 493))
    write_file(d .. "/old", "")
    local dirs = fscache.DirectoryCache.new()
    assert.are.same({ "old" }, names_of(dirs:get_sync(d)))
    rm_rf(d)
    local none, _, code = finish(start(dirs, "get", d))
    assert.is_nil(none)
    assert.are.equal("ENOENT", code)
    assert(uv.fs_mkdir(d, 493))
    write_file(d .. "/new", "")
    assert.are.same({ "new" }, names_of(finish(start(dirs, "get", d))))
    rm_rf(base)
  end)
end)

describe("special files: an error or the right content, never a blocked worker", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  -- Every API shape must answer `want_code` for `path`, and the pool must be idle afterwards.
  -- The pool shapes go first: a worker stuck on the file fails them by timeout, before get_sync
  -- (which reads on the calling thread) could hang the suite.
  local function all_shapes_fail(cache, path, want_code, want_text)
    local results = {
      { finish(start(cache, "get", path)) },
      { run_async(function()
        return cache:get_async(path)
      end) },
      { cache:get_sync(path) },
    }
    for i, r in ipairs(results) do
      assert.is_nil(r[1], "shape " .. i)
      assert.are.equal(want_code, r[3], "shape " .. i .. ": " .. tostring(r[2]))
      assert.matches(path, r[2], 1, true)
      if want_text then
        assert.matches(want_text, r[2], 1, true)
      end
    end
    assert.is_true(
      wait_until(function()
        local s = fscache.pool_stats()
        return s.running == 0 and s.queued == 0 and s.pending == 0
      end, 3000),
      "a worker is still busy"
    )
  end

  it("a FIFO without a writer", function()
    assert(sh("mkfifo " .. shell_quote(dir .. "/fifo")))
    all_shapes_fail(fscache.FileCache.new(), dir .. "/fifo", "EINVAL", "not a regular file (fifo)")
  end)

  it("a FIFO with a writer that never writes", function()
    local p = dir .. "/fifo"
    assert(sh("mkfifo " .. shell_quote(p)))
    local fd = assert(uv.fs_open(p, "r+", 0)) -- O_RDWR: opens without blocking, holds a writer
    all_shapes_fail(fscache.FileCache.new(), p, "EINVAL", "not a regular file (fifo)")
    uv.fs_close(fd)
  end)

  it("a unix socket", function()
    local p = dir .. "/sock"
    local server = uv.new_pipe(false)
    assert(server:bind(p))
    all_shapes_fail(fscache.FileCache.new(), p, "ENXIO")
    local listing = fscache.DirectoryCache.new():get_sync(dir)
    assert.are.same({ { name = "sock", type = "socket" } }, listing.entries)
    server:close()
  end)

  it("/dev/zero and /dev/urandom (endless devices)", function()
    local files = fscache.FileCache.new()
    all_shapes_fail(files, "/dev/zero", "EINVAL", "not a regular file (char)")
    all_shapes_fail(files, "/dev/urandom", "EINVAL", "not a regular file (char)")
    assert.are.equal(0, files:stats().bytes)
  end)

  it("a directory given to FileCache, a file given to DirectoryCache", function()
    write_file(dir .. "/f", "x")
    all_shapes_fail(fscache.FileCache.new(), dir, "EISDIR")
    all_shapes_fail(fscache.DirectoryCache.new(), dir .. "/f", "ENOTDIR")
  end)

  it("max_size + 1 bytes: EFBIG; exactly max_size: read", function()
    write_file(dir .. "/big", string.rep("x", 1001))
    write_file(dir .. "/fits", string.rep("x", 1000))
    local files = fscache.FileCache.new({ max_size = 1000 })
    all_shapes_fail(files, dir .. "/big", "EFBIG", "file too large (1001 bytes, max_size 1000)")
    assert.are.equal(1000, #files:get_sync(dir .. "/fits").content)
    assert.are.equal(1000, files:stats().bytes)
  end)

  it("a 0-byte /proc file with content is read to EOF, and bounded by max_size", function()
    assert.are.equal(0, uv.fs_stat("/proc/self/status").size)
    local files = fscache.FileCache.new({ trust_mtime = false })
    local e = files:get_sync("/proc/self/status")
    assert.matches("Name:", e.content, 1, true)
    assert.are.equal(#e.content, e.size)
    local e2 = get(files, "/proc/self/status")
    assert.matches("Pid:", e2.content, 1, true)
    local small = fscache.FileCache.new({ max_size = 16 })
    all_shapes_fail(small, "/proc/self/status", "EFBIG")
  end)
end)

describe("a file mutated by another process while it is read", function()
  it("every answer is a consistent version or ENOENT, and the cache converges", function()
    local seed = tonumber(os.getenv("FSCACHE_FAULT_SEED") or "") or 20240607
    local count = tonumber(os.getenv("FSCACHE_MUTATIONS") or "") or 1500
    local dir = tmpdir()
    local p = dir .. "/f"
    local files = fscache.FileCache.new()
    local dirs = fscache.DirectoryCache.new()
    local function body(k)
      return string.rep(string.char(97 + k % 26), (k * 7919) % 3000)
    end
    local function consistent(s)
      if s == "" or s == "final " .. seed then
        return true
      end
      local k = tonumber(s:match("^v(%d+):"))
      if not k then
        return s:match("^v%d*$") ~= nil -- a header cut short by an in-place rewrite
      end
      local full = "v" .. k .. ":" .. body(k)
      return #s <= #full and full:sub(1, #s) == s
    end
    local done = false
    local handle
    handle = uv.spawn(C.interp, {
      args = { C.children .. "/mutator.lua", dir, tostring(count), tostring(seed) },
      env = { "PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin") },
    }, function(code)
      done = code == 0 and "ok" or ("exit " .. code)
      handle:close()
    end)
    assert(handle)
    local answers, contents, enoent = 0, 0, 0
    local bad = {}
    local function check(e, msg, code)
      answers = answers + 1
      if e then
        contents = contents + 1
        if not consistent(e.content) then
          bad[#bad + 1] = e.content:sub(1, 40)
        end
      elseif code == "ENOENT" then
        enoent = enoent + 1
      else
        bad[#bad + 1] = tostring(msg)
      end
    end
    while not done do
      local boxes = {}
      for i = 1, 16 do
        boxes[i] = start(files, "get", p)
      end
      check(files:get_sync(p))
      dirs:get(dir, function() end)
      for _, b in ipairs(boxes) do
        check(finish(b))
      end
    end
    assert.are.equal("ok", done)
    assert.are.same({}, bad)
    -- Converged: the final version, from every shape, and the final listing.
    assert.are.equal("final " .. seed, get(files, p).content)
    assert.are.equal("final " .. seed, files:get_sync(p).content)
    local listing = finish(start(dirs, "get", dir))
    local want = {}
    for _, n in ipairs({ "f", "sibling0", "sibling1", "sibling2", "sibling3", "sibling4" }) do
      if uv.fs_stat(dir .. "/" .. n) then
        want[#want + 1] = n
      end
    end
    assert.are.same(want, names_of(listing))
    print(
      ("\n[mutator] seed %d: %d mutations, %d answers (%d contents, %d ENOENT)"):format(
        seed,
        count,
        answers,
        contents,
        enoent
      )
    )
    assert.is_true(answers > 100)
    rm_rf(dir)
  end)
end)

describe("callbacks", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    for i = 1, 20 do
      write_file(dir .. "/f" .. i, "content " .. i)
    end
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("an error in one callback is reported; the other waiters still get their answer", function()
    local got = {}
    local reports = capture_reports(function()
      for i = 1, 3 do
        files:get(dir .. "/f1", function(e)
          got[#got + 1] = e.content
          if i == 2 then
            error("boom from callback " .. i)
          end
        end)
      end
      assert.is_true(wait_until(function()
        return #got == 3
      end))
    end)
    assert.are.same({ "content 1", "content 1", "content 1" }, got)
    assert.are.equal(1, #reports)
    -- Reported as the callback's own error, with its traceback (not as a failed dispatch).
    assert.matches("^error in callback: ", reports[1])
    assert.matches("boom from callback 2", reports[1], 1, true)
    assert.matches("stack traceback", reports[1], 1, true)
    assert.are.equal("content 1", get(files, dir .. "/f1").content)
  end)

  it("a callback may use the same cache: get_sync, get, invalidate, write_sync, stats", function()
    local steps = {}
    local reports = capture_reports(function()
      files:get(dir .. "/f1", function(e)
        steps[#steps + 1] = e.content
        steps[#steps + 1] = files:get_sync(dir .. "/f2").content
        steps[#steps + 1] = files:invalidate(dir .. "/f1")
        steps[#steps + 1] = files:write_sync(dir .. "/f3", { content = "written in callback" })
        steps[#steps + 1] = files:stats().entries
        files:get(dir .. "/f3", function(e3)
          steps[#steps + 1] = e3.content
        end)
      end)
      assert.is_true(wait_until(function()
        return #steps == 6
      end))
    end)
    assert.are.same({}, reports)
    assert.are.same({ "content 1", "content 2", true, true, 2, "written in callback" }, steps)
  end)

  it("clear_all from a callback while other waiters and reads are in flight", function()
    local answers = {}
    local reports = capture_reports(function()
      for round = 1, 5 do
        for i = 1, 20 do
          for w = 1, 3 do
            files:get(dir .. "/f" .. i, function(e, err)
              answers[#answers + 1] = e and e.content == ("content " .. i) or err
              if w == 2 and i % 7 == round % 7 then
                files:clear_all()
              end
            end)
          end
        end
        assert.is_true(wait_until(function()
          return #answers == round * 60
        end))
      end
    end)
    assert.are.same({}, reports)
    for _, a in ipairs(answers) do
      assert.is_true(a == true, tostring(a))
    end
    local s = files:stats()
    assert.are.equal(0, s.inflight)
    assert.is_true(s.entries <= 20)
    files:clear_all()
    assert.are.equal(0, files:stats().entries)
    assert.are.equal(0, files:stats().bytes)
  end)

  it("new gets started from callbacks, 300 deep, each answered once and never synchronously", function()
    local depth = 0
    local function chain(e)
      assert.is_table(e)
      depth = depth + 1
      if depth < 300 then
        local returned = false
        files:get(dir .. "/f" .. (depth % 20 + 1), function(...)
          assert(returned, "callback ran synchronously")
          chain(...)
        end)
        returned = true
      end
    end
    files:get(dir .. "/f1", chain)
    assert.is_true(wait_until(function()
      return depth == 300
    end))
    assert.are.equal(0, files:stats().inflight)
  end)

  it("a write issued from a write callback runs after it: each callback sees its own bytes", function()
    local p = dir .. "/chain"
    local n, mismatches = 0, {}
    local function step(ok, err)
      assert(ok, err)
      n = n + 1
      local on_disk = read_file(p)
      if on_disk ~= "v" .. n then
        mismatches[#mismatches + 1] = n .. ":" .. tostring(on_disk)
      end
      if n < 40 then
        files:write(p, { content = "v" .. (n + 1) }, step)
      end
    end
    files:write(p, { content = "v1" }, step)
    assert.is_true(wait_until(function()
      return n == 40
    end))
    assert.are.same({}, mismatches)
    assert.are.equal("v40", get(files, p).content)
  end)

  it("block_on inside a callback (nested dispatch) works", function()
    local inner
    files:get(dir .. "/f1", function()
      inner = fscache.block_on(function()
        return files:get_async(dir .. "/f2").content .. "+" .. files:get_async(dir .. "/f3").content
      end, 5000)
    end)
    assert.is_true(wait_until(function()
      return inner ~= nil
    end))
    assert.are.equal("content 2+content 3", inner)
  end)

  it("finalizers that call into the cache while results are delivered", function()
    local calls = 0
    local function on_gc()
      calls = calls + 1
      files:invalidate(dir .. "/f" .. (calls % 20 + 1))
      files:stats()
      files:get(dir .. "/f1", function() end)
    end
    -- A userdata with __gc (LuaJIT / 5.1 newproxy), or a table with __gc (5.2+).
    local function armed()
      if newproxy then
        local p = newproxy(true)
        getmetatable(p).__gc = on_gc
        return p
      end
      return setmetatable({}, { __gc = on_gc })
    end
    local answers = 0
    local reports = capture_reports(function()
      collectgarbage("setpause", 50)
      collectgarbage("setstepmul", 400)
      for round = 1, 20 do
        for i = 1, 20 do
          files:get(dir .. "/f" .. i, function(e)
            answers = answers + (e and 1 or 0)
            for _ = 1, 20 do
              armed()
            end
          end)
        end
        for _ = 1, 50 do
          armed()
        end
        assert.is_true(wait_until(function()
          return answers == round * 20
        end))
      end
      collectgarbage("setpause", 200)
      collectgarbage("setstepmul", 200)
      collectgarbage()
    end)
    assert.are.same({}, reports)
    assert.is_true(calls > 100)
    assert.are.equal(400, answers)
  end)
end)

describe("lifetime", function()
  local dir
  before_each(function()
    dir = tmpdir()
    for i = 1, 50 do
      write_file(dir .. "/f" .. i, ("%d"):format(i))
    end
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function idle()
    return wait_until(function()
      local s = fscache.pool_stats()
      return s.pending == 0 and s.running == 0 and s.queued == 0
    end, 10000)
  end

  it("a cache collected with 1,000 jobs in flight: every callback runs once, nothing leaks", function()
    assert.is_true(idle())
    local weak = setmetatable({}, { __mode = "v" })
    local answers, wrong = 0, 0
    do
      local files = fscache.FileCache.new()
      weak[1] = files
      for i = 1, 1000 do
        files:get(dir .. "/f" .. (i % 50 + 1), function(e)
          answers = answers + 1
          if not (e and e.content == tostring(i % 50 + 1)) then
            wrong = wrong + 1
          end
        end)
      end
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(wait_until(function()
      return answers == 1000
    end, 10000))
    assert.are.equal(0, wrong)
    assert.is_true(idle())
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1], "the cache object was not collected")
  end)

  it("coroutines waiting on a dropped cache finish and are then collected", function()
    local weak = setmetatable({}, { __mode = "k" })
    local finished = 0
    do
      local files = fscache.FileCache.new()
      local dirs = fscache.DirectoryCache.new()
      for i = 1, 1000 do
        local body = function()
          local e = files:get_async(dir .. "/f" .. (i % 50 + 1))
          local l = dirs:get_async(dir)
          if e and l and #l.entries == 50 then
            finished = finished + 1
          end
        end
        local co
        if i % 2 == 0 then
          co = fscache.run(body)
        else
          co = coroutine.create(body) -- nobody drives it: fscache resumes it
          assert(coroutine.resume(co))
        end
        weak[co] = true
      end
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(wait_until(function()
      return finished == 1000
    end, 15000))
    assert.is_true(idle())
    collectgarbage()
    collectgarbage()
    assert.are.equal(nil, next(weak), "finished coroutines are still referenced")
  end)

  it("package.loaded.fscache = nil and require again while jobs are in flight", function()
    local old = fscache
    local old_files = old.FileCache.new()
    local answers = 0
    for i = 1, 200 do
      old_files:get(dir .. "/f" .. (i % 50 + 1), function(e)
        answers = answers + (e and 1 or 0)
      end)
    end
    package.loaded.fscache = nil
    local new = require("fscache")
    assert.are_not.equal(old, new)
    if not in_nvim then
      new.attach(uv) -- idempotent: the poll handle is shared across loads
    end
    local new_files = new.FileCache.new()
    for i = 1, 200 do
      new_files:get(dir .. "/f" .. (i % 50 + 1), function(e)
        answers = answers + (e and 1 or 0)
      end)
    end
    assert.is_true(wait_until(function()
      return answers == 400
    end, 10000))
    assert.are.equal("7", old_files:get_sync(dir .. "/f7").content)
    assert.are.equal(
      "8",
      new.block_on(function()
        return new_files:get_async(dir .. "/f8").content
      end)
    )
    assert.are.equal(
      "9",
      old.block_on(function()
        return old_files:get_async(dir .. "/f9").content
      end)
    )
    package.loaded.fscache = old
  end)
end)
