-- fscache.run, fscache.block_on, the leaf under a plenary-shaped runner and under drivers that
-- ignore what is yielded, error reporting, lifetime, and Neovim's API after a resume.
local fscache = require("fscache")
local unpack = table.unpack or unpack

-- A runner following plenary's protocol (docs/runners.md, plenary): the leaf yields
-- (fn, argc, ...); the runner calls fn with its step callback at position argc and resumes the
-- coroutine with whatever that callback receives. Errors are raised, not passed to cb.
local function plenary_shaped_run(fn, cb)
  local co = coroutine.create(fn)
  local function step(...)
    local r = pack(coroutine.resume(co, ...))
    if not r[1] then
      error("The coroutine failed with this message: " .. tostring(r[2]))
    end
    if coroutine.status(co) == "dead" then
      if cb then
        cb(unpack(r, 2, r.n))
      end
      return
    end
    local f, argc = r[2], r[3]
    assert(type(f) == "function", "type error :: expected func")
    local args = { unpack(r, 4, r.n) }
    args[argc] = step
    f(unpack(args, 1, argc))
  end
  step()
end

describe("runners", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
    write_file(dir .. "/a", "A")
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("fscache.run hands fn's return values to the callback", function()
    local got
    fscache.run(function()
      local e = files:get_async(dir .. "/a")
      return e.content, 2, nil, "four"
    end, function(...)
      got = pack(...)
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.same({ n = 4, "A", 2, nil, "four" }, got)
  end)

  it("fscache.run sends errors to on_error with the coroutine's traceback", function()
    local err
    local function failing_inner()
      files:get_async(dir .. "/a")
      error("boom after a yield")
    end
    fscache.run(function()
      failing_inner()
    end, function()
      error("on_done must not run")
    end, function(e)
      err = e
    end)
    assert.is_true(wait_until(function()
      return err ~= nil
    end))
    assert.matches("boom after a yield", err)
    assert.matches("stack traceback", err)
    assert.matches("failing_inner", err)
  end)

  it("fscache.run reports errors nobody handles (never swallowed)", function()
    local reports = capture_reports(function()
      fscache.run(function()
        files:get_async(dir .. "/a")
        error("unhandled boom")
      end)
      assert.is_true(wait_until(function()
        return false
      end, 100) == false)
    end)
    assert.are.equal(1, #reports)
    assert.matches("unhandled boom", reports[1])
    assert.matches("stack traceback", reports[1])
  end)

  it("fscache.run reports an error before the first yield too", function()
    local reports = capture_reports(function()
      fscache.run(function()
        error("early boom")
      end)
    end)
    assert.are.equal(1, #reports)
    assert.matches("early boom", reports[1])
  end)

  it("fscache.run serves plenary-style and nio-style leaves from other libraries", function()
    local got
    fscache.run(function()
      -- plenary shape: (fn, argc, ...)
      local a = coroutine.yield(function(x, cb)
        cb(x * 2)
      end, 2, 21)
      -- nio shape: (argc, fn, ...)
      local ok, b = coroutine.yield(2, function(x, cb)
        cb(true, x .. "!")
      end, "hi")
      return a, ok, b
    end, function(...)
      got = pack(...)
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.same({ n = 3, 42, true, "hi!" }, got)
  end)

  it("fscache.run fails loudly on a yield it cannot serve", function()
    local err
    fscache.run(
      function()
        coroutine.yield("junk")
      end,
      nil,
      function(e)
        err = e
      end
    )
    assert.matches("expected an async leaf", err)
  end)

  -- Runs fn under fscache.run; returns the list of its endings ({ "done", ... } / { "error", msg }).
  local function endings_of(fn)
    local ended = {}
    fscache.run(fn, function(...)
      ended[#ended + 1] = { "done", ... }
    end, function(e)
      ended[#ended + 1] = { "error", e }
    end)
    return ended
  end

  it("fscache.run ends a coroutine once when its leaf raises and still calls back later", function()
    local saved, resumed
    local ended = endings_of(function()
      coroutine.yield(function(cb)
        saved = cb
        error("leaf boom")
      end, 1)
      resumed = true
    end)
    assert.are.equal(1, #ended)
    assert.are.equal("error", ended[1][1])
    assert.matches("leaf boom", ended[1][2])
    saved("late result")
    saved("later still")
    assert.are.equal(1, #ended)
    assert.is_nil(resumed)
  end)

  it("fscache.run ends a coroutine once when its leaf calls back, then raises", function()
    local ended = endings_of(function()
      return coroutine.yield(function(cb)
        cb("given")
        error("leaf boom after the callback")
      end, 1)
    end)
    assert.are.equal(1, #ended)
    assert.are.equal("error", ended[1][1])
    assert.matches("leaf boom after the callback", ended[1][2])
  end)

  it("fscache.run and block_on take 1,000,000 synchronous completions in a row", function()
    local body = synchronous_completions(1000000)
    assert.are.same({ { "done", 500000 } }, endings_of(body))
    assert.are.equal(500000, fscache.block_on(body, 60000))
  end)

  it("block_on returns fn's values, raises its error, and times out with a message", function()
    local content, n = fscache.block_on(function()
      return files:get_async(dir .. "/a").content, 7
    end, 2000)
    assert.are.equal("A", content)
    assert.are.equal(7, n)
    local ok, err = pcall(fscache.block_on, function()
      files:get_async(dir .. "/a")
      error("inner failure")
    end, 2000)
    assert.is_false(ok)
    assert.matches("inner failure", err)
    local t0 = fscache._native.now_ms()
    ok, err = pcall(fscache.block_on, function()
      coroutine.yield(function() end, 1) -- a leaf that never completes
    end, 50)
    assert.is_false(ok)
    assert.matches("timed out after 50 ms", err)
    assert.is_true(fscache._native.now_ms() - t0 < 1000)
  end)

  it("works under a plenary-shaped runner", function()
    local got
    plenary_shaped_run(function()
      local e = files:get_async(dir .. "/a")
      local missing, err, code = files:get_async(dir .. "/nope")
      return e.content, missing, code
    end, function(...)
      got = pack(...)
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.same({ n = 3, "A", nil, "ENOENT" }, got)
  end)

  it("resumes a bare coroutine.wrap that ignores what is yielded", function()
    local got
    coroutine.wrap(function()
      local e = files:get_async(dir .. "/a")
      local l = fscache.DirectoryCache.new():get_async(dir)
      got = e.content .. #l.entries
    end)()
    assert.is_nil(got)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal("A1", got)
  end)

  it("ignores spurious resumes until the real result arrives", function()
    local got, junk_seen
    local co = coroutine.create(function()
      local e, err = files:get_async(dir .. "/a")
      got = e and e.content or err
    end)
    local ok, first = coroutine.resume(co)
    assert.is_true(ok)
    assert.is_function(first)
    local resumes = 0
    -- a driver that resumes every tick with junk values
    assert.is_true(wait_until(function()
      if coroutine.status(co) == "suspended" then
        resumes = resumes + 1
        local ok2, r = coroutine.resume(co, "junk", 1, 2)
        assert.is_true(ok2, r)
        junk_seen = junk_seen or got == "junk"
      end
      return coroutine.status(co) == "dead"
    end))
    assert.is_true(resumes > 0)
    assert.is_falsy(junk_seen)
    assert.are.equal("A", got)
  end)

  it("reports a failing callback and still delivers the others", function()
    local delivered = 0
    local reports = capture_reports(function()
      files:get(dir .. "/a", function()
        error("callback boom")
      end)
      files:get(dir .. "/a", function()
        delivered = delivered + 1
      end)
      assert.is_true(wait_until(function()
        return delivered == 1
      end))
    end)
    assert.are.equal(1, #reports)
    assert.matches("callback boom", reports[1])
  end)

  it("delivers results of a cache that was garbage-collected with jobs in flight", function()
    local called = 0
    do
      local c = fscache.FileCache.new()
      for _ = 1, 100 do
        c:get(dir .. "/a", function(e)
          assert(e.content == "A")
          called = called + 1
        end)
      end
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_true(wait_until(function()
      return called == 100
    end))
  end)

  it("lets callbacks re-enter the cache: new gets, invalidate, clear_all", function()
    local steps = {}
    files:get(dir .. "/a", function(e1)
      steps[#steps + 1] = e1.content
      files:invalidate(dir .. "/a")
      files:clear_all()
      files:get(dir .. "/a", function(e2)
        steps[#steps + 1] = e2.content
        steps[#steps + 1] = files:get_sync(dir .. "/a").content
      end)
    end)
    assert.is_true(wait_until(function()
      return #steps == 3
    end))
    assert.are.same({ "A", "A", "A" }, steps)
  end)

  if in_nvim then
    it("continuations run outside fast-event context: vim.api works after get_async", function()
      local got
      fscache.run(function()
        local e = files:get_async(dir .. "/a")
        local fast = vim.in_fast_event()
        local buf = vim.api.nvim_create_buf(false, true)
        vim.api.nvim_buf_set_lines(buf, 0, -1, false, { e.content })
        got = { fast = fast, line = vim.api.nvim_buf_get_lines(buf, 0, -1, false)[1] }
        vim.api.nvim_buf_delete(buf, { force = true })
      end)
      assert.is_true(wait_until(function()
        return got ~= nil
      end))
      assert.is_false(got.fast)
      assert.are.equal("A", got.line)
    end)

    it("attaches to vim.uv by itself when loaded in Neovim", function()
      assert.is_true(fscache.attached())
    end)
  end
end)
