-- A minimal stand-in for plenary.nvim's busted-style harness (plenary is not installable here):
-- the same shape — global describe / it / before_each / after_each / pending, each `it` run in
-- a pcall in order, a "Success / Failed / Errors" summary and a non-zero exit on failure — run as
-- `nvim -l ecosystem-tests/support/plenary_harness.lua <spec>`. Written for these tests, not copied.
local spec = assert(arg[1], "usage: nvim -l plenary_harness.lua SPEC")
local stack, tests = {}, {}
local befores, afters = {}, {}

function _G.describe(name, fn)
  stack[#stack + 1] = name
  befores[#stack], afters[#stack] = {}, {}
  fn()
  befores[#stack], afters[#stack] = nil, nil
  stack[#stack] = nil
end

function _G.it(name, fn)
  local hooks_before, hooks_after = {}, {}
  for i = 1, #stack do
    for _, h in ipairs(befores[i] or {}) do
      hooks_before[#hooks_before + 1] = h
    end
    for _, h in ipairs(afters[i] or {}) do
      hooks_after[#hooks_after + 1] = h
    end
  end
  tests[#tests + 1] =
    { name = table.concat(stack, " ") .. " " .. name, fn = fn, before = hooks_before, after = hooks_after }
end

function _G.before_each(fn)
  table.insert(befores[#stack], fn)
end

function _G.after_each(fn)
  table.insert(afters[#stack], fn)
end

function _G.pending() end

assert(loadfile(spec))()
local passed, failed = 0, 0
for _, case in ipairs(tests) do
  local ok, err = pcall(function()
    for _, h in ipairs(case.before) do
      h()
    end
    case.fn()
    for _, h in ipairs(case.after) do
      h()
    end
  end)
  if ok then
    passed = passed + 1
    print("Success: " .. case.name)
  else
    failed = failed + 1
    print("Fail: " .. case.name .. "\n" .. tostring(err))
  end
end
print(("Success: %d\nFailed : %d\nErrors : 0"):format(passed, failed))
io.stdout:flush()
os.exit(failed == 0 and 0 or 1)
