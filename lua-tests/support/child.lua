-- Child processes for the reliability specs: another user (setpriv), another mount namespace
-- (unshare -m), a lower fd limit (ulimit -n), a process that gets SIGKILLed, a Lua state that is
-- closed with jobs in flight. Children are the scripts in lua-tests/children/; they find the
-- module through FSCACHE_LIB_DIR and print "key=value" lines.

local uv = test_uv

local C = {}

C.cwd = uv.cwd()

local function absolute(p)
  return p:sub(1, 1) == "/" and p or (C.cwd .. "/" .. p)
end

C.lib_dir = absolute(os.getenv("FSCACHE_LIB_DIR") or "lua")
C.children = C.cwd .. "/lua-tests/children"
C.is_root = uv.getuid() == 0
-- The interpreter children run under: the one running the specs (the module under test is built
-- for its ABI), LuaJIT for LuaJIT and Neovim; FSCACHE_CHILD_LUA overrides (valgrind launcher).
local function host_interpreter()
  if jit then
    return "luajit"
  end
  return ({ ["Lua 5.1"] = "lua5.1", ["Lua 5.4"] = "lua5.4" })[_VERSION] or "lua"
end
C.interp = os.getenv("FSCACHE_CHILD_LUA") or host_interpreter()
-- The LuaJIT build (for children that must be Neovim, whatever interpreter runs the specs).
C.luajit_lib_dir = C.cwd .. "/lua"
C.nobody = 65534

---Single-quotes `s` for sh.
local q = shell_quote
C.q = q

---Runs a shell command line; returns exit code (number), combined output.
function C.run(cmd)
  local p = assert(io.popen("(" .. cmd .. ') 2>&1; echo "@rc=$?"'))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("@rc=(%d+)%s*$"))
  return rc, (out:gsub("@rc=%d+%s*$", ""))
end

---The command line that runs child `name` with `args` (strings) under C.interp.
---`lib_dir` defaults to the module under test; `dir` to lua-tests/children.
function C.lua_cmd(name, args, opts)
  opts = opts or {}
  local parts = {
    "env",
    "FSCACHE_LIB_DIR=" .. q(opts.lib_dir or C.lib_dir),
    opts.lua or C.interp,
    q((opts.dir or C.children) .. "/" .. name .. ".lua"),
  }
  for _, a in ipairs(args or {}) do
    parts[#parts + 1] = q(a)
  end
  return table.concat(parts, " ")
end

---The command line that runs child `name` with `args` under `nvim -l` (the LuaJIT build of the
---module). `opts.bare`: no user config, shada or swap (`-u NONE -i NONE -n --headless`);
---`opts.timeout`: seconds before `timeout(1)` ends it.
function C.nvim_cmd(name, args, opts)
  opts = opts or {}
  local nvim = opts.bare and "nvim -u NONE -i NONE -n --headless -l" or "nvim -l"
  return C.lua_cmd(name, args, {
    lib_dir = C.luajit_lib_dir,
    lua = (opts.timeout and ("timeout " .. opts.timeout .. " ") or "") .. nvim,
  })
end

---Parses "key=value" lines into a table (repeated keys become lists under key .. "s").
function C.parse(out)
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local k, v = line:match("^([%w_%.]+)=(.*)$")
    if k then
      if t[k] ~= nil then
        t[k .. "s"] = t[k .. "s"] or { t[k] }
        table.insert(t[k .. "s"], v)
      end
      t[k] = v
    end
  end
  return t
end

---Runs child `name`; returns its parsed output, the raw output and the exit code.
function C.lua(name, args, opts)
  local rc, out = C.run((opts and opts.prefix or "") .. C.lua_cmd(name, args, opts))
  return C.parse(out), out, rc
end

---A world-readable copy of the module and the child scripts (and of the FSCACHE_CHILD_LUA
---launcher, if any), for a child running as another user (the work tree may not be traversable
---by that user). Returns the directory and the interpreter command to use; rm_rf it after.
function C.stage()
  local d = tmpdir()
  assert(uv.fs_chmod(d, 493)) -- 0755
  assert(uv.fs_copyfile(C.lib_dir .. "/fscache.so", d .. "/fscache.so"))
  assert(uv.fs_chmod(d .. "/fscache.so", 493))
  local scan = assert(uv.fs_scandir(C.children))
  while true do
    local name = uv.fs_scandir_next(scan)
    if not name then
      break
    end
    assert(uv.fs_copyfile(C.children .. "/" .. name, d .. "/" .. name))
    assert(uv.fs_chmod(d .. "/" .. name, 420)) -- 0644
  end
  local lua = C.interp
  if os.getenv("FSCACHE_CHILD_LUA") then
    assert(uv.fs_copyfile(C.interp, d .. "/child-lua"))
    assert(uv.fs_chmod(d .. "/child-lua", 493))
    lua = d .. "/child-lua"
  end
  return d, lua
end

---Prefix that runs a command as an unprivileged user: setpriv to nobody when we are root (root
---bypasses permission checks), nothing otherwise.
function C.unprivileged()
  if C.is_root then
    return "setpriv --reuid=" .. C.nobody .. " --regid=" .. C.nobody .. " --clear-groups "
  end
  return ""
end

---True when `unshare -m` works here (root, or a kernel allowing it): real tmpfs mounts possible.
function C.can_unshare()
  if C._unshare == nil then
    local rc = C.run("unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || exit 1'")
    C._unshare = rc == 0
  end
  return C._unshare
end

return C
