-- Accepted writes survive exit: writes queued right before the process ends reach the disk and
-- leave no temp file, however the host exits (real child processes: LuaJIT and Neovim).

local C = require("support.child")

-- Asserts DIR holds f1..fN with the newest version "v3", and nothing else (no temp files).
local function assert_landed(dir, n)
  local names = dir_names(dir)
  assert.are.equal(n, #names, "files in " .. dir .. ": " .. table.concat(names, " "))
  for i = 1, n do
    assert.are.equal("v3", read_file(dir .. "/f" .. i), "f" .. i)
  end
end

-- Headless Neovim with only this checkout on the runtimepath, running `cmds` (ex commands).
local function nvim(cmds)
  local parts = { "nvim --headless -u NONE -i NONE -n --cmd", C.q("set rtp^=" .. C.cwd) }
  for _, c in ipairs(cmds) do
    parts[#parts + 1] = "-c " .. C.q(c)
  end
  return C.run("timeout 60 " .. table.concat(parts, " ") .. " </dev/null")
end

describe("accepted writes survive exit", function()
  local dir
  before_each(function()
    dir = tmpdir()
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("LuaJIT / this interpreter: os.exit(0) right after 20 writes", function()
    local out, raw, rc = C.lua("exit_writes", { dir, "exit", "20" })
    assert.are.equal(0, rc, raw)
    assert.are.equal("20", out.queued)
    assert_landed(dir, 20)
  end)

  it("LuaJIT / this interpreter: the end of the script (the Lua state closes)", function()
    local _, raw, rc = C.lua("exit_writes", { dir, "end", "20" })
    assert.are.equal(0, rc, raw)
    assert_landed(dir, 20)
  end)

  it("nvim -l: a script that ends with 20 writes queued", function()
    local rc, raw = C.run(C.nvim_cmd("exit_writes", { dir, "end", "20" }, { timeout = 60 }))
    assert.are.equal(0, rc, raw)
    assert_landed(dir, 20)
  end)

  local function lua_writes(n)
    return (
      "lua local f = require('fscache').FileCache.new(); for i = 1, %d do for v = 1, 3 do "
      .. "f:write(%q .. '/f' .. i, 'v' .. v, function() end) end end"
    ):format(n, dir)
  end

  it("Neovim :qa right after the writes", function()
    local rc, raw = nvim({ lua_writes(20), "qa" })
    assert.are.equal(0, rc, raw)
    assert_landed(dir, 20)
  end)

  it("Neovim :qa! right after the writes", function()
    local rc, raw = nvim({ lua_writes(20), "qa!" })
    assert.are.equal(0, rc, raw)
    assert_landed(dir, 20)
  end)

  it("Neovim: writes issued in a VimLeavePre autocmd", function()
    local scripts = tmpdir()
    write_file(
      scripts .. "/leave.lua",
      "vim.api.nvim_create_autocmd('VimLeavePre', { callback = function() vim.cmd("
        .. ("%q"):format(lua_writes(20))
        .. ") end })"
    )
    local rc, raw = nvim({ "luafile " .. scripts .. "/leave.lua", "qa" })
    rm_rf(scripts)
    assert.are.equal(0, rc, raw)
    assert_landed(dir, 20)
  end)

  it("fscache.flush_writes() waits for queued writes and says whether they landed", function()
    local fscache = require("fscache")
    local files = fscache.FileCache.new()
    for i = 1, 5 do
      files:write(dir .. "/f" .. i, "v3", function() end)
    end
    assert.is_true(fscache.flush_writes(10000))
    for i = 1, 5 do
      assert.are.equal("v3", read_file(dir .. "/f" .. i))
    end
    assert.is_true(wait_until(function()
      return files:stats().writes_pending == 0
    end))
  end)
end)
