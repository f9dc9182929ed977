-- W1..W5, the 3.8 MB document (BIG), and batches (B-*) and root detection (R-root) once the
-- cache has them, for each system, on the same fixtures. Each case: ops, setup, run(ctx, done), verify.
-- run() starts the work and calls done(result) when the last operation completed.

local fscache = require("fscache")
local base = require("lib.uv_baseline")
local fixtures = require("lib.fixtures")
local lockfile = require("lib.lockfile")

local M = {}

-- Checks a list of W1 entries against the expected bytes.
local function check_files(fx, out)
  if type(out) ~= "table" then
    return false, "no result list"
  end
  for i = 1, #fx.w1 do
    local e = out[i]
    if type(e) ~= "table" or e.content ~= fx.w1_content[i] then
      return false,
        ("file %d: %s"):format(i, type(e) == "table" and ("%d bytes differ"):format(#(e.content or "")) or tostring(e))
    end
  end
  return true
end

local function check_docs(fx, out)
  for i = 1, #fx.w3 do
    local v = out and out[i]
    local items = type(v) == "table" and v.items
    if
      type(items) ~= "table"
      or #items ~= fixtures.W3_ITEMS
      or v.name ~= ("doc-%03d"):format(i - 1)
      or items[#items].id ~= fixtures.W3_ITEMS - 1
    then
      return false, ("document %d incomplete"):format(i)
    end
  end
  return true
end

local function check_listing(l)
  local es = type(l) == "table" and l.entries
  if type(es) ~= "table" or #es ~= fixtures.W4_ENTRIES then
    return false, "listing has " .. tostring(type(es) == "table" and #es or es) .. " entries"
  end
  for i = 1, #es do
    if es[i].name ~= fixtures.w4_name(i - 1) or es[i].type ~= "file" then
      return false, "entry " .. i .. " is " .. tostring(es[i].name)
    end
  end
  return true
end

local function check_listings(out, n)
  for i = 1, n do
    local ok, msg = check_listing(out[i])
    if not ok then
      return false, msg
    end
  end
  return true
end

-- Generic drivers over "a get function usable inside a coroutine".
-- seq: one coroutine awaits every path in turn. conc: one coroutine per path, all started at once.
local function seq(spawn, get, paths, done)
  spawn(function()
    local out = {}
    for i = 1, #paths do
      out[i] = get(paths[i])
    end
    return out
  end, done)
end

local function conc(spawn, get, paths, done)
  local out, left = {}, #paths
  for i = 1, #paths do
    spawn(function()
      return get(paths[i])
    end, function(e)
      out[i] = e
      left = left - 1
      if left == 0 then
        done(out)
      end
    end)
  end
end

-- Synchronous "drivers": plain loops (concurrency does not exist on the main thread).
local function sync_loop(get, paths, done)
  local out = {}
  for i = 1, #paths do
    out[i] = get(paths[i])
  end
  done(out)
end

local function fs_spawn(fn, on_done)
  fscache.run(fn, on_done, function(err)
    error(err)
  end)
end

-- Shared with the other benches (floors.lua): the drivers and the checks.
M.seq, M.conc, M.fs_spawn = seq, conc, fs_spawn
M.check_files, M.check_docs, M.check_listings = check_files, check_docs, check_listings

local W4_COLD_OPS, W4_HIT_OPS = 5, 2000

---The cases: list of { workload, system, spec } (spec as in measure.case / measure.stall).
function M.cases(fx, reps)
  local cases = {}
  local function add(workload, system, spec)
    spec.reps = reps
    cases[#cases + 1] = { workload = workload, system = system, spec = spec }
  end
  local N = #fx.w1
  local files_ok = function(_, out)
    return check_files(fx, out)
  end

  -- W1: cold reads (a fresh cache each repetition).
  for _, shape in ipairs({ "seq", "conc" }) do
    local drive = shape == "seq" and seq or conc
    add("W1-" .. shape, "fscache", {
      ops = N,
      setup = function()
        return { c = fscache.FileCache.new() }
      end,
      run = function(ctx, done)
        drive(fs_spawn, function(p)
          return ctx.c:get_async(p)
        end, fx.w1, done)
      end,
      verify = files_ok,
    })
    add("W1-" .. shape, "uv_callbacks", {
      ops = N,
      setup = function()
        return { c = base.callback_cache() }
      end,
      run = function(ctx, done)
        drive(base.spawn, ctx.c.get, fx.w1, done)
      end,
      verify = files_ok,
    })
    add("W1-" .. shape, "uv_sync", {
      ops = N,
      setup = function()
        return { c = base.sync_cache() }
      end,
      run = function(ctx, done)
        sync_loop(ctx.c.get, fx.w1, done)
      end,
      verify = files_ok,
    })
  end

  -- W2: hits on unchanged files (the cache is filled, untimed, before each repetition).
  for _, shape in ipairs({ "seq", "conc" }) do
    local drive = shape == "seq" and seq or conc
    add("W2-" .. shape, "fscache", {
      ops = N,
      setup = function()
        local c = fscache.FileCache.new()
        for _, p in ipairs(fx.w1) do
          assert(c:get_sync(p))
        end
        return { c = c, hits0 = c:stats().hits }
      end,
      run = function(ctx, done)
        drive(fs_spawn, function(p)
          return ctx.c:get_async(p)
        end, fx.w1, done)
      end,
      verify = function(ctx, out)
        local ok, msg = check_files(fx, out)
        if ok and ctx.c:stats().hits - ctx.hits0 ~= N then
          return false, ("%d hits counted, %d expected"):format(ctx.c:stats().hits - ctx.hits0, N)
        end
        return ok, msg
      end,
    })
    add("W2-" .. shape, "uv_callbacks", {
      ops = N,
      setup = function()
        local c = base.callback_cache()
        local filled = false
        base.spawn(function()
          for _, p in ipairs(fx.w1) do
            assert(c.get(p))
          end
        end, function()
          filled = true
        end)
        assert(vim.wait(60000, function()
          return filled
        end, 1))
        return { c = c }
      end,
      run = function(ctx, done)
        drive(base.spawn, ctx.c.get, fx.w1, done)
      end,
      verify = files_ok,
    })
    add("W2-" .. shape, "uv_sync", {
      ops = N,
      setup = function()
        local c = base.sync_cache()
        for _, p in ipairs(fx.w1) do
          assert(c.get(p))
        end
        return { c = c }
      end,
      run = function(ctx, done)
        sync_loop(ctx.c.get, fx.w1, done)
      end,
      verify = files_ok,
    })
  end

  -- W3: read + JSON decode, cold, sequential awaits.
  local docs_ok = function(_, out)
    return check_docs(fx, out)
  end
  add("W3", "fscache", {
    ops = #fx.w3,
    setup = function()
      return { c = fscache.FileCache.new() }
    end,
    run = function(ctx, done)
      seq(fs_spawn, function(p)
        return ctx.c:get_json_async(p)
      end, fx.w3, done)
    end,
    verify = docs_ok,
  })
  add("W3", "uv_callbacks", {
    ops = #fx.w3,
    setup = function()
      return { c = base.callback_cache() }
    end,
    run = function(ctx, done)
      seq(base.spawn, function(p)
        local e = ctx.c.get(p)
        return e and vim.json.decode(e.content)
      end, fx.w3, done)
    end,
    verify = docs_ok,
  })
  add("W3", "uv_sync", {
    ops = #fx.w3,
    setup = function()
      return { c = base.sync_cache() }
    end,
    run = function(ctx, done)
      sync_loop(function(p)
        local e = ctx.c.get(p)
        return e and vim.json.decode(e.content)
      end, fx.w3, done)
    end,
    verify = docs_ok,
  })

  -- W4: list a 10,000-entry directory; cold (fresh cache per listing) and cached (hits).
  local dirs = {}
  for i = 1, W4_COLD_OPS do
    dirs[i] = fx.w4
  end
  local hit_dirs = {}
  for i = 1, W4_HIT_OPS do
    hit_dirs[i] = fx.w4
  end
  local function dir_cases(system, new_cache, get_of, driver)
    add("W4-cold", system, {
      ops = W4_COLD_OPS,
      run = function(_, done)
        driver(function(p)
          return get_of(new_cache())(p)
        end, dirs, done)
      end,
      verify = function(_, out)
        return check_listings(out, W4_COLD_OPS)
      end,
    })
    add("W4-cached", system, {
      ops = W4_HIT_OPS,
      setup = function()
        local c = new_cache()
        local filled
        driver(get_of(c), { fx.w4 }, function()
          filled = true
        end)
        assert(vim.wait(60000, function()
          return filled
        end, 1))
        return { c = c }
      end,
      run = function(ctx, done)
        driver(get_of(ctx.c), hit_dirs, done)
      end,
      verify = function(_, out)
        return check_listing(out[1]) and out[W4_HIT_OPS] == out[1], "cached listing differs"
      end,
    })
  end
  dir_cases("fscache", fscache.DirectoryCache.new, function(c)
    return function(p)
      return c:get_async(p)
    end
  end, function(get, paths, done)
    seq(fs_spawn, get, paths, done)
  end)
  dir_cases("uv_callbacks", base.callback_dir_cache, function(c)
    return c.get
  end, function(get, paths, done)
    seq(base.spawn, get, paths, done)
  end)
  dir_cases("uv_sync", base.sync_dir_cache, function(c)
    return c.get
  end, sync_loop)

  -- W5: worst loop stall and main-thread CPU during a 2,000-file concurrent cold burst.
  add("W5", "fscache", {
    stall = true,
    ops = N,
    setup = function()
      return { c = fscache.FileCache.new() }
    end,
    run = function(ctx, done)
      conc(fs_spawn, function(p)
        return ctx.c:get_async(p)
      end, fx.w1, done)
    end,
    verify = files_ok,
  })
  add("W5", "uv_callbacks", {
    stall = true,
    ops = N,
    setup = function()
      return { c = base.callback_cache() }
    end,
    run = function(ctx, done)
      conc(base.spawn, ctx.c.get, fx.w1, done)
    end,
    verify = files_ok,
  })
  -- The noise floor: the same timer with nothing running for as long as a burst lasts.
  add("W5", "idle", {
    stall = true,
    ops = N,
    run = function(_, done)
      vim.defer_fn(function()
        done(true)
      end, 60)
    end,
    verify = function()
      return true
    end,
  })
  add("W5", "uv_sync", {
    stall = true,
    ops = N,
    setup = function()
      return { c = base.sync_cache() }
    end,
    run = function(ctx, done)
      sync_loop(ctx.c.get, fx.w1, done)
    end,
    verify = files_ok,
  })

  M.big_cases(add, fx)
  M.batch_cases(add, fx, files_ok)
  M.root_cases(add, fx)
  return cases
end

-- BIG: worst loop gap and total time while the 3.8 MB lockfile becomes a Lua table (fscache:
-- get_json_async, decoded on the pool and converted a slice at a time; uv_callbacks: luv read +
-- vim.json.decode; uv_sync: io.open read + vim.json.decode).
local function check_big(v)
  if type(v) ~= "table" or v.lockfileVersion ~= 3 or type(v.packages) ~= "table" then
    return false, "no lockfile value"
  end
  local n = 0
  for _ in pairs(v.packages) do
    n = n + 1
  end
  if n ~= lockfile.PACKAGES + 1 then
    return false, n .. " packages"
  end
  return true
end

function M.big_cases(add, fx)
  local function verify(_, v)
    return check_big(v)
  end
  add("BIG", "fscache", {
    stall = true,
    ops = 1,
    setup = function()
      return { c = fscache.FileCache.new() }
    end,
    run = function(ctx, done)
      fs_spawn(function()
        return assert(ctx.c:get_json_async(fx.big))
      end, done)
    end,
    verify = verify,
  })
  add("BIG", "uv_callbacks", {
    stall = true,
    ops = 1,
    setup = function()
      return { c = base.callback_cache() }
    end,
    run = function(ctx, done)
      base.spawn(function()
        local e = assert(ctx.c.get(fx.big))
        return vim.json.decode(e.content)
      end, done)
    end,
    verify = verify,
  })
  add("BIG", "uv_sync", {
    stall = true,
    ops = 1,
    run = function(_, done)
      local f = assert(io.open(fx.big, "rb"))
      local text = f:read("*a")
      f:close()
      done(vim.json.decode(text))
    end,
    verify = verify,
  })
end

-- Batches (FileCache:get_many_async), measured once the cache has them.
function M.batch_cases(add, fx, files_ok)
  if not fscache.FileCache.get_many_async then
    return
  end
  local N = #fx.w1
  local function batch(ctx, done)
    fs_spawn(function()
      local entries = ctx.c:get_many_async(fx.w1)
      return entries
    end, done)
  end
  local function fresh()
    return { c = fscache.FileCache.new() }
  end
  add("B-batch", "fscache", { ops = N, setup = fresh, run = batch, verify = files_ok })
  add("B-stall", "fscache", { stall = true, ops = N, setup = fresh, run = batch, verify = files_ok })
  -- The baseline's best shape for "read all of these": one coroutine per file.
  local function uv_conc(ctx, done)
    conc(base.spawn, ctx.c.get, fx.w1, done)
  end
  local function uv_fresh()
    return { c = base.callback_cache() }
  end
  add("B-batch", "uv_callbacks", { ops = N, setup = uv_fresh, run = uv_conc, verify = files_ok })
  add("B-stall", "uv_callbacks", { stall = true, ops = N, setup = uv_fresh, run = uv_conc, verify = files_ok })
end

-- Root detection on an unchanged tree, 10 levels deep: fscache.root_async against vim.fs.root.
local ROOT_OPS = 2000

function M.root_cases(add, fx)
  if not fscache.root_async or not vim.fs.root then
    return
  end
  local marker = fixtures.ROOT_MARKER
  local want = vim.fs.root(fx.deep_source, marker)
  local sources = {}
  for i = 1, ROOT_OPS do
    sources[i] = fx.deep_source
  end
  local function verify(_, out)
    for i = 1, ROOT_OPS do
      if out[i] ~= want then
        return false, ("root %d is %s, vim.fs.root says %s"):format(i, tostring(out[i]), tostring(want))
      end
    end
    return true
  end
  add("R-root", "fscache", {
    ops = ROOT_OPS,
    setup = function()
      assert(fscache.root_sync(fx.deep_source, marker) == want, "root_sync disagrees with vim.fs.root")
      return {}
    end,
    run = function(_, done)
      seq(fs_spawn, function(p)
        return fscache.root_async(p, marker)
      end, sources, done)
    end,
    verify = verify,
  })
  add("R-root", "uv_sync", {
    ops = ROOT_OPS,
    run = function(_, done)
      sync_loop(function(p)
        return vim.fs.root(p, marker)
      end, sources, done)
    end,
    verify = verify,
  })
end

return M
