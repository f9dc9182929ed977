-- The metadata cache: fscache.stat* (cached stat answers, "does not exist" included) and
-- fscache.root* (vim.fs.root's answers from cached stats). Under Neovim vim.fs.root is the oracle
-- for every case, before and after each mutation; under LuaJIT the answers it gave are written
-- out in fixtures/meta_roots.lua (and checked against vim.fs.root whenever Neovim runs this).
-- Mutations are followed by the next call with no sleep in between.

local fscache = require("fscache")
local T = require("support.meta_tree")
local C = require("support.child")
local EXPECTED = dofile("lua-tests/fixtures/meta_roots.lua")
local uv = test_uv

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do
    t[#t + 1] = w
  end
  return t
end

-- What uv.fs_stat says, in stat_sync's shape (nil, code on failure).
local function uv_stat(path)
  local st, err = uv.fs_stat(path)
  if not st then
    return nil, err:match("^(%u+)")
  end
  return { type = st.type, size = st.size, mtime = st.mtime.sec, mtime_nsec = st.mtime.nsec, mode = st.mode }
end

local function same_stat(path, st, err, code)
  local want, want_code = uv_stat(path)
  if want == nil then
    assert.is_nil(st, path)
    assert.are.equal(want_code, code, path)
    assert.matches(path, err, 1, true)
  else
    assert.is_nil(err, path)
    assert.are.same(want, st, path)
  end
end

local function stats()
  return fscache.meta_stats()
end

describe("fscache.stat", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("answers like uv.fs_stat for a file, a directory, a symlink (followed), a fifo", function()
    write_file(dir .. "/f", "hello")
    assert(os.execute("mkdir " .. dir .. "/d && ln -s f " .. dir .. "/l && mkfifo " .. dir .. "/p"))
    for _, name in ipairs({ "f", "d", "l", "p" }) do
      same_stat(dir .. "/" .. name, fscache.stat_sync(dir .. "/" .. name))
      same_stat(
        dir .. "/" .. name,
        run_async(function()
          return fscache.stat_async(dir .. "/" .. name)
        end)
      )
    end
    assert.are.equal("file", fscache.stat_sync(dir .. "/l").type)
    assert.are.equal("fifo", fscache.stat_sync(dir .. "/p").type)
  end)

  it("caches 'does not exist' (ENOENT, ENOTDIR) and answers it again without a read", function()
    write_file(dir .. "/f", "x")
    local a, err, code = fscache.stat_sync(dir .. "/missing")
    assert.is_nil(a)
    assert.are.equal("ENOENT", code)
    assert.are.equal("ENOENT: no such file or directory: " .. dir .. "/missing", err)
    local _, _, code2 = fscache.stat_sync(dir .. "/f/x")
    assert.are.equal("ENOTDIR", code2)
    sleep_past_racy_window()
    local before = stats()
    for _ = 1, 10 do
      assert.are.equal("ENOENT", select(3, fscache.stat_sync(dir .. "/missing")))
      assert.are.equal("ENOTDIR", select(3, fscache.stat_sync(dir .. "/f/x")))
    end
    local after = stats()
    assert.are.equal(before.misses, after.misses)
    assert.are.equal(before.fast_hits + 20, after.fast_hits)
  end)

  it("the callback form answers the same", function()
    write_file(dir .. "/f", "abc")
    local got
    fscache.stat(dir .. "/f", function(...)
      got = pack(...)
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal(3, got[1].size)
  end)

  -- Each change is made right before the next call; the answer must be the new one. Paths are
  -- cached (and aged past the racy window, so the watcher is what vouches) before each change.
  local CHANGES = {
    { "created", "missing", "touch %s" },
    { "deleted", "file", "rm %s" },
    { "renamed away", "file", "mv %s %s.old" },
    { "renamed over", "file", "echo new-content >%s.new && mv %s.new %s" },
    { "appended", "file", "echo more >>%s" },
    { "chmod-ed", "file", "chmod 600 %s" },
    { "replaced by a directory", "file", "rm %s && mkdir %s" },
    { "a directory gaining an entry", "dir", "touch %s/new" },
    { "a directory replaced by a file", "dir", "rm -r %s && touch %s" },
    { "parent renamed", "file", "mv $(dirname %s) $(dirname %s).moved" },
    { "missing parent created with it", "deep", "mkdir -p $(dirname %s) && touch %s" },
    { "hard-linked, then written through the link", "file", "ln %s %s.link && echo more >>%s.link" },
  }
  for _, c in ipairs(CHANGES) do
    it("sees a path " .. c[1] .. " by the very next call (no sleep)", function()
      local paths = {}
      for i = 1, 30 do
        local sub = ("%s/s%02d"):format(dir, i)
        assert(os.execute("mkdir " .. sub))
        local p = sub .. "/target"
        if c[2] == "file" then
          write_file(p, "content")
        elseif c[2] == "dir" then
          assert(os.execute("mkdir " .. p))
        elseif c[2] == "deep" then
          p = sub .. "/x/y/target"
        end
        paths[i] = p
      end
      for _, p in ipairs(paths) do
        fscache.stat_sync(p)
      end
      sleep_past_racy_window()
      for _, p in ipairs(paths) do
        fscache.stat_sync(p) -- cached, now vouched for by the watcher
      end
      for i, p in ipairs(paths) do
        local cmd = c[3]:gsub("%%s", shell_quote(p))
        assert(os.execute(cmd))
        if i % 2 == 0 then
          same_stat(p, fscache.stat_sync(p))
        else
          same_stat(
            p,
            run_async(function()
              return fscache.stat_async(p)
            end)
          )
        end
      end
    end)
  end

  it("keeps seeing writes through a hard link made later (the file is then stat-ed on the pool)", function()
    local other = tmpdir()
    local p = dir .. "/f"
    write_file(p, "x")
    fscache.stat_sync(p)
    sleep_past_racy_window()
    fscache.stat_sync(p)
    assert(os.execute(("ln %s %s/link"):format(p, other)))
    for i = 1, 20 do
      local f = assert(io.open(other .. "/link", "ab"))
      f:write("y")
      f:close()
      assert.are.equal(1 + i, fscache.stat_sync(p).size)
    end
    rm_rf(other)
  end)

  it("rejects non-string paths naming the argument; a NUL byte is EINVAL", function()
    for _, bad in ipairs({ 1, true, {}, false }) do
      assert.has_error(function()
        fscache.stat_sync(bad)
      end, "bad argument #1 to 'stat_sync' (path: string expected, got " .. type(bad) .. ")")
    end
    assert.has_error(function()
      fscache.stat(dir, 42)
    end, "bad argument #2 to 'stat' (callback: function expected, got number)")
    local st, err, code = fscache.stat_sync(dir .. "/a\0b")
    assert.is_nil(st)
    assert.are.equal("EINVAL", code)
    assert.matches("NUL", err)
  end)

  it("counts hits, misses and fast hits in meta_stats()", function()
    write_file(dir .. "/f", "x")
    local s0 = stats()
    fscache.stat_sync(dir .. "/f")
    sleep_past_racy_window()
    fscache.stat_sync(dir .. "/f")
    fscache.stat_sync(dir .. "/f")
    local s1 = stats()
    assert.are.equal(s0.misses + 1, s1.misses)
    assert.is_true(s1.fast_hits >= s0.fast_hits + 1)
    assert.is_true(s1.hits >= s0.hits + 2)
  end)
end)

-- Checks every source x marker of meta_tree at mutation step `step` (0: none yet): root_sync,
-- root_async (all in one coroutine) and, under Neovim, vim.fs.root, against the written answers.
local function check_all(root, step, opts)
  opts = opts or {}
  local cwd = uv.cwd()
  assert(uv.chdir(root))
  local bad = {}
  local ok, err = pcall(function()
    local cases = {}
    for _, s in ipairs(T.sources) do
      for _, m in ipairs(T.markers) do
        cases[#cases + 1] = { s = s, m = m, want = words(EXPECTED[s][m[1]])[step + 1] }
      end
    end
    local async = run_async(function()
      local out = {}
      for i, c in ipairs(cases) do
        out[i] = T.relative(root, fscache.root_async(T.source(root, c.s), c.m[2]))
      end
      return out
    end)
    for i, c in ipairs(cases) do
      local src = T.source(root, c.s)
      local got = T.relative(root, fscache.root_sync(src, c.m[2]))
      local label = ("step %d, %s, %s:"):format(step, c.s, c.m[1])
      if got ~= c.want then
        bad[#bad + 1] = ("%s root_sync %s, want %s"):format(label, got, c.want)
      end
      if async[i] ~= c.want then
        bad[#bad + 1] = ("%s root_async %s, want %s"):format(label, async[i], c.want)
      end
      if in_nvim then
        local oracle = T.relative(root, vim.fs.root(src, c.m[2]))
        if oracle ~= c.want then
          bad[#bad + 1] = ("%s vim.fs.root %s, fixture %s (regenerate it)"):format(label, oracle, c.want)
        end
      end
      if opts.callback then
        local got_cb
        fscache.root(src, c.m[2], function(r)
          got_cb = T.relative(root, r)
        end)
        assert(wait_until(function()
          return got_cb ~= nil
        end))
        if got_cb ~= c.want then
          bad[#bad + 1] = ("%s root (callback) %s, want %s"):format(label, got_cb, c.want)
        end
      end
    end
    return #cases
  end)
  assert(uv.chdir(cwd))
  assert(ok, err)
  assert.are.same({}, bad)
end

describe("fscache.root", function()
  local root
  before_each(function()
    root = tmpdir()
    T.build(root)
  end)
  after_each(function()
    os.execute("chmod -R u+rwX " .. shell_quote(root))
    rm_rf(root)
  end)

  it("has at least 40 cases and a fixture for each", function()
    assert.is_true(#T.sources * #T.markers >= 40)
    for _, s in ipairs(T.sources) do
      for _, m in ipairs(T.markers) do
        assert.are.equal(#T.mutations + 1, #words(EXPECTED[s][m[1]]), s .. " " .. m[1])
      end
    end
  end)

  it("answers every case like vim.fs.root, before and after each mutation (no sleep)", function()
    check_all(root, 0, { callback = true })
    check_all(root, 0) -- again, from the caches
    for i = 1, #T.mutations do
      T.mutate(root, i)
      check_all(root, i)
      check_all(root, i)
    end
  end)

  it("answers the same with the watcher off (watch_limit = 0): stats on the pool every time", function()
    local limit = fscache.pool_stats().watch_limit
    fscache.setup({ watch_limit = 0 })
    local ok, err = pcall(function()
      local s0 = stats()
      check_all(root, 0)
      T.mutate(root, 1)
      check_all(root, 1)
      T.mutate(root, 2)
      check_all(root, 2)
      local s1 = stats()
      assert.are.equal(s0.root_hits, s1.root_hits) -- nothing vouched for: no cached root answer
      assert.are.equal(s0.fast_hits, s1.fast_hits)
    end)
    fscache.setup({ watch_limit = limit })
    assert(ok, err)
  end)

  it("answers an unchanged tree from its root cache: no stat, no walk", function()
    local src = root .. "/ws/proj1/src/a/b/c/file.lua"
    local markers = { { "Cargo.toml", ".nvim.lua" }, "package.json", ".git" }
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, markers))
    sleep_past_racy_window()
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, markers)) -- watched now
    local s0 = stats()
    for _ = 1, 100 do
      assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, markers))
      assert.are.equal(
        root .. "/ws/proj1",
        run_async(function()
          return fscache.root_async(src, markers)
        end)
      )
    end
    local s1 = stats()
    assert.are.equal(s0.root_hits + 200, s1.root_hits)
    assert.are.equal(s0.root_walks, s1.root_walks)
    assert.are.equal(s0.reads, s1.reads)
    -- a marker created closer, then removed: seen at once
    write_file(root .. "/ws/proj1/src/a/.nvim.lua", "")
    assert.are.equal(root .. "/ws/proj1/src/a", fscache.root_sync(src, markers))
    os.remove(root .. "/ws/proj1/src/a/.nvim.lua")
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, markers))
  end)

  it("sees a directory on the way replaced by a file between calls", function()
    local src = root .. "/ws/proj1/src/a/b/c/file.lua"
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    sleep_past_racy_window()
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    assert(os.execute("rm -r " .. root .. "/ws/proj1/src && touch " .. root .. "/ws/proj1/src"))
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    assert.is_nil(fscache.root_sync(src, "c"))
    assert(os.execute("rm " .. root .. "/ws/proj1/package.json"))
    assert.is_nil(fscache.root_sync(src, "package.json"))
  end)

  it("rejects a non-string source and a marker of the wrong type, naming the argument", function()
    for _, bad in ipairs({ 1, true, {}, false }) do
      assert.has_error(function()
        fscache.root_sync(bad, ".git")
      end, "bad argument #1 to 'root_sync' (source: string expected, got " .. type(bad) .. ")")
    end
    assert.has_error(function()
      fscache.root_sync(root)
    end, "bad argument #2 to 'root_sync' (marker: string, list or function expected, got nil)")
    assert.has_error(function()
      fscache.root_sync(root, 42)
    end, "bad argument #2 to 'root_sync' (marker: string, list or function expected, got number)")
    assert.has_error(function()
      fscache.root_sync(root, { ".git", 42 })
    end, "bad argument #2 to 'root_sync' (marker[2]: string, list or function expected, got number)")
    assert.has_error(function()
      fscache.root_sync(root, { { ".git", true } })
    end, "bad argument #2 to 'root_sync' (marker[1][2]: string expected, got boolean)")
    assert.has_error(function()
      fscache.root(root, ".git", "nope")
    end, "bad argument #3 to 'root' (callback: function expected, got string)")
    local ok, err = pcall(run_async, function()
      return fscache.root_async(nil, ".git")
    end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'root_async' (source: string expected, got nil)", err, 1, true)
  end)

  it("lets a raising marker function's error reach the caller; the cache stays usable", function()
    local src = root .. "/ws/proj1/src/x.lua"
    local function boom(name)
      if name == "x.lua" then
        error("marker exploded on " .. name)
      end
      return false
    end
    local ok, err = pcall(fscache.root_sync, src, boom)
    assert.is_false(ok)
    assert.matches("marker exploded on x.lua", err, 1, true)
    ok, err = pcall(run_async, function()
      return fscache.root_async(src, { "nope", boom })
    end)
    assert.is_false(ok)
    assert.matches("marker exploded on x.lua", err, 1, true)
    local got
    fscache.root(src, boom, function(r, e)
      got = { r, e }
    end)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.is_nil(got[1])
    assert.matches("marker exploded on x.lua", got[2], 1, true)
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    assert.are.equal(
      root .. "/ws/proj1",
      fscache.root_sync(src, function(name)
        return name == "package.json"
      end)
    )
  end)

  it("runs the callback of fscache.root after the call, even for a cached answer", function()
    local src = root .. "/ws/proj1/src/x.lua"
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    sleep_past_racy_window()
    assert.are.equal(root .. "/ws/proj1", fscache.root_sync(src, "package.json"))
    local got, during = nil, nil
    fscache.root(src, "package.json", function(r)
      got = r
    end)
    during = got
    assert.is_nil(during)
    assert.is_true(wait_until(function()
      return got ~= nil
    end))
    assert.are.equal(root .. "/ws/proj1", got)
  end)

  it("answers nil, message, EINVAL for a NUL byte in the source or a marker", function()
    local r, err, code = fscache.root_sync(root .. "/ws\0x", ".git")
    assert.is_nil(r)
    assert.are.equal("EINVAL", code)
    assert.are.equal("EINVAL: path contains a NUL byte: " .. root .. "/ws\\0x", err)
    r, err, code = fscache.root_sync(root .. "/ws/proj1/src/x.lua", { "package.json\0" })
    assert.is_nil(r)
    assert.are.equal("EINVAL", code)
  end)

  it("walks a tree 220 levels deep, and sees a marker appear in the middle", function()
    local parts = {}
    for i = 1, 220 do
      parts[i] = "d"
    end
    local deep = root .. "/deep/" .. table.concat(parts, "/")
    assert(os.execute("mkdir -p " .. deep .. " && touch " .. root .. "/deep/.git " .. deep .. "/f.txt"))
    local src = deep .. "/f.txt"
    assert.are.equal(root .. "/deep", fscache.root_sync(src, { "nope", ".git" }))
    sleep_past_racy_window()
    assert.are.equal(root .. "/deep", fscache.root_sync(src, { "nope", ".git" }))
    local mid = root .. "/deep/" .. table.concat(parts, "/", 1, 100)
    write_file(mid .. "/.git", "")
    assert.are.equal(mid, fscache.root_sync(src, { "nope", ".git" }))
    assert.are.equal(
      mid,
      run_async(function()
        return fscache.root_async(src, { "nope", ".git" })
      end)
    )
    if in_nvim then
      assert.are.equal(vim.fs.root(src, { "nope", ".git" }), mid)
    end
  end)

  it("treats unreadable directories on the way as vim.fs.root does (as nobody)", function()
    if not C.is_root then
      pending("needs root to switch to nobody")
      return
    end
    -- ws/proj1/src is not searchable for nobody: stats below it fail (EACCES), markers there
    -- are not found, the walk goes on upward.
    assert(os.execute("chmod 755 " .. shell_quote(root) .. " && chmod -R a+rX " .. shell_quote(root)))
    assert(os.execute("chmod 700 " .. root .. "/ws/proj1/src"))
    local out = {}
    for _, s in ipairs({ "ws/proj1/src/a/b/c/file.lua", "ws/proj1/src/x.lua", "ws/proj2/.nvim.lua" }) do
      local rc, text = C.run(C.unprivileged() .. C.lua_cmd("meta_root", { root .. "/" .. s, "package.json", ".git" }))
      assert.are.equal(0, rc, text)
      out[#out + 1] = T.relative(root, text:match("root=(%S+)"))
    end
    -- /tmp/x as nobody: package.json in ws/proj1 is readable, so proj1 answers for sources below
    -- src (ws/proj1/src/a/b/c is not searchable: the source's own stat fails, its parent is used).
    assert.are.same({ "ws/proj1", "ws/proj1", "ws" }, out)
  end)

  it("makes (almost) no system calls for 1,000 lookups in an unchanged tree (strace -c)", function()
    if C.run("command -v strace >/dev/null") ~= 0 then
      pending("strace missing (scripts/ensure-deps.sh test installs it)")
      return
    end
    local src = root .. "/ws/proj1/src/a/b/c/file.lua"
    local function count(n)
      local trace = root .. "/strace.out"
      local rc, text = C.run(
        "strace -f -c -o "
          .. trace
          .. " "
          .. C.lua_cmd("meta_root", { src, "Cargo.toml", "package.json", ".git", "--repeat=" .. n })
      )
      assert.are.equal(0, rc, text)
      local calls = {}
      for line in io.lines(trace) do
        local n_calls, name = line:match("^%s*[%d.]+%s+[%d.]+%s+%d+%s+(%d+)%s+%d*%s*([%w_]+)%s*$")
        if n_calls and name ~= "total" then
          calls[name] = tonumber(n_calls)
        end
      end
      return calls
    end
    local base, many = count(0), count(1000)
    local extra, files, diff = 0, 0, {}
    for name, n in pairs(many) do
      local d = n - (base[name] or 0)
      extra = extra + d
      if d ~= 0 then
        diff[#diff + 1] = name .. " " .. d
      end
      if name:match("stat") or name:match("open") or name:match("getdents") or name == "access" then
        files = files + d
      end
    end
    table.sort(diff)
    local detail = "system calls of 1,000 lookups beyond the run with none: " .. table.concat(diff, ", ")
    -- No stat, open or directory read for the 1,000 lookups (the two runs differ by a couple of
    -- loader stats either way); what remains is one non-blocking read of the inotify
    -- descriptor per lookup (the change-feed check). A loaded machine adds a few reads (events
    -- or interrupted reads), never one per marker and directory as vim.fs.root does (30 here).
    assert.is_true(files <= 5, detail)
    assert.is_true(extra <= 1000 + 50, detail)
    assert.is_true((many.read or 0) - (base.read or 0) <= 1000 + 50, detail)
  end)
end)
