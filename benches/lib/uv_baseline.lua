-- The two baselines every Neovim user can reproduce:
--   uv_callbacks: raw vim.uv fs_open/fs_fstat/fs_read/fs_close callback chains on libuv's pool,
--                 awaited from coroutines, with a Lua table cache revalidated by fs_stat
--                 (what plenary's async.uv design costs, minus plenary's own overhead);
--   uv_sync:      the same calls, synchronous, on the main thread.
-- Both keep entries shaped like fscache's ({ path, content, mtime, mtime_nsec, size }).

local uv = vim.uv

local M = {}

-- await(fn, a, b, c): calls fn(a, b, c, cb) (or fewer arguments) and yields until cb(err, value).
local function resumer(co)
  return function(err, value)
    local ok, e = coroutine.resume(co, err, value)
    if not ok then
      error(debug.traceback(co, e))
    end
  end
end

local function await1(fn, a)
  fn(a, resumer(coroutine.running()))
  return coroutine.yield()
end

local function await3(fn, a, b, c)
  fn(a, b, c, resumer(coroutine.running()))
  return coroutine.yield()
end

local function same(e, st)
  return st.ino == e.ino and st.size == e.size and st.mtime.sec == e.mtime and st.mtime.nsec == e.mtime_nsec
end

local function entry(path, st, data)
  return { path = path, content = data, mtime = st.mtime.sec, mtime_nsec = st.mtime.nsec, size = st.size, ino = st.ino }
end

---A plenary-style cache: get(path) inside a coroutine; a hit costs one fs_stat on the pool.
function M.callback_cache()
  local cache = {}
  local self = {}
  function self.get(path)
    local e = cache[path]
    if e then
      local err, st = await1(uv.fs_stat, path)
      if err then
        cache[path] = nil
        return nil, err
      end
      if same(e, st) then
        return e
      end
    end
    local err, fd = await3(uv.fs_open, path, "r", 438)
    if err then
      return nil, err
    end
    local st
    err, st = await1(uv.fs_fstat, fd)
    local data
    if not err then
      err, data = await3(uv.fs_read, fd, st.size, 0)
    end
    await1(uv.fs_close, fd)
    if err then
      return nil, err
    end
    e = entry(path, st, data)
    cache[path] = e
    return e
  end
  return self
end

---The same cache with synchronous calls on the main thread.
function M.sync_cache()
  local cache = {}
  local self = {}
  function self.get(path)
    local e = cache[path]
    if e then
      local st, err = uv.fs_stat(path)
      if not st then
        cache[path] = nil
        return nil, err
      end
      if same(e, st) then
        return e
      end
    end
    local fd, err = uv.fs_open(path, "r", 438)
    if not fd then
      return nil, err
    end
    local st, data
    st, err = uv.fs_fstat(fd)
    if st then
      data, err = uv.fs_read(fd, st.size, 0)
    end
    uv.fs_close(fd)
    if not data then
      return nil, err
    end
    e = entry(path, st, data)
    cache[path] = e
    return e
  end
  return self
end

local function sorted_entries(req)
  local list = {}
  while true do
    local name, t = uv.fs_scandir_next(req)
    if not name then
      break
    end
    list[#list + 1] = { name = name, type = t }
  end
  table.sort(list, function(a, b)
    return a.name < b.name
  end)
  return list
end

---Directory listings: fs_scandir on the pool (callback) + fs_stat revalidation.
function M.callback_dir_cache()
  local cache = {}
  local self = {}
  function self.get(path)
    -- stat first (validates a cached listing; like fscache's fstat before reading), then scan
    local err, st = await1(uv.fs_stat, path)
    if err then
      cache[path] = nil
      return nil, err
    end
    local e = cache[path]
    if e and same(e, st) then
      return e
    end
    local req
    err, req = await1(uv.fs_scandir, path)
    if err then
      return nil, err
    end
    e = entry(path, st, nil)
    e.entries = sorted_entries(req)
    cache[path] = e
    return e
  end
  return self
end

---Directory listings, synchronous.
function M.sync_dir_cache()
  local cache = {}
  local self = {}
  function self.get(path)
    local e = cache[path]
    local st, err = uv.fs_stat(path)
    if not st then
      return nil, err
    end
    if e and same(e, st) then
      return e
    end
    local req
    req, err = uv.fs_scandir(path)
    if not req then
      return nil, err
    end
    e = entry(path, st, nil)
    e.entries = sorted_entries(req)
    cache[path] = e
    return e
  end
  return self
end

---Starts fn in a bare coroutine (errors are raised, never swallowed).
function M.spawn(fn, on_done)
  local co = coroutine.create(function()
    on_done(fn())
  end)
  local ok, err = coroutine.resume(co)
  if not ok then
    error(debug.traceback(co, err))
  end
end

return M
