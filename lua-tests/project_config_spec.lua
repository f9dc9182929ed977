-- The project-config loader example (examples/project_config) on a real config directory:
-- discovery and merge order, on_load, load_await under different drivers, saving the edits as
-- a diff layer, reloading after edits, errors listed per file. Every wait is bounded.
package.path = "examples/project_config/?.lua;" .. package.path
local fscache = require("fscache")
local project_config = require("project_config")
local J = require("json_util")

local O = J.O

local function mkdir(p)
  assert(test_uv.fs_mkdir(p, 493))
end

-- The config tree every test starts from: <dir>/projects/app.json, <dir>/projects/app/*.
local TREE = {
  ["projects/app.json"] = [[
{
  "name": "app",
  "build": { "jobs": 4, "env": { "CC": "cc" }, "flags": ["-O0"] },
  "lsp": { "servers": ["lua_ls"] },
  "tags": ["a"],
  "last": "app.json"
}
]],
  ["projects/app/05-first.json"] = '{ "tags": ["first"], "last": "05-first.json" }\n',
  ["projects/app/10-build.json"] = '{ "build": { "jobs": 8, "env": { "CFLAGS": "-O2" }, "flags": ["-O2", "-g"] }, "last": "10-build.json" }\n',
  ["projects/app/20-lsp.jsonc"] = [[
// JSONC layer: comments and trailing commas
{
  "lsp": {
    "servers": ["lua_ls", "rust_analyzer",], /* replaces the list */
    "format": true,
  },
  "last": "20-lsp.jsonc",
}
]],
  -- an empty object merges as nothing; an empty array replaces
  ["projects/app/25-empty.json"] = '{ "build": {}, "tags": [], "last": "25-empty.json" }\n',
  ["projects/app/README.md"] = "not config\n",
  ["projects/app/notes.txt"] = "{}\n",
  ["projects/other.json"] = '{ "name": "other" }\n',
  ["projects/other/10-x.json"] = '{ "x": 1 }\n',
}

local MERGED = {
  name = "app",
  build = { jobs = 8, env = { CC = "cc", CFLAGS = "-O2" }, flags = { "-O2", "-g" } },
  lsp = { servers = { "lua_ls", "rust_analyzer" }, format = true },
  tags = {},
  last = "25-empty.json",
}

local function build_tree(dir)
  mkdir(dir .. "/projects")
  mkdir(dir .. "/projects/app")
  mkdir(dir .. "/projects/app/sub.json") -- a directory with a config-like name: not a file
  mkdir(dir .. "/projects/other")
  for rel, content in pairs(TREE) do
    write_file(dir .. "/" .. rel, content)
  end
end

describe("project_config loader", function()
  local dir, loader
  before_each(function()
    dir = tmpdir()
    build_tree(dir)
    loader = project_config.new({ config_dir = dir, name = "app" })
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function load()
    return run_async(function()
      return loader:load_await()
    end, 5000)
  end

  local function files_of(ctx)
    local out = {}
    for i, f in ipairs(ctx.files) do
      out[i] = f:sub(#dir + 2)
    end
    return out
  end

  it("finds the files, in order, and merges them (objects merge, arrays are replaced, later wins)", function()
    local ctx = load()
    assert.are.same({
      "projects/app.json",
      "projects/app/05-first.json",
      "projects/app/10-build.json",
      "projects/app/20-lsp.jsonc",
      "projects/app/25-empty.json",
    }, files_of(ctx))
    assert.are.same({}, ctx.errors)
    J.assert_same(ctx.json, MERGED, "ctx.json")
    assert.are.equal(5, #ctx.sources)
    assert.are.equal(5, loader.files:stats().parses)
  end)

  it("finds its project from a file inside it with root_async, and sees a closer marker at once", function()
    assert(os.execute(("mkdir -p %s/work/app/.git %s/work/app/src/deep"):format(dir, dir)))
    local buffer = dir .. "/work/app/src/deep/main.lua"
    local l, root = run_async(function()
      return project_config.for_path_async(buffer, { config_dir = dir })
    end)
    assert.are.equal(dir .. "/work/app", root)
    assert.are.equal("app", l.name)
    local ctx = run_async(function()
      return l:load_await()
    end)
    J.assert_same(ctx.json, MERGED, "ctx.json")
    -- a nested project appears: the next lookup finds it (no sleep)
    write_file(dir .. "/work/app/src/.nvim.lua", "")
    local l2 = run_async(function()
      return project_config.for_path_async(buffer, { config_dir = dir })
    end)
    assert.are.equal("src", l2.name)
    assert.is_nil(run_async(function()
      return project_config.for_path_async("/", { config_dir = dir, markers = "no-such-marker" })
    end))
  end)

  it("does not alias the cache: editing ctx.json leaves the decoded files alone", function()
    local ctx = load()
    ctx.json.build.env.CC = "clang"
    table.insert(ctx.json.lsp.servers, "x")
    local again = load()
    J.assert_same(again.json, MERGED, "reloaded")
    assert.are.equal("cc", assert(loader.files:get_json_sync(dir .. "/projects/app.json")).build.env.CC)
  end)

  it("fires on_load exactly once per load, with the merged context", function()
    local calls, seen = 0, nil
    loader:load(function(ctx)
      calls = calls + 1
      seen = ctx
    end)
    assert.are.equal(0, calls) -- never inside the call
    assert.is_true(wait_until(function()
      return calls == 1
    end, 5000))
    wait_until(function()
      return calls > 1
    end, 100)
    assert.are.equal(1, calls)
    J.assert_same(seen.json, MERGED, "on_load ctx")
    loader:load(function()
      calls = calls + 1
    end)
    assert.is_true(wait_until(function()
      return calls == 2
    end, 5000))
    wait_until(function()
      return calls > 2
    end, 100)
    assert.are.equal(2, calls)
  end)

  it("routes an error raised by on_load to on_error (not swallowed, not fired twice)", function()
    local calls, errs = 0, {}
    local reports = capture_reports(function()
      loader:load(function()
        calls = calls + 1
        error("boom in on_load")
      end, function(msg)
        errs[#errs + 1] = msg
      end)
      assert.is_true(wait_until(function()
        return #errs == 1
      end, 5000))
      wait_until(function()
        return #errs > 1 or calls > 1
      end, 100)
    end)
    assert.are.equal(1, calls)
    assert.are.equal(1, #errs)
    assert.truthy(errs[1]:find("boom in on_load", 1, true))
    assert.are.same({}, reports)
  end)

  it("concurrent loads all resolve, each on_load once, files decoded once", function()
    local got = {}
    for i = 1, 20 do
      loader:load(function(ctx)
        got[i] = (got[i] or 0) + 1
        J.assert_same(ctx.json, MERGED, "load " .. i)
      end, function(e)
        error(e)
      end)
    end
    assert.is_true(wait_until(function()
      for i = 1, 20 do
        if got[i] ~= 1 then
          return false
        end
      end
      return true
    end, 5000))
    assert.are.equal(5, loader.files:stats().parses)
  end)

  it("load_await resolves inside fscache.run, fscache.block_on and a bare coroutine.wrap", function()
    local ctx1 = load()
    local ctx2 = fscache.block_on(function()
      return loader:load_await()
    end, 5000)
    local ctx3
    coroutine.wrap(function()
      ctx3 = loader:load_await()
    end)()
    assert.is_true(wait_until(function()
      return ctx3 ~= nil
    end, 5000))
    for _, c in ipairs({ ctx1, ctx2, ctx3 }) do
      J.assert_same(c.json, MERGED, "ctx.json")
      assert.are.same({}, c.errors)
    end
    -- on a fresh loader (cold caches) as well
    local cold
    coroutine.wrap(function()
      cold = project_config.new({ config_dir = dir, name = "app" }):load_await()
    end)()
    assert.is_true(wait_until(function()
      return cold ~= nil
    end, 5000))
    J.assert_same(cold.json, MERGED, "cold ctx.json")
  end)

  it("outside a coroutine, load_await is a clear Lua error", function()
    local ok, err = pcall(loader.load_await, loader)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("must be called inside a coroutine", 1, true))
  end)

  it("saves the edits as <name>.local.json (the diff, atomically); a reload gives back exactly that", function()
    local ctx = load()
    local projects = dir .. "/projects"
    local before = {}
    for rel in pairs(TREE) do
      local st = test_uv.fs_stat(dir .. "/" .. rel)
      before[rel] = { read_file(dir .. "/" .. rel), st.ino, st.mtime.sec, st.mtime.nsec }
    end
    ctx.json.build.jobs = 16
    ctx.json.lsp.servers = { "lua_ls" }
    ctx.json.extra = { enabled = true, list = { 1, 2 }, none = fscache.null, obj = fscache.empty_object() }
    local ok, err, code = run_async(function()
      return ctx:save_async()
    end)
    assert.are.same({ true }, { ok, err, code })
    assert.are.equal(
      table.concat({
        "{",
        '  "build": {',
        '    "jobs": 16',
        "  },",
        '  "extra": {',
        '    "enabled": true,',
        '    "list": [',
        "      1,",
        "      2",
        "    ],",
        '    "none": null,',
        '    "obj": {}',
        "  },",
        '  "lsp": {',
        '    "servers": [',
        '      "lua_ls"',
        "    ]",
        "  }",
        "}",
        "",
      }, "\n"),
      read_file(projects .. "/app.local.json")
    )
    -- nothing else changed, and no temp file is left behind
    for rel, b in pairs(before) do
      local st = test_uv.fs_stat(dir .. "/" .. rel)
      assert.are.same(b, { read_file(dir .. "/" .. rel), st.ino, st.mtime.sec, st.mtime.nsec }, rel)
    end
    assert.are.same({ "app", "app.json", "app.local.json", "other", "other.json" }, dir_names(projects))

    local again = load()
    assert.are.equal("projects/app.local.json", files_of(again)[6])
    assert.are.same({}, again.errors)
    J.assert_same(again.json, ctx.json, "reloaded")
    -- a fresh loader (nothing cached) reads the same
    local fresh = run_async(function()
      return project_config.new({ config_dir = dir, name = "app" }):load_await()
    end)
    J.assert_same(fresh.json, ctx.json, "fresh load")
  end)

  it("a second save keeps earlier overrides, drops reverted ones, and replaces the file by rename", function()
    local ctx = load()
    ctx.json.build.jobs = 16
    ctx.json.tags = { "x" }
    assert(run_async(function()
      return ctx:save_async()
    end))
    local p = dir .. "/projects/app.local.json"
    local ino1 = test_uv.fs_stat(p).ino
    local ctx2 = load()
    ctx2.json.build.jobs = 8 -- back to the merged value: no longer an override
    ctx2.json.name = "renamed"
    local done
    ctx2:save(function(ok, err)
      done = { ok, err }
    end)
    assert.is_true(wait_until(function()
      return done ~= nil
    end, 5000))
    assert.are.same({ true }, done)
    J.assert_same(assert(fscache.json_decode(read_file(p))), { name = "renamed", tags = { "x" } }, "overrides")
    assert.are_not.equal(ino1, test_uv.fs_stat(p).ino)
    local ctx3 = load()
    J.assert_same(ctx3.json, ctx2.json, "reloaded")
    -- saving with no edits writes an empty object
    local ctx4 = project_config.new({ config_dir = dir, name = "app" })
    local c4 = run_async(function()
      local c = ctx4:load_await()
      c.json.name = "app"
      c.json.tags = {}
      assert(c:save_async())
      return c
    end)
    assert.are.equal("{}\n", read_file(p))
    J.assert_same(load().json, c4.json, "after empty save")
  end)

  it("picks up an edit on reload, even within the same second with the same size", function()
    local first = load()
    assert.are.equal(8, first.json.build.jobs)
    local p = dir .. "/projects/app/10-build.json"
    local st = test_uv.fs_stat(p)
    local text = TREE["projects/app/10-build.json"]:gsub('"jobs": 8', '"jobs": 9')
    assert.are.equal(#TREE["projects/app/10-build.json"], #text)
    write_file(p, text)
    set_mtime(p, st.mtime.sec, st.mtime.nsec) -- only ctime and the bytes differ
    sleep_past_racy_window() -- the change must be seen by identity (ctime)
    local second = load()
    assert.are.equal(9, second.json.build.jobs)
    assert.are.equal(8, first.json.build.jobs) -- an earlier ctx is not mutated
    -- a new layer file and a removed one are seen too (directory listings are validated)
    write_file(dir .. "/projects/app/30-new.json", '{ "new": true }')
    os.remove(dir .. "/projects/app/05-first.json")
    local third = load()
    assert.are.same({
      "projects/app.json",
      "projects/app/10-build.json",
      "projects/app/20-lsp.jsonc",
      "projects/app/25-empty.json",
      "projects/app/30-new.json",
    }, files_of(third))
    assert.is_true(third.json.new)
  end)

  it("lists a file with invalid JSON in ctx.errors (path:line:col) and still merges the others", function()
    local bad = dir .. "/projects/app/10-build.json"
    write_file(bad, '{\n  "build": { "jobs": 8,, }\n}\n')
    write_file(dir .. "/projects/app/15-array.json", "[1, 2]")
    local fired
    loader:load(function(ctx)
      fired = ctx
    end)
    assert.is_true(wait_until(function()
      return fired ~= nil
    end, 5000))
    assert.are.same({
      "EJSON: " .. bad .. ":2:24: key must be a string",
      dir .. "/projects/app/15-array.json: top level must be a JSON object",
    }, fired.errors)
    assert.are.same(
      { "name", "build", "lsp", "tags", "last" },
      (function()
        local keys = {}
        for _, k in ipairs({ "name", "build", "lsp", "tags", "last" }) do
          if fired.json[k] ~= nil then
            keys[#keys + 1] = k
          end
        end
        return keys
      end)()
    )
    assert.are.equal(4, fired.json.build.jobs) -- from app.json only
    assert.are.same({ "lua_ls", "rust_analyzer" }, fired.json.lsp.servers)
    assert.are.equal("25-empty.json", fired.json.last)
  end)

  it("reports an unreadable layer file instead of skipping it", function()
    local p = dir .. "/projects/app/10-build.json"
    os.remove(p)
    assert(test_uv.fs_symlink(dir .. "/nowhere.json", p))
    local ctx = load()
    assert.are.equal(1, #ctx.errors)
    assert.are.equal("ENOENT: no such file or directory: " .. p, ctx.errors[1])
    assert.are.equal(4, ctx.json.build.jobs)
  end)

  it("a missing config directory is an empty config with no errors", function()
    for _, cfg in ipairs({ dir .. "/does-not-exist", dir .. "/projects/app/sub.json" }) do
      local l = project_config.new({ config_dir = cfg, name = "app" })
      local ctx = run_async(function()
        return l:load_await()
      end)
      assert.are.same({}, ctx.files)
      assert.are.same({}, ctx.errors)
      J.assert_same(ctx.json, O({}), cfg)
      assert.are.equal("{}", fscache.json_encode(ctx.json))
    end
    -- a project without any file is empty too
    local none = run_async(function()
      return project_config.new({ config_dir = dir, name = "nope" }):load_await()
    end)
    assert.are.same({}, none.files)
    assert.are.same({}, none.errors)
  end)

  it("a config_dir that is not a directory is an error, not an empty config", function()
    write_file(dir .. "/plain", "x")
    local ctx = run_async(function()
      return project_config.new({ config_dir = dir .. "/plain", name = "app" }):load_await()
    end)
    assert.are.equal(1, #ctx.errors)
    assert.truthy(ctx.errors[1]:find("^ENOTDIR"), ctx.errors[1])
  end)

  it("deep_merge and diff keep {} and [] apart", function()
    local a = { o = { k = 1 }, l = { 1 } }
    project_config.deep_merge(a, { o = fscache.empty_object(), l = {} })
    J.assert_same(a, { o = { k = 1 }, l = {} }, "merged")
    assert.is_nil(project_config.diff({ o = { k = 1 } }, { o = { k = 1 } }))
    J.assert_same(project_config.diff({ x = fscache.empty_object() }, { x = {} }), { x = O({}) }, "diff")
    assert.are.equal('{"x":{}}', fscache.json_encode(project_config.diff({ x = fscache.empty_object() }, { x = {} })))
  end)

  it("loads the bundled example data", function()
    local l = project_config.new({ config_dir = test_uv.cwd() .. "/examples/project_config/data", name = "demo" })
    local ctx = run_async(function()
      return l:load_await()
    end)
    assert.are.same({}, ctx.errors)
    assert.are.equal(4, #ctx.files)
    assert.are.equal(8, ctx.json.build.jobs)
    assert.are.same({ CC = "cc", CFLAGS = "-O2" }, ctx.json.build.env)
    assert.are.same({ "lua_ls", "rust_analyzer" }, ctx.json.lsp.servers)
    assert.are.same({ "example", "local" }, ctx.json.tags)
  end)
end)

describe("make demo (examples/project_config/run.lua)", function()
  if in_nvim or not jit then
    return -- the demo runs under luajit with the LuaJIT build: once, in the LuaJIT suite
  end
  it("prints the merged config and honest timings, and leaves no temp dir behind", function()
    local ok, out = sh("TMPDIR=/tmp luajit examples/project_config/run.lua")
    assert.is_true(ok, out)
    local tmp = out:match("from (%S+)\n")
    assert.truthy(tmp, out)
    assert.is_nil(test_uv.fs_stat(tmp), "temp dir left behind: " .. tmp)
    assert.truthy(out:find('"jobs": 8', 1, true), out)
    assert.truthy(out:find("load cold: [%d.]+ ms, first load in this process %(4 files: 4 reads, 4 parses%)"), out)
    assert.truthy(
      out:find("load warm: [%d.]+ ms, median of 25 loads %(per load: 0 reads, 0 parses, 4 cache hits%)"),
      out
    )
    assert.truthy(out:find("after save: build.jobs = 16", 1, true), out)
  end)
end)
