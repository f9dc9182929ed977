-- fscache/meta.lua: fscache.stat* (a cached stat, missing paths included) and fscache.root*
-- (Neovim's vim.fs.root walk over cached stats; function markers over cached listings).
--
-- The walk for name markers runs in Rust (native meta:root_try): it answers from cached stats the
-- watcher vouches for, or hands back the paths it still needs; this file stats those (together,
-- on the pool, for the async forms) and asks again.

local native, await, caches = ...

local M = {}

local meta = native.meta()
local dirs -- the DirectoryCache function markers list directories with (created on first use)

local function list_cache()
  dirs = dirs or caches.DirectoryCache.new()
  return dirs
end

local function check_string(v, fname, what, pos)
  local t = type(v)
  if t ~= "string" then
    error(("bad argument #%d to '%s' (%s: string expected, got %s)"):format(pos, fname, what, t), 3)
  end
  return v
end

local function check_callback(cb, fname, pos)
  if not await.is_callable(cb) then
    error(("bad argument #%d to '%s' (callback: function expected, got %s)"):format(pos, fname, type(cb)), 3)
  end
  return cb
end

-- A stat result is a fscache.Stat (types/fscache.lua): type, size, mtime, mtime_nsec, mode.

---Cached stat of `path` (symlinks followed). Missing paths are cached too.
---@param path string
---@return fscache.Stat|nil stat, string|nil err, string|nil code
function M.stat_async(path)
  path = check_string(path, "stat_async", "path", 1)
  local hit, st, err, code = meta:peek(path)
  if hit then
    return st, err, code
  end
  return await.await(function(cb)
    return meta:stat(path, cb)
  end, "stat_async", "fscache.stat", "fscache.stat_sync", meta)
end

---@param path string
---@param cb fun(stat: fscache.Stat|nil, err: string|nil, code: string|nil)
function M.stat(path, cb)
  path = check_string(path, "stat", "path", 1)
  meta:stat(path, check_callback(cb, "stat", 2))
end

---@param path string
---@return fscache.Stat|nil stat, string|nil err, string|nil code
function M.stat_sync(path)
  return meta:stat_sync(check_string(path, "stat_sync", "path", 1))
end

-- Markers as groups: a list of names, or a function (vim.fs.root's order: groups first, then
-- directories upward, then names within a group).
local function parse_marker(marker, fname)
  local t = type(marker)
  if t == "string" then
    return { { marker } }
  elseif t == "function" then
    return { marker }
  elseif t ~= "table" then
    error(("bad argument #2 to '%s' (marker: string, list or function expected, got %s)"):format(fname, t), 3)
  end
  local groups = {}
  for i, m in ipairs(marker) do
    local mt = type(m)
    if mt == "string" then
      groups[i] = { m }
    elseif mt == "function" then
      groups[i] = m
    elseif mt == "table" then
      local g = {}
      for j, n in ipairs(m) do
        if type(n) ~= "string" then
          error(("bad argument #2 to '%s' (marker[%d][%d]: string expected, got %s)"):format(fname, i, j, type(n)), 3)
        end
        g[j] = n
      end
      groups[i] = g
    else
      error(("bad argument #2 to '%s' (marker[%d]: string, list or function expected, got %s)"):format(fname, i, mt), 3)
    end
  end
  return groups
end

local function has_nul(source, groups)
  if source:find("\0", 1, true) then
    return source
  end
  for _, g in ipairs(groups) do
    if type(g) == "table" then
      for _, n in ipairs(g) do
        if n:find("\0", 1, true) then
          return n
        end
      end
    end
  end
end

-- fnamemodify(source, ":p") without the filesystem: absolute (cwd, ~), "." and ".." resolved
-- lexically. The second value is true when the source names a directory by its spelling
-- (trailing slash, ".", "..", "/"), which ":p:h" then keeps.
local function absolute(source)
  local s = source
  if s:sub(1, 1) == "~" and (#s == 1 or s:sub(2, 2) == "/") then
    s = (os.getenv("HOME") or "") .. s:sub(2)
  end
  if s:sub(1, 1) ~= "/" then
    s = (native.cwd() or "/") .. "/" .. s
  end
  local parts, last = {}, nil
  for c in s:gmatch("[^/]+") do
    last = c
    if c == ".." then
      parts[#parts] = nil
    elseif c ~= "." then
      parts[#parts + 1] = c
    end
  end
  local abs = "/" .. table.concat(parts, "/")
  local is_dir = abs == "/" or s:sub(-1) == "/" or last == "." or last == ".."
  return abs, is_dir
end

local function dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  if d == nil or d == "" then
    return "/"
  end
  return d
end

local function merge(into, from)
  for k, v in pairs(from) do
    into[k] = v
  end
  return into
end

-- I/O for one lookup: the async form stats a batch together on the pool and lists through the
-- shared DirectoryCache; the sync form does both on the calling thread.
local io_async = {
  stat_many = function(paths)
    local res, todo = {}, {}
    for _, p in ipairs(paths) do
      local hit, st = meta:peek(p)
      if hit then
        res[p] = st or false
      else
        todo[#todo + 1] = p
      end
    end
    if #todo == 0 then
      return res
    end
    return await.await(function(done)
      local left = #todo
      for _, p in ipairs(todo) do
        meta:stat(p, function(st)
          res[p] = st or false
          left = left - 1
          if left == 0 then
            done(res)
          end
        end)
      end
    end, "root_async", "fscache.root", "fscache.root_sync")
  end,
  list = function(dir)
    return list_cache():get_async(dir)
  end,
}

local io_sync = {
  stat_many = function(paths)
    local res = {}
    for _, p in ipairs(paths) do
      res[p] = meta:stat_sync(p) or false
    end
    return res
  end,
  list = function(dir)
    return list_cache():get_sync(dir)
  end,
}

-- A function marker: each directory upward is listed, fn(name, dir) decides.
local function walk_function(abs, is_dir, fn, io)
  local dir = abs
  if not is_dir then
    local st = io.stat_many({ abs })[abs]
    if not (st and st.type == "directory") then
      dir = dirname(abs)
    end
  end
  while true do
    local listing = io.list(dir)
    if listing then
      for _, e in ipairs(listing.entries) do
        if fn(e.name, dir) then
          return dir
        end
      end
    end
    local parent = dirname(dir)
    if parent == dir then
      return nil
    end
    dir = parent
  end
end

local function lookup(source, groups, io)
  local bad = has_nul(source, groups)
  if bad then
    -- (no "%z" pattern: PUC Lua 5.2+ has none, and 5.1 cannot match a literal NUL)
    local shown, i = {}, 1
    while true do
      local j = bad:find("\0", i, true)
      shown[#shown + 1] = bad:sub(i, j and j - 1)
      if not j then
        break
      end
      shown[#shown + 1] = "\\0"
      i = j + 1
    end
    return nil, "EINVAL: path contains a NUL byte: " .. table.concat(shown), "EINVAL"
  end
  local abs, is_dir = absolute(source)
  local i = 1
  while i <= #groups do
    local g = groups[i]
    if type(g) == "function" then
      local r = walk_function(abs, is_dir, g, io)
      if r then
        return r
      end
      i = i + 1
    else
      local run = {}
      while i <= #groups and type(groups[i]) ~= "function" do
        run[#run + 1] = groups[i]
        i = i + 1
      end
      local done, r = meta:root_try(abs, is_dir, run, nil)
      local fresh = {}
      while not done do
        merge(fresh, io.stat_many(r))
        done, r = meta:root_try(abs, is_dir, run, fresh)
      end
      if r then
        return r
      end
    end
  end
  return nil
end

---The directory `vim.fs.root(source, marker)` answers, from cached stats: an unchanged tree
---answers again without a system call beyond one check of the change feed.
---@param source string a file or directory path
---@param marker string|(string|string[]|fun(name: string, path: string): boolean)[]|fun(name: string, path: string): boolean
---@return string|nil root, string|nil err, string|nil code
function M.root_async(source, marker)
  local hit, r = meta:root_hit(source, marker)
  if hit then
    return r
  end
  source = check_string(source, "root_async", "source", 1)
  local groups = parse_marker(marker, "root_async")
  return lookup(source, groups, io_async)
end

---@param source string
---@param marker string|(string|string[]|fun(name: string, path: string): boolean)[]|fun(name: string, path: string): boolean
---@param cb fun(root: string|nil, err: string|nil, code: string|nil)
function M.root(source, marker, cb)
  source = check_string(source, "root", "source", 1)
  local groups = parse_marker(marker, "root")
  check_callback(cb, "root", 3)
  -- Answered before await.run returns (a cached root): the callback still runs later.
  local returned = false
  local function answer(r, err)
    if returned then
      return cb(r, err)
    end
    meta:defer(function()
      cb(r, err)
    end)
  end
  await.run(
    function()
      return lookup(source, groups, io_async)
    end,
    answer,
    function(err)
      answer(nil, err)
    end
  )
  returned = true
end

---@param source string
---@param marker string|(string|string[]|fun(name: string, path: string): boolean)[]|fun(name: string, path: string): boolean
---@return string|nil root, string|nil err, string|nil code
function M.root_sync(source, marker)
  local hit, r = meta:root_hit(source, marker)
  if hit then
    return r
  end
  source = check_string(source, "root_sync", "source", 1)
  return lookup(source, parse_marker(marker, "root_sync"), io_sync)
end

---Counters of the metadata cache: the stat cache's (hits, misses, fast_hits, entries, ...) and
---the root lookups' (root_hits: answered from the root cache; root_misses: walked).
---@return table
function M.stats()
  return meta:stats()
end

return M
