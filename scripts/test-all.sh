#!/bin/sh
# Runs every suite and sums them. The last line is "N passed, N failed" over all suites.
# Each suite: cargo test (counted per test), clippy and fmt (one check each), busted suites
# (counted per test; pending counts as failed: nothing is skipped without a reason).
set -u
cd "$(dirname "$0")/.."
OUT="${TMPDIR:-/tmp}/fscache-test.$$"
mkdir -p "$OUT"
P=0
F=0
FAILED_SUITES=""

add() { # name passed failed
  echo "== $1: $2 passed, $3 failed"
  P=$((P + $2))
  F=$((F + $3))
  [ "$3" -eq 0 ] || FAILED_SUITES="$FAILED_SUITES $1"
}

check() { # name command...  (one check: pass or fail)
  name=$1; shift
  echo "== running $name: $*"
  if "$@" >"$OUT/$name.log" 2>&1; then add "$name" 1 0; else cat "$OUT/$name.log"; add "$name" 0 1; fi
}

cargo_suite() { # name features
  name=$1; shift
  echo "== running $name: cargo test $*"
  if cargo test --release "$@" >"$OUT/$name.log" 2>&1; then rc=0; else rc=1; fi
  passed=$(grep -E '^test result:' "$OUT/$name.log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
  failed=$(grep -E '^test result:' "$OUT/$name.log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
  if [ "$rc" -ne 0 ]; then
    grep -E '^(test .* FAILED|error|failures:|---- )' "$OUT/$name.log" | head -40
    [ "$failed" -gt 0 ] || failed=1
  fi
  add "$name" "$passed" "$failed"
}

busted_suite() { # name run-task [extra env assignments via env(1)]
  name=$1; task=$2; shift 2
  echo "== running $name: busted --run=$task"
  if env "$@" busted --run="$task" -o plainTerminal >"$OUT/$name.log" 2>&1; then rc=0; else rc=1; fi
  line=$(grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$OUT/$name.log" | tail -1)
  s=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
  pd=$(echo "$line" | sed -E 's/.* ([0-9]+) pending.*/\1/')
  if [ -z "$line" ]; then s=0; f=1; e=0; pd=0; fi
  bad=$((f + e + pd))
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if [ "$bad" -ne 0 ]; then tail -60 "$OUT/$name.log"; fi
  add "$name" "$s" "$bad"
}

cargo_suite cargo-test
check clippy cargo clippy --release --all-targets -- -D warnings
check rustfmt cargo fmt --check
busted_suite busted-luajit luajit
busted_suite busted-nvim nvim

[ -d scripts/suites.d ] && for s in scripts/suites.d/*.sh; do [ -f "$s" ] && . "$s"; done

rm -rf "$OUT"
[ -z "$FAILED_SUITES" ] || echo "failing suites:$FAILED_SUITES"
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
