//! fscache: cached, non-blocking file and directory access for Lua (LuaJIT, Lua 5.1/5.4, Neovim).
//!
//! `luaopen_fscache` builds the native table and hands it to the embedded Lua shim, which returns
//! the public module.

pub mod fs;
pub mod json;
