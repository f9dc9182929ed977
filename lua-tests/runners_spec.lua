-- The runner matrix: every *_async method under every coroutine runner people use (small
-- runners written here from docs/runners.md), on a hit, a miss and an error result, for
-- FileCache, DirectoryCache, writes and the metadata cache (stat_async, root_async). Each runner
-- is detected the way the real one is.

local fscache = require("fscache")
local RUNNERS = require("runners.list")

local unpack = table.unpack or unpack
-- Runs body under runner r and drives the loop until it finishes (bounded: never hangs).
local function within(r, body)
  local res, err = run_settled(r.start, body, 5000, r.name .. ": the coroutine did not finish within 5 s")
  if err ~= nil then
    error(err, 0)
  end
  return unpack(res, 1, res.n)
end

-- The cases: body(ctx) runs inside the runner; check(ctx, ...) gets its results outside.
-- `suspends` says whether the body must suspend (every read here does, except a hit).
local CASES = {
  {
    name = "miss: FileCache:get_async reads the file",
    suspends = true,
    body = function(ctx)
      return ctx.files:get_async(ctx.dir .. "/a.txt")
    end,
    check = function(ctx, e, err)
      assert.is_nil(err)
      assert.are.equal("hello", e.content)
      assert.are.equal(1, ctx.files:stats().misses)
    end,
  },
  {
    name = "hit: FileCache:get_async serves the cached entry",
    suspends = false,
    before = function(ctx)
      ctx.first = assert(ctx.files:get_sync(ctx.dir .. "/a.txt"))
    end,
    body = function(ctx)
      return ctx.files:get_async(ctx.dir .. "/a.txt")
    end,
    check = function(ctx, e)
      assert.are.equal(ctx.first, e)
      assert.are.equal(1, ctx.files:stats().hits)
    end,
  },
  {
    name = "error result: a missing file answers nil, message, code",
    suspends = true,
    body = function(ctx)
      return ctx.files:get_async(ctx.dir .. "/missing.txt")
    end,
    check = function(ctx, e, err, code)
      assert.is_nil(e)
      assert.are.equal("ENOENT", code)
      assert.matches("missing.txt", err, 1, true)
    end,
  },
  {
    name = "FileCache:get_json_async decodes on the pool",
    suspends = true,
    body = function(ctx)
      return ctx.files:get_json_async(ctx.dir .. "/c.json")
    end,
    check = function(_, v, err)
      assert.is_nil(err)
      assert.are.equal(1, v.a)
    end,
  },
  {
    name = "DirectoryCache:get_async lists the directory",
    suspends = true,
    body = function(ctx)
      return ctx.dirs:get_async(ctx.dir)
    end,
    check = function(_, listing, err)
      assert.is_nil(err)
      local names = {}
      for i, e in ipairs(listing.entries) do
        names[i] = e.name
      end
      assert.are.same({ "a.txt", "c.json" }, names)
    end,
  },
  {
    name = "write: FileCache:write_async replaces the file and the cache",
    suspends = true,
    body = function(ctx)
      local ok, err = ctx.files:write_async(ctx.dir .. "/a.txt", { content = "written" })
      return ok, err, ctx.files:get_async(ctx.dir .. "/a.txt")
    end,
    check = function(ctx, ok, err, e)
      assert.is_nil(err)
      assert.is_true(ok)
      assert.are.equal("written", e.content)
      assert.are.equal("written", read_file(ctx.dir .. "/a.txt"))
    end,
  },
  {
    name = "fscache.stat_async stats on the pool (a miss)",
    suspends = true,
    body = function(ctx)
      return fscache.stat_async(ctx.dir .. "/a.txt")
    end,
    check = function(_, st, err)
      assert.is_nil(err)
      assert.are.equal("file", st.type)
      assert.are.equal(5, st.size)
    end,
  },
  {
    name = "fscache.stat_async: a missing path answers nil, message, ENOENT",
    suspends = true,
    body = function(ctx)
      return fscache.stat_async(ctx.dir .. "/missing.txt")
    end,
    check = function(_, st, err, code)
      assert.is_nil(st)
      assert.are.equal("ENOENT", code)
      assert.matches("missing.txt", err, 1, true)
    end,
  },
  {
    name = "fscache.root_async finds the directory holding the marker",
    suspends = true,
    body = function(ctx)
      return fscache.root_async(ctx.dir .. "/a.txt", { "missing.txt", "c.json" })
    end,
    check = function(ctx, root, err)
      assert.is_nil(err)
      assert.are.equal(ctx.dir, root)
    end,
  },
}

for _, r in ipairs(RUNNERS) do
  describe("under " .. r.name, function()
    local ctx
    before_each(function()
      if r.install then
        r.install()
      end
      ctx = { dir = tmpdir(), files = fscache.FileCache.new(), dirs = fscache.DirectoryCache.new() }
      write_file(ctx.dir .. "/a.txt", "hello")
      write_file(ctx.dir .. "/c.json", '{"a": 1}')
    end)
    after_each(function()
      if r.uninstall then
        r.uninstall()
      end
      rm_rf(ctx.dir)
    end)

    it("takes 1,000,000 synchronous completions in a row in one coroutine", function()
      local res, err = run_settled(r.start, synchronous_completions(1000000), 60000, r.name .. ": did not finish")
      assert.is_nil(err)
      assert.are.equal(500000, res[1])
    end)

    for _, case in ipairs(CASES) do
      it(case.name, function()
        if case.before then
          case.before(ctx)
        end
        local before = r.count and r.count()
        local res
        local reports = capture_reports(function()
          res = pack(within(r, function()
            return case.body(ctx)
          end))
        end)
        assert.are.same({}, reports)
        case.check(ctx, unpack(res, 1, res.n))
        if r.count and case.suspends then
          -- the suspension went through this runner's own protocol
          assert.is_true(r.count() - before >= (r.per_call or 1), r.name .. " protocol not used")
        end
      end)
    end
  end)
end
