//! Building the entry and listing tables handed to Lua, through the raw C API. The high-level `Table::raw_set` costs a protected call, a key conversion and
//! several stack checks per field; profiles showed table building as the largest main-thread
//! cost of a cold read (~12k instructions per 2 KiB entry, 10,000-entry listings in
//! milliseconds). Here a field costs a push and a `lua_setfield`.

use std::ffi::CStr;

use mlua::ffi;
use mlua::prelude::*;

use crate::fs::{DirEntry, EntryKind, Identity};

const KINDS: [EntryKind; 8] = [
    EntryKind::File,
    EntryKind::Directory,
    EntryKind::Link,
    EntryKind::Fifo,
    EntryKind::Socket,
    EntryKind::Char,
    EntryKind::Block,
    EntryKind::Unknown,
];

fn kind_index(k: EntryKind) -> i32 {
    KINDS.iter().position(|x| *x == k).unwrap_or(7) as i32
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

unsafe fn set_int(l: *mut ffi::lua_State, key: &CStr, v: i64) {
    ffi::lua_pushinteger(l, v as ffi::lua_Integer);
    ffi::lua_setfield(l, -2, key.as_ptr());
}

/// Runs `build` on the raw state; it must leave exactly one new table on top of the stack,
/// which is popped into a handle. No protected call: like the rest of the module
/// (`skip_memory_check`), an allocation failure raises a Lua error through this frame.
fn build_table(
    lua: &Lua,
    slots: i32,
    build: impl FnOnce(*mut ffi::lua_State),
) -> LuaResult<LuaTable> {
    lua.exec_raw_lua(|raw| {
        // SAFETY: Lua thread; the stack is grown first; `build` pushes one table (checked).
        unsafe {
            let l = raw.state();
            if ffi::lua_checkstack(l, slots) == 0 {
                return Err(LuaError::runtime("fscache: Lua stack exhausted"));
            }
            let top = ffi::lua_gettop(l);
            build(l);
            if ffi::lua_gettop(l) != top + 1 || ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                ffi::lua_settop(l, top);
                return Err(LuaError::runtime(
                    "fscache: internal error building a table",
                ));
            }
            match raw.pop_value() {
                LuaValue::Table(t) => Ok(t),
                _ => Err(LuaError::runtime(
                    "fscache: internal error building a table",
                )),
            }
        }
    })
}

/// `{ path, content, mtime, mtime_nsec, size }` of a file read.
pub fn file_entry(lua: &Lua, path: &[u8], content: &[u8], id: &Identity) -> LuaResult<LuaTable> {
    build_table(lua, 4, |l| {
        // SAFETY: pushes at most 2 values above the new table; leaves the table.
        unsafe {
            ffi::lua_createtable(l, 0, 7);
            push_bytes(l, path);
            ffi::lua_setfield(l, -2, c"path".as_ptr());
            push_bytes(l, content);
            ffi::lua_setfield(l, -2, c"content".as_ptr());
            set_int(l, c"mtime", id.mtime.sec);
            set_int(l, c"mtime_nsec", id.mtime.nsec);
            set_int(l, c"size", content.len() as i64);
        }
    })
}

/// Registry name of the JIT-compiled listing builder (`src/lua/listing.lua`).
const LISTING_BUILDER: &CStr = c"fscache.listing_builder";

/// Installs the Lua listing builder when LuaJIT's JIT is on (elsewhere the C API loop below is
/// faster than interpreted Lua).
pub fn install(lua: &Lua) -> LuaResult<()> {
    let jit_on: bool = lua
        .load("return type(jit) == 'table' and jit.status and (jit.status()) == true")
        .eval()
        .unwrap_or(false);
    if !jit_on {
        return Ok(());
    }
    let builder: LuaFunction = lua
        .load(include_str!("lua/listing.lua"))
        .set_name("=fscache/listing.lua")
        .call(())?;
    lua.set_named_registry_value(
        LISTING_BUILDER
            .to_str()
            .unwrap_or("fscache.listing_builder"),
        builder,
    )
}

/// `{ path, mtime, mtime_nsec, entries = { {name=, type=}, ... } }` of a directory listing.
pub fn listing(lua: &Lua, path: &[u8], id: &Identity, entries: &[DirEntry]) -> LuaResult<LuaTable> {
    let builder: Option<LuaFunction> = lua
        .named_registry_value(LISTING_BUILDER.to_str().unwrap_or(""))
        .unwrap_or(None);
    if let Some(builder) = builder {
        let size = entries.iter().map(|e| e.name.len() + 1).sum();
        let mut names = Vec::with_capacity(size);
        let mut types = Vec::with_capacity(entries.len());
        for e in entries {
            names.extend_from_slice(&e.name);
            names.push(0);
            types.push(kind_index(e.kind) as u8 + 1);
        }
        return builder.call((
            lua.create_string(path)?,
            id.mtime.sec,
            id.mtime.nsec,
            lua.create_string(&names)?,
            lua.create_string(&types)?,
            entries.len(),
        ));
    }
    listing_capi(lua, path, id, entries)
}

/// [`listing`] through the C API (interpreters without a JIT).
fn listing_capi(
    lua: &Lua,
    path: &[u8],
    id: &Identity,
    entries: &[DirEntry],
) -> LuaResult<LuaTable> {
    build_table(lua, 20, |l| {
        // SAFETY: the stack holds the 8 type words, 2 keys, the listing, the entries array and
        // one entry table plus a key and a value at a time (15 slots); only the listing is left.
        unsafe {
            let base = ffi::lua_gettop(l);
            for k in KINDS {
                push_bytes(l, k.as_str().as_bytes());
            }
            // The two keys, pushed once: a raw set with a key already on the stack skips
            // interning the key string and the metamethod check for every entry.
            push_bytes(l, b"name");
            push_bytes(l, b"type");
            let (name_key, type_key) = (base + 9, base + 10);
            ffi::lua_createtable(l, 0, 4);
            let out = ffi::lua_gettop(l);
            push_bytes(l, path);
            ffi::lua_setfield(l, out, c"path".as_ptr());
            set_int(l, c"mtime", id.mtime.sec);
            set_int(l, c"mtime_nsec", id.mtime.nsec);
            let n = i32::try_from(entries.len()).unwrap_or(i32::MAX);
            ffi::lua_createtable(l, n, 0);
            for (i, e) in entries.iter().enumerate() {
                ffi::lua_createtable(l, 0, 2);
                ffi::lua_pushvalue(l, name_key);
                push_bytes(l, &e.name);
                ffi::lua_rawset(l, -3);
                ffi::lua_pushvalue(l, type_key);
                ffi::lua_pushvalue(l, base + 1 + kind_index(e.kind));
                ffi::lua_rawset(l, -3);
                ffi::lua_rawseti(l, -2, (i + 1) as _);
            }
            ffi::lua_setfield(l, out, c"entries".as_ptr());
            // Leave only the listing.
            ffi::lua_replace(l, base + 1);
            ffi::lua_settop(l, base + 1);
        }
    })
}
