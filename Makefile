# fscache — build, demo, tests. `make demo` and `make test` install what they need.
FEATURE ?= luajit
CARGO ?= cargo
# luajit is the default feature; the others replace it (mlua allows exactly one Lua ABI).
FEATURE_ARGS := $(if $(filter luajit,$(FEATURE)),--features luajit,--no-default-features --features $(FEATURE))
LIB := target/release/libfscache.so
ifeq ($(shell uname -s),Darwin)
LIB := target/release/libfscache.dylib
endif

# FSCACHE_BUILD: auto (download the release library unless this checkout has local changes and
# cargo is present), download, or source (cargo). `make test` and `make bench` always use source.
FSCACHE_BUILD ?= auto

.PHONY: all build build-source deps deps-demo demo dist test test-rust test-lua test-nvim test-valgrind bench fmt clean

all: build

deps-demo:
	@sh scripts/ensure-deps.sh demo

deps:
	@sh scripts/ensure-deps.sh test

## build: lua/fscache.so for LuaJIT/Neovim (FEATURE=lua51|lua54 for PUC Lua), through build.lua:
## the release library of this version downloaded and verified, or built with cargo (FSCACHE_BUILD
## above). Replaced by a rename: a running Neovim that has the old library mapped keeps it intact.
build:
	@FSCACHE_BUILD=$(FSCACHE_BUILD) FSCACHE_ABI=$(FEATURE) CARGO=$(CARGO) sh scripts/build-route.sh

## build-source: the working tree with cargo (what the tests and benchmarks run on)
build-source:
	$(CARGO) build --release $(FEATURE_ARGS)
	@mkdir -p lua
	cp $(LIB) lua/fscache.so.tmp && mv -f lua/fscache.so.tmp lua/fscache.so

## dist: release artifacts in dist/ (glibc 2.17 libraries per Lua ABI + .sha256, one binary rock,
## luarocks manifest); needs cargo-zigbuild and ziglang (pip), see scripts/dist.sh
dist:
	@sh scripts/dist.sh

## demo: build and run the project-config loader example on its bundled data
demo: deps-demo build
	luajit examples/project_config/run.lua

## test: cargo test, clippy, fmt, busted under LuaJIT, Neovim, Lua 5.1 and Lua 5.4; ends with "N passed, N failed"
test: deps build-source
	@sh scripts/test-all.sh

## test-valgrind: every busted spec with LuaJIT under valgrind memcheck (errors fatal), module
## built with symbols (profile valgrind); `make test` runs a short version
test-valgrind: deps build-source
	$(CARGO) build --profile valgrind $(FEATURE_ARGS)
	@sh scripts/test-valgrind.sh target/valgrind/$(notdir $(LIB))

bench: deps build-source
	@sh benches/run.sh

## fmt: format Rust (cargo fmt) and Lua (stylua, .stylua.toml)
fmt:
	$(CARGO) fmt
	stylua .

clean:
	$(CARGO) clean
	rm -rf lua/fscache.so build dist doc/tags
