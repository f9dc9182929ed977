-- types/fscache.lua under a real LuaCATS checker: emmylua_check (EmmyLua analyzer, crates.io;
-- lua-language-server itself is not on any registry reachable here). Correct use of every
-- public function gives no diagnostic; each marked misuse gives the expected one.

local json = require("dkjson")

local CHECKER = os.getenv("EMMYLUA_CHECK") or "emmylua_check"
local ROOT = assert(test_uv.fs_realpath("."))

-- Checks `fixture` in a fresh workspace whose library is types/; returns { [line] = {codes} }.
local function check(fixture)
  local dir = tmpdir()
  write_file(
    dir .. "/.luarc.json",
    json.encode({
      ["runtime.version"] = "LuaJIT",
      ["workspace.library"] = { ROOT .. "/types" },
    })
  )
  assert(sh("cp " .. shell_quote("ecosystem-tests/types/" .. fixture) .. " " .. shell_quote(dir .. "/")))
  local report = dir .. "/report.json"
  local ok, out = sh(("%s -f json --output %s %s"):format(shell_quote(CHECKER), shell_quote(report), shell_quote(dir)))
  local text = read_file(report)
  rm_rf(dir)
  assert(text, "emmylua_check produced no report (is it installed? scripts/ensure-deps.sh installs it):\n" .. out)
  local files = assert(json.decode(text), "unreadable report: " .. text)
  local by_line = {}
  for _, f in ipairs(files) do
    assert.matches(fixture .. "$", f.file)
    for _, d in ipairs(f.diagnostics) do
      local line = d.range.start.line + 1
      by_line[line] = by_line[line] or {}
      table.insert(by_line[line], d.code)
    end
  end
  return by_line, ok
end

describe("types/fscache.lua under emmylua_check", function()
  it("accepts correct use of every public function", function()
    local found = check("usage_ok.lua")
    assert.are.same({}, found)
  end)

  it("the correct-use fixture calls every public function", function()
    local fscache = require("fscache")
    local src = read_file("ecosystem-tests/types/usage_ok.lua")
    local missing = {}
    for name, v in pairs(fscache) do
      if name:sub(1, 1) ~= "_" then
        if type(v) == "function" and not src:find("fscache." .. name .. "(", 1, true) then
          missing[#missing + 1] = "fscache." .. name
        elseif type(v) == "table" and v.new then
          for m, f in pairs(v) do
            local call = (m == "new") and ("fscache." .. name .. ".new(") or (":" .. m .. "(")
            if type(f) == "function" and m:sub(1, 1) ~= "_" and not src:find(call, 1, true) then
              missing[#missing + 1] = name .. call
            end
          end
        end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("reports each marked misuse on its line, and nothing else", function()
    local expected = {}
    local n = 0
    for line in (read_file("ecosystem-tests/types/usage_bad.lua") .. ""):gmatch("([^\n]*)\n") do
      n = n + 1
      local code = line:match("%-%- expect: ([%w%-]+)")
      if code then
        expected[n] = { code }
      end
    end
    assert.is_true(next(expected) ~= nil)
    assert.are.same(expected, (check("usage_bad.lua")))
  end)
end)
