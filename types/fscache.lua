---@meta fscache
-- LuaCATS annotations for the public fscache API (lua-language-server, EmmyLua).
-- Add this directory to the workspace library: `"workspace.library": ["<fscache>/types"]`.
-- This file declares types only; the implementation is the native module.

---@class fscache.Entry
---@field path string the path as given
---@field content string the file's bytes
---@field mtime integer modification time, whole seconds
---@field mtime_nsec integer nanosecond part of the modification time
---@field size integer size in bytes
---@field json? any the decoded JSON, once a get_json* method has run

---@alias fscache.EntryType "file"|"directory"|"link"|"fifo"|"socket"|"char"|"block"|"unknown"

---@class fscache.DirEntry
---@field name string
---@field type fscache.EntryType

---@class fscache.Listing
---@field path string the path as given
---@field mtime integer
---@field mtime_nsec integer
---@field entries fscache.DirEntry[] sorted by name

---@class fscache.Stats
---@field hits integer
---@field misses integer
---@field entries integer
---@field bytes integer
---@field reads integer
---@field validations integer
---@field errors integer
---@field inflight integer
---@field parses integer JSON documents decoded into Lua
---@field fast_hits integer hits answered without a pool trip (validated by the inotify watcher)
---@field trust_mtime boolean
---@field max_bytes integer the bound on `bytes` in force
---@field evictions integer entries evicted to stay within max_bytes
---@field writes integer write calls accepted
---@field writes_coalesced integer write calls replaced by a newer write of the path before they started
---@field writes_pending integer writes accepted that have not landed yet
---@field durable boolean whether writes fsync by default

---@class fscache.PoolStats
---@field threads integer
---@field running integer
---@field queued integer
---@field pending integer
---@field delivered integer
---@field waiting integer results of finished jobs waiting to be delivered
---@field run_ahead integer read workers pause while this many results wait (one CPU only; 0: never)
---@field slice_ms number
---@field worker_nice integer nice value of the pool threads
---@field write_threads integer threads of the write lane
---@field writes_running integer writes running on the lane
---@field writes_queued integer writes waiting for a lane thread
---@field watching boolean hits can be validated by inotify (Linux, not turned off)
---@field watches integer inotify watches held
---@field watch_limit integer most inotify watches used
---@field watched_paths integer paths the watcher tracks
---@field watch_events integer inotify events processed
---@field watch_inflight integer reads armed by the watcher and not finished

---@class fscache.FileCacheOptions
---@field trust_mtime? boolean serve hits while the file's identity is unchanged (default true)
---@field max_size? integer largest file read, in bytes (default 64 MiB)
---@field max_bytes? integer bound on the cached bytes (default 128 MiB; 0 caches nothing)
---@field durable? boolean writes fsync the file and its directory (default true)

---@class fscache.DirectoryCacheOptions
---@field trust_mtime? boolean serve hits while the directory's identity is unchanged (default true)
---@field max_bytes? integer bound on the cached listing names, in bytes (default 16 MiB)

---@class fscache.JsonOptions
---@field jsonc? boolean accept comments and trailing commas (always on for *.jsonc)

---@class fscache.WriteData
---@field content? string the bytes to write
---@field json? any a value to encode as JSON (keys sorted)
---@field indent? integer JSON indentation, 0..16
---@field durable? boolean this write's durability (default: the cache's `durable`)

---@class fscache.JsonDecodeOptions
---@field jsonc? boolean accept comments and trailing commas
---@field path? string names the source in error messages (default "<string>")

---@class fscache.JsonEncodeOptions
---@field indent? integer|boolean spaces per level (0..64), or true for 2; keys are always sorted

---@class fscache.SetupOptions
---@field threads? integer pool jobs in flight at most, 1..1024
---@field slice_ms? number time budget of one dispatch
---@field worker_nice? integer nice value of the pool threads, 0..19 (default 10)
---@field write_threads? integer threads of the write lane, 1..64 (default 4)
---@field watch_limit? integer|false inotify watches used to validate hits without a pool trip (false or 0: off)
---@field run_ahead? integer|boolean read workers pause while this many results wait (false: never; true, the default: 128 on one CPU only)

---@alias fscache.ErrorCode string errno name ("ENOENT", "EACCES", ...) or "EJSON"

---@class fscache.FileCache
local FileCache = {}

---A new file cache.
---@param opts? fscache.FileCacheOptions
---@return fscache.FileCache
function FileCache.new(opts) end

---Inside a coroutine: the entry for `path`; suspends on a miss or while revalidating.
---@async
---@param path string
---@return fscache.Entry|nil entry
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:get_async(path) end

---Callback form: `cb(entry)` or `cb(nil, err, code)`, later, once, on the main thread.
---Without `cb` the get only warms the cache.
---@param path string
---@param cb? fun(entry: fscache.Entry|nil, err: string|nil, code: fscache.ErrorCode|nil)
function FileCache:get(path, cb) end

---Blocking form, for startup code.
---@param path string
---@return fscache.Entry|nil entry
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:get_sync(path) end

---Inside a coroutine: the decoded JSON of `path` (parsed on the pool, cached until it changes).
---@async
---@param path string
---@param opts? fscache.JsonOptions
---@return any value
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:get_json_async(path, opts) end

---Callback form of get_json_async; `opts` may be left out.
---@param path string
---@param opts fscache.JsonOptions|nil|fun(value: any, err: string|nil, code: fscache.ErrorCode|nil)
---@param cb? fun(value: any, err: string|nil, code: fscache.ErrorCode|nil)
function FileCache:get_json(path, opts, cb) end

---Blocking form of get_json_async.
---@param path string
---@param opts? fscache.JsonOptions
---@return any value
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:get_json_sync(path, opts) end

---@class fscache.BatchOptions
---@field json? boolean entries[i] is the decoded JSON of paths[i] (decoded on the pool)
---@field jsonc? boolean with json: accept comments and trailing commas (always on for *.jsonc)

---Inside a coroutine: many files at once, one suspension. `entries[i]` is the entry of
---`paths[i]` (or its decoded JSON with `{ json = true }`) or false; `errors[i]` nil or the
---failure message, starting with its code ("ENOENT: ...: /x", "EJSON: /x:1:2: ...").
---@async
---@param paths string[]
---@param opts? fscache.BatchOptions
---@return (fscache.Entry|any|false)[] entries
---@return table<integer, string> errors
function FileCache:get_many_async(paths, opts) end

---Callback form of get_many_async: `cb(entries, errors)`, later, once, on the main thread;
---`opts` may be left out.
---@param paths string[]
---@param opts fscache.BatchOptions|nil|fun(entries: (fscache.Entry|any|false)[], errors: table<integer, string>)
---@param cb? fun(entries: (fscache.Entry|any|false)[], errors: table<integer, string>)
function FileCache:get_many(paths, opts, cb) end

---Blocking form of get_many_async (reads in parallel; delivers other results while waiting).
---@param paths string[]
---@param opts? fscache.BatchOptions
---@return (fscache.Entry|any|false)[] entries
---@return table<integer, string> errors
function FileCache:get_many_sync(paths, opts) end

---Inside a coroutine: atomically replaces `path` and updates the cache.
---@async
---@param path string
---@param data string|fscache.WriteData
---@return true|nil ok
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:write_async(path, data) end

---Callback form of write_async.
---@param path string
---@param data string|fscache.WriteData
---@param cb? fun(ok: true|nil, err: string|nil, code: fscache.ErrorCode|nil)
function FileCache:write(path, data, cb) end

---Blocking form of write_async.
---@param path string
---@param data string|fscache.WriteData
---@return true|nil ok
---@return string|nil err
---@return fscache.ErrorCode|nil code
function FileCache:write_sync(path, data) end

---Forgets `path`; true if it was cached.
---@param path string
---@return boolean
function FileCache:invalidate(path) end

---Forgets every entry.
function FileCache:clear_all() end

---Counters.
---@return fscache.Stats
function FileCache:stats() end

---@class fscache.DirectoryCache
local DirectoryCache = {}

---A new directory cache.
---@param opts? fscache.DirectoryCacheOptions
---@return fscache.DirectoryCache
function DirectoryCache.new(opts) end

---Inside a coroutine: the listing of `path`, sorted by name.
---@async
---@param path string
---@return fscache.Listing|nil listing
---@return string|nil err
---@return fscache.ErrorCode|nil code
function DirectoryCache:get_async(path) end

---Callback form: `cb(listing)` or `cb(nil, err, code)`; without `cb` it only warms the cache.
---@param path string
---@param cb? fun(listing: fscache.Listing|nil, err: string|nil, code: fscache.ErrorCode|nil)
function DirectoryCache:get(path, cb) end

---Blocking form.
---@param path string
---@return fscache.Listing|nil listing
---@return string|nil err
---@return fscache.ErrorCode|nil code
function DirectoryCache:get_sync(path) end

---Forgets `path`; true if it was cached.
---@param path string
---@return boolean
function DirectoryCache:invalidate(path) end

---Forgets every listing.
function DirectoryCache:clear_all() end

---Counters.
---@return fscache.Stats
function DirectoryCache:stats() end

---@class fscache
local fscache = {}

---The version, e.g. "0.1.0".
---@type string
fscache.version = ""

---What a JSON null decodes to: vim.NIL in Neovim, a unique light userdata elsewhere.
---@type lightuserdata|userdata
fscache.null = nil

fscache.FileCache = FileCache
fscache.DirectoryCache = DirectoryCache

---Starts `fn` in a coroutine driven by fscache (plenary's async.run signature).
---@param fn async fun(...): ...
---@param on_done? fun(...)
---@param on_error? fun(err: string)
---@return thread
function fscache.run(fn, on_done, on_error) end

---Runs `fn` in a coroutine and blocks until it returns; returns its results.
---Raises its error, or "timed out after N ms" (default 10000).
---@param fn async fun(...): ...
---@param timeout_ms? number
---@return any ...
function fscache.block_on(fn, timeout_ms) end

---Suspends the running coroutine until `start(done)` calls `done(...)`; returns those values.
---A generic leaf: works under the same runners as the *_async methods.
---@async
---@param start fun(done: fun(...))
---@return any ...
function fscache.await(start) end

---Decodes JSON (JSONC with `{ jsonc = true }`) text on the calling thread.
---@param text string
---@param opts? fscache.JsonDecodeOptions
---@return any value
---@return string|nil err
---@return fscache.ErrorCode|nil code
function fscache.json_decode(text, opts) end

---Encodes a Lua value as JSON with sorted keys.
---@param value any
---@param opts? fscache.JsonEncodeOptions
---@return string|nil json
---@return string|nil err
---@return fscache.ErrorCode|nil code
function fscache.json_encode(value, opts) end

---A table that encodes as `{}` (vim.empty_dict()'s marker inside Neovim).
---@return table
function fscache.empty_object() end

---Pool settings.
---@param opts fscache.SetupOptions
function fscache.setup(opts) end

---Runtime counters: the pool (threads, running, queued, pending, delivered, waiting, run_ahead, slice_ms,
---worker_nice), the write lane (write_threads, writes_running, writes_queued) and the watcher
---(watching, watches, watch_limit, watched_paths, watch_events, watch_inflight).
---@return fscache.PoolStats
function fscache.pool_stats() end

---Waits (at most `timeout_ms`, default 3000) until every accepted write has reached the disk.
---Runs by itself at exit; false when the time ran out first.
---@param timeout_ms? number
---@return boolean flushed
function fscache.flush_writes(timeout_ms) end

---Routes reported errors (failing callbacks, failed coroutines) to `fn`; nil restores.
---@param fn fun(msg: string)|nil
function fscache.set_error_handler(fn) end

---Watches the wake-up descriptor from a luv loop (automatic in Neovim). Idempotent.
---@param uv? table the luv module (default vim.uv, vim.loop or require("luv"))
---@return userdata poll the uv_poll_t handle
function fscache.attach(uv) end

---Stops watching the descriptor and closes the poll handle.
function fscache.detach() end

---True when a poll handle is watching the descriptor.
---@return boolean
function fscache.attached() end

---The descriptor that becomes readable when results wait.
---@return integer
function fscache.fd() end

---Delivers waiting results now; returns how many.
---@param budget_ms? number time budget (default: the configured slice)
---@return integer delivered
function fscache.dispatch(budget_ms) end

---A stat answer (`fscache.stat*`).
---@class fscache.Stat
---@field type "file"|"directory"|"fifo"|"socket"|"char"|"block"|"unknown" symlinks followed
---@field size integer
---@field mtime integer whole seconds
---@field mtime_nsec integer
---@field mode integer st_mode (file type and permission bits)

---A root marker: a name, a list of names / groups (nested lists) / functions, or a function.
---@alias fscache.RootMarker string|(string|string[]|fun(name: string, path: string): boolean)[]|fun(name: string, path: string): boolean

---Counters of the metadata cache (`fscache.meta_stats()`).
---@class fscache.MetaStats: fscache.Stats
---@field root_hits integer root lookups answered from the root cache
---@field root_misses integer root lookups that walked
---@field root_walks integer walk passes (one more after each batch of pool stats)
---@field root_entries integer cached root answers

---Cached stat of `path` (symlinks followed; missing paths cached too), in a coroutine.
---@param path string
---@return fscache.Stat|nil stat, string|nil err, string|nil code
function fscache.stat_async(path) end

---Cached stat, callback form.
---@param path string
---@param cb fun(stat: fscache.Stat|nil, err: string|nil, code: string|nil)
function fscache.stat(path, cb) end

---Cached stat, blocking form.
---@param path string
---@return fscache.Stat|nil stat, string|nil err, string|nil code
function fscache.stat_sync(path) end

---`vim.fs.root(source, marker)` from cached stats, in a coroutine.
---@param source string
---@param marker fscache.RootMarker
---@return string|nil root, string|nil err, string|nil code
function fscache.root_async(source, marker) end

---Root lookup, callback form (`cb(nil, message)` when a marker function raised).
---@param source string
---@param marker fscache.RootMarker
---@param cb fun(root: string|nil, err: string|nil)
function fscache.root(source, marker, cb) end

---Root lookup, blocking form.
---@param source string
---@param marker fscache.RootMarker
---@return string|nil root, string|nil err, string|nil code
function fscache.root_sync(source, marker) end

---Counters of the metadata cache.
---@return fscache.MetaStats
function fscache.meta_stats() end

return fscache
