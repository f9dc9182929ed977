-- Sliced JSON conversion (the builder the caches use for large documents): converting a slice at
-- a time, with a garbage collection between slices, gives the same value as the one-shot
-- conversion, on the fixture corpus and on a 3.8 MB package-lock-shaped document.
local fscache = require("fscache")
local J = require("json_util")

local native = fscache._native
local lockfile = dofile(test_uv.cwd() .. "/benches/lib/lockfile.lua")

---Runs a sliced decode to its end with a zero budget (256 members per step); returns the value
---and the number of steps.
local function sliced(text, opts)
  local b, err = native.json_decode_sliced(text, opts)
  assert(b, err)
  local steps = 0
  while true do
    steps = steps + 1
    local done, v = b:step(0)
    if done then
      return v, steps
    end
    -- Partial tables must survive collections between steps (a full one now and then: the
    -- lockfile takes hundreds of steps).
    if steps % 64 == 1 then
      collectgarbage()
    else
      collectgarbage("step")
    end
    assert(steps < 1e6, "no progress")
  end
end

describe("sliced JSON conversion", function()
  it("gives the one-shot value for every valid fixture", function()
    local names = dir_names(J.FIXTURES .. "/valid")
    assert.is_true(#names >= 10)
    for _, name in ipairs(names) do
      local text = J.read(J.FIXTURES .. "/valid/" .. name)
      local one = assert(fscache.json_decode(text, { jsonc = true }))
      local two = sliced(text, { jsonc = true })
      J.assert_same(one, two, name)
    end
  end)

  it("pauses at every depth of 400 nested objects and resumes to the same value", function()
    local parts = {}
    for i = 1, 400 do
      parts[#parts + 1] = ('{"k%d":[%d,"v%d"],"n":'):format(i, i, i)
    end
    local text = table.concat(parts) .. "null" .. ("}"):rep(400)
    local one = assert(fscache.json_decode(text))
    local two, steps = sliced(text)
    assert.is_true(steps > 3, "steps: " .. steps)
    J.assert_same(one, two, "nested")
  end)

  it("builds the 3.8 MB lockfile in many steps, equal to the one-shot value", function()
    local text = lockfile.text()
    assert.is_true(#text > 3.5e6)
    local one = assert(fscache.json_decode(text))
    local two, steps = sliced(text)
    assert.is_true(steps > 100, "steps: " .. steps)
    J.assert_same(one, two, "lockfile")
    local n = 0
    for _ in pairs(two.packages) do
      n = n + 1
    end
    assert.are.equal(lockfile.PACKAGES + 1, n)
    if vim and vim.json then
      J.assert_same(vim.json.decode(text), two, "lockfile vs vim.json.decode")
    end
  end)

  it("a large budget finishes at once; steps after the end are errors", function()
    local b = native.json_decode_sliced('{"a":[1,2,3],"b":{}}')
    local done, v = b:step(1e6)
    assert.is_true(done)
    assert.are.same({ 1, 2, 3 }, v.a)
    local ok, err = pcall(b.step, b, 0)
    assert.is_false(ok)
    assert.matches("already ended", tostring(err))
  end)

  it("reports decode errors like json_decode and rejects bad arguments", function()
    local v, err, code = native.json_decode_sliced("[1,", { path = "x.json" })
    assert.is_nil(v)
    assert.are.equal("EJSON", code)
    assert.matches("^x%.json:1:", err)
    assert.has_error(function()
      native.json_decode_sliced(42)
    end)
    local b = native.json_decode_sliced("[1]")
    local ok, e = pcall(b.step, b, -1)
    assert.is_false(ok)
    assert.matches("budget_ms", tostring(e))
  end)
end)
