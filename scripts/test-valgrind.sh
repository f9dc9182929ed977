#!/bin/sh
# `make test-valgrind`: every busted spec (and the fault-injection specs) with LuaJIT under
# valgrind memcheck, errors fatal; the specs' child processes run under memcheck too.
# Usage: scripts/test-valgrind.sh [module.so] [short]
#   module.so  the build to test (default lua/fscache.so; make test-valgrind passes a build with
#              symbols); short: only the in-process fault specs (what `make test` runs).
# Ends with "N passed, N failed" like scripts/test-all.sh.
set -u
cd "$(dirname "$0")/.."
lib="${1:-lua/fscache.so}"
mode="${2:-full}"
stage=$(mktemp -d "${TMPDIR:-/tmp}/fscache-valgrind.XXXXXX")
ctl=$(mktemp -d "${TMPDIR:-/tmp}/fscache-faultctl.XXXXXX")
trap 'rm -rf "$stage" "$ctl"' EXIT
cp "$lib" "$stage/fscache.so"
chmod 755 "$stage" "$stage/fscache.so"
vg="$(pwd)/scripts/valgrind-luajit"
P=0
F=0

run() { # name, then env assignments and busted arguments
  name=$1; shift
  echo "== valgrind $name"
  log="$stage/$name.log"
  if env FSCACHE_LIB_DIR="$stage" "$@" >"$log" 2>&1; then rc=0; else rc=$?; fi
  line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$log" | tail -1)
  s=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
  bad=$(echo "$line" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors? \/ ([0-9]+) pending.*/\1 \2 \3/' | awk '{print $1+$2+$3}')
  [ -n "$line" ] || { s=0; bad=1; }
  # A memcheck error after the summary (at exit) only shows in the exit status.
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if [ "$bad" -ne 0 ]; then tail -80 "$log"; fi
  echo "== valgrind $name: $s passed, $bad failed"
  P=$((P + s)); F=$((F + bad))
}

if [ "$mode" = short ]; then
  # In-process lifetime, re-entrancy, finalizers and special files: where memory errors would be.
  run faults busted --lua="$vg" -o plainTerminal --filter-out=mutated.by.another \
    lua-tests/smoke_spec.lua lua-tests/faults_spec.lua
else
  run specs env FSCACHE_CHILD_LUA="$vg" FSCACHE_KILLS=8 FSCACHE_MUTATIONS=300 FSCACHE_FUZZ_COUNT=200 \
    busted --lua="$vg" -o plainTerminal
  shim=$(sh scripts/build-faultshim.sh) || { echo "faultshim build failed"; F=$((F + 1)); shim=""; }
  if [ -n "$shim" ]; then
    run faults env LD_PRELOAD="$shim" FSCACHE_FAULT_CTL="$ctl" \
      busted --lua="$vg" --run=faults -o plainTerminal
  fi
fi
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
