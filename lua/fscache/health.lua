-- fscache/health.lua: `:checkhealth fscache`: the native library (path, version, whether it
-- matches these Lua files), the Lua ABI, the platform, the inotify watcher and the pool.
-- Every WARN and ERROR line says what to do.

local M = {}

-- The file of the mapped library, from /proc/self/maps (Linux), when the loader did not record it.
local function mapped_library()
  local f = io.open("/proc/self/maps", "r")
  if not f then
    return nil
  end
  local maps = f:read("*a")
  f:close()
  for path in maps:gmatch("%s(/[^\n]-%.so)\n") do
    if path:find("fscache", 1, true) then
      return path
    end
  end
end

-- The command that replaces the library `path` (a checkout's lua/fscache.so, or a rock's).
local function fix_command(path, expected)
  local root = path and path:match("^(.*)[/\\]lua[/\\]fscache%.so$")
  if root then
    return (":Lazy build fscache, or: cd %s && make build"):format(root)
  end
  return "luarocks install fscache " .. (expected or "") .. " (or rebuild your plugin manager's rock)"
end

function M.check()
  local health = vim.health
  health.start("fscache: native library")
  local ok, fscache = pcall(require, "fscache")
  if not ok then
    health.error("require('fscache') failed:\n" .. tostring(fscache), {
      'lazy.nvim: add build = "build.lua" to the plugin spec and run :Lazy build fscache',
      "a checkout: make build (downloads the release library, or builds it with cargo)",
      "see :help fscache-install",
    })
    return
  end
  local path = rawget(fscache, "_library_path") or mapped_library() or "(unknown)"
  local expected = rawget(fscache, "_expected_version")
  if not expected then
    local vok, v = pcall(require, "fscache.version")
    expected = vok and v or nil
  end
  health.info("library: " .. path)
  if expected == nil then
    health.info("version " .. tostring(fscache.version) .. " (no fscache/version.lua to compare with)")
  elseif fscache.version == expected then
    health.ok("version " .. fscache.version .. " matches the Lua files")
  else
    health.warn(
      ("stale library: version %s, the Lua files expect %s"):format(tostring(fscache.version), expected),
      { "rebuild or download it: " .. fix_command(path, expected), "then restart Neovim" }
    )
  end

  local abi = jit and (jit.version or "LuaJIT") or _VERSION
  local built_for = fscache._native and fscache._native.lua_version
  health.info("Lua: " .. abi .. (built_for and (" (library loaded under " .. tostring(built_for) .. ")") or ""))
  local uv = vim.uv or vim.loop
  local uname = uv and uv.os_uname and uv.os_uname() or {}
  health.info(
    ("platform: %s %s%s"):format(
      tostring(uname.sysname or (jit and jit.os) or "?"),
      tostring(uname.machine or (jit and jit.arch) or "?"),
      uname.release and (" (" .. uname.release .. ")") or ""
    )
  )
  if fscache.attached() then
    health.ok("attached to Neovim's event loop")
  else
    health.error("not attached to the event loop: results will not arrive", {
      "call require('fscache').attach(vim.uv) once; report this as a bug",
    })
  end

  health.start("fscache: pool and watcher")
  local s = fscache.pool_stats()
  health.info(
    ("pool: %d threads, worker nice %s, slice %s ms; %d running, %d queued, %d results waiting"):format(
      s.threads or 0,
      tostring(s.worker_nice),
      tostring(s.slice_ms),
      s.running or 0,
      s.queued or 0,
      s.pending or 0
    )
  )
  local g = vim.g.fscache
  if g ~= nil then
    health.info("vim.g.fscache = " .. vim.inspect(g, { newline = " ", indent = "" }))
  end
  if s.watch_limit == nil or uname.sysname ~= "Linux" then
    health.info("watcher: inotify is Linux only; here hits are validated with stat on the pool")
  elseif s.watch_limit == 0 then
    health.info("watcher: off (watch_limit = 0): hits are validated with stat on the pool")
  else
    local line = ("watcher: %d of %d watches in use (%d paths)"):format(
      s.watches or 0,
      s.watch_limit,
      s.watched_paths or 0
    )
    if s.watching == false then
      health.warn(line .. "; inotify is not active", {
        "the inotify instance could not be created: check fs.inotify.max_user_instances",
        "fscache still works: hits are validated with stat",
      })
    elseif (s.watches or 0) >= s.watch_limit then
      health.warn(line .. ": the budget is used up, further hits are validated with stat", {
        "raise it: vim.g.fscache = { watch_limit = ... } (and fs.inotify.max_user_watches)",
      })
    else
      health.ok(line)
    end
  end
end

return M
