//! Options of `FileCache.new{}` / `DirectoryCache.new{}` and their defaults.

use mlua::prelude::*;

use crate::options::{bool_option, int_option};

use super::engine::Options;

/// Default `max_size` (largest file read): 64 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;
/// Default `max_bytes` of a FileCache (cached file contents): 128 MiB.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 128 * 1024 * 1024;
/// Default `max_bytes` of a DirectoryCache (cached listing names): 16 MiB.
pub const DEFAULT_DIR_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Largest byte count an option accepts (2^53: every integer up to it is exact in a double).
const MAX_COUNT: i64 = 1 << 53;

/// Which class the options are for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `FileCache.new`.
    File,
    /// `DirectoryCache.new`.
    Dir,
}

/// An optional boolean field.
pub fn bool_field(t: &LuaTable, opt: &str, func: &str) -> LuaResult<Option<bool>> {
    bool_option(t, opt, func)
}

/// An optional byte count: an integer 0..=2^53 (a float without fraction counts).
pub fn count_field(t: &LuaTable, opt: &str, func: &str) -> LuaResult<Option<u64>> {
    Ok(int_option(t, opt, func, 0..=MAX_COUNT)?.map(|n| n as u64))
}

/// Reads the options of a cache (all optional): `trust_mtime`, `max_bytes`, and for files
/// `max_size` and `durable`.
pub fn parse(opts: Option<LuaTable>, class: Class) -> LuaResult<Options> {
    let func = match class {
        Class::File => "FileCache.new",
        Class::Dir => "DirectoryCache.new",
    };
    let mut o = Options {
        trust_mtime: true,
        max_size: DEFAULT_MAX_SIZE,
        max_bytes: match class {
            Class::File => DEFAULT_FILE_MAX_BYTES,
            Class::Dir => DEFAULT_DIR_MAX_BYTES,
        },
        durable: true,
    };
    let Some(t) = opts else { return Ok(o) };
    if let Some(b) = bool_field(&t, "trust_mtime", func)? {
        o.trust_mtime = b;
    }
    if let Some(n) = count_field(&t, "max_bytes", func)? {
        o.max_bytes = n;
    }
    if class == Class::File {
        if let Some(n) = count_field(&t, "max_size", func)? {
            o.max_size = n;
        }
        if let Some(b) = bool_field(&t, "durable", func)? {
            o.durable = b;
        }
    }
    Ok(o)
}
