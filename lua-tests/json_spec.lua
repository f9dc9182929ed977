-- JSON through FileCache: the fixture corpus (expected values, and vim.json.decode in Neovim),
-- JSONC, exact error messages, reuse of decoded values, JSON writes, {} vs [] and null.
local fscache = require("fscache")
local J = require("json_util")

local N = fscache.null
local O = J.O
local NEG0 = 1 / -math.huge
local VALID = J.FIXTURES .. "/valid/"
local INVALID = J.FIXTURES .. "/invalid/"

-- Expected decoded values of the valid fixtures (jsonc: decode with { jsonc = true }, or the
-- file is .jsonc; check: a function that checks the value instead of (or on top of) `value`).
local CORPUS = {
  ["package.json"] = {
    value = {
      name = "@acme/config-loader",
      version = "2.4.1",
      description = "Loads layered project configuration — JSON and JSONC",
      keywords = { "config", "json", "jsonc", "loader" },
      homepage = "https://example.com/acme/config-loader#readme",
      bugs = { url = "https://example.com/acme/config-loader/issues" },
      license = "MIT",
      author = { name = "Zoë Example", email = "zoe@example.com" },
      type = "module",
      main = "./dist/index.cjs",
      module = "./dist/index.mjs",
      types = "./dist/index.d.ts",
      exports = {
        ["."] = { types = "./dist/index.d.ts", import = "./dist/index.mjs", require = "./dist/index.cjs" },
        ["./package.json"] = "./package.json",
      },
      files = { "dist", "README.md" },
      sideEffects = false,
      engines = { node = ">=18.17" },
      scripts = {
        build = "tsup src/index.ts --format esm,cjs --dts",
        test = "vitest run",
        lint = "eslint . --max-warnings=0",
        prepublishOnly = "npm run build && npm test",
      },
      dependencies = { ["jsonc-parser"] = "^3.2.0", semver = "~7.6.0" },
      devDependencies = {
        ["@types/node"] = "^20.11.5",
        eslint = "^8.56.0",
        tsup = "^8.0.1",
        typescript = "5.3.3",
        vitest = "^1.2.1",
      },
      peerDependencies = O({}),
      optionalDependencies = O({}),
      bundledDependencies = {},
      publishConfig = { access = "public", provenance = true },
      funding = N,
      private = false,
      workspaces = {},
      config = { port = 8080, retries = 3, timeoutSeconds = 2.5 },
    },
  },
  ["tsconfig.json"] = {
    jsonc = true,
    value = {
      ["$schema"] = "https://json.schemastore.org/tsconfig",
      extends = "./tsconfig.base.json",
      compilerOptions = {
        target = "ES2022",
        lib = { "ES2022", "DOM", "DOM.Iterable" },
        module = "NodeNext",
        moduleResolution = "NodeNext",
        strict = true,
        noUncheckedIndexedAccess = true,
        exactOptionalPropertyTypes = false,
        baseUrl = ".",
        paths = { ["@/*"] = { "src/*" }, ["@test/*"] = { "test/*" } },
        outDir = "dist",
        rootDir = "src",
        declaration = true,
        sourceMap = true,
        types = {},
        plugins = { { name = "typescript-plugin-css-modules" } },
      },
      include = { "src/**/*.ts", "test/**/*.ts" },
      exclude = { "node_modules", "dist", "**/*.spec.ts//not-a-comment" },
      references = { { path = "./packages/core" }, { path = "./packages/cli" } },
    },
  },
  [".luarc.json"] = {
    value = {
      ["$schema"] = "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
      ["runtime.version"] = "LuaJIT",
      ["runtime.path"] = { "lua/?.lua", "lua/?/init.lua" },
      ["workspace.library"] = { "${3rd}/luv/library", "${3rd}/busted/library", "$VIMRUNTIME/lua" },
      ["workspace.checkThirdParty"] = false,
      ["workspace.maxPreload"] = 5000,
      ["diagnostics.globals"] = { "vim", "describe", "it", "before_each", "after_each" },
      ["diagnostics.disable"] = {},
      ["diagnostics.severity"] = { ["undefined-global"] = "Error", ["unused-local"] = "Hint" },
      ["completion.callSnippet"] = "Replace",
      ["hint.enable"] = true,
      ["format.defaultConfig"] = { indent_style = "space", indent_size = "2", quote_style = "double" },
      ["telemetry.enable"] = N,
    },
  },
  ["vscode-settings.jsonc"] = {
    value = {
      ["editor.fontFamily"] = "'JetBrains Mono', Consolas, monospace",
      ["editor.fontSize"] = 14,
      ["editor.lineHeight"] = 1.6,
      ["editor.rulers"] = { 80, 100, 120 },
      ["editor.formatOnSave"] = true,
      ["editor.codeActionsOnSave"] = { ["source.organizeImports"] = "explicit", ["source.fixAll.eslint"] = "explicit" },
      ["files.exclude"] = {
        ["**/.git"] = true,
        ["**/node_modules"] = true,
        ["**/*.{js,map}"] = { when = "$(basename).ts" },
      },
      ["files.associations"] = { ["*.jsonc"] = "jsonc", [".luarc.json"] = "jsonc" },
      ["search.exclude"] = O({}),
      ["terminal.integrated.env.linux"] = { PAGER = "less -R", EDITOR = N },
      ["workbench.colorCustomizations"] = { ["[Default Dark+]"] = { ["editor.background"] = "#1e1e1e" } },
      ["[lua]"] = { ["editor.tabSize"] = 2, ["editor.defaultFormatter"] = "sumneko.lua" },
      ["url.with.slashes"] = "https://example.com//path/*not a comment*/",
      ["cSpell.words"] = { "fscache", "jsonc", "luajit" },
      ["workbench.startupEditor"] = "none",
    },
  },
  ["unicode.json"] = {
    value = {
      ["ascii escapes"] = 'quote " backslash \\ slash / tab\tnewline\ncr\rbackspace\bformfeed\f',
      latin = "caf\195\169 = caf\195\169",
      cjk = "日本語 日本語",
      ["emoji pair"] = "\240\159\152\128",
      ["emoji raw"] = "\240\159\152\128",
      ["upper-case pair"] = "\240\157\132\158 clef",
      ["nul inside"] = "a\0b",
      ["nul alone"] = "\0",
      ["bmp edges"] = "\194\128\223\191\224\160\128\239\191\191",
      ["line separators"] = "\226\128\168\226\128\169",
      control = "\1\31\127",
      ["key escaped"] = "key spelled with escapes",
      ["ключ"] = "кириллица",
      [""] = "empty key",
      mixed = { "\195\169", "\195\169", "e\204\129" },
    },
  },
  ["numbers.json"] = {
    value = {
      zero = 0,
      ["negative zero"] = NEG0,
      ["negative zero float"] = NEG0,
      one = 1,
      ["minus one"] = -1,
      -- Literals as the Lua lexer reads them: the nearest double on LuaJIT / 5.1, an exact
      -- integer within the i64 range on 5.4 (fscache's convention on each).
      ["2^53"] = 9007199254740992,
      ["2^53+1"] = 9007199254740993,
      ["-(2^53+1)"] = -9007199254740993,
      ["i64 max"] = 9223372036854775807,
      ["i64 min"] = -9223372036854775808,
      ["2^64"] = 18446744073709551616,
      ["30 digits"] = 123456789012345678901234567890,
      ["max finite-ish"] = 1e308,
      ["dbl max"] = 1.7976931348623157e308,
      tiny = 1.5e-300,
      ["min normal"] = 2.2250738585072014e-308,
      ["min subnormal"] = 5e-324,
      ["underflow to zero"] = 0,
      ["exponent forms"] = { 100, 100, 0.01, 0.0025, -10 },
      fractions = { 0.1, 0.2, 0.30000000000000004, 3.141592653589793, -2.718281828459045 },
      ["integral floats"] = { 1, 100, 5 },
      ["array of ints"] = { 1, 2, 3, 4, 5 },
    },
  },
  ["empty-containers.json"] = {
    value = {
      object = O({}),
      array = {},
      ["array of empty object"] = { O({}) },
      ["array of empty array"] = { {} },
      nested = { inner = O({}), list = {}, deeper = { x = { O({}), {}, { y = O({}) } } } },
      mixed = { O({}), {}, O({}), {} },
      ["whitespace inside"] = O({}),
      ["newline inside"] = {},
    },
  },
  ["empty-object.json"] = { value = O({}) },
  ["empty-array.json"] = { value = {} },
  ["top-null.json"] = { value = N },
  ["top-string.json"] = { value = "just a string" },
  ["top-number.json"] = { value = -125 },
  ["nulls.json"] = {
    value = { a = N, list = { N, 1, N, "x", N }, nested = { b = N, c = { N } }, last = N },
  },
  -- Duplicate keys: the last one wins, whole (objects are not merged), as in vim.json.decode.
  ["duplicate-keys.json"] = {
    value = { name = "second", nested = { k = 2 }, list = { 2, 3 }, obj = { b = 2 } },
  },
  ["bom.json"] = { value = { bom = true, list = { 1, 2 } } },
  ["deep-300.json"] = {
    check = function(v)
      local t = v
      for i = 1, 300 do
        if i % 2 == 1 then
          local k = next(t)
          assert.are.equal("d" .. i, k)
          assert.is_nil(next(t, k))
          t = t[k]
        else
          assert.are.equal(1, #t)
          t = t[1]
        end
      end
      assert.are.equal("bottom", t)
    end,
  },
  ["large-extension.json"] = {
    check = function(v)
      local c = v.contributes
      assert.are.equal(42, #c.commands)
      local props = 0
      for _ in pairs(c.configuration.properties) do
        props = props + 1
      end
      assert.are.equal(36, props)
      assert.are.equal("projectConfig.explorer.refresh", c.commands[1].command)
      assert.are.equal(N, c.commands[1].icon)
      assert.are.equal("$(reveal)", c.commands[3].icon)
      local p = c.configuration.properties["projectConfig.debug.overrides"]
      assert.are.equal(J.dict_mt, getmetatable(p.default))
      assert.are.same(
        { "**/node_modules/**", "**/.git/**" },
        c.configuration.properties["projectConfig.git.exclude"].default
      )
      assert.are.equal(75, c.configuration.properties["projectConfig.debug.debounceMs"].default)
      assert.are.same({}, c.menus["view/title"])
      assert.is_nil(getmetatable(c.menus["view/title"]))
      assert.truthy(v.description:find("naïve", 1, true))
      assert.are.equal(N, v.icon)
    end,
  },
}

-- Invalid fixtures: the exact "<line>:<column>: <reason>" (after "<path>:"), and the byte at
-- that line and column (checked independently of the decoder: the position is right).
local BROKEN = {
  ["truncated.json"] = { "3:17: EOF while parsing a value", "\n" },
  ["trailing-garbage.json"] = { "2:1: trailing characters", "{" },
  ["bad-escape.json"] = { "2:15: invalid escape", "U" },
  ["comment-strict.json"] = { "2:3: key must be a string", "/" },
  ["trailing-comma.json"] = { "2:17: trailing comma", "]" },
  ["unterminated-comment.jsonc"] = { "3:3: unterminated block comment", "/" },
  ["lone-surrogate.json"] = { "1:15: unexpected end of hex escape", "x" },
  ["invalid-utf8.json"] = { "1:14: invalid unicode code point", "\195" },
  ["empty.json"] = { "1:1: empty document (no JSON value)" },
  ["whitespace-only.json"] = { "1:1: empty document (no JSON value)", " " },
  ["overflow.json"] = { "2:14: number out of range", "0" },
  ["single-quotes.json"] = { "1:3: key must be a string", "'" },
  ["control-char.json"] = { "1:11: control character (\\u0000-\\u001F) found while parsing a string", "\t" },
  ["unclosed-string.json"] = { "1:11: control character (\\u0000-\\u001F) found while parsing a string", "\n" },
  ["nan.json"] = { "1:8: expected value", "N" },
  ["double-comma.jsonc"] = { "2:4: expected value", "," },
  ["missing-comma.json"] = { "1:9: expected `,` or `}`", '"' },
  ["deep-513.json"] = { "1:513: nesting deeper than 512 arrays/objects", "[" },
}

local function byte_at(text, line, col)
  local l = 1
  for start, s in text:gmatch("()([^\n]*\n?)") do
    if l == line then
      return text:sub(start + col - 1, start + col - 1)
    end
    l = l + 1
    if s == "" then
      break
    end
  end
end

local function opts_for(name)
  return CORPUS[name].jsonc and { jsonc = true } or nil
end

local function check_value(name, v)
  local c = CORPUS[name]
  if c.value ~= nil then
    J.assert_same(v, c.value, name)
  end
  if c.check then
    c.check(v)
  end
end

-- Known, intended differences from vim.json.decode, as J.diffs reports them (fscache vs vim).
local VIM_DIFFS = {
  ["numbers.json"] = {
    -- vim.json.decode clamps integer literals beyond the i64 range to 2^63; we keep the
    -- nearest double.
    '$["2^64"]: 1.8446744073709552e+19 vs 9.2233720368547758e+18',
    '$["30 digits"]: 1.2345678901234568e+29 vs 9.2233720368547758e+18',
    -- vim.json.decode reads the integer literal -0 as 0; we keep IEEE -0.
    '$["negative zero"]: -0 vs 0',
  },
}

local function list_dir(dir)
  local names = {}
  for _, n in ipairs(dir_names(dir)) do
    names[n] = true
  end
  return names
end

describe("JSON corpus", function()
  local files
  before_each(function()
    files = fscache.FileCache.new()
  end)

  it("has an expectation for every fixture file, and a fixture for every expectation", function()
    local v, b = list_dir(VALID), list_dir(INVALID)
    for name in pairs(CORPUS) do
      assert.is_true(v[name] or false, "missing fixture valid/" .. name)
    end
    for name in pairs(v) do
      assert.is_truthy(CORPUS[name], "no expectation for valid/" .. name)
    end
    for name in pairs(BROKEN) do
      assert.is_true(b[name] or false, "missing fixture invalid/" .. name)
    end
    for name in pairs(b) do
      assert.is_truthy(BROKEN[name], "no expectation for invalid/" .. name)
    end
  end)

  it("the large fixture is about 20 KiB and the deep one 300 levels", function()
    local n = #J.read(VALID .. "large-extension.json")
    assert.is_true(n > 18 * 1024 and n < 24 * 1024, tostring(n))
    local deep = J.read(VALID .. "deep-300.json")
    assert.are.equal(300, select(2, deep:gsub("[%[{]", "")))
  end)

  for name in pairs(CORPUS) do
    it("decodes " .. name .. " to the expected value (sync, callback and async agree)", function()
      local path = VALID .. name
      local v1, err = files:get_json_sync(path, opts_for(name))
      assert.is_nil(err)
      check_value(name, v1)
      -- A fresh cache each time so every form really decodes.
      local got = callback_results(fscache.FileCache.new(), "get_json", path, opts_for(name))
      assert.is_nil(got[2])
      J.assert_same(got[1], v1, name .. " (callback)")
      local v3 = run_async(function()
        return fscache.FileCache.new():get_json_async(path, opts_for(name))
      end)
      J.assert_same(v3, v1, name .. " (async)")
      local jsonc = CORPUS[name].jsonc or name:match("%.jsonc$") ~= nil
      J.assert_same(fscache.json_decode(J.read(path), { jsonc = jsonc }), v1, name .. " (json_decode)")
    end)
  end

  if not in_nvim then
    it("agrees with an independent reference reader on every strict fixture (LuaJIT)", function()
      for name, c in pairs(CORPUS) do
        if not (c.jsonc or name:match("%.jsonc$")) then
          local text = J.read(VALID .. name)
          J.assert_same(files:get_json_sync(VALID .. name), J.ref_decode(text), name)
        end
      end
      -- and on the JSONC ones once comments and trailing commas are stripped
      for _, name in ipairs({ "tsconfig.json", "vscode-settings.jsonc" }) do
        local text = J.strip_jsonc(J.read(VALID .. name))
        J.assert_same(files:get_json_sync(VALID .. name, { jsonc = true }), J.ref_decode(text), name)
      end
    end)
  end

  if in_nvim then
    it("matches vim.json.decode on the whole corpus, except the documented differences", function()
      for name, c in pairs(CORPUS) do
        local text = J.read(VALID .. name)
        if c.jsonc or name:match("%.jsonc$") then
          text = J.strip_jsonc(text)
        end
        if name == "bom.json" then
          -- vim.json.decode rejects a UTF-8 BOM; we skip it (intended: editors write them).
          assert.is_false(pcall(vim.json.decode, text))
          text = text:sub(4)
        end
        local ours = assert(files:get_json_sync(VALID .. name, opts_for(name)))
        local d = J.diffs(ours, vim.json.decode(text))
        table.sort(d)
        local want = VIM_DIFFS[name] or {}
        table.sort(want)
        assert.are.same(want, d, name)
      end
    end)

    it("decodes {} with vim.empty_dict()'s marker and null as vim.NIL, like vim.json", function()
      local v = assert(files:get_json_sync(VALID .. "empty-containers.json"))
      local mt = getmetatable(vim.empty_dict())
      assert.are.equal(mt, getmetatable(v.object))
      assert.are.equal(mt, getmetatable(vim.json.decode("{}")))
      assert.is_nil(getmetatable(v.array))
      assert.are.equal(vim.NIL, fscache.null)
      assert.are.equal(vim.NIL, assert(files:get_json_sync(VALID .. "nulls.json")).a)
    end)

    it("interoperates with vim.json.encode both ways", function()
      for _, name in ipairs({
        "empty-containers.json",
        "nulls.json",
        "package.json",
        "unicode.json",
        "large-extension.json",
      }) do
        local ours = assert(files:get_json_sync(VALID .. name))
        -- vim.json.encode of our value decodes (by both) to the same value
        local s = vim.json.encode(ours)
        J.assert_same(vim.json.decode(s), ours, name .. " via vim.json.encode")
        J.assert_same(assert(fscache.json_decode(s)), ours, name .. " via vim.json.encode")
        -- our encoder writes vim.json.decode's value exactly as it writes ours
        assert.are.equal(fscache.json_encode(ours), fscache.json_encode(vim.json.decode(J.read(VALID .. name))))
      end
      assert.are.equal('{"a":{},"b":[],"c":null}', fscache.json_encode({ a = vim.empty_dict(), b = {}, c = vim.NIL }))
    end)
  end
end)

describe("JSONC", function()
  local files, dir
  before_each(function()
    files = fscache.FileCache.new()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("is an error in a .json file without the option, at the first comment", function()
    local p = VALID .. "tsconfig.json"
    local v, err, code = files:get_json_sync(p)
    assert.is_nil(v)
    assert.are.equal(p .. ":2:3: key must be a string", err)
    assert.are.equal("EJSON", code)
    -- with the option, the same path decodes (a new parse, not the failure)
    check_value("tsconfig.json", assert(files:get_json_sync(p, { jsonc = true })))
  end)

  it("is automatic for .jsonc (any case), even with jsonc = false", function()
    local text = J.read(VALID .. "vscode-settings.jsonc")
    for _, name in ipairs({ "a.jsonc", "b.JSONC", "c.JsonC" }) do
      write_file(dir .. "/" .. name, text)
      check_value("vscode-settings.jsonc", assert(files:get_json_sync(dir .. "/" .. name)))
      check_value("vscode-settings.jsonc", assert(files:get_json_sync(dir .. "/" .. name, { jsonc = false })))
    end
    -- but a .json file with the same text is strict
    write_file(dir .. "/settings.json", text)
    local v, err = files:get_json_sync(dir .. "/settings.json")
    assert.is_nil(v)
    assert.are.equal(dir .. "/settings.json:2:3: key must be a string", err)
  end)

  it("accepts comments and trailing commas by option in the callback and async forms", function()
    for _, name in ipairs({ "comment-strict.json", "trailing-comma.json" }) do
      local want = name == "comment-strict.json" and { a = 1 } or { list = { 1, 2 } }
      J.assert_same(callback_results(files, "get_json", INVALID .. name, { jsonc = true })[1], want, name)
      J.assert_same(
        run_async(function()
          return fscache.FileCache.new():get_json_async(INVALID .. name, { jsonc = true })
        end),
        want,
        name
      )
    end
  end)

  it("a strict get after a JSONC get of the same file is not served the JSONC parse", function()
    local p = INVALID .. "comment-strict.json"
    assert.is_table(files:get_json_sync(p, { jsonc = true }))
    local v, err, code = files:get_json_sync(p)
    assert.is_nil(v)
    assert.are.equal(p .. ":2:3: key must be a string", err)
    assert.are.equal("EJSON", code)
    assert.is_table(files:get_json_sync(p, { jsonc = true }))
  end)

  it("keeps comment-like text inside strings and reports positions in the original text", function()
    local p = dir .. "/c.jsonc"
    write_file(p, '{\n  /* one\n  two */ "a": "x//y/*z*/", // tail\n  "b": [1, 2,], "c" 3\n}\n')
    local v, err, code = files:get_json_sync(p)
    assert.is_nil(v)
    assert.are.equal(p .. ":4:21: expected `:`", err)
    assert.are.equal("EJSON", code)
    write_file(p, '{\n  /* one\n  two */ "a": "x//y/*z*/", // tail\n  "b": [1, 2,],\n}\n')
    J.assert_same(assert(files:get_json_sync(p)), { a = "x//y/*z*/", b = { 1, 2 } })
  end)

  it("rejects bad jsonc options as Lua errors", function()
    local ok, err = pcall(files.get_json_sync, files, VALID .. "package.json", { jsonc = "yes" })
    assert.is_false(ok)
    assert.truthy(
      tostring(err):find("bad option 'jsonc' to 'get_json_sync' (boolean expected, got string \"yes\")", 1, true)
    )
    ok, err = pcall(files.get_json, files, VALID .. "package.json", 1, function() end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("bad argument #2 to 'get_json' (options: table or nil expected, got", 1, true))
  end)
end)

describe("JSON errors", function()
  local files
  before_each(function()
    files = fscache.FileCache.new()
  end)

  for name, want in pairs(BROKEN) do
    it("invalid/" .. name .. " -> nil, '<path>:" .. want[1] .. "', 'EJSON' in every form", function()
      local path = INVALID .. name
      local expected = path .. ":" .. want[1]
      -- the position is where the fixture really is broken
      if want[2] then
        local line, col = want[1]:match("^(%d+):(%d+):")
        assert.are.equal(want[2], byte_at(J.read(path), tonumber(line), tonumber(col)))
      end
      local function check(n, v, err, code)
        assert.are.equal(3, n)
        assert.is_nil(v)
        assert.are.equal(expected, err)
        assert.are.equal("EJSON", code)
      end
      check(select("#", files:get_json_sync(path)), files:get_json_sync(path))
      local got = callback_results(fscache.FileCache.new(), "get_json", path, nil)
      check(got.n, got[1], got[2], got[3])
      local r = run_async(function()
        return pack(fscache.FileCache.new():get_json_async(path))
      end)
      check(r.n, r[1], r[2], r[3])
      -- same message from fscache.json_decode given the path
      local v, err, code = fscache.json_decode(J.read(path), { path = path, jsonc = name:match("%.jsonc$") ~= nil })
      assert.is_nil(v)
      assert.are.equal(expected, err)
      assert.are.equal("EJSON", code)
    end)
  end

  it("counts BOM bytes in line-1 columns only", function()
    local dir = tmpdir()
    local p = dir .. "/bom.json"
    write_file(p, "\239\187\191[1,]")
    local _, err = files:get_json_sync(p)
    assert.are.equal(p .. ":1:7: trailing comma", err)
    write_file(p, "\239\187\191[\n1,]")
    _, err = files:get_json_sync(p)
    assert.are.equal(p .. ":2:3: trailing comma", err)
    rm_rf(dir)
  end)

  it("accepts exactly 512 levels (arrays and objects) and fails at 513", function()
    local dir = tmpdir()
    local p = dir .. "/d.json"
    write_file(p, string.rep('{"a":', 511) .. "[1]" .. string.rep("}", 511))
    local v = assert(files:get_json_sync(p))
    for _ = 1, 511 do
      v = v.a
    end
    assert.are.same({ 1 }, v)
    write_file(p, string.rep('{"a":', 512) .. "[1]" .. string.rep("}", 512))
    local _, err, code = files:get_json_sync(p)
    -- the 513th container is the `[` after 512 `{"a":` (5 bytes each)
    assert.are.equal(p .. ":1:2561: nesting deeper than 512 arrays/objects", err)
    assert.are.equal("EJSON", code)
    rm_rf(dir)
  end)

  it("never serves stale JSON: valid -> invalid -> valid", function()
    local dir = tmpdir()
    local p = dir .. "/x.json"
    write_file(p, '{"v": 1}')
    local v1 = assert(files:get_json_sync(p))
    assert.are.equal(1, v1.v)
    write_file(p, '{"v": 2')
    local v, err, code = run_async(function()
      return files:get_json_async(p)
    end)
    assert.is_nil(v)
    assert.are.equal(p .. ":1:7: EOF while parsing an object", err)
    assert.are.equal("EJSON", code)
    -- the entry now holds the new bytes and no JSON
    local e = assert(files:get_sync(p))
    assert.are.equal('{"v": 2', e.content)
    assert.is_nil(e.json)
    write_file(p, '{"v": 3}')
    assert.are.equal(3, assert(files:get_json_sync(p)).v)
    rm_rf(dir)
  end)
end)

describe("decoded JSON in the cache", function()
  local files, dir
  before_each(function()
    files = fscache.FileCache.new()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local function copy_fixture(name)
    local p = dir .. "/" .. name
    write_file(p, J.read(VALID .. name))
    return p
  end

  it("returns the same table for an unchanged file, without parsing again", function()
    local p = copy_fixture("package.json")
    sleep_past_racy_window() -- validation by stat alone
    local v1 = assert(files:get_json_sync(p))
    assert.are.equal(1, files:stats().parses)
    local v2 = run_async(function()
      return files:get_json_async(p)
    end)
    local v3 = callback_results(files, "get_json", p)[1]
    assert.are.equal(v1, v2)
    assert.are.equal(v1, v3)
    assert.are.equal(v1, files:get_json_sync(p))
    local s = files:stats()
    assert.are.equal(1, s.parses)
    assert.are.equal(1, s.reads)
    assert.are.equal(3, s.hits)
  end)

  it("returns the same table inside the racy window too (content re-check, no parse)", function()
    local p = copy_fixture("large-extension.json")
    local v1 = assert(files:get_json_sync(p))
    for _ = 1, 5 do
      assert.are.equal(v1, files:get_json_sync(p))
    end
    assert.are.equal(1, files:stats().parses)
  end)

  it("coalesces concurrent cold get_json calls into one parse", function()
    local p = copy_fixture("large-extension.json")
    local got = {}
    for i = 1, 50 do
      fscache.run(function()
        got[i] = files:get_json_async(p)
      end)
    end
    assert.is_true(wait_until(function()
      return #got == 50
    end))
    for i = 2, 50 do
      assert.are.equal(got[1], got[i])
    end
    assert.are.equal(1, files:stats().parses)
  end)

  it("re-parses after an edit within the same second that keeps the size; the old JSON is gone", function()
    local p = dir .. "/cfg.json"
    write_file(p, '{"jobs": 4}')
    local v1 = assert(files:get_json_sync(p))
    local st = test_uv.fs_stat(p)
    write_file(p, '{"jobs": 8}')
    set_mtime(p, st.mtime.sec, st.mtime.nsec) -- same size, same mtime: only ctime and content differ
    sleep_past_racy_window()
    local v2 = run_async(function()
      return files:get_json_async(p)
    end)
    assert.are_not.equal(v1, v2)
    assert.are.equal(4, v1.jobs) -- what callers already hold is not mutated
    assert.are.equal(8, v2.jobs)
    assert.are.equal(2, files:stats().parses)
    local e = assert(files:get_sync(p))
    assert.are.equal(v2, e.json)
    assert.are.equal('{"jobs": 8}', e.content)
    assert.are.equal(1, files:stats().entries)
  end)

  it("a plain get after get_json has entry.json; get_json after a plain get parses once", function()
    local p = copy_fixture("nulls.json")
    local v = assert(files:get_json_sync(p))
    local e = assert(files:get_sync(p))
    assert.are.equal(v, e.json)
    assert.are.equal(J.read(p), e.content)
    local q = copy_fixture("numbers.json")
    local plain = assert(files:get_sync(q))
    assert.is_nil(plain.json)
    local parses = files:stats().parses
    local nv = assert(files:get_json_sync(q))
    assert.are.equal(parses + 1, files:stats().parses)
    assert.are.equal(nv, assert(files:get_sync(q)).json)
    assert.are.equal(nv, files:get_json_sync(q))
    assert.are.equal(parses + 1, files:stats().parses)
  end)

  it("returns null (not nil) for a file that holds null, and caches it", function()
    local p = copy_fixture("top-null.json")
    local n = select("#", files:get_json_sync(p))
    assert.are.equal(1, n)
    assert.are.equal(fscache.null, files:get_json_sync(p))
    assert.are.equal(fscache.null, assert(files:get_sync(p)).json)
  end)
end)

describe("JSON writes", function()
  local files, dir
  before_each(function()
    files = fscache.FileCache.new()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  local value = {
    zeta = { 3, 2, 1 },
    alpha = { nested = { b = true, a = fscache.null }, empty_obj = fscache.empty_object(), empty_arr = {} },
    ["Mixed Case"] = "é",
    num = 2.5,
  }
  local pretty = table.concat({
    "{",
    '  "Mixed Case": "é",',
    '  "alpha": {',
    '    "empty_arr": [],',
    '    "empty_obj": {},',
    '    "nested": {',
    '      "a": null,',
    '      "b": true',
    "    }",
    "  },",
    '  "num": 2.5,',
    '  "zeta": [',
    "    3,",
    "    2,",
    "    1",
    "  ]",
    "}",
    "",
  }, "\n")

  it("write_async { json, indent = 2 } writes sorted keys and a trailing newline", function()
    local p = dir .. "/out.json"
    local ok, err, code = run_async(function()
      return files:write_async(p, { json = value, indent = 2 })
    end)
    assert.are.same({ true, nil, nil }, { ok, err, code })
    assert.are.equal(pretty, read_file(p))
    assert.are.same({ "out.json" }, dir_names(dir)) -- no temp file left
  end)

  it("get_json after a JSON write is served from what was written (a hit, no parse)", function()
    local p = dir .. "/out.json"
    assert(run_async(function()
      return files:write_async(p, { json = value, indent = 2 })
    end))
    local s0 = files:stats()
    local v = assert(files:get_json_sync(p))
    J.assert_same(v, value)
    assert.are_not.equal(value, v) -- a decode of the bytes, not the caller's table
    local s1 = files:stats()
    assert.are.equal(s0.parses, s1.parses)
    assert.are.equal(s0.hits + 1, s1.hits)
    -- and a plain get sees the written bytes with the same json
    local e = assert(files:get_sync(p))
    assert.are.equal(pretty, e.content)
    assert.are.equal(v, e.json)
    sleep_past_racy_window()
    assert.are.equal(v, files:get_json_sync(p))
    assert.are.equal(s0.parses, files:stats().parses)
  end)

  it("write_sync and write (callback) write the same bytes; compact without indent", function()
    local p1, p2 = dir .. "/a.json", dir .. "/b.json"
    assert.is_true(files:write_sync(p1, { json = value, indent = 2 }))
    local done = callback_results(files, "write", p2, { json = value })
    assert.are.same({ true }, { done[1], done[2] })
    assert.are.equal(pretty, read_file(p1))
    assert.are.equal(
      '{"Mixed Case":"é","alpha":{"empty_arr":[],"empty_obj":{},"nested":{"a":null,"b":true}},"num":2.5,"zeta":[3,2,1]}',
      read_file(p2)
    )
    J.assert_same(assert(files:get_json_sync(p2)), value)
  end)

  it("a JSON write replaces the cached json of the path", function()
    local p = dir .. "/cfg.json"
    write_file(p, '{"old": true}')
    local old = assert(files:get_json_sync(p))
    assert(run_async(function()
      return files:write_async(p, { json = { new = true }, indent = 2 })
    end))
    local new = assert(files:get_json_sync(p))
    assert.are_not.equal(old, new)
    J.assert_same(new, { new = true })
    assert.is_nil(new.old)
  end)

  local cyclic = { name = "c" }
  cyclic.self = cyclic
  local BAD = {
    { "a function", { cb = print }, "$.cb: cannot encode a function" },
    { "a cycle", { list = { cyclic } }, "$.list[1].self: cycle: table contains itself" },
    { "mixed keys", { t = { 1, 2, x = 3 } }, '$.t: table mixes array indices and string keys (e.g. [1] and "x")' },
    { "a sparse array", { s = { [1] = 1, [3] = 3 } }, "$.s: sparse array: index 3 but only 2 element(s)" },
    { "NaN", { n = { 1, 0 / 0 } }, "$.n[2]: cannot encode NaN" },
    { "infinity", { i = math.huge }, "$.i: cannot encode inf (JSON has no infinity)" },
    { "a boolean key", { [true] = 1 }, "$: unsupported key type boolean (keys must be strings or array indices)" },
    { "invalid UTF-8", { s = "\255" }, "$.s: string is not valid UTF-8" },
    { "a coroutine", { co = coroutine.create(function() end) }, "$.co: cannot encode a thread" },
  }

  for _, case in ipairs(BAD) do
    it("refuses " .. case[1] .. ": nil, message, 'EJSON', file untouched, no temp file", function()
      local p = dir .. "/keep.json"
      local original = '{ "keep": "these bytes" }\n'
      write_file(p, original)
      local st0 = test_uv.fs_stat(p)
      local cached = assert(files:get_json_sync(p))
      local errors0 = files:stats().errors

      local r = run_async(function()
        return pack(files:write_async(p, { json = case[2], indent = 2 }))
      end)
      assert.are.same({ nil, case[3], "EJSON", n = 3 }, r)
      assert.are.same({ nil, case[3], "EJSON" }, { files:write_sync(p, { json = case[2] }) })
      local got = callback_results(files, "write", p, { json = case[2] })
      assert.are.same({ nil, case[3], "EJSON", n = 3 }, got)

      assert.are.equal(original, read_file(p))
      local st1 = test_uv.fs_stat(p)
      assert.are.equal(st0.ino, st1.ino)
      assert.are.equal(st0.mtime.sec, st1.mtime.sec)
      assert.are.equal(st0.mtime.nsec, st1.mtime.nsec)
      assert.are.same({ "keep.json" }, dir_names(dir))
      assert.are.equal(cached, files:get_json_sync(p)) -- the cache still holds the file
      assert.are.equal(errors0 + 3, files:stats().errors)
      -- a path that does not exist is not created
      assert.are.same({ nil, case[3], "EJSON" }, { files:write_sync(dir .. "/new.json", { json = case[2] }) })
      assert.are.same({ "keep.json" }, dir_names(dir))
    end)
  end
end)

describe("{} vs [] and null", function()
  it("round-trip decode -> encode for every fixture (encode is stable and loses nothing)", function()
    local files = fscache.FileCache.new()
    for name in pairs(CORPUS) do
      local v = assert(files:get_json_sync(VALID .. name, opts_for(name)))
      local s = assert(fscache.json_encode(v))
      local back = assert(fscache.json_decode(s))
      J.assert_same(back, v, name)
      assert.are.equal(s, fscache.json_encode(back), name)
      local pretty = assert(fscache.json_encode(v, { indent = 2 }))
      J.assert_same(assert(fscache.json_decode(pretty)), v, name .. " (indented)")
    end
  end)

  it("keeps {} and [] apart at every depth", function()
    local text = '{"a":{},"b":[],"c":[{},[],[{}]],"d":{"e":{},"f":[[]]}}'
    assert.are.equal(text, fscache.json_encode(assert(fscache.json_decode(text))))
    assert.are.equal("{}", fscache.json_encode(assert(fscache.json_decode("{}"))))
    assert.are.equal("[]", fscache.json_encode(assert(fscache.json_decode("[]"))))
    assert.are.equal("{}", fscache.json_encode(fscache.empty_object()))
    assert.are.equal("[]", fscache.json_encode({}))
  end)

  it("numbers round-trip as the doubles they decoded to", function()
    local v = assert(fscache.json_decode(J.read(VALID .. "numbers.json")))
    local function enc(k)
      return fscache.json_encode(v[k])
    end
    -- Lua 5.4 keeps i64 integers exact; LuaJIT and 5.1 have the nearest double
    assert.are.equal(math.type and "9007199254740993" or "9007199254740992", enc("2^53+1"))
    assert.are.equal("-0", enc("negative zero"))
    assert.are.equal("0", enc("zero"))
    assert.are.equal("1e+308", enc("max finite-ish"))
    assert.are.equal("1.5e-300", enc("tiny"))
    assert.are.equal("5e-324", enc("min subnormal"))
    assert.are.equal("[0.1,0.2,0.30000000000000004,3.141592653589793,-2.718281828459045]", enc("fractions"))
    assert.are.equal("[1,100,5]", enc("integral floats"))
  end)

  it("null decodes to fscache.null and every null value encodes as null", function()
    local v = assert(fscache.json_decode('[null, {"a": null}]'))
    assert.are.equal(fscache.null, v[1])
    assert.are.equal(fscache.null, v[2].a)
    assert.are.equal(2, #v) -- null keeps its array slot
    if in_nvim then
      assert.are.equal(vim.NIL, fscache.null)
      assert.are.equal("[null,null]", vim.json.encode({ v[1], v[2].a }))
    else
      assert.are.equal("userdata", type(fscache.null))
    end
    assert.are.equal("[null,null,null]", fscache.json_encode({ fscache.null, v[1], fscache._native.null }))
    assert.are.equal('{"a":null}', fscache.json_encode(v[2]))
  end)
end)
