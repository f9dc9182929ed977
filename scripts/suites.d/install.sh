# Sourced by scripts/test-all.sh (uses its add / check helpers). Installing without a Rust
# toolchain:
#   dist     `make dist` once per run (glibc 2.17 libraries via cargo-zigbuild, binary rock,
#            manifest); cargo's fingerprints make a run without source changes a copy
#   install  ecosystem-tests/install_spec.lua on that dist/, served over HTTP on 127.0.0.1, with
#            a PATH without cargo (plugin route, checksum mismatch, no server, luarocks for
#            LuaJIT / 5.1 / 5.4 + luarocks test, :checkhealth, stale library, vim.g.fscache,
#            fscache.testing under busted and a plenary-style harness)
#   actionlint  .github/workflows/release.yml
check dist sh scripts/dist.sh
if [ -f "$OUT/dist.log" ] && grep -q '^dist: ' "$OUT/dist.log"; then
  echo "== running install: busted ecosystem-tests/install_spec.lua"
  if timeout 1200 busted --run=luajit -o plainTerminal ecosystem-tests/install_spec.lua >"$OUT/install.log" 2>&1; then inst_rc=0; else inst_rc=1; fi
  inst_line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$OUT/install.log" | tail -1)
  if [ -z "$inst_line" ]; then
    inst_s=0; inst_bad=1
  else
    inst_s=$(echo "$inst_line" | sed -E 's/^([0-9]+) success.*/\1/')
    inst_bad=$(echo "$inst_line" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors? \/ ([0-9]+) pending.*/\1 \2 \3/' |
      awk '{print $1 + $2 + $3}')
  fi
  if [ "$inst_rc" -ne 0 ] && [ "$inst_bad" -eq 0 ]; then inst_bad=1; fi
  [ "$inst_bad" -eq 0 ] || tail -80 "$OUT/install.log"
  add install "$inst_s" "$inst_bad"
else
  add install 0 1
fi
check actionlint sh scripts/actionlint.sh .github/workflows/release.yml
