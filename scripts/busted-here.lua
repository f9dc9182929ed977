-- Runs busted inside the interpreter that runs this file: `lua5.4 scripts/busted-here.lua ...`.
-- /usr/bin/busted starts under the system's default `lua` and re-executes itself with --lua,
-- which breaks when LUA_PATH is set for another Lua version (e.g. by `luarocks path`).
-- Pass --ignore-lua so that busted stays here whatever the .busted task says.
require("busted.runner")({ standalone = false })
