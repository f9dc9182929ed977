-- fscache/caches.lua: the FileCache and DirectoryCache classes.
--
-- Each object wraps a native userdata. Callback and blocking methods forward to it; the *_async
-- methods are Lua so they can yield to whichever runner drives the calling coroutine.

local native, await = ...

local M = {}

local function noop() end

local function check_path(path, fname)
  local t = type(path)
  if t == "string" then
    return path
  elseif t == "number" then
    return tostring(path)
  end
  error(("bad argument #1 to '%s' (path: string expected, got %s)"):format(fname, t), 3)
end

local function check_self(self, class, fname)
  if getmetatable(self) ~= class then
    error(("fscache: call %s with a colon: cache:%s(...)"):format(fname, fname), 3)
  end
  return self._native
end

-- The FileCache class (annotated in types/fscache.lua, the one source of LuaCATS types).
local FileCache = {}
FileCache.__index = FileCache
M.FileCache = FileCache

---@param opts? fscache.FileCacheOptions
---@return fscache.FileCache
function FileCache.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'FileCache.new' (options: table or nil expected, got " .. type(opts) .. ")", 2)
  end
  return setmetatable({ _native = native.new_file_cache(opts) }, FileCache)
end

---Decoded JSON of `path` (parsed on the pool, cached until the file changes).
---@param path string
---@param opts? { jsonc?: boolean }
---@return any value, string|nil err, string|nil code
function FileCache:get_json_async(path, opts)
  local n = check_self(self, FileCache, "get_json_async")
  path = check_path(path, "get_json_async")
  return await.await(function(cb)
    return n:get_json(path, opts, cb)
  end, "get_json_async", "get_json", "get_json_sync", n)
end

---@param path string
---@param opts? { jsonc?: boolean }
---@param cb fun(value: any, err: string|nil, code: string|nil)
function FileCache:get_json(path, opts, cb)
  if cb == nil and type(opts) == "function" then
    opts, cb = nil, opts
  end
  check_self(self, FileCache, "get_json"):get_json(check_path(path, "get_json"), opts, cb)
end

---@param path string
---@param opts? { jsonc?: boolean }
---@return any value, string|nil err, string|nil code
function FileCache:get_json_sync(path, opts)
  return check_self(self, FileCache, "get_json_sync"):get_json_sync(check_path(path, "get_json_sync"), opts)
end

local function check_paths(paths, fname)
  if type(paths) ~= "table" then
    error(("bad argument #1 to '%s' (paths: table expected, got %s)"):format(fname, type(paths)), 3)
  end
  return paths
end

---Many files at once, suspending the calling coroutine once: `entries[i]` is the entry of
---`paths[i]` or `false`, `errors[i]` nil or the failure message ("ENOENT: ...: /x"). With
---`{ json = true }` (and optionally `jsonc = true`) `entries[i]` is the decoded JSON instead.
---@param paths string[]
---@param opts? { json?: boolean, jsonc?: boolean }
---@return (fscache.Entry|any|false)[] entries, table<integer, string> errors
function FileCache:get_many_async(paths, opts)
  local n = check_self(self, FileCache, "get_many_async")
  paths = check_paths(paths, "get_many_async")
  return await.await(function(cb)
    return n:get_many(paths, opts, cb)
  end, "get_many_async", "get_many", "get_many_sync", n)
end

---Callback form of get_many_async: `cb(entries, errors)`, later, once, on the main thread.
---@param paths string[]
---@param opts? { json?: boolean, jsonc?: boolean }|fun(entries: table, errors: table)
---@param cb? fun(entries: (fscache.Entry|any|false)[], errors: table<integer, string>)
function FileCache:get_many(paths, opts, cb)
  if cb == nil and type(opts) == "function" then
    opts, cb = nil, opts
  end
  check_self(self, FileCache, "get_many"):get_many(check_paths(paths, "get_many"), opts, cb)
end

---Blocking form of get_many_async (reads in parallel on the pool; delivers other fscache
---results while it waits, like fscache.block_on).
---@param paths string[]
---@param opts? { json?: boolean, jsonc?: boolean }
---@return (fscache.Entry|any|false)[] entries, table<integer, string> errors
function FileCache:get_many_sync(paths, opts)
  local n = check_self(self, FileCache, "get_many_sync")
  paths = check_paths(paths, "get_many_sync")
  return await.block_on(function()
    return await.await(function(cb)
      return n:get_many(paths, opts, cb)
    end, "get_many_sync", "get_many", "get_many_sync", n)
  end, math.huge)
end

---Atomically replaces `path` (temp file + fsync + rename) and updates the cache.
---@param path string
---@param data string|fscache.WriteData
---@return true|nil ok, string|nil err, string|nil code
function FileCache:write_async(path, data)
  local n = check_self(self, FileCache, "write_async")
  path = check_path(path, "write_async")
  local t = type(data)
  if t ~= "table" and t ~= "string" then
    error("bad argument #2 to 'write_async' (data: string or table expected, got " .. t .. ")", 2)
  end
  return await.await(function(cb)
    n:write(path, data, cb)
  end, "write_async", "write", "write_sync")
end

-- Without a callback, a failed write is reported through the error handler.
local function report_failure(path)
  return function(ok, err)
    if not ok then
      await.report(("write of %s failed: %s"):format(path, tostring(err)))
    end
  end
end

---Queues an atomic write; `cb(true)` or `cb(nil, err, code)` later. Without `cb`, a failure is
---reported through the error handler (`fscache.set_error_handler`).
---@param path string
---@param data string|fscache.WriteData
---@param cb? fun(ok: true|nil, err: string|nil, code: string|nil)
function FileCache:write(path, data, cb)
  local n = check_self(self, FileCache, "write")
  path = check_path(path, "write")
  n:write(path, data, cb or report_failure(path))
end

---@param path string
---@param data string|fscache.WriteData
---@return true|nil ok, string|nil err, string|nil code
function FileCache:write_sync(path, data)
  return check_self(self, FileCache, "write_sync"):write_sync(check_path(path, "write_sync"), data)
end

-- The DirectoryCache class (annotated in types/fscache.lua).
local DirectoryCache = {}
DirectoryCache.__index = DirectoryCache
M.DirectoryCache = DirectoryCache

---@param opts? { trust_mtime?: boolean }
---@return fscache.DirectoryCache
function DirectoryCache.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'DirectoryCache.new' (options: table or nil expected, got " .. type(opts) .. ")", 2)
  end
  return setmetatable({ _native = native.new_dir_cache(opts) }, DirectoryCache)
end

-- The methods both classes share: get_async / get / get_sync / invalidate / clear_all / stats.
-- (Per-class annotations live in types/fscache.lua.)
local function add_shared_methods(Class)
  ---Reads (or lists) `path`, or serves it from the cache, suspending the calling coroutine.
  ---@param path string
  function Class:get_async(path)
    local n = check_self(self, Class, "get_async")
    path = check_path(path, "get_async")
    local hit = n:peek(path)
    if hit ~= nil then
      return hit
    end
    return await.await(function(cb)
      return n:get(path, cb)
    end, "get_async", "get", "get_sync", n)
  end

  ---Callback form: `cb(value)` or `cb(nil, err, code)`, later, on the main thread. Without
  ---`cb` the get only warms the cache.
  ---@param path string
  ---@param cb? function
  function Class:get(path, cb)
    check_self(self, Class, "get"):get(check_path(path, "get"), cb or noop)
  end

  ---Blocking form, for startup code.
  ---@param path string
  function Class:get_sync(path)
    return check_self(self, Class, "get_sync"):get_sync(check_path(path, "get_sync"))
  end

  ---Forgets `path`; returns true if it was cached.
  ---@param path string
  ---@return boolean
  function Class:invalidate(path)
    return check_self(self, Class, "invalidate"):invalidate(check_path(path, "invalidate"))
  end

  ---Forgets everything.
  function Class:clear_all()
    check_self(self, Class, "clear_all"):clear_all()
  end

  ---@return fscache.Stats
  function Class:stats()
    return check_self(self, Class, "stats"):stats()
  end
end

add_shared_methods(FileCache)
add_shared_methods(DirectoryCache)

return M
