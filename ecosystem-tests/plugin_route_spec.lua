-- The Neovim plugin route, in real headless Neovim: the repository on 'runtimepath' (and nothing
-- else but $VIMRUNTIME), `require("fscache")` through the runtimepath, :helptags and :help, the
-- error when the library is not built, and build.lua run as lazy.nvim runs it.
-- Run once by scripts/suites.d/ecosystem.sh (busted under LuaJIT; every case starts nvim).

local uv = test_uv
local ROOT = assert(uv.fs_realpath("."))

-- Runs `body` in `nvim --headless` with 'runtimepath' = rtp .. ",$VIMRUNTIME", from a temporary
-- working directory and without LUA_PATH / LUA_CPATH. Returns ok, output (stdout + stderr).
local function nvim(rtp, body)
  local dir = tmpdir()
  local script = dir .. "/case.lua"
  write_file(script, body .. "\nio.stdout:flush()\nos.exit(0)\n")
  local cmd = (
    "cd %s && env -u LUA_PATH -u LUA_CPATH nvim --headless -u NONE -i NONE -n "
    .. "--cmd %s --cmd 'set packpath=' -l %s"
  ):format(shell_quote(dir), shell_quote("set rtp=" .. rtp .. ",$VIMRUNTIME"), shell_quote(script))
  local ok, out = sh(cmd)
  rm_rf(dir)
  return ok, out
end

local function mapped_fscache_lua()
  return [[
local function mapped()
  for p in io.open("/proc/self/maps"):read("*a"):gmatch("%s(/[^\n]-%.so)\n") do
    if p:find("fscache", 1, true) then return p end
  end
end
]]
end

describe("the plugin route in Neovim", function()
  for _, byte_cache in ipairs({ false, true }) do
    local how = byte_cache and " (with vim.loader, as lazy.nvim enables it)" or ""
    it("finds lua/fscache.so through the runtimepath and runs a coroutine read" .. how, function()
      local ok, out = nvim(ROOT, mapped_fscache_lua() .. (byte_cache and "vim.loader.enable()\n" or "") .. ([[
assert(not package.cpath:find(%q, 1, true), "the repo must not be on package.cpath")
local fscache = require("fscache")
print("MAPPED " .. tostring(mapped()))
print("ATTACHED " .. tostring(fscache.attached()))
local files = fscache.FileCache.new()
local got
fscache.run(function()
  local entry, err = files:get_async(%q)
  -- after the await: not in a fast event, so the API is usable
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { entry and ("SIZE " .. entry.size) or ("ERR " .. err) })
  got = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
end)
assert(vim.wait(5000, function() return got ~= nil end), "get_async did not finish")
print(got)
]]):format(ROOT, ROOT .. "/Cargo.toml"))
      assert(ok, out)
      assert.matches("MAPPED " .. ROOT .. "/lua/fscache.so", out, 1, true)
      assert.matches("ATTACHED true", out, 1, true)
      local size = assert(uv.fs_stat(ROOT .. "/Cargo.toml")).size
      assert.matches("SIZE " .. size, out, 1, true)
    end)
  end

  it("has help that :helptags accepts and :help finds, for every public function", function()
    local dir = tmpdir()
    assert(sh("mkdir -p " .. shell_quote(dir .. "/doc") .. " && cp doc/fscache.txt " .. shell_quote(dir .. "/doc/")))
    local ok, out = nvim(
      dir .. "," .. ROOT,
      ([[
vim.cmd("helptags " .. vim.fn.fnameescape(%q))
local function help(tag)
  local ok, err = pcall(vim.cmd.help, tag)
  if not ok then return "FAIL " .. tag .. ": " .. tostring(err) end
  local line = vim.api.nvim_get_current_line()
  local file = vim.fn.expand("%%:t")
  vim.cmd("helpclose")
  if file ~= "fscache.txt" or not line:find("*" .. tag .. "*", 1, true) then
    return "FAIL " .. tag .. ": landed in " .. file .. " on: " .. line
  end
  return "OK " .. tag
end
print(help("fscache"))
local fscache = require("fscache")
local n = 0
for name, v in pairs(fscache) do
  if name:sub(1, 1) ~= "_" then
    if type(v) == "function" then
      print(help("fscache." .. name .. "()")) n = n + 1
    elseif type(v) == "table" and v.new then
      print(help("fscache-" .. name))
      for m, f in pairs(v) do
        if type(f) == "function" and m:sub(1, 1) ~= "_" then
          print(help("fscache." .. name .. (m == "new" and "." or ":") .. m .. "()")) n = n + 1
        end
      end
    else
      print(help("fscache." .. name))
    end
  end
end
print("CHECKED " .. n)
]]):format(dir .. "/doc")
    )
    rm_rf(dir)
    assert(ok, out)
    assert.matches("OK fscache%s", out)
    assert.is_nil(out:find("FAIL", 1, true), out)
    local checked = tonumber(out:match("CHECKED (%d+)"))
    assert.is_true(checked ~= nil and checked >= 25, out)
  end)

  it("explains how to build when the library is missing", function()
    local dir = tmpdir()
    assert(
      sh(
        "mkdir -p "
          .. shell_quote(dir .. "/lua/fscache")
          .. " && cp lua/fscache/init.lua "
          .. shell_quote(dir .. "/lua/fscache/")
      )
    )
    dir = assert(uv.fs_realpath(dir))
    local ok, out = nvim(
      dir,
      [[
local ok, err = pcall(require, "fscache")
print("LOADED " .. tostring(ok))
print(err)
]]
    )
    rm_rf(dir)
    assert(ok, out)
    assert.matches("LOADED false", out, 1, true)
    assert.matches("fscache: the native library is not built.", out, 1, true)
    assert.matches("looked for " .. dir .. "/lua/fscache.so", out, 1, true)
    assert.matches("cd " .. dir .. " && make build", out, 1, true)
    assert.matches('build = "build.lua"', out, 1, true)
  end)

  it("builds with build.lua run the way lazy.nvim runs it, yielding while cargo works", function()
    -- lazy.nvim loadfile()s build.lua and calls it inside its own task coroutine, which it
    -- resumes on later loop ticks; `require("lazy.async").running()` names that task.
    local before = assert(uv.fs_stat(ROOT .. "/lua/fscache.so"))
    local ok, out = nvim(
      ROOT,
      ([[
local tasks = setmetatable({}, { __mode = "k" })
package.loaded["lazy.async"] = {
  running = function()
    local co = coroutine.running()
    return co and tasks[co]
  end,
}
local chunk = assert(loadfile(%q))
local co = coroutine.create(chunk)
tasks[co] = { name = "fscache" }
local resumes, messages = 0, {}
while coroutine.status(co) ~= "dead" do
  local ok, msg = coroutine.resume(co)
  assert(ok, msg)
  resumes = resumes + 1
  if msg then messages[#messages + 1] = msg end
  vim.wait(5)
end
print("RESUMES " .. resumes)
print("MESSAGES " .. #messages)
]]):format(ROOT .. "/build.lua")
    )
    assert(ok, out)
    assert.matches("fscache: built " .. ROOT .. "/lua/fscache.so", out, 1, true)
    assert.is_true(tonumber(out:match("RESUMES (%d+)")) > 1, out)
    local after = assert(uv.fs_stat(ROOT .. "/lua/fscache.so"))
    assert.is_true(after.ino ~= before.ino, "lua/fscache.so is replaced by a rename")
    assert(sh("cmp -s lua/fscache.so target/release/libfscache.so"), "lua/fscache.so is the cargo build")
  end)

  it("builds with `nvim -l build.lua` from another directory", function()
    local dir = tmpdir()
    local ok, out = sh(
      ("cd %s && nvim -u NONE -i NONE -n --headless -l %s"):format(shell_quote(dir), shell_quote(ROOT .. "/build.lua"))
    )
    rm_rf(dir)
    assert(ok, out)
    assert.matches("fscache: built " .. ROOT .. "/lua/fscache.so", out, 1, true)
    assert(sh("cmp -s lua/fscache.so target/release/libfscache.so"), "lua/fscache.so is the cargo build")
  end)
end)
