-- Lifetime and limits that need their own process: a Lua state closed with jobs in flight (luv
-- threads, and whole LuaJIT / Neovim processes exiting), and 10,000 concurrent gets under a
-- descriptor limit of 256.

local C = require("support.child")
local uv = test_uv

local function make_files(dir, n, size)
  for i = 1, n do
    local head = "f" .. i .. ";"
    write_file(dir .. "/f" .. i, size and (head .. string.rep("x", size - #head)) or head)
  end
end

local function fd_count()
  local n = 0
  local scan = assert(uv.fs_scandir("/proc/self/fd"))
  while uv.fs_scandir_next(scan) do
    n = n + 1
  end
  return n
end

describe("a Lua state closed while jobs are in flight", function()
  local dir
  setup(function()
    dir = tmpdir()
    make_files(dir, 50)
  end)
  teardown(function()
    rm_rf(dir)
  end)

  it("20 luv threads load fscache and close with ~1,150 jobs each in flight: no crash, no fd leak", function()
    local t, out, rc = C.lua("thread_close", { dir, "20" })
    assert(rc == 0, out)
    assert.are.equal("20", t.rounds, out)
    assert.are.equal(t.fds_before, t.fds_after, out)
  end)

  it("a LuaJIT process exits with 1,000 reads, 50 listings and a write in flight (30 times)", function()
    for i = 1, 30 do
      write_file(dir .. "/written", "old")
      local t, out, rc = C.lua("exit_inflight", { dir })
      assert(rc == 0 and t.started == "1", ("run %d: rc %s: %s"):format(i, tostring(rc), out))
      assert(not out:find("fscache:", 1, true), out)
      local w = read_file(dir .. "/written")
      assert(w == "old" or w == string.rep("w", 100000), "torn write after exit")
    end
  end)

  it("a Neovim process (nvim -l) exits with jobs in flight (5 times)", function()
    for i = 1, 5 do
      local rc, out = C.run(C.nvim_cmd("exit_inflight", { dir }, { bare = true }))
      assert(rc == 0 and out:find("started=1", 1, true), ("run %d: rc %s: %s"):format(i, tostring(rc), out))
      assert(not out:find("fscache:", 1, true), out)
    end
  end)

  -- A large JSON document is built a slice at a time across dispatches; the state may close (or
  -- the process exit) between two slices. The child checks it exits mid-build (building=1).
  it("a LuaJIT process exits while a large document is being built (end of script, os.exit)", function()
    for _, mode in ipairs({ "end", "exit" }) do
      local t, out, rc = C.lua("exit_building", { dir, mode })
      assert(rc == 0, ("%s: rc %s: %s"):format(mode, tostring(rc), out))
      assert.are.equal("1", t.building, mode .. ": " .. out)
      assert(not out:find("fscache:", 1, true), out)
    end
  end)

  it("a Neovim process (nvim -l) exits while a large document is being built", function()
    local rc, out = C.run(C.nvim_cmd("exit_building", { dir, "end" }, { bare = true }))
    assert(rc == 0 and out:find("building=1", 1, true), ("rc %s: %s"):format(tostring(rc), out))
    assert(not out:find("fscache:", 1, true), out)
  end)

  it("the test process itself leaks no descriptor across those runs", function()
    collectgarbage()
    local before = fd_count()
    C.lua("exit_inflight", { dir })
    collectgarbage()
    assert.are.equal(before, fd_count())
  end)
end)

describe("10,000 concurrent gets under ulimit -n 256", function()
  it("all succeed (no EMFILE), and memory comes back after clear_all, round after round", function()
    local dir = tmpdir()
    make_files(dir, 10000, 1024)
    -- One malloc arena: RSS then measures what is live instead of per-thread arena slack.
    local rc, out = C.run("ulimit -n 256 && MALLOC_ARENA_MAX=1 " .. C.lua_cmd("burst", { dir, "10000", "3" }))
    rm_rf(dir)
    assert(rc == 0, out)
    local base_heap = tonumber(out:match("baseline heap_kb=(%d+)"))
    local rounds = {}
    for line in out:gmatch("round=[^\n]+") do
      local r = {}
      for k, v in line:gmatch("([%w_]+)=([^ ]*)") do
        r[k] = tonumber(v) or v
      end
      rounds[#rounds + 1] = r
    end
    assert.are.equal(3, #rounds, out)
    for _, r in ipairs(rounds) do
      assert.are.equal(10000, r.ok_callbacks, out)
      assert.are.equal(20000, r.ok_total, out)
      assert.are.equal("", r.errors, out)
      assert.are.equal(10000, r.entries_peak)
      assert.are.equal(10240000, r.bytes_peak)
      assert.are.equal(0, r.entries_after)
      assert.are.equal(0, r.bytes_after)
      assert.are.equal(0, r.pending)
      -- The Lua heap held ~14 MB at the peak; after clear_all only table capacity remains.
      assert.is_true(r.heap_after_kb < base_heap + 1024, out)
    end
    -- Nothing accumulates from round to round (a leaked round would add 10+ MB).
    assert.is_true(rounds[3].heap_after_kb <= rounds[1].heap_after_kb + 64, out)
    assert.is_true(rounds[3].rss_peak_kb <= rounds[1].rss_peak_kb + 8 * 1024, out)
    print(("\n[burst] %s"):format(out:gsub("\n", "\n[burst] ")))
  end)
end)
