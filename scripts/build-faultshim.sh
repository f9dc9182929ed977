#!/bin/sh
# Builds the test-only fault-injection preload library (tests/faultshim/faultshim.c) and prints
# its path. Usage: scripts/build-faultshim.sh [out-dir]   (default target/faultshim)
set -eu
cd "$(dirname "$0")/.."
out="${1:-target/faultshim}"
mkdir -p "$out"
src=tests/faultshim/faultshim.c
lib="$out/libfaultshim.so"
if [ ! -f "$lib" ] || [ "$src" -nt "$lib" ]; then
  ${CC:-cc} -O2 -g -Wall -Wextra -Werror -shared -fPIC -o "$lib" "$src" -ldl -lpthread
fi
echo "$(pwd)/$lib"
