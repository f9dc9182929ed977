-- fscache/module.lua: assembles the public module from the native table and the other chunks.
-- (Not the loader lua/fscache/init.lua, which finds and loads the compiled library.)

local native, chunks = ...

local shared = native.shared()
local base = chunks.report(shared)
local deliver = chunks.deliver(native, base)
local runner = chunks.run(shared, base)
local await = chunks.await(
  base,
  deliver,
  chunks.yield(),
  chunks.adapters(shared, base),
  runner,
  chunks.block_on(native, base, runner.run)
)
chunks.runners(await, shared)
local loop = chunks.loop(native, await, shared)
local caches = chunks.caches(native, await)
local meta = chunks.meta(native, await, caches)

---@class fscache
local M = {
  version = native.version,
  FileCache = caches.FileCache,
  DirectoryCache = caches.DirectoryCache,
  run = await.run,
  block_on = await.block_on,
  attach = loop.attach,
  detach = loop.close_poll,
  attached = loop.attached,
  dispatch = loop.dispatch,
  set_error_handler = await.set_error_handler,
  -- Cached metadata (src/lua/meta.lua): stat and vim.fs.root-style project roots.
  stat_async = meta.stat_async,
  stat = meta.stat,
  stat_sync = meta.stat_sync,
  root_async = meta.root_async,
  root = meta.root,
  root_sync = meta.root_sync,
  meta_stats = meta.stats,
  -- JSON null: vim.NIL inside Neovim, a unique light userdata elsewhere.
  null = (await.in_nvim and vim.NIL) or native.null,
}

-- JSON: inside Neovim, null is vim.NIL and {} carries vim.empty_dict()'s marker, so decoded
-- values interoperate with vim.json.encode.
if await.in_nvim and vim.NIL ~= nil and vim.empty_dict then
  native.json_configure({ null = vim.NIL, empty_dict_mt = getmetatable(vim.empty_dict()) })
end

---Decodes JSON (or JSONC with `{ jsonc = true }`) text on the calling thread.
---@param text string
---@param opts? { jsonc?: boolean, path?: string }
---@return any value, string|nil err, string|nil code
function M.json_decode(text, opts)
  local v, err, code = native.json_decode(text, opts)
  if err ~= nil then
    return nil, err, code
  end
  return v
end

---Encodes a Lua value as JSON: sorted keys, `{ indent = n }` pretty-prints.
---@param value any
---@param opts? { indent?: integer|boolean }
---@return string|nil json, string|nil err, string|nil code
function M.json_encode(value, opts)
  local s, err, code = native.json_encode(value, opts)
  if s == nil then
    return nil, err, code
  end
  return s
end

---A table that encodes as `{}` (same marker as vim.empty_dict() inside Neovim).
---@return table
function M.empty_object()
  return native.empty_dict()
end

---The descriptor that becomes readable when results wait (watch it, then call dispatch).
---@return integer
function M.fd()
  return native.fd()
end

---Pool settings: `threads` (jobs in flight), `slice_ms` (dispatch time budget), `worker_nice`
---(0..19, default 10: pool threads yield the CPU to the loop), `watch_limit` (inotify watches
---used to validate hits without a pool trip; 0 or false turns that off), `write_threads`
---(threads of the write lane, 1..64, default 4), `run_ahead` (read workers pause while this
---many results wait; false: never; true, the default: 128 when the process has one CPU).
---@param opts { threads?: integer, slice_ms?: number, worker_nice?: integer, watch_limit?: integer|false, write_threads?: integer, run_ahead?: integer|boolean }
function M.setup(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'setup' (table expected, got " .. type(opts) .. ")", 2)
  end
  native.setup(opts)
end

---Suspends the running coroutine until `start(done)` calls `done(...)`, then returns those
---values. Works under the same runners as the *_async methods (a generic leaf).
---@param start fun(done: fun(...))
---@return ...
function M.await(start)
  if not await.is_callable(start) then
    error("bad argument #1 to 'await' (function expected, got " .. type(start) .. ")", 2)
  end
  return await.await(start, "fscache.await", "a callback API", "fscache.block_on")
end

---Runtime counters: the pool (threads, running, queued, pending, delivered, waiting, run_ahead, slice_ms,
---worker_nice) and the watcher (watching, watches, watch_limit, watched_paths, watch_events,
---watch_inflight).
---@return fscache.PoolStats
function M.pool_stats()
  return native.pool_stats()
end

M._native = native
M._await = await

---Waits (at most `timeout_ms`, default 3000) until every accepted write has reached the disk.
---Runs by itself at exit (Neovim's VimLeave, the Lua state closing, the process exiting).
---@param timeout_ms? number
---@return boolean flushed false when the time ran out first
function M.flush_writes(timeout_ms)
  return native.flush_writes(timeout_ms)
end

-- End-user settings: `vim.g.fscache = { threads = ..., worker_nice = ..., watch_limit = ...,
-- slice_ms = ..., write_threads = ..., run_ahead = ... }`, applied once when the module loads (process-wide, like setup). Each option
-- is applied on its own: a bad or unknown one is a warning naming it, never a failed require.
if await.in_nvim and type(vim.g) == "table" then
  local opts = vim.g.fscache
  local function warn(msg)
    vim.notify("fscache: " .. msg, vim.log.levels.WARN)
  end
  if type(opts) == "table" then
    local known = { threads = 1, worker_nice = 2, watch_limit = 3, slice_ms = 4, write_threads = 5, run_ahead = 6 }
    for _, key in ipairs({ "threads", "worker_nice", "watch_limit", "slice_ms", "write_threads", "run_ahead" }) do
      if opts[key] ~= nil then
        local ok, err = pcall(native.setup, { [key] = opts[key] })
        if not ok then
          -- the first line of the error, without mlua's "runtime error: " prefix and traceback
          local msg = tostring(err):match("^[^\n]*"):gsub("^runtime error: ", "")
          warn("vim.g.fscache." .. key .. " ignored: " .. msg)
        end
      end
    end
    for key in pairs(opts) do
      if not known[key] then
        warn(
          ("vim.g.fscache: unknown option %s (known: threads, worker_nice, watch_limit, slice_ms, write_threads, run_ahead)"):format(
            tostring(key)
          )
        )
      end
    end
  elseif opts ~= nil then
    warn("vim.g.fscache ignored: table expected, got " .. type(opts))
  end
end

-- Neovim: attach to its loop so results arrive without any call from the user, and flush
-- accepted writes when the editor exits (writes issued in VimLeavePre included).
if await.in_nvim and (vim.uv or vim.loop) then
  loop.attach(vim.uv or vim.loop)
  if not shared.exit_hook and vim.api and vim.api.nvim_create_autocmd then
    shared.exit_hook = vim.api.nvim_create_autocmd("VimLeave", {
      callback = function()
        native.flush_writes()
      end,
    })
  end
end

return M
