-- project_config: find a project's JSON/JSONC config files, read and decode them through
-- fscache, deep-merge them into ctx.json, and hand ctx to on_load. Pure Lua on top of fscache.
--
-- Pipeline (each stage is a function(loader, ctx) run inside one coroutine):
--   find_files -> read_json -> merge
-- Edits to ctx.json are persisted by ctx:save_async() as the difference from the merged files,
-- into `<config_dir>/projects/<name>.local.json`, the last layer (so a reload gives back exactly
-- what was saved, and the other files stay untouched). Removing a key is not persisted.
-- Nothing fails silently: every file that cannot be read or decoded is listed in ctx.errors
-- (with the path, line and column), and on_load still fires with what could be loaded.

local fscache = require("fscache")

local M = {}

---@class project_config.Context
---@field name string project name
---@field config_dir string
---@field main string path of `<config_dir>/projects/<name>.json`
---@field overrides string path of `<config_dir>/projects/<name>.local.json` (where save writes)
---@field base table the merge of every file except the overrides (what save diffs against)
---@field files string[] config files found, in merge order
---@field sources { path: string, value: any }[] decoded files, in merge order
---@field json table the merged configuration
---@field errors string[] one message per file that could not be used
---@field loader project_config.Loader
local Context = {}
Context.__index = Context

---@class project_config.Loader
---@field config_dir string
---@field name string
---@field files fscache.FileCache
---@field dirs fscache.DirectoryCache
---@field root? string the project root, when found by for_path_async
---@field stages fun(loader: project_config.Loader, ctx: project_config.Context)[]
local Loader = {}
Loader.__index = Loader

-- Decoded `{}` carries this marker (vim.empty_dict()'s metatable in Neovim); a plain empty
-- table is `[]`, as in vim.json.
local OBJECT_MT = getmetatable(fscache.empty_object())

---True for a JSON object: a table with keys but no [1], or an empty table marked as `{}`.
local function is_object(t)
  if type(t) ~= "table" then
    return false
  end
  if next(t) == nil then
    return getmetatable(t) == OBJECT_MT
  end
  return t[1] == nil
end
M.is_object = is_object

local function copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = copy(x)
  end
  return setmetatable(out, getmetatable(v))
end

---Deep merge: objects merge key by key, everything else (arrays included) is replaced.
---Values are copied, so ctx.json never aliases the cache's decoded values.
---@param dst table
---@param src table
function M.deep_merge(dst, src)
  for k, v in pairs(src) do
    local d = dst[k]
    if is_object(v) and is_object(d) then
      M.deep_merge(d, v)
    else
      dst[k] = copy(v)
    end
  end
  return dst
end

local function is_config_name(name)
  return name:match("%.json$") or name:match("%.jsonc$")
end

local function is_file(entry)
  return entry.type == "file" or entry.type == "link"
end

--- `<config_dir>/projects/<name>/*.json[c]`, sorted by name.
local function find_layer_dir(self, ctx, projects)
  local sub_path = projects .. "/" .. self.name
  local sub, err2 = self.dirs:get_async(sub_path)
  if not sub then
    ctx.errors[#ctx.errors + 1] = err2
    return
  end
  for _, e in ipairs(sub.entries) do -- already sorted by name
    if is_file(e) and is_config_name(e.name) then
      ctx.files[#ctx.files + 1] = sub_path .. "/" .. e.name
    end
  end
end

--- Stage 1: find `<config_dir>/projects/<name>.json`, `<config_dir>/projects/<name>/*.json[c]`
--- and, last, `<config_dir>/projects/<name>.local.json`.
local function find_files(self, ctx)
  local projects = self.config_dir .. "/projects"
  local listing, err, code = self.dirs:get_async(projects)
  if not listing then
    if code ~= "ENOENT" then
      ctx.errors[#ctx.errors + 1] = err
    end
    return
  end
  local has_dir, has_local = false, false
  for _, e in ipairs(listing.entries) do
    if e.name == self.name .. ".json" and is_file(e) then
      ctx.files[#ctx.files + 1] = ctx.main
    elseif e.name == self.name .. ".local.json" and is_file(e) then
      has_local = true
    elseif e.name == self.name and e.type ~= "file" then
      has_dir = true
    end
  end
  if has_dir then
    find_layer_dir(self, ctx, projects)
  end
  if has_local then
    ctx.files[#ctx.files + 1] = ctx.overrides
  end
end

--- Stage 2: read and decode every file in one batch (one suspension; reads and JSON decoding
--- run concurrently on the pool; `.jsonc` files accept comments), keep merge order.
local function read_json(self, ctx)
  local n = #ctx.files
  if n == 0 then
    return
  end
  local values, errors = self.files:get_many_async(ctx.files, { json = true })
  for i = 1, n do
    local path = ctx.files[i]
    if errors[i] then
      ctx.errors[#ctx.errors + 1] = errors[i]
    elseif not is_object(values[i]) then
      ctx.errors[#ctx.errors + 1] = path .. ": top level must be a JSON object"
    else
      ctx.sources[#ctx.sources + 1] = { path = path, value = values[i] }
    end
  end
end

--- Stage 3: merge in order into ctx.json (and ctx.base, without the overrides layer).
local function merge(_, ctx)
  for _, s in ipairs(ctx.sources) do
    if s.path ~= ctx.overrides then
      M.deep_merge(ctx.base, s.value)
    end
    M.deep_merge(ctx.json, s.value)
  end
end

local function equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  if is_object(a) ~= is_object(b) then -- `{}` is not `[]`
    return false
  end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

---What `json` changes relative to `base`: objects recurse, anything else is taken whole.
---@return table|nil diff nil when nothing differs
function M.diff(json, base)
  local out, any = {}, false
  for k, v in pairs(json) do
    local b = base[k]
    if is_object(v) and is_object(b) then
      local d = M.diff(v, b)
      if d then
        out[k], any = d, true
      end
    elseif not equal(v, b) then
      out[k], any = copy(v), true
    end
  end
  return any and out or nil
end

M.stages = { find_files, read_json, merge }

---@param opts { config_dir: string, name: string, files?: fscache.FileCache, dirs?: fscache.DirectoryCache }
---@return project_config.Loader
function M.new(opts)
  assert(type(opts) == "table", "project_config.new: options table expected")
  assert(type(opts.config_dir) == "string", "project_config.new: config_dir (string) expected")
  assert(type(opts.name) == "string" and opts.name ~= "", "project_config.new: name (string) expected")
  return setmetatable({
    config_dir = opts.config_dir,
    name = opts.name,
    files = opts.files or fscache.FileCache.new(),
    dirs = opts.dirs or fscache.DirectoryCache.new(),
    stages = opts.stages or M.stages,
  }, Loader)
end

---Markers that make a directory a project root (vim.fs.root's marker argument: groups first,
---then directories upward).
M.markers = { { ".git", ".nvim.lua" }, "package.json" }

---Finds the project `path` (a buffer's file, say) belongs to with fscache.root_async, the cached
---and validated form of vim.fs.root (an unchanged tree answers without a system call), and
---returns a loader for it (name: the root directory's base name) and the root; nil when no
---directory upward holds a marker. Inside a coroutine.
---@param path string
---@param opts { config_dir: string, markers?: fscache.RootMarker, files?: fscache.FileCache, dirs?: fscache.DirectoryCache }
---@return project_config.Loader|nil loader, string|nil root
function M.for_path_async(path, opts)
  assert(type(opts) == "table", "project_config.for_path_async: options table expected")
  local root = fscache.root_async(path, opts.markers or M.markers)
  if root == nil then
    return nil
  end
  local loader = M.new({
    config_dir = opts.config_dir,
    name = root:match("([^/]+)$") or "root",
    files = opts.files,
    dirs = opts.dirs,
  })
  loader.root = root
  return loader, root
end

---Runs the pipeline in the calling coroutine and returns the context.
---@return project_config.Context
function Loader:load_await()
  local ctx = setmetatable({
    name = self.name,
    config_dir = self.config_dir,
    main = self.config_dir .. "/projects/" .. self.name .. ".json",
    overrides = self.config_dir .. "/projects/" .. self.name .. ".local.json",
    files = {},
    sources = {},
    json = fscache.empty_object(),
    base = fscache.empty_object(),
    errors = {},
    loader = self,
  }, Context)
  for _, stage in ipairs(self.stages) do
    stage(self, ctx)
  end
  return ctx
end

---Starts loading from anywhere; `on_load(ctx)` fires once, on the main thread.
---Errors in a stage or in on_load go to `on_error(msg)` (default: reported by fscache).
---@param on_load fun(ctx: project_config.Context)
---@param on_error? fun(msg: string)
function Loader:load(on_load, on_error)
  -- on_load runs inside the coroutine so that its errors reach on_error too.
  fscache.run(function()
    on_load(self:load_await())
  end, nil, on_error)
end

function Context:_overrides()
  return { json = M.diff(self.json, self.base) or fscache.empty_object(), indent = 2 }
end

---Persists the edits made to ctx.json (its difference from the merged files) to
---`<config_dir>/projects/<name>.local.json`, atomically, sorted keys. Inside a coroutine.
---@return true|nil ok, string|nil err, string|nil code
function Context:save_async()
  return self.loader.files:write_async(self.overrides, self:_overrides())
end

---Callback form of save_async.
---@param cb fun(ok: true|nil, err: string|nil, code: string|nil)
function Context:save(cb)
  self.loader.files:write(self.overrides, self:_overrides(), cb)
end

return M
