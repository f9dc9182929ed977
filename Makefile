# fscache — build, demo, tests. `make demo` and `make test` install what they need.
FEATURE ?= luajit
CARGO ?= cargo
LIB := target/release/libfscache.so
ifeq ($(shell uname -s),Darwin)
LIB := target/release/libfscache.dylib
endif

.PHONY: all build deps deps-demo demo test test-rust test-lua test-nvim bench clean

all: build

deps-demo:
	@sh scripts/ensure-deps.sh demo

deps:
	@sh scripts/ensure-deps.sh test

## build: the module for LuaJIT/Neovim, copied to lua/fscache.so (package.cpath and runtimepath)
build:
	$(CARGO) build --release --features $(FEATURE)
	@mkdir -p lua
	cp $(LIB) lua/fscache.so

## demo: build and run the project-config loader example on its bundled data
demo: deps-demo build
	luajit examples/project_config/run.lua

## test: cargo test, clippy, fmt, busted under LuaJIT, Neovim, Lua 5.1 and Lua 5.4; ends with "N passed, N failed"
test: deps build
	@sh scripts/test-all.sh

bench: deps build
	@sh benches/run.sh

clean:
	$(CARGO) clean
	rm -f lua/fscache.so
	rm -rf build
