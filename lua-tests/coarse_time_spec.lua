-- File systems whose timestamps are coarse: ramfs (one kernel tick, and no fine-grained
-- "multigrain" timestamps) and ext2 with 128-byte inodes (whole seconds). There, two changes in
-- a row keep size, mtime and ctime; fscache must still never serve the older content (its racy
-- re-check). Each runs in a private mount namespace (unshare -m, real mounts).

local C = require("support.child")

local function run_racy(mount_steps)
  local mnt = tmpdir()
  local img = mnt .. ".img"
  local script = table.concat({
    "set -e",
    (mount_steps:gsub("MNT", C.q(mnt)):gsub("IMG", C.q(img))),
    C.lua_cmd("racy", { mnt, "300" }),
  }, "\n")
  local rc, out = C.run("unshare -m sh -c " .. C.q(script))
  os.remove(img)
  rm_rf(mnt)
  assert(rc == 0, out)
  return C.parse(out), out
end

describe("coarse timestamps (ramfs, ext2 with 128-byte inodes)", function()
  before_each(function()
    assert(C.can_unshare(), "unshare -m with mounts is not permitted here (needs root)")
  end)

  it("ramfs: 300 same-size rewrites and renames, none served stale", function()
    local t, out = run_racy("mount -t ramfs ramfs MNT")
    assert.are.equal("0", t.stale_files, out)
    assert.are.equal("0", t.stale_dirs, out)
    -- The premise: most consecutive versions really had the same timestamp.
    assert.is_true(tonumber(t.same_timestamp) > 100, out)
  end)

  it("ext2 (whole-second timestamps): 300 same-size rewrites and renames, none served stale", function()
    local t, out = run_racy("truncate -s 8M IMG\nmkfs.ext2 -q -F -I 128 IMG 2>/dev/null\nmount -o loop IMG MNT")
    assert.are.equal("0", t.stale_files, out)
    assert.are.equal("0", t.stale_dirs, out)
    assert.is_true(tonumber(t.same_timestamp) > 200, out)
  end)
end)
