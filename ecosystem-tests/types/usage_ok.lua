-- Type-checked against types/fscache.lua by ecosystem-tests/types_spec.lua: every public function,
-- used correctly. The checker must report nothing here.

local fscache = require("fscache")

local files = fscache.FileCache.new({ trust_mtime = true, max_size = 1024 * 1024 })
local dirs = fscache.DirectoryCache.new({ trust_mtime = false })
fscache.setup({ threads = 8, slice_ms = 2 })

---@param s string
local function show(s)
  io.write(s, "\n")
end

fscache.run(function()
  local entry, err, code = files:get_async("/etc/hostname")
  if entry then
    show(entry.path .. entry.content .. entry.mtime + entry.mtime_nsec + entry.size)
  else
    show((err or "") .. (code or ""))
  end
  local value = files:get_json_async("package.json", { jsonc = true })
  if value == fscache.null then
    show("null")
  end
  local ok = files:write_async("out.json", { json = { a = 1 }, indent = 2 })
  if ok then
    show("written")
  end
  local n = fscache.await(function(done)
    done(42)
  end)
  show(tostring(n))
  local listing = dirs:get_async("/")
  if listing then
    for _, e in ipairs(listing.entries) do
      if e.type == "directory" then
        show(e.name)
      end
    end
  end
  return 1
end, function(n)
  show(tostring(n))
end, function(msg)
  show(msg)
end)

files:get("/etc/hostname", function(entry, err, code)
  show(entry and entry.content or ((err or "") .. (code or "")))
end)
files:get_json("a.json", function(value, err)
  show(tostring(value) .. tostring(err))
end)
files:get_json("a.jsonc", { jsonc = true }, function(value)
  show(tostring(value))
end)
files:write("a.txt", { content = "x" }, function(ok, err, code)
  show(tostring(ok) .. tostring(err) .. tostring(code))
end)
files:write("b.txt", "plain string data")
files:get_many({ "a.txt", "b.txt" }, function(entries, errors)
  local first = entries[1]
  show(tostring(first and first ~= false and first.size) .. tostring(errors[2]))
end)
files:get_many({ "a.json" }, { json = true }, function(values)
  show(tostring(values[1]))
end)
local many, many_err = files:get_many_sync({ "a.txt" })
show(tostring(#many) .. tostring(many_err[1]))
fscache.run(function()
  local entries = files:get_many_async({ "a.txt" }, { json = false })
  show(tostring(#entries))
end)
show(tostring(fscache.flush_writes(500)))
local st = fscache.stat_sync("/etc")
show(tostring(st and st.type) .. tostring(fscache.root_sync("/etc/hostname", { ".git", "etc" })))
fscache.stat("/etc", function(s, err)
  show(tostring(s and s.size) .. tostring(err))
end)
fscache.root("/etc", function(name)
  return name == "passwd"
end, function(root)
  show(tostring(root))
end)
fscache.run(function()
  local s = fscache.stat_async("/etc")
  local root = fscache.root_async("/etc/hostname", ".git")
  show(tostring(s and s.mtime) .. tostring(root) .. tostring(fscache.meta_stats().root_walks))
end)
local e2 = files:get_sync("/etc/hostname")
local v2 = files:get_json_sync("a.json")
local ok2, err2, code2 = files:write_sync("a.txt", { content = "y" })
show(tostring(e2 and e2.size) .. tostring(v2) .. tostring(ok2) .. tostring(err2) .. tostring(code2))
local forgot = files:invalidate("a.txt") or dirs:invalidate("/")
files:clear_all()
dirs:clear_all()
show(tostring(forgot) .. files:stats().hits + dirs:stats().misses)

dirs:get("/", function(listing, err)
  show(listing and listing.path or err or "")
end)
local l2 = dirs:get_sync("/")
show(tostring(l2 and #l2.entries or 0))

local total = fscache.block_on(function()
  local l = dirs:get_async("/")
  return l and #l.entries or 0
end, 1000)
show(tostring(total) .. fscache.version)

local stats = fscache.pool_stats()
show(tostring(stats.threads + stats.running + stats.queued + stats.pending + stats.delivered + stats.slice_ms))
fscache.set_error_handler(function(msg)
  show(msg)
end)
fscache.set_error_handler(nil)
local poll = fscache.attach()
show(tostring(poll) .. tostring(fscache.attached()) .. fscache.fd() + fscache.dispatch(5))
fscache.detach()

local decoded, derr = fscache.json_decode('{"a": [1, null] /* c */}', { jsonc = true, path = "inline" })
local text = fscache.json_encode({ decoded = decoded, empty = fscache.empty_object() }, { indent = true })
show((text or "") .. (derr or ""))
