-- LuaRocks configuration that targets LuaJIT (Debian's luarocks runs PUC lua5.1 for 5.1):
--   LUAROCKS_CONFIG=scripts/luarocks-luajit.lua luarocks --lua-version=5.1 make fscache-scm-1.rockspec
-- Paths are Debian's (apt install luajit libluajit-5.1-dev); adjust them for other systems.
lua_interpreter = "luajit"
variables = {
  LUA = "/usr/bin/luajit",
  LUA_BINDIR = "/usr/bin",
  LUA_INCDIR = "/usr/include/luajit-2.1",
}
