-- What fscache touches: exactly the path it is given (the kernel resolves it; no lexical clean-up,
-- no environment), a temp file created with O_EXCL|O_NOFOLLOW in the target's directory with
-- the target's mode, and no process ever spawned. See docs/THREAT_MODEL.md.

local fscache = require("fscache")
local C = require("support.child")
local uv = test_uv

describe("the temp file", function()
  local dir
  before_each(function()
    dir = tmpdir()
    write_file(dir .. "/victim", "victim content")
    write_file(dir .. "/target", "old target")
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("never follows a symlink planted at its name: the next free name is used", function()
    local t, out, rc = C.lua("temp_symlinks", { dir, "4" })
    assert(rc == 0, out)
    assert.are.equal("true", t.ok, out)
    assert.are.equal("written by fscache", read_file(dir .. "/target"))
    assert.are.equal("victim content", read_file(dir .. "/victim"))
    for n = 0, 3 do
      local link = ("%s/.target.fscache-%s-%d.tmp"):format(dir, t.pid, n)
      assert.are.equal("link", uv.fs_lstat(link).type)
      assert.are.equal(dir .. "/victim", uv.fs_readlink(link))
    end
    assert.are.equal(6, #dir_names(dir)) -- target, victim, 4 planted links, nothing else
  end)

  it("gives up with EEXIST when every name it tries is taken, touching nothing", function()
    local t, out, rc = C.lua("temp_symlinks", { dir, "64" })
    assert(rc == 0, out)
    assert.are.equal("nil", t.ok, out)
    assert.are.equal("EEXIST", t.code)
    assert.are.equal("old target", read_file(dir .. "/target"))
    assert.are.equal("victim content", read_file(dir .. "/victim"))
  end)

  it("never creates the destination of a dangling symlink planted at its name", function()
    assert(os.remove(dir .. "/victim")) -- the planted links now point nowhere
    local t, out, rc = C.lua("temp_symlinks", { dir, "3" })
    assert(rc == 0, out)
    assert.are.equal("true", t.ok, out)
    -- O_CREAT without O_EXCL|O_NOFOLLOW would have created the links' destination.
    assert.is_nil(uv.fs_stat(dir .. "/victim"), "a dangling temp-name symlink was followed")
    assert.are.equal("written by fscache", read_file(dir .. "/target"))
  end)

  it("is made in the target's directory whatever TMPDIR, HOME and the cwd say", function()
    local elsewhere = tmpdir()
    local rc, out = C.run(
      "cd "
        .. C.q(elsewhere)
        .. " && env TMPDIR="
        .. C.q(elsewhere)
        .. " HOME="
        .. C.q(elsewhere)
        .. " "
        .. C.lua_cmd("io_probe", { "write", dir .. "/target", "new" })
    )
    assert(rc == 0, out)
    assert.are.equal("ok true", C.parse(out)["sync.write"], out)
    assert.are.same({}, dir_names(elsewhere))
    assert.are.same({ "target", "victim" }, dir_names(dir))
    rm_rf(elsewhere)
  end)
end)

describe("modes and owners", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("a rewritten file keeps its permission bits", function()
    for _, mode in ipairs({ 384, 416, 420, 448, 493, 256 }) do -- 0600 0640 0644 0700 0755 0400
      local p = ("%s/m%o"):format(dir, mode)
      write_file(p, "old")
      assert(uv.fs_chmod(p, mode))
      assert(files:write_sync(p, { content = "new" }))
      assert.are.equal(mode, uv.fs_stat(p).mode % 4096, ("mode %o"):format(mode))
    end
  end)

  it("a new file gets 0666 minus the umask (never more)", function()
    for mask, want in pairs({ ["077"] = 384, ["027"] = 416, ["022"] = 420, ["002"] = 436 }) do
      local p = dir .. "/new" .. mask
      local rc, out = C.run("umask " .. mask .. " && " .. C.lua_cmd("io_probe", { "write", p, "x" }))
      assert(rc == 0, out)
      assert.are.equal(want, uv.fs_stat(p).mode % 4096, "umask " .. mask)
    end
  end)

  it("a file owned by another user keeps its owner when root rewrites it", function()
    if not C.is_root then
      return -- only root can give files away; nothing to check for an ordinary user
    end
    local p = dir .. "/theirs"
    write_file(p, "old")
    assert(uv.fs_chmod(p, 384))
    assert(uv.fs_chown(p, C.nobody, C.nobody))
    assert(files:write_sync(p, { content = "new" }))
    local st = uv.fs_stat(p)
    assert.are.equal(C.nobody, st.uid)
    assert.are.equal(C.nobody, st.gid)
    assert.are.equal(384, st.mode % 4096)
  end)
end)

describe("the path, exactly as given", function()
  local dir, files
  before_each(function()
    dir = tmpdir()
    files = fscache.FileCache.new()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("'..' is resolved by the kernel, not cleaned up lexically", function()
    write_file(dir .. "/f", "top")
    assert(uv.fs_mkdir(dir .. "/sub", 493))
    assert.are.equal("top", files:get_sync(dir .. "/sub/../f").content)
    local none, _, code = files:get_sync(dir .. "/missing/../f")
    assert.is_nil(none)
    assert.are.equal("ENOENT", code)
    local ok, _, wcode = files:write_sync(dir .. "/missing/../g", { content = "x" })
    assert.is_nil(ok)
    assert.are.equal("ENOENT", wcode)
    assert.is_nil(uv.fs_stat(dir .. "/g"))
  end)

  it("a symlinked target is written through; the link stays a link (documented)", function()
    write_file(dir .. "/real", "old")
    assert(uv.fs_symlink("real", dir .. "/link"))
    assert(files:write_sync(dir .. "/link", { content = "new" }))
    assert.are.equal("link", uv.fs_lstat(dir .. "/link").type)
    assert.are.equal("new", read_file(dir .. "/real"))
  end)

  it("the module imports no way to run a process", function()
    local rc, out = C.run("nm -D --undefined-only " .. C.q(C.lib_dir .. "/fscache.so"))
    assert(rc == 0, out)
    for _, sym in ipairs({
      "system",
      "popen",
      "execve",
      "execv",
      "execvp",
      "execl",
      "execlp",
      "fork",
      "vfork",
      "posix_spawn",
      "posix_spawnp",
      "clone3",
    }) do
      assert.is_nil(out:find("%s" .. sym .. "@"), "imports " .. sym)
      assert.is_nil(out:find("%s" .. sym .. "\n"), "imports " .. sym)
    end
  end)
end)
