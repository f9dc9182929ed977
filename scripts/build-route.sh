#!/bin/sh
# make build: runs build.lua (download the release library, else cargo; see its header) with the
# first Lua found: luajit, nvim -l, lua5.1, lua5.4, lua. FSCACHE_BUILD and FSCACHE_ABI pass through.
set -eu
cd "$(dirname "$0")/.."
for lua in luajit nvim lua5.1 lua5.4 lua; do
  if command -v "$lua" >/dev/null 2>&1; then
    if [ "$lua" = nvim ]; then
      exec nvim -u NONE -i NONE -n --headless -l "$(pwd)/build.lua"
    fi
    exec "$lua" "$(pwd)/build.lua"
  fi
done
echo "fscache: make build needs a Lua to run build.lua (luajit, nvim, lua5.1, lua5.4 or lua)" >&2
exit 1
