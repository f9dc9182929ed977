//! `DirectoryCache`: sorted directory listings validated by the directory's identity.

use std::rc::Rc;

use mlua::prelude::*;
use mlua::{UserData, UserDataMethods};

use crate::cache_core::{Built, Core, Loader, Memo, Options};
use crate::file_cache::DEFAULT_MAX_SIZE;
use crate::fs::{read_dir, DirListing, EntryKind, FsError, Identity, Timestamp};
use crate::lua_util::{callback_arg, path_arg};

/// The directory half of the cache engine.
pub struct DirLoader;

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

fn kind_index(k: EntryKind) -> usize {
    KINDS.iter().position(|x| *x == k).unwrap_or(7)
}

impl Loader for DirLoader {
    type Data = DirListing;
    type Mode = ();

    fn read(path: &[u8], _mode: (), _max_size: u64) -> Result<DirListing, FsError> {
        read_dir(path)
    }

    fn identity(data: &DirListing) -> (Identity, Timestamp) {
        (data.identity, data.read_at)
    }

    fn build(lua: &Lua, path: &[u8], data: DirListing, _mode: ()) -> LuaResult<Built> {
        let kinds = KINDS
            .iter()
            .map(|k| lua.create_string(k.as_str()))
            .collect::<LuaResult<Vec<_>>>()?;
        let list = lua.create_table_with_capacity(data.entries.len(), 0)?;
        let mut bytes = 0u64;
        for (i, e) in data.entries.iter().enumerate() {
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("name", lua.create_string(&e.name)?)?;
            t.raw_set("type", &kinds[kind_index(e.kind)])?;
            list.raw_set(i + 1, t)?;
            bytes += e.name.len() as u64;
        }
        let t = lua.create_table_with_capacity(0, 4)?;
        t.raw_set("path", lua.create_string(path)?)?;
        t.raw_set("mtime", data.identity.mtime.sec)?;
        t.raw_set("mtime_nsec", data.identity.mtime.nsec)?;
        t.raw_set("entries", list)?;
        Ok(Built {
            table: t,
            bytes,
            memo: 0,
            failure: None,
            parsed: false,
        })
    }

    fn same(_lua: &Lua, old: &LuaTable, data: &DirListing) -> LuaResult<bool> {
        let list: LuaTable = old.raw_get("entries")?;
        if list.raw_len() != data.entries.len() {
            return Ok(false);
        }
        for (i, e) in data.entries.iter().enumerate() {
            let t: LuaTable = list.raw_get(i + 1)?;
            let name: LuaString = t.raw_get("name")?;
            let kind: LuaString = t.raw_get("type")?;
            if *name.as_bytes() != *e.name || *kind.as_bytes() != *e.kind.as_str().as_bytes() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn serves(_memo: Memo, _mode: ()) -> bool {
        true
    }

    fn answer(_lua: &Lua, table: &LuaTable, _mode: ()) -> LuaResult<LuaMultiValue> {
        Ok(LuaMultiValue::from_vec(vec![LuaValue::Table(
            table.clone(),
        )]))
    }
}

/// The `DirectoryCache` userdata (wrapped by the Lua class in `src/lua/caches.lua`).
pub struct DirectoryCache {
    core: Rc<Core<DirLoader>>,
}

impl DirectoryCache {
    /// A new, empty cache. Options: `{ trust_mtime = bool }`.
    pub fn new(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<DirectoryCache> {
        let mut o = crate::file_cache::parse_options(opts)?;
        o.max_size = DEFAULT_MAX_SIZE;
        Ok(DirectoryCache {
            core: Core::new(lua, Options { ..o })?,
        })
    }
}

impl UserData for DirectoryCache {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("get", |lua, this, (path, cb): (LuaValue, LuaValue)| {
            let path = path_arg(&path, "get", 1)?;
            let cb = callback_arg(cb, "get", 2)?;
            this.core.get(lua, path, (), cb)
        });
        m.add_method("get_sync", |lua, this, path: LuaValue| {
            let path = path_arg(&path, "get_sync", 1)?;
            this.core.get_sync(lua, &path, ())
        });
        m.add_method("invalidate", |lua, this, path: LuaValue| {
            let path = path_arg(&path, "invalidate", 1)?;
            this.core.invalidate(lua, &path)
        });
        m.add_method("clear_all", |lua, this, ()| this.core.clear_all(lua));
        m.add_method("stats", |lua, this, ()| this.core.stats_table(lua));
        m.add_method("peek", |_, _, _path: LuaValue| Ok(LuaValue::Nil));
        m.add_method("cancel", |lua, this, handle: u64| {
            this.core.cancel(lua, handle)
        });
    }
}
