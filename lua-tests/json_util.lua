-- Helpers for the JSON specs: a deep comparison that knows about null and the empty-object
-- marker, a small independent strict JSON reader (the reference on LuaJIT, where vim.json is
-- absent), a JSONC stripper (to feed JSONC fixtures to vim.json.decode), and fixture paths.
local fscache = require("fscache")

local M = {}

---Absolute path of lua-tests/fixtures/json (busted runs from the repository root).
M.FIXTURES = test_uv.cwd() .. "/lua-tests/fixtures/json"

---The metatable that marks an empty table as a JSON object (vim.empty_dict()'s in Neovim).
M.dict_mt = getmetatable(fscache.empty_object())

---An expected JSON object: `O{}` is the empty object, anything else is returned as is.
function M.O(t)
  if next(t) == nil then
    return fscache.empty_object()
  end
  return t
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function seg(k)
  if type(k) == "number" then
    return "[" .. k .. "]"
  end
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then
    return "." .. k
  end
  return "[" .. ("%q"):format(tostring(k)) .. "]"
end

local function show(v)
  if type(v) == "number" then
    return ("%.17g"):format(v)
  end
  if v == fscache.null then
    return "null"
  end
  return type(v) == "string" and ("%q"):format(v) or tostring(v)
end

---Every difference between two decoded values, as "<path>: <left> vs <right>" strings (empty
---when equal). Empty tables differ when one is an object (marker) and the other an array;
---zeros differ by sign; nulls compare by identity (vim.NIL / fscache.null).
---@return string[]
function M.diffs(a, b, path, out)
  path, out = path or "$", out or {}
  if type(a) ~= type(b) then
    out[#out + 1] = path .. ": " .. show(a) .. " vs " .. show(b)
  elseif type(a) == "number" then
    if a ~= b or (a == 0 and 1 / a ~= 1 / b) then
      out[#out + 1] = path .. ": " .. show(a) .. " vs " .. show(b)
    end
  elseif type(a) ~= "table" then
    if a ~= b then
      out[#out + 1] = path .. ": " .. show(a) .. " vs " .. show(b)
    end
  elseif next(a) == nil or next(b) == nil then
    local oa = next(a) == nil and (getmetatable(a) == M.dict_mt and "{}" or "[]") or "non-empty"
    local ob = next(b) == nil and (getmetatable(b) == M.dict_mt and "{}" or "[]") or "non-empty"
    if oa ~= ob then
      out[#out + 1] = path .. ": " .. oa .. " vs " .. ob
    end
  else
    for k, v in pairs(a) do
      M.diffs(v, b[k], path .. seg(k), out)
    end
    for k, v in pairs(b) do
      if a[k] == nil then
        M.diffs(nil, v, path .. seg(k), out)
      end
    end
  end
  return out
end

---Asserts that two decoded values are equal (see diffs), naming the first differences.
function M.assert_same(a, b, what)
  local d = M.diffs(a, b)
  if #d > 0 then
    error(("%s: %d difference(s):\n  %s"):format(what or "values", #d, table.concat(d, "\n  ", 1, math.min(#d, 10))), 2)
  end
end

local function utf8_char(cp)
  if cp < 0x80 then
    return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(
    0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40,
    0x80 + cp % 0x40
  )
end

local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

---A deliberately simple strict JSON reader (recursive, for valid input only; raises on
---anything it does not understand). Independent of fscache: used as the reference on LuaJIT.
---Numbers go through tonumber (correctly rounded; integers stay integers on Lua 5.4).
function M.ref_decode(s)
  local i = 1
  local function fail(msg)
    error(("ref_decode: %s at byte %d"):format(msg, i), 0)
  end
  local function ws()
    i = s:find("[^ \t\r\n]", i) or #s + 1
  end
  local value
  local function str()
    i = i + 1
    local out = {}
    while true do
      local j = s:find('["\\]', i)
      if not j then
        fail("unterminated string")
      end
      out[#out + 1] = s:sub(i, j - 1)
      if s:sub(j, j) == '"' then
        i = j + 1
        return table.concat(out)
      end
      local c = s:sub(j + 1, j + 1)
      if ESC[c] then
        out[#out + 1], i = ESC[c], j + 2
      elseif c == "u" then
        local cp = tonumber(s:sub(j + 2, j + 5), 16) or fail("bad \\u")
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:sub(i, i + 1) == "\\u" and tonumber(s:sub(i + 2, i + 5), 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then
            fail("lone surrogate")
          end
          cp, i = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00), i + 6
        end
        out[#out + 1] = utf8_char(cp)
      else
        fail("bad escape")
      end
    end
  end
  function value()
    ws()
    local c = s:sub(i, i)
    if c == "{" then
      i = i + 1
      local t = {}
      ws()
      if s:sub(i, i) == "}" then
        i = i + 1
        return fscache.empty_object()
      end
      while true do
        ws()
        if s:sub(i, i) ~= '"' then
          fail("key expected")
        end
        local k = str()
        ws()
        if s:sub(i, i) ~= ":" then
          fail("':' expected")
        end
        i = i + 1
        t[k] = value()
        ws()
        c = s:sub(i, i)
        i = i + 1
        if c == "}" then
          return t
        elseif c ~= "," then
          fail("',' or '}' expected")
        end
      end
    elseif c == "[" then
      i = i + 1
      local t = {}
      ws()
      if s:sub(i, i) == "]" then
        i = i + 1
        return t
      end
      while true do
        t[#t + 1] = value()
        ws()
        c = s:sub(i, i)
        i = i + 1
        if c == "]" then
          return t
        elseif c ~= "," then
          fail("',' or ']' expected")
        end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(i, i + 3) == "true" then
      i = i + 4
      return true
    elseif s:sub(i, i + 4) == "false" then
      i = i + 5
      return false
    elseif s:sub(i, i + 3) == "null" then
      i = i + 4
      return fscache.null
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not num then
      fail("value expected")
    end
    i = i + #num
    local x = tonumber(num) or fail("bad number")
    if x == 0 and num:sub(1, 1) == "-" then
      return 1 / -math.huge -- -0 (Lua 5.4 reads "-0" as the integer 0)
    end
    return x
  end
  if s:sub(1, 3) == "\239\187\191" then
    i = 4
  end
  local v = value()
  ws()
  if i <= #s then
    fail("trailing characters")
  end
  return v
end

---Removes JSONC comments and trailing commas (outside strings), for vim.json.decode.
function M.strip_jsonc(s)
  local out, i, n = {}, 1, #s
  local function skip_ws_and_comments(j)
    while j <= n do
      local c2 = s:sub(j, j + 1)
      if s:sub(j, j):match("%s") then
        j = j + 1
      elseif c2 == "//" then
        j = (s:find("\n", j, true) or n + 1)
      elseif c2 == "/*" then
        j = assert(s:find("*/", j + 2, true), "unterminated comment") + 2
      else
        break
      end
    end
    return j
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' then
      local j = i + 1
      while s:sub(j, j) ~= '"' do
        j = j + (s:sub(j, j) == "\\" and 2 or 1)
      end
      out[#out + 1] = s:sub(i, j)
      i = j + 1
    elseif s:sub(i, i + 1) == "//" or s:sub(i, i + 1) == "/*" then
      i = skip_ws_and_comments(i)
    elseif c == "," and s:sub(skip_ws_and_comments(i + 1)):match("^[%]}]") then
      i = i + 1
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

return M
