#!/bin/sh
# Same-machine A/B of two fscache builds on some workloads, alternating A and B so drift and
# other load hit both alike: benches/ab.sh <dir with A's fscache.so> <dir with B's> [pattern]
# [rounds]. Env: BENCH_CPU (default 0), BENCH_REPS (default 7), BENCH_SYSTEMS (default fscache).
# Prints each round's medians, then the median of the rounds per workload and B ÷ A.
set -eu
cd "$(dirname "$0")/.."
A="$1"; B="$2"; ONLY="${3:-.}"; ROUNDS="${4:-3}"
CPU="${BENCH_CPU:-0}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    if [ "$side" = A ]; then dir="$A"; else dir="$B"; fi
    BENCH_LIB_DIR="$dir" BENCH_ONLY="$ONLY" BENCH_SYSTEMS="${BENCH_SYSTEMS:-fscache}" BENCH_OUT="$OUT/$side$r" \
      BENCH_PIN="$CPU" taskset -c "$CPU" nvim -u NONE -i NONE -n --headless -l benches/bench.lua >/dev/null
    grep -h '"system":"fscache"' "$OUT/$side$r/results.jsonl" |
      sed -E 's/.*"workload":"([^"]*)".*"median":([0-9.]+).*/\1 \2/' | sed "s/^/$side /"
  done
done | tee "$OUT/all.txt"
echo "--- median of $ROUNDS rounds (B ÷ A)"
awk '{ k=$2; v[$1 SUBSEP k]=v[$1 SUBSEP k] " " $3; keys[k]=1 }
  function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { for (k in keys) { a = med(v["A" SUBSEP k]); b = med(v["B" SUBSEP k]); printf "%-12s A %.3f  B %.3f  B/A %.3f   (A:%s | B:%s)\n", k, a, b, (a > 0 ? b / a : 0), v["A" SUBSEP k], v["B" SUBSEP k] } }' "$OUT/all.txt" | sort
