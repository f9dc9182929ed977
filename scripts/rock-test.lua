-- `luarocks test` runs this with the interpreter luarocks targets (the rockspec's test.script).
-- It runs the busted suite under that interpreter against build/fscache.so, the library
-- `luarocks make` built and installed, or against $FSCACHE_LIB_DIR/fscache.so when that is set
-- (e.g. a luarocks tree's lib/lua/5.x). Arguments are passed on to busted.

local interp = arg[-1]
local i = -2
while arg[i] do -- the interpreter with its own options (`luajit -joff ...`): take the command
  interp = arg[i]
  i = i - 1
end

local feature = jit and "luajit" or ({ ["Lua 5.1"] = "lua51", ["Lua 5.4"] = "lua54" })[_VERSION]
if not feature then
  io.stderr:write("fscache: ", _VERSION, " is not supported: LuaJIT, Lua 5.1 and Lua 5.4 are\n")
  os.exit(1)
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local libdir = os.getenv("FSCACHE_LIB_DIR")
if not libdir then
  libdir = "build"
  local f = io.open("build/feature", "r")
  local built = f and f:read("*l")
  if f then
    f:close()
  end
  if built ~= feature then
    io.stderr:write(
      ("fscache: build/fscache.so was built for %s, not for %s (%s): run `luarocks make` with this interpreter first\n"):format(
        tostring(built or "nothing yet"),
        feature,
        interp
      )
    )
    os.exit(1)
  end
end

local args = {}
for k = 1, #arg do
  args[#args + 1] = quote(arg[k])
end
-- busted runs in this interpreter (scripts/busted-here.lua), not under the system's default lua.
local cmd = ("FSCACHE_LIB_DIR=%s %s scripts/busted-here.lua --ignore-lua %s"):format(
  quote(libdir),
  quote(interp),
  table.concat(args, " ")
)
print("fscache: " .. cmd)
local ok = os.execute(cmd)
os.exit((ok == true or ok == 0) and 0 or 1)
