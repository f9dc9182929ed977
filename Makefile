# fscache — build, demo, tests. `make demo` and `make test` install what they need.
FEATURE ?= luajit
CARGO ?= cargo
LIB := target/release/libfscache.so
ifeq ($(shell uname -s),Darwin)
LIB := target/release/libfscache.dylib
endif

.PHONY: all build deps deps-demo demo test test-rust test-lua test-nvim test-valgrind bench clean

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

## test: cargo test, clippy, fmt, busted under LuaJIT and under Neovim; ends with "N passed, N failed"
test: deps build
	@sh scripts/test-all.sh

## test-valgrind: every busted spec with LuaJIT under valgrind memcheck (errors fatal), module
## built with symbols (profile valgrind); `make test` runs a short version
test-valgrind: deps build
	$(CARGO) build --profile valgrind --features $(FEATURE)
	@sh scripts/test-valgrind.sh target/valgrind/$(notdir $(LIB))

bench: deps build
	@sh benches/run.sh

clean:
	$(CARGO) clean
	rm -f lua/fscache.so
