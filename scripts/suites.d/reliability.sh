# Reliability suites (sourced by scripts/test-all.sh; uses its add / busted_suite helpers):
#  - faults-luajit / faults-nvim: the deterministic race specs (lua-tests/*_fault.lua) with the
#    fault-injection preload library (tests/faultshim) under LuaJIT and under Neovim;
#  - valgrind-short: the in-process fault specs with LuaJIT under valgrind memcheck (errors
#    fatal); `make test-valgrind` runs every spec that way.
# The other reliability specs (*_spec.lua) run in the plain busted-luajit / busted-nvim suites.
rel_shim=$(sh scripts/build-faultshim.sh 2>"$OUT/faultshim-build.log")
if [ -n "$rel_shim" ]; then
  rel_ctl=$(mktemp -d "${TMPDIR:-/tmp}/fscache-faultctl.XXXXXX")
  busted_suite faults-luajit faults LD_PRELOAD="$rel_shim" FSCACHE_FAULT_CTL="$rel_ctl"
  busted_suite faults-nvim faults_nvim LD_PRELOAD="$rel_shim" FSCACHE_FAULT_CTL="$rel_ctl"
  rm -rf "$rel_ctl"
else
  cat "$OUT/faultshim-build.log"
  add faultshim-build 0 1
fi

echo "== running valgrind-short: scripts/test-valgrind.sh lua/fscache.so short"
if sh scripts/test-valgrind.sh lua/fscache.so short >"$OUT/valgrind-short.log" 2>&1; then rel_rc=0; else rel_rc=1; fi
rel_line=$(tail -1 "$OUT/valgrind-short.log")
rel_p=$(echo "$rel_line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
rel_f=$(echo "$rel_line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
[ -n "$rel_p" ] || { rel_p=0; rel_f=1; }
if [ "$rel_rc" -ne 0 ] && [ "$rel_f" -eq 0 ]; then rel_f=1; fi
[ "$rel_f" -eq 0 ] || tail -60 "$OUT/valgrind-short.log"
add valgrind-short "$rel_p" "$rel_f"
