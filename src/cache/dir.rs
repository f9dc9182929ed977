//! `DirectoryCache`: sorted directory listings validated by the directory's identity.

use std::rc::Rc;
use std::time::Duration;

use mlua::prelude::*;
use mlua::{UserData, UserDataMethods};

use crate::fs::{FsError, Identity, Timestamp};
use crate::watch::Kind;

use super::engine::Core;
use super::entry_table::{PackedListing, SlicedListing};
use super::loader::{Built, Loader, Memo};
use super::methods::{add_common_methods, HasCore};
use super::options::{self, Class};

/// Listings with more entries than this are built a slice at a time by async gets (about
/// 50 ns an entry: a one-shot build of this many holds the loop for about 0.5 ms).
pub const LISTING_SLICE_ENTRIES: usize = 10_000;

/// The directory half of the cache engine.
pub struct DirLoader;

impl Loader for DirLoader {
    const KIND: Kind = Kind::Dir;
    type Data = PackedListing;
    type Mode = ();

    fn read(path: &[u8], _mode: (), _max_size: u64) -> Result<PackedListing, FsError> {
        PackedListing::read(path)
    }

    fn identity(data: &PackedListing) -> (Identity, Timestamp) {
        (data.identity, data.read_at)
    }

    fn build(lua: &Lua, path: &[u8], data: PackedListing, _mode: ()) -> LuaResult<Built> {
        let t = super::entry_table::listing(lua, path, &data)?;
        Ok(Built {
            table: t,
            bytes: data.name_bytes(),
            memo: 0,
            failure: None,
            parsed: false,
        })
    }

    type Slices = SlicedListing;

    fn slices(path: &[u8], data: PackedListing, _mode: ()) -> Result<SlicedListing, PackedListing> {
        if data.len() > LISTING_SLICE_ENTRIES {
            Ok(SlicedListing::new(path, data))
        } else {
            Err(data)
        }
    }

    fn step(lua: &Lua, s: &mut SlicedListing, budget: Duration) -> LuaResult<Option<Built>> {
        Ok(s.step(lua, budget)?.map(|t| Built {
            table: t,
            bytes: s.data().name_bytes(),
            memo: 0,
            failure: None,
            parsed: false,
        }))
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
    /// A new, empty cache. Options: `{ trust_mtime = bool, max_bytes = integer }`.
    pub fn new(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<DirectoryCache> {
        Ok(DirectoryCache {
            core: Core::new(lua, options::parse(opts, Class::Dir)?)?,
        })
    }
}

impl HasCore<DirLoader> for DirectoryCache {
    fn core(&self) -> &Rc<Core<DirLoader>> {
        &self.core
    }
}

impl UserData for DirectoryCache {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        add_common_methods::<Self, DirLoader, M>(m, ());
    }
}
