#!/bin/sh
# Main-thread instructions per cold get (callgrind), for A/B work on a machine too noisy for wall
# time: benches/instructions.sh [dir with fscache.so ...]. Without arguments, builds this tree
# with the `valgrind` profile (symbols) and measures it. For each build and mode (conc, batch,
# spawn, hits) runs 1 and 5 bursts of 2,000 and prints (instructions of 5 - of 1) / 8,000: start-up
# and the first burst's warm-up cancel out.
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || { echo "instructions: valgrind is required" >&2; exit 1; }
if [ $# -eq 0 ]; then
  cargo build --quiet --profile valgrind
  lib="$(mktemp -d)"
  cp target/valgrind/libfscache.so "$lib/fscache.so"
  set -- "$lib"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
main_thread() { # callgrind output prefix -> instructions of thread 1
  grep -m1 '^summary:' "$1-01" | awk '{print $2}'
}
for lib in "$@"; do
  for mode in conc batch spawn hits; do
    for b in 1 5; do
      LIB="$lib" MODE="$mode" BURSTS="$b" valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$out/$mode$b" luajit benches/instructions.lua >/dev/null 2>&1
    done
    one=$(main_thread "$out/${mode}1"); five=$(main_thread "$out/${mode}5")
    echo "$lib $mode: $(( (five - one) / 8000 )) instructions per get on the main thread"
  done
done
