-- One source for the type words and the LuaCATS types: the entry type words Rust defines
-- (src/fs/dir.rs, exported as native.entry_types) are the ones the listing builder, the type
-- annotations and real listings use; the classes in types/fscache.lua list exactly the fields the
-- module returns, and the embedded chunks do not declare them a second time.

local fscache = require("fscache")

-- Annotations of a Lua source: { [class] = { fields = { [name] = true }, order = {...} } }, and
-- { [alias] = "text" }.
local function annotations(path)
  local src = assert(read_file(path), path .. " is missing")
  local classes, aliases, current = {}, {}, nil
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do
    local class = line:match("^%-%-%-@class%s+([%w_%.]+)")
    local field = line:match("^%-%-%-@field%s+([%w_]+)")
    local alias, text = line:match("^%-%-%-@alias%s+([%w_%.]+)%s+(.*)$")
    if class then
      current = { fields = {}, order = {} }
      classes[class] = current
    elseif field and current then
      current.fields[field] = true
      current.order[#current.order + 1] = field
    elseif alias then
      aliases[alias] = text
      current = nil
    elseif not line:match("^%-%-%-") then
      current = nil
    end
  end
  return classes, aliases, src
end

local function keys(t)
  local out = {}
  for k in pairs(t) do
    out[#out + 1] = k
  end
  table.sort(out)
  return out
end

local function quoted_words(text)
  local out = {}
  for w in text:gmatch('"([%w_]+)"') do
    out[#out + 1] = w
  end
  return out
end

local TYPES = "types/fscache.lua"

-- Stats fields types/fscache.lua documents ahead of the cache-engine change that returns them.
-- Delete each name here once stats() returns it (this spec fails until then, as a reminder).
local STATS_PENDING = {}

-- Chunks whose duplicated class annotations predate this spec; the cache-engine change removes
-- them (types/fscache.lua is the one source). Any other chunk must agree with types/.
local DUPLICATES_TOLERATED = {}

describe("type words", function()
  local words = fscache._native.entry_types

  it("Rust exports the eight luv words, in listing-code order", function()
    assert.are.same({ "file", "directory", "link", "fifo", "socket", "char", "block", "unknown" }, words)
  end)

  it("the JIT listing builder uses the same words in the same order", function()
    local src = assert(read_file("src/lua/listing.lua"))
    local list = assert(src:match("local KINDS = (%b{})"), "listing.lua: KINDS table not found")
    assert.are.same(words, quoted_words(list))
  end)

  it("the type annotations use the same words", function()
    local _, aliases = annotations(TYPES)
    assert.are.same(words, quoted_words(assert(aliases["fscache.EntryType"])))
    local src = assert(read_file("src/lua/caches.lua"))
    for union in src:gmatch('type: ("[^}]*)') do
      assert.are.same(words, quoted_words(union))
    end
  end)

  it("a real listing reports its entries with those words", function()
    local dir = tmpdir()
    write_file(dir .. "/f", "x")
    assert(sh("mkdir " .. shell_quote(dir .. "/d")))
    assert(sh("ln -s f " .. shell_quote(dir .. "/l")))
    assert(sh("mkfifo " .. shell_quote(dir .. "/p")))
    local listing = assert(fscache.DirectoryCache.new():get_sync(dir))
    rm_rf(dir)
    local got = {}
    for _, e in ipairs(listing.entries) do
      got[e.name] = e.type
    end
    assert.are.same({ f = "file", d = "directory", l = "link", p = "fifo" }, got)
  end)
end)

describe("LuaCATS types", function()
  local classes = annotations(TYPES)

  it("fscache.Stats lists every field stats() returns, and nothing else", function()
    local files, dirs = fscache.FileCache.new(), fscache.DirectoryCache.new()
    local returned = {}
    for _, s in ipairs({ files:stats(), dirs:stats() }) do
      for k in pairs(s) do
        returned[k] = true
      end
    end
    local documented = assert(classes["fscache.Stats"]).fields
    for _, k in ipairs(keys(returned)) do
      assert.is_true(documented[k] ~= nil, "stats() returns '" .. k .. "', missing from " .. TYPES)
      assert.is_nil(STATS_PENDING[k], "stats() returns '" .. k .. "' now: remove it from STATS_PENDING")
    end
    for _, k in ipairs(keys(documented)) do
      assert.is_true(returned[k] or STATS_PENDING[k] or false, TYPES .. " documents '" .. k .. "', stats() lacks it")
    end
  end)

  it("fscache.PoolStats lists exactly what pool_stats() returns, and its doc names each", function()
    local returned = fscache.pool_stats()
    assert.are.same(keys(returned), keys(assert(classes["fscache.PoolStats"]).fields))
    local src = assert(read_file(TYPES))
    local doc = assert(src:match("(%-%-%-Runtime counters.-)function fscache%.pool_stats"))
    for _, k in ipairs(keys(returned)) do
      assert.truthy(doc:find(k, 1, true), "pool_stats doc does not name '" .. k .. "'")
    end
  end)

  it("the embedded chunks declare no class of types/fscache.lua again (one source)", function()
    local p = io.popen("ls src/lua/*.lua")
    local chunks = assert(p):read("*a")
    p:close()
    local seen = 0
    for path in chunks:gmatch("[^\n]+") do
      seen = seen + 1
      local again = {}
      for name in pairs((annotations(path))) do
        if classes[name] and name ~= "fscache" then -- the module table: api_docs_spec's job
          again[#again + 1] = name
        end
      end
      table.sort(again)
      if DUPLICATES_TOLERATED[path] then
        assert.is_true(#again > 0, path .. " no longer repeats classes: drop it from DUPLICATES_TOLERATED")
      else
        assert.are.same({}, again, path .. " repeats classes of " .. TYPES .. "; annotate with those names")
      end
    end
    assert.is_true(seen >= 10, "src/lua/*.lua not found")
  end)
end)
