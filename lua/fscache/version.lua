-- fscache/version.lua: the library version these Lua files expect. Kept equal to Cargo.toml's
-- version (lua-tests/version_spec.lua checks); the loader, build.lua and :checkhealth read it.
return "0.2.0"
