-- Large JSON documents and big directory listings reach Lua through the async gets a slice at a
-- time: the loop runs between slices (counted in loop turns, never in time), the waiters resume
-- once the whole table exists, and what they get and what the cache keeps is what the one-shot
-- build gives. The read completes first (stats().reads is 1), then the table is built: loop
-- turns seen between those two points are turns the build left to the loop.
local fscache = require("fscache")
local J = require("json_util")
local lockfile = dofile(test_uv.cwd() .. "/benches/lib/lockfile.lua")

local uv = test_uv
local TEXT
local function big_text()
  TEXT = TEXT or lockfile.text()
  return TEXT
end

---Calls on_turn() once per loop turn (a check handle) until stop(), which raises the first
---error on_turn raised (errors are not raised inside the loop's callback).
local function each_turn(on_turn)
  local check = uv.new_check()
  local err
  check:start(function()
    if err == nil then
      local ok, e = pcall(on_turn)
      err = not ok and e or nil
    end
  end)
  return function()
    -- Closed while this test runs: luv runs a handle's close callback on the coroutine that
    -- made the handle, which is gone once the test ends (a crash in lua_close otherwise).
    local closed = false
    check:stop()
    check:close(function()
      closed = true
    end)
    assert(wait_until(function()
      return closed
    end))
    if err ~= nil then
      error(err, 0)
    end
  end
end

---Waits for `cb`-style results: returns a callback storing its arguments and a getter.
local function catcher()
  local got
  return function(...)
    got = pack(...)
  end, function()
    return got
  end
end

local slice_before
local function small_slices()
  slice_before = fscache.pool_stats().slice_ms
  -- Small slices: many steps whatever the machine's speed (each step gets at least 0.25 ms).
  fscache.setup({ slice_ms = 0.25 })
end
local function restore_slices()
  fscache.setup({ slice_ms = slice_before })
end

describe("a large JSON document through get_json", function()
  local dir, path, files, handle
  before_each(function()
    small_slices()
    dir = tmpdir()
    path = dir .. "/package-lock.json"
    write_file(path, big_text())
    files = fscache.FileCache.new()
  end)
  after_each(function()
    restore_slices()
    rm_rf(dir)
  end)

  ---Starts get_json(path) with cb (its handle in `handle`) and calls during(turn) on every loop turn between the read's
  ---completion and the answer; returns the number of such turns once `answered()` is true.
  local function while_building(cb, answered, during)
    local turns = 0
    local stop = each_turn(function()
      if not answered() and files:stats().reads == 1 then
        turns = turns + 1
        if during then
          during(turns)
        end
      end
    end)
    handle = files._native:get_json(path, nil, cb)
    assert.is_true(wait_until(answered, 30000), "no answer")
    stop()
    return turns
  end

  it("equals the one-shot decode, lets the loop run between slices, and is cached", function()
    -- Past the racy window: the entry is trusted on its identity (a racy one is re-read).
    sleep_past_racy_window()
    local cb, got = catcher()
    local turns = while_building(cb, got)
    assert.is_true(turns >= 3, "loop turns during the build: " .. turns)
    local v = got()[1]
    J.assert_same(fscache.json_decode(big_text()), v, "lockfile")
    local s = files:stats()
    assert.are.same({ 1, 1, 1, 1, 0 }, { s.reads, s.misses, s.parses, s.entries, s.inflight })
    -- The second get is a hit on the same table.
    local again = run_async(function()
      return files:get_json_async(path)
    end)
    assert.is_true(rawequal(v, again))
    s = files:stats()
    assert.are.same({ 1, 1 }, { s.reads, s.hits })
    -- The synchronous get answers from the entry too.
    assert.is_true(rawequal(v, files:get_json_sync(path)))
  end)

  it("a get or a batch of the same path during the build joins it", function()
    local cb, got = catcher()
    local cb2, got2 = catcher()
    local cb3, got3 = catcher()
    local turns = while_building(cb, function()
      return got() and got2() and got3()
    end, function(turn)
      if turn == 1 then
        files._native:get_json(path, nil, cb2)
        files._native:get_many({ path }, { json = true }, cb3)
      end
    end)
    assert.is_true(turns >= 3, "loop turns during the build: " .. turns)
    local v = got()[1]
    assert.are.equal(fscache.json_decode(big_text()).name, v.name)
    assert.is_true(rawequal(v, got2()[1]))
    assert.is_true(rawequal(v, got3()[1][1]))
    assert.is_nil(next(got3()[2]))
    assert.are.equal(1, files:stats().reads)
  end)

  it("a cancelled waiter is never called; the build still fills the cache", function()
    local called = false
    local cb2, got2 = catcher()
    local turns = while_building(function()
      called = true
    end, function()
      return got2() ~= nil
    end, function(turn)
      if turn == 1 then
        assert.is_true(files._native:cancel(handle))
        -- A second waiter joins after the cancel and is answered.
        files._native:get_json(path, nil, cb2)
      end
    end)
    assert.is_true(turns >= 2, "loop turns during the build: " .. turns)
    assert.is_false(called)
    assert.are.equal("big-app", got2()[1].name)
    assert.are.equal(1, files:stats().entries)
  end)

  for _, what in ipairs({ "invalidate", "clear_all" }) do
    it(what .. " during the build: the waiter gets the document, the cache keeps nothing", function()
      local cb, got = catcher()
      local turns = while_building(cb, got, function(turn)
        if turn == 1 then
          if what == "invalidate" then
            files:invalidate(path)
          else
            files:clear_all()
          end
        end
      end)
      assert.is_true(turns >= 2, "loop turns during the build: " .. turns)
      J.assert_same(fscache.json_decode(big_text()), got()[1], "lockfile")
      assert.are.equal(0, files:stats().entries)
      local again = run_async(function()
        return files:get_json_async(path)
      end)
      assert.are.equal("big-app", again.name)
      assert.are.equal(2, files:stats().reads)
    end)
  end

  it("a write during the build: the waiter gets what was read, later gets the write", function()
    local cb, got = catcher()
    local wrote
    local turns = while_building(cb, got, function(turn)
      if turn == 1 then
        files:write(path, '{"new":true}', function(ok, err)
          wrote = assert(ok, err)
        end)
      end
    end)
    assert.is_true(turns >= 2, "loop turns during the build: " .. turns)
    assert.are.equal("big-app", got()[1].name)
    assert.is_true(wait_until(function()
      return wrote
    end))
    local again = run_async(function()
      return files:get_json_async(path)
    end)
    assert.are.same({ new = true }, again)
  end)
end)

describe("a big directory listing through get", function()
  local N = 100000
  local dir, dirs
  before_each(function()
    small_slices()
    dir = tmpdir()
    assert(sh(("cd %s && seq -f 'f%%06g' 1 %d | xargs touch"):format(shell_quote(dir), N)))
    dirs = fscache.DirectoryCache.new()
  end)
  after_each(function()
    restore_slices()
    rm_rf(dir)
  end)

  it("equals the one-shot listing, lets the loop run between slices, joins, and is cached", function()
    local cb, got = catcher()
    local cb2, got2 = catcher()
    local turns, joined = 0, false
    local stop = each_turn(function()
      if not (got() and got2()) and dirs:stats().reads == 1 then
        turns = turns + 1
        if not joined then
          joined = true
          dirs._native:get(dir, cb2)
        end
      end
    end)
    dirs._native:get(dir, cb)
    assert.is_true(wait_until(function()
      return got() and got2()
    end, 30000))
    stop()
    assert.is_true(turns >= 3, "loop turns during the build: " .. turns)
    local l = got()[1]
    assert.is_true(rawequal(l, got2()[1]))
    assert.are.equal(dir, l.path)
    assert.are.equal(N, #l.entries)
    local one = fscache.DirectoryCache.new():get_sync(dir)
    J.assert_same(one, l, "listing")
    assert.are.equal("f000001", l.entries[1].name)
    assert.are.equal("file", l.entries[N].type)
    local s = dirs:stats()
    assert.are.same({ 1, 1, 1 }, { s.reads, s.misses, s.entries })
    local again = run_async(function()
      return dirs:get_async(dir)
    end)
    assert.is_true(rawequal(l, again))
  end)

  it("invalidate during the build: answered, not kept", function()
    local cb, got = catcher()
    local turns = 0
    local stop = each_turn(function()
      if not got() and dirs:stats().reads == 1 then
        turns = turns + 1
        if turns == 1 then
          dirs:invalidate(dir)
        end
      end
    end)
    dirs._native:get(dir, cb)
    assert.is_true(wait_until(got, 30000))
    stop()
    assert.is_true(turns >= 2, "loop turns during the build: " .. turns)
    assert.are.equal(N, #got()[1].entries)
    assert.are.equal(0, dirs:stats().entries)
  end)
end)
