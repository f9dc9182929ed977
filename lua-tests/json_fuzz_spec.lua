-- Seeded random fuzzing of the JSON layer, bounded in count (FSCACHE_FUZZ_COUNT, default 1500
-- inputs per property) and in time (FSCACHE_FUZZ_SECONDS caps each property, default 20 s; the
-- count actually run is printed). FSCACHE_FUZZ_SEED replays a run. The generator is a
-- Park-Miller LCG, so a seed gives the same inputs under LuaJIT, Neovim, Lua 5.1 and 5.4.
--
-- Properties:
--  decode:  mutated corpus / generated texts -> a value or nil, "<where>:<line>:<col>: ...",
--           "EJSON"; never a Lua error or a panic; a decoded value encodes, and re-decodes to
--           the same canonical text (JSON and JSONC modes).
--  encode:  random Lua values (NaN, inf, invalid UTF-8, sparse / mixed tables, odd keys, cycles,
--           functions, 600-deep nesting, ...) -> a string or nil, message, "EJSON"; a string
--           always decodes, and re-encodes to itself.
--  round trip: valid random values come back deep-equal.
--  pool = sync: the pool decode behind get_json_sync / get_json answers like json_decode.
--  writes: write_sync { json = v } writes exactly json_encode(v), or refuses and leaves the file.

local fscache = require("fscache")
local uv = test_uv

local SEED = tonumber(os.getenv("FSCACHE_FUZZ_SEED") or "") or 20240607
local COUNT = tonumber(os.getenv("FSCACHE_FUZZ_COUNT") or "") or 1500
local SECONDS = tonumber(os.getenv("FSCACHE_FUZZ_SECONDS") or "") or 20

-- Park-Miller "minimal standard" generator: exact in doubles (products < 2^46) and in 5.4 integers.
local state
local function reseed(s)
  state = (math.floor(s) % 2147483646) + 1
end
local function rnd(n) -- 1..n
  state = (state * 16807) % 2147483647
  return state % n + 1
end
local function chance(p) -- p in percent
  return rnd(100) <= p
end
local function pick(t)
  return t[rnd(#t)]
end

local function budget()
  local deadline = uv.hrtime() + SECONDS * 1e9
  return function()
    return uv.hrtime() < deadline
  end
end

-- Deep equality for decoded values: numbers by value, empty tables of either kind equal.
local function same(a, b, depth)
  depth = depth or 0
  if a == b then
    return true
  end
  if type(a) == "number" and type(b) == "number" then
    return a ~= a and b ~= b
  end
  if type(a) ~= "table" or type(b) ~= "table" or depth > 600 then
    return false
  end
  for k, v in pairs(a) do
    if not same(v, rawget(b, k), depth + 1) then
      return false
    end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then
      return false
    end
  end
  return true
end

---------------------------------------------------------------------------------------------------
-- Generators

local VALID_CHUNKS = {
  "a",
  "Z",
  "0",
  " ",
  "\\",
  '"',
  "/",
  "\n",
  "\t",
  "\1",
  "\31",
  "é",
  "€",
  "𝄞",
  "日本",
  "\127",
  "null",
  "{}",
  "[",
  "\\u0000",
}
local INVALID_CHUNKS = { "\255", "\192\128", "\237\160\128", "\128", "\240\159", "\0" }

local function random_string(valid)
  local parts = {}
  for i = 1, rnd(8) - 1 do
    parts[i] = (not valid and chance(15)) and pick(INVALID_CHUNKS) or pick(VALID_CHUNKS)
  end
  if valid and chance(5) then
    parts[#parts + 1] = "\0" -- NUL is valid UTF-8 (encoded as \u0000)
  end
  return table.concat(parts)
end

local function random_number(valid)
  local r = rnd(12)
  if r == 1 then
    return rnd(1000) - 500
  elseif r == 2 then
    return (rnd(2000000) - 1000000) * 4096
  elseif r == 3 then
    return (rnd(100000) - 50000) / 64
  elseif r == 4 then
    return rnd(1000) * 1e-300
  elseif r == 5 then
    return rnd(1000) * 1e290
  elseif r == 6 then
    return -0.0
  elseif r == 7 then
    return 2 ^ 52 + rnd(1000)
  elseif r == 8 then
    return 0.1 * rnd(10)
  elseif valid then
    return rnd(7) - 3
  elseif r == 9 then
    return 0 / 0
  elseif r == 10 then
    return chance(50) and math.huge or -math.huge
  elseif r == 11 then
    return 2 ^ 64
  end
  return 2 ^ 63
end

local random_value

local function random_table(depth, valid, seen)
  local kind = rnd(valid and 4 or 10)
  local t
  if kind == 1 then -- array
    t = {}
    for i = 1, rnd(5) - 1 do
      t[i] = random_value(depth + 1, valid, seen)
    end
  elseif kind == 2 then -- object
    t = fscache.empty_object()
    for _ = 1, rnd(5) - 1 do
      t[random_string(true)] = random_value(depth + 1, valid, seen)
    end
  elseif kind == 3 then
    t = fscache.empty_object()
  elseif kind == 4 then
    t = {}
  elseif kind == 5 then -- sparse array
    t = { 1, nil, 3 }
    t[rnd(20) + 3] = random_value(depth + 1, valid, seen)
  elseif kind == 6 then -- mixed keys
    t = { random_value(depth + 1, valid, seen), x = random_value(depth + 1, valid, seen) }
  elseif kind == 7 then -- odd keys
    t = {}
    t[pick({ true, 1.5, -1, 0, {} })] = 1
  elseif kind == 8 then -- cycle
    t = { 1 }
    t[2] = seen[#seen] or t
  elseif kind == 9 then -- deep
    t = {}
    local c = t
    for _ = 1, 600 do
      c[1] = {}
      c = c[1]
    end
  else -- metatable that traps every access
    t = setmetatable({ 1, 2 }, {
      __index = function()
        error("trap")
      end,
      __pairs = function()
        error("trap")
      end,
      __len = function()
        error("trap")
      end,
    })
  end
  seen[#seen + 1] = t
  return t
end

function random_value(depth, valid, seen)
  seen = seen or {}
  local r = rnd(valid and 6 or 8)
  if depth > 5 then
    r = rnd(4)
  end
  if r == 1 then
    return random_number(valid)
  elseif r == 2 then
    return random_string(valid)
  elseif r == 3 then
    return chance(50)
  elseif r == 4 then
    return fscache.null
  elseif r == 5 or r == 6 then
    return random_table(depth, valid, seen)
  elseif r == 7 then
    return pick({ print, coroutine.create(function() end), io.stdout })
  end
  return random_table(depth, valid, seen)
end

-- Corpus texts (the JSON spec's fixtures) as mutation seeds.
local function corpus()
  local texts = {}
  for _, sub in ipairs({ "valid", "invalid" }) do
    local dir = "lua-tests/fixtures/json/" .. sub
    for _, name in ipairs(dir_names(dir)) do
      local f = io.open(dir .. "/" .. name, "rb")
      if f then
        texts[#texts + 1] = f:read("*a")
        f:close()
      end
    end
  end
  return texts
end

local TOKENS = {
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "\\",
  "\\u",
  "\\ud800",
  "\\udc00",
  "/*",
  "*/",
  "//",
  "\n",
  "null",
  "true",
  "-",
  "1e400",
  "-0",
  "0.",
  "1e",
  "18446744073709551616",
  "\0",
  "\255",
  "\239\187\191",
  string.rep("[", 520),
  string.rep('{"a":', 300),
}

local function mutate(text)
  for _ = 1, rnd(4) do
    local len = #text
    local pos = rnd(len + 1)
    local op = rnd(6)
    if op == 1 and len > 0 then -- flip a byte
      text = text:sub(1, pos - 1) .. string.char(rnd(256) - 1) .. text:sub(pos + 1)
    elseif op == 2 then -- insert a token
      text = text:sub(1, pos - 1) .. pick(TOKENS) .. text:sub(pos)
    elseif op == 3 and len > 0 then -- delete a range
      text = text:sub(1, pos - 1) .. text:sub(pos + rnd(16))
    elseif op == 4 and len > 0 then -- duplicate a range
      local piece = text:sub(pos, pos + rnd(32))
      text = text:sub(1, pos - 1) .. piece .. piece .. text:sub(pos)
    elseif op == 5 then -- truncate
      text = text:sub(1, pos)
    else -- splice generated JSON in
      local s = fscache.json_encode(random_value(3, true))
      text = text:sub(1, pos - 1) .. (s or "") .. text:sub(pos)
    end
  end
  return text
end

local function random_text(seeds)
  if chance(30) then
    return fscache.json_encode(random_value(0, true), chance(50) and { indent = rnd(4) } or nil) or "null"
  end
  return mutate(pick(seeds))
end

---------------------------------------------------------------------------------------------------

local function check_failure(what, v, msg, code)
  assert(v == nil, what .. ": a value with an error")
  assert(code == "EJSON", what .. ": code " .. tostring(code) .. ": " .. tostring(msg))
  assert(type(msg) == "string" and msg:find(":%d+:%d+: ") or msg:find("^%$"), what .. ": message " .. tostring(msg))
end

-- decode(text) is total; a decoded value is encodable and canonical after one round.
local function check_decode(text, opts, label)
  local ok, v, msg, code = pcall(fscache.json_decode, text, opts)
  assert(ok, label .. ": json_decode raised: " .. tostring(v))
  if v == nil and msg ~= nil then
    check_failure(label, v, msg, code)
    return false
  end
  local s, emsg = fscache.json_encode(v)
  assert(s, label .. ": a decoded value does not encode: " .. tostring(emsg))
  local v2, dmsg = fscache.json_decode(s)
  assert(dmsg == nil, label .. ": re-decode failed: " .. tostring(dmsg))
  assert(fscache.json_encode(v2) == s, label .. ": encoding is not canonical")
  return true, v
end

describe("JSON fuzz (seed " .. SEED .. ")", function()
  local panic_before
  setup(function()
    panic_before = fscache._native.last_panic()
  end)
  teardown(function()
    assert.are.equal(panic_before, fscache._native.last_panic())
  end)

  it("decode: mutated corpus and generated texts, JSON and JSONC", function()
    reseed(SEED)
    local seeds = corpus()
    assert.is_true(#seeds > 20)
    local more = budget()
    local n, accepted = 0, 0
    while n < COUNT and more() do
      n = n + 1
      local text = random_text(seeds)
      local label = ("decode #%d (seed %d)"):format(n, SEED)
      accepted = accepted + (check_decode(text, nil, label) and 1 or 0)
      check_decode(text, { jsonc = true }, label .. " jsonc")
    end
    print(("\n[fuzz] decode: %d texts x 2 modes, %d accepted as JSON"):format(n, accepted))
    assert.is_true(n >= math.min(COUNT, 100))
  end)

  it("encode: random Lua values, valid or not", function()
    reseed(SEED + 1)
    local more = budget()
    local n, encoded = 0, 0
    while n < COUNT and more() do
      n = n + 1
      local label = ("encode #%d (seed %d)"):format(n, SEED + 1)
      local v = random_value(0, false)
      local opts = chance(30) and { indent = rnd(5) - 1 } or nil
      local ok, s, msg, code = pcall(fscache.json_encode, v, opts)
      assert(ok, label .. ": json_encode raised: " .. tostring(s))
      if s == nil then
        check_failure(label, s, msg, code)
      else
        encoded = encoded + 1
        local v2, dmsg = fscache.json_decode(s)
        assert(dmsg == nil, label .. ": encoder output does not decode: " .. tostring(dmsg))
        assert(fscache.json_encode(v2, opts) == s, label .. ": not canonical")
      end
    end
    print(("\n[fuzz] encode: %d values, %d encoded, %d refused"):format(n, encoded, n - encoded))
    assert.is_true(encoded > 0 and encoded < n)
  end)

  it("round trip: valid values come back equal", function()
    reseed(SEED + 2)
    local more = budget()
    local n = 0
    while n < COUNT and more() do
      n = n + 1
      local label = ("round trip #%d (seed %d)"):format(n, SEED + 2)
      local v = random_value(0, true)
      local s, msg = fscache.json_encode(v, chance(50) and { indent = 2 } or nil)
      assert(s, label .. ": valid value refused: " .. tostring(msg))
      local v2, dmsg = fscache.json_decode(s)
      assert(dmsg == nil, label .. ": " .. tostring(dmsg))
      assert(same(v, v2), label .. ": round trip changed the value: " .. s:sub(1, 200))
    end
    print(("\n[fuzz] round trip: %d values"):format(n))
  end)

  it("pool decode (get_json_sync, get_json) answers like json_decode", function()
    reseed(SEED + 3)
    local seeds = corpus()
    local dir = tmpdir()
    local files = fscache.FileCache.new()
    local more = budget()
    local n = 0
    local limit = math.max(1, math.floor(COUNT / 5))
    while n < limit and more() do
      n = n + 1
      local label = ("pool #%d (seed %d)"):format(n, SEED + 3)
      local text = random_text(seeds)
      local jsonc = chance(30)
      local path = dir .. "/doc" .. n .. (jsonc and ".jsonc" or ".json")
      write_file(path, text)
      local want_ok, want_v = check_decode(text, { jsonc = jsonc }, label)
      local got = { files:get_json_sync(path) }
      local box
      files:invalidate(path)
      files:get_json(path, function(...)
        box = { ... }
      end)
      assert(wait_until(function()
        return box ~= nil
      end, 5000))
      for _, r in ipairs({ got, box }) do
        if want_ok then
          assert(r[2] == nil, label .. ": pool refused what json_decode accepted: " .. tostring(r[2]))
          assert(fscache.json_encode(r[1]) == fscache.json_encode(want_v), label .. ": different value")
        else
          check_failure(label, r[1], r[2], r[3])
          assert(r[2]:find(path, 1, true) == 1, label .. ": message does not start with the path: " .. r[2])
        end
      end
    end
    rm_rf(dir)
    print(("\n[fuzz] pool decode: %d files"):format(n))
  end)

  it("writes: { json = v } writes exactly json_encode(v), or refuses and leaves the file", function()
    reseed(SEED + 4)
    local dir = tmpdir()
    local p = dir .. "/out.json"
    local files = fscache.FileCache.new()
    local more = budget()
    local n, written = 0, 0
    local limit = math.max(1, math.floor(COUNT / 5))
    write_file(p, "before")
    while n < limit and more() do
      n = n + 1
      local label = ("write #%d (seed %d)"):format(n, SEED + 4)
      local v = random_value(0, chance(70))
      local indent = chance(30) and rnd(4) or nil
      local before = read_file(p)
      local want = fscache.json_encode(v, indent and { indent = indent } or nil)
      local ok, msg, code = files:write_sync(p, { json = v, indent = indent })
      if want then
        assert(ok == true, label .. ": " .. tostring(msg))
        assert(read_file(p) == want, label .. ": file differs from json_encode")
        written = written + 1
      else
        check_failure(label, ok, msg, code)
        assert(read_file(p) == before, label .. ": a refused write changed the file")
      end
    end
    rm_rf(dir)
    print(("\n[fuzz] writes: %d values, %d written"):format(n, written))
  end)
end)
