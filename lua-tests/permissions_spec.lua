-- Permission denied (read, directory, write), a read-only file system and a full disk, on the real
-- thing: the operations run in a child process as an unprivileged user (setpriv; root bypasses
-- permission checks) or inside a private mount namespace holding a read-only / tiny tmpfs
-- (unshare -m). Every failed write must leave the target byte-for-byte intact and no temp file.

local C = require("support.child")
local uv = test_uv
local q = C.q

-- The three answers (sync, callback, coroutine) the child printed for `op`; all must be there.
local function shapes(t, op)
  local out = {}
  for i, shape in ipairs({ "sync", "cb", "async" }) do
    out[i] = t[shape .. "." .. op]
    assert(out[i], "the child printed no " .. shape .. "." .. op .. " line")
  end
  return out
end

local function all_fail(t, op, code, path)
  assert.are.equal("1", t.done, "the child did not finish")
  for _, line in ipairs(shapes(t, op)) do
    assert.matches("^err " .. code .. " " .. code .. ": ", line)
    assert.matches(path, line, 1, true)
  end
end

-- A NUL byte in a pattern: "%z" in Lua 5.1 / LuaJIT, a literal "\0" from 5.2 on.
local NUL = _VERSION == "Lua 5.1" and "%z" or "\0"

-- How io_probe prints content on one line.
local function escape(s)
  return (s:gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub(NUL, "\\0"))
end

local function all_ok(t, op, detail)
  assert.are.equal("1", t.done, "the child did not finish")
  for _, line in ipairs(shapes(t, op)) do
    assert.are.equal("ok " .. detail, line)
  end
end

describe("permission denied (child as an unprivileged user)", function()
  local stage, stage_lua, base
  local original = "original\0content\n" .. string.rep("=", 1000)

  setup(function()
    stage, stage_lua = C.stage()
  end)
  teardown(function()
    rm_rf(stage)
  end)
  before_each(function()
    base = tmpdir()
    assert(uv.fs_chmod(base, 493)) -- 0755: others may traverse
  end)
  after_each(function()
    rm_rf(base)
  end)

  local function probe(...)
    local t, out, rc = C.lua(
      "io_probe",
      { ... },
      { dir = stage, lib_dir = stage, lua = stage_lua, prefix = C.unprivileged() }
    )
    assert.are.equal(0, rc, out)
    return t
  end

  it("on read: EACCES from every API shape", function()
    local p = base .. "/secret"
    write_file(p, "s3cret")
    assert(uv.fs_chmod(p, 384)) -- 0600, owned by us
    all_fail(probe("read", p), "read", "EACCES", p)
  end)

  it("on the directory: EACCES reading inside it and listing it", function()
    local d = base .. "/closed"
    assert(uv.fs_mkdir(d, 448)) -- 0700
    write_file(d .. "/f", "x")
    assert(uv.fs_chmod(d .. "/f", 420))
    all_fail(probe("read", d .. "/f"), "read", "EACCES", d .. "/f")
    all_fail(probe("list", d), "list", "EACCES", d)
    -- Traversable but not readable (0711): files inside are readable, the listing is not.
    assert(uv.fs_chmod(d, 457))
    all_ok(probe("read", d .. "/f"), "read", "x")
    all_fail(probe("list", d), "list", "EACCES", d)
  end)

  it("on write, directory not writable: EACCES, target intact, no temp file", function()
    local d = base .. "/ro"
    assert(uv.fs_mkdir(d, 493)) -- 0755, ours: others cannot create files in it
    local p = d .. "/config.json"
    write_file(p, original)
    assert(uv.fs_chmod(p, 438)) -- 0666: the file itself is writable by anyone
    all_fail(probe("write", p, "replacement"), "write", "EACCES", p)
    assert.is_true(read_file(p) == original)
    assert.are.same({ "config.json" }, dir_names(d))
  end)

  it("on write, file not writable in a writable directory: EACCES, target intact", function()
    local d = base .. "/rw"
    assert(uv.fs_mkdir(d, 511))
    assert(uv.fs_chmod(d, 511)) -- 0777 (umask-proof), not sticky: a rename over the file would work
    local p = d .. "/readonly.txt"
    write_file(p, original)
    assert(uv.fs_chmod(p, 420)) -- 0644, ours: the unprivileged user may read but not write it
    all_fail(probe("write", p, "replacement"), "write", "EACCES", p)
    assert.is_true(read_file(p) == original)
    assert.are.same({ "readonly.txt" }, dir_names(d))
    all_ok(probe("read", p), "read", escape(original))
  end)
end)

describe("read-only file system and full disk (tmpfs in a private mount namespace)", function()
  local mnt
  local original = "original\0content " .. string.rep("o", 8000)
  before_each(function()
    assert(C.can_unshare(), "unshare -m with a tmpfs mount is not permitted here (needs root)")
    mnt = tmpdir()
    write_file(mnt .. ".orig", original)
  end)
  after_each(function()
    os.remove(mnt .. ".orig")
    os.remove(mnt .. ".big")
    rm_rf(mnt)
  end)

  -- Runs `steps` (shell) in a private mount namespace where `mnt` is a fresh tmpfs (`opts`)
  -- holding the original file as t; prints the target's checksum and the directory afterwards.
  local function in_tmpfs(opts, steps)
    local M = q(mnt)
    local script = table.concat({
      "set -e",
      "mount -t tmpfs -o " .. opts .. " tmpfs " .. M,
      "cp " .. q(mnt .. ".orig") .. " " .. M .. "/t",
      steps,
      "echo after_sum=$(cksum < " .. M .. "/t)",
      "echo after_names=$(ls -A " .. M .. " | tr '\\n' ,)",
      "echo after_used=$(df -k --output=used " .. M .. " | tail -1 | tr -d ' ')",
    }, "\n")
    local rc, out = C.run("unshare -m sh -c " .. q(script))
    assert(rc == 0, "namespace script failed: " .. out:sub(1, 2000))
    return C.parse(out), out
  end

  it("read-only: writes fail EROFS, the target is intact, reads still work", function()
    local t, out = in_tmpfs(
      "size=1m",
      "mount -o remount,ro "
        .. q(mnt)
        .. "\n"
        .. C.lua_cmd("io_probe", { "write", mnt .. "/t", "new" })
        .. "\n"
        .. C.lua_cmd("io_probe", { "read", mnt .. "/t" })
        .. " | grep -c '=ok ' | sed 's/^/reads_ok=/'"
    )
    all_fail(t, "write", "EROFS", mnt .. "/t")
    assert.are.equal("3", t.reads_ok, out)
    local _, sum = C.run("cksum < " .. q(mnt .. ".orig"))
    assert.are.equal(sum:gsub("%s+$", ""), t.after_sum)
    assert.are.equal("t,", t.after_names)
  end)

  it("full disk (64 KiB tmpfs): ENOSPC, the target is intact, the space is given back", function()
    write_file(mnt .. ".big", string.rep("N", 200 * 1024))
    local t, out = in_tmpfs(
      "size=64k",
      "echo before_used=$(df -k --output=used "
        .. q(mnt)
        .. " | tail -1 | tr -d ' ')\n"
        .. C.lua_cmd("io_probe", { "write", mnt .. "/t", "@" .. mnt .. ".big" })
        .. "\n"
        .. C.lua_cmd("io_probe", { "write", mnt .. "/small", "fits" })
        .. " | sed 's/^/small_/'"
        .. "\nrm "
        .. q(mnt)
        .. "/small"
    )
    all_fail(t, "write", "ENOSPC", mnt .. "/t")
    assert.are.equal("ok true", t["small_sync.write"], out)
    local _, sum = C.run("cksum < " .. q(mnt .. ".orig"))
    assert.are.equal(sum:gsub("%s+$", ""), t.after_sum)
    assert.are.equal("t,", t.after_names)
    assert.are.equal(t.before_used, t.after_used)
  end)

  it("no free inode (nr_inodes): ENOSPC creating the temp file, the target is intact", function()
    local t = in_tmpfs("size=1m,nr_inodes=2", C.lua_cmd("io_probe", { "write", mnt .. "/t", "new" }))
    all_fail(t, "write", "ENOSPC", mnt .. "/t")
    local _, sum = C.run("cksum < " .. q(mnt .. ".orig"))
    assert.are.equal(sum:gsub("%s+$", ""), t.after_sum)
    assert.are.equal("t,", t.after_names)
  end)
end)
