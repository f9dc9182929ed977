-- The loader lua/fscache/init.lua: which library `require("fscache")` ends up with, and the
-- errors it gives. Each case runs a fresh interpreter of the kind running this suite (LuaJIT,
-- Lua 5.1/5.4 or `nvim -l`) on a temporary checkout.

local fscache = require("fscache")
local uv = test_uv

local function realpath(p)
  return assert(uv.fs_realpath(p))
end

-- Paths of every mapped file named like the library (Linux /proc).
local function mapped_libraries()
  local maps = assert(read_file("/proc/self/maps"), "needs /proc/self/maps")
  local seen, list = {}, {}
  for path in maps:gmatch("%s(/[^\n]-fscache[^/\n]*%.so)\n") do
    if not seen[path] then
      seen[path] = true
      list[#list + 1] = path
    end
  end
  return list
end

-- The command that runs a Lua script with the interpreter running these specs.
local function interpreter()
  if in_nvim then
    return "nvim -u NONE -i NONE -n --headless -l"
  end
  local i, cmd = -1, nil
  while arg and arg[i] do
    cmd = arg[i]
    i = i - 1
  end
  return shell_quote(cmd or (jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))))
end

-- Runs `body` in a fresh interpreter with only `lpath` / `cpath` as search paths; returns ok, output.
local function run_lua(dir, body, lpath, cpath)
  local script = dir .. "/case.lua"
  write_file(
    script,
    ("package.path = %q\npackage.cpath = %q\n"):format(lpath, cpath or (dir .. "/none/?.so"))
      .. body
      .. "\nio.stdout:flush()\n"
  )
  return sh("cd " .. shell_quote(dir) .. " && " .. interpreter() .. " " .. shell_quote(script))
end

local REPORT = [[
local ok, m = pcall(require, %q)
if not ok then print("ERROR: " .. tostring(m)) os.exit(3) end
local maps = io.open("/proc/self/maps"):read("*a")
for p in maps:gmatch("%%s(/[^\n]-%%.so)\n") do
  if p:find("fscache", 1, true) then print("MAPPED " .. p) break end
end
print("VERSION " .. tostring(m.version))
print("READ " .. tostring(m.FileCache.new():get_sync(%q).size))
os.exit(0)
]]

local function copy(src, dst)
  assert(sh("mkdir -p " .. shell_quote(dst:match("^(.*)/"))))
  assert(sh("cp " .. shell_quote(src) .. " " .. shell_quote(dst)))
end

describe("the loader lua/fscache/init.lua", function()
  local dir
  before_each(function()
    dir = realpath(tmpdir())
    copy("lua/fscache/init.lua", dir .. "/lua/fscache/init.lua")
  end)
  after_each(function()
    rm_rf(dir)
  end)

  it("is not in the way of the library under test", function()
    local libs = mapped_libraries()
    assert.are.same({ realpath(fscache_lib_path) }, libs)
  end)

  it("loads the library next to it", function()
    copy(fscache_lib_path, dir .. "/lua/fscache.so")
    local ok, out = run_lua(dir, REPORT:format("fscache", dir .. "/case.lua"), dir .. "/lua/?/init.lua")
    assert(ok, out)
    assert.matches("MAPPED " .. dir .. "/lua/fscache.so", out, 1, true)
    assert.matches("VERSION " .. fscache.version, out, 1, true)
    assert.matches("READ %d+", out)
  end)

  it("falls back to package.cpath (a luarocks install) when nothing is built next to it", function()
    copy(fscache_lib_path, dir .. "/rocks/fscache.so")
    local ok, out =
      run_lua(dir, REPORT:format("fscache", dir .. "/case.lua"), dir .. "/lua/?/init.lua", dir .. "/rocks/?.so")
    assert(ok, out)
    assert.matches("MAPPED " .. dir .. "/rocks/fscache.so", out, 1, true)
  end)

  it("works vendored under another module name", function()
    copy("lua/fscache/init.lua", dir .. "/lua/myplugin/fscache/init.lua")
    copy(fscache_lib_path, dir .. "/lua/myplugin/fscache.so")
    local ok, out = run_lua(dir, REPORT:format("myplugin.fscache", dir .. "/case.lua"), dir .. "/lua/?/init.lua")
    assert(ok, out)
    assert.matches("MAPPED " .. dir .. "/lua/myplugin/fscache.so", out, 1, true)
  end)

  it("says how to build when the library is missing", function()
    local ok, out = run_lua(dir, REPORT:format("fscache", "/dev/null"), dir .. "/lua/?/init.lua")
    assert.is_false(ok)
    assert.matches("ERROR: fscache: the native library is not built.", out, 1, true)
    assert.matches("looked for " .. dir .. "/lua/fscache.so", out, 1, true)
    assert.matches("cd " .. dir .. " && make build", out, 1, true)
    assert.matches("luarocks make fscache-scm-1.rockspec", out, 1, true)
    assert.matches(":help fscache-install", out, 1, true)
  end)

  it("names the Lua mismatch when the library was built for another Lua", function()
    -- A library that needs a symbol this interpreter lacks, as a lua54 build does in LuaJIT.
    local missing = (_VERSION == "Lua 5.4") and "lua_setfenv" or "lua_isinteger"
    write_file(
      dir .. "/wrong.c",
      ("int %s(void *L, int i);\nint luaopen_fscache(void *L) { return %s(L, 1); }\n"):format(missing, missing)
    )
    local built, cc_out =
      sh("cc -shared -fPIC -o " .. shell_quote(dir .. "/lua/fscache.so") .. " " .. shell_quote(dir .. "/wrong.c"))
    assert(built, "cc failed: " .. cc_out)
    local ok, out = run_lua(dir, REPORT:format("fscache", "/dev/null"), dir .. "/lua/?/init.lua")
    assert.is_false(ok)
    assert.matches("cannot load the native library " .. dir .. "/lua/fscache.so", out, 1, true)
    assert.matches("undefined symbol: " .. missing, out, 1, true)
    assert.matches("built for another Lua", out, 1, true)
    local want = (jit and "luajit") or (_VERSION == "Lua 5.4" and "lua54") or "lua51"
    assert.matches("make build FEATURE=" .. want, out, 1, true)
  end)
end)
