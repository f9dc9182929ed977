# Sourced by scripts/test-all.sh. The routes users arrive by:
#   rock-*       luarocks make into a temporary tree for LuaJIT, Lua 5.1 and Lua 5.4, require the
#                module from there (and from Neovim via LUA_CPATH), then `luarocks test` on it
#   rockspec-lint  both rockspecs
#   plugin-route the repository as a Neovim plugin in real headless Neovim (ecosystem-tests/)
#   types        types/fscache.lua under emmylua_check
#   stylua       formatting of every Lua file (.stylua.toml)

# name command...: runs a busted command (with -o plainTerminal) and counts its tests.
eco_busted() {
  name=$1; shift
  echo "== running $name: $*"
  if "$@" >"$OUT/$name.log" 2>&1; then rc=0; else rc=1; fi
  line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$OUT/$name.log" | tail -1)
  if [ -z "$line" ]; then
    s=0; bad=1
  else
    s=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
    bad=$(echo "$line" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors? \/ ([0-9]+) pending.*/\1 \2 \3/' |
      awk '{print $1 + $2 + $3}')
  fi
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if [ "$bad" -ne 0 ]; then tail -60 "$OUT/$name.log"; fi
  add "$name" "$s" "$bad"
}

for eco_lua in luajit lua5.1 lua5.4; do
  check "rock-install-$eco_lua" sh scripts/check-rock.sh install "$eco_lua" "$OUT/rocks-$eco_lua"
  eco_busted "rock-test-$eco_lua" sh scripts/check-rock.sh test "$eco_lua" "$OUT/rocks-$eco_lua" -o plainTerminal
done
check rockspec-lint sh -c 'luarocks lint fscache-scm-1.rockspec && for r in rockspecs/*.rockspec; do luarocks lint "$r" || exit 1; done'

eco_busted plugin-route busted --run=luajit -o plainTerminal ecosystem-tests/plugin_route_spec.lua
EMMYLUA_CHECK=$(command -v emmylua_check || echo "$HOME/.cargo/bin/emmylua_check")
eco_busted types env EMMYLUA_CHECK="$EMMYLUA_CHECK" busted --run=luajit -o plainTerminal ecosystem-tests/types_spec.lua
check stylua stylua --check .
