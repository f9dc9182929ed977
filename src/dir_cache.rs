//! `DirectoryCache`: sorted directory listings validated by the directory's identity.

use std::rc::Rc;

use mlua::prelude::*;
use mlua::{UserData, UserDataMethods};

use crate::cache_core::{Built, Core, Loader, Memo, Options};
use crate::entry_table::PackedListing;
use crate::file_cache::DEFAULT_MAX_SIZE;
use crate::fs::{read_dir, FsError, Identity, Timestamp};
use crate::lua_util::{callback_arg, path_arg};
use crate::watch::Kind;

/// The directory half of the cache engine.
pub struct DirLoader;

impl Loader for DirLoader {
    const KIND: Kind = Kind::Dir;
    type Data = PackedListing;
    type Mode = ();

    fn read(path: &[u8], _mode: (), _max_size: u64) -> Result<PackedListing, FsError> {
        read_dir(path).map(PackedListing::pack)
    }

    fn identity(data: &PackedListing) -> (Identity, Timestamp) {
        (data.identity, data.read_at)
    }

    fn build(lua: &Lua, path: &[u8], data: PackedListing, _mode: ()) -> LuaResult<Built> {
        let t = crate::entry_table::listing(lua, path, &data)?;
        Ok(Built {
            table: t,
            bytes: data.name_bytes(),
            memo: 0,
            failure: None,
            parsed: false,
        })
    }

    fn same(_lua: &Lua, old: &LuaTable, data: &PackedListing) -> LuaResult<bool> {
        let list: LuaTable = old.raw_get("entries")?;
        if list.raw_len() != data.len() {
            return Ok(false);
        }
        for (i, (name, kind)) in data.iter().enumerate() {
            let t: LuaTable = list.raw_get(i + 1)?;
            let old_name: LuaString = t.raw_get("name")?;
            let old_kind: LuaString = t.raw_get("type")?;
            if *old_name.as_bytes() != *name || *old_kind.as_bytes() != *kind.as_bytes() {
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
        m.add_method("peek", |lua, this, path: LuaValue| {
            crate::file_cache::peek_value(lua, &this.core, &path, ())
        });
        m.add_method("cancel", |lua, this, handle: u64| {
            this.core.cancel(lua, handle)
        });
    }
}
