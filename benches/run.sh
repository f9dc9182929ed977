#!/bin/sh
# `make bench`: builds the native baseline, runs benches/bench.lua under headless Neovim pinned to
# one CPU, and draws benches/results/chart.png with gnuplot (installed with apt-get if missing).
#   BENCH_CPU=0 (taskset CPU list; "none" to not pin)  BENCH_REPS=7  BENCH_ONLY=<pattern>
set -eu
cd "$(dirname "$0")/.."
OUT="${BENCH_OUT:-benches/results}"
CPU="${BENCH_CPU:-0}"

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench: installing gnuplot-nox with apt-get (for the chart)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null
fi

echo "bench: building the native baseline (benches/native)"
CARGO_TARGET_DIR="$PWD/target/bench-native" cargo build --release --quiet \
  --manifest-path benches/native/Cargo.toml
NATIVE="$PWD/target/bench-native/release/fscache-bench-native"

PIN=""
if [ "$CPU" != "none" ] && command -v taskset >/dev/null 2>&1; then
  PIN="taskset -c $CPU"
else
  CPU="none"
fi
mkdir -p "$OUT"
# The write-heavy load first, on a quiet disk: creating and deleting the main table's 12,000
# fixture files leaves the file system busy for a while (writeback, freeing inodes), and every
# system that creates files (fscache's atomic writes, the durable floor) then measured 2-3x
# slower while the in-place pure-Lua writes did not.
sync
BENCH_OUT="$OUT" $PIN nvim -u NONE -i NONE -n --headless -l benches/writes.lua
BENCH_OUT="$OUT" BENCH_NATIVE="$NATIVE" BENCH_PIN="$CPU" \
  $PIN nvim -u NONE -i NONE -n --headless -l benches/bench.lua
# Other standalone benches (each writes its own <name>.md into $OUT): the eviction trace,
# batches, cached metadata (root lookups vs vim.fs.root, stat hits), and where the time of the
# workloads with a missed target goes (Lua thread and pool CPU per operation, and their floors).
for extra in eviction batch meta floors; do
  BENCH_OUT="$OUT" $PIN nvim -u NONE -i NONE -n --headless -l "benches/$extra.lua"
done
gnuplot -e "datafile='$OUT/chart.dat'; outfile='$OUT/chart.png'" benches/chart.gp
echo "bench: wrote $OUT/results.md, $OUT/results.jsonl, $OUT/chart.png"
