//! The metadata cache: `fscache.stat*` answers (missing paths included) cached per Lua state and
//! validated like file entries, plus the root-lookup cache of `root.rs`. One [`Meta`] per Lua
//! state, created on first use.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::prelude::*;
use mlua::{UserData, UserDataMethods};

use crate::fasthash::FastMap;
use crate::fs::{now_realtime, stat_path, stat_path_meta, EntryKind, FsError, Identity, Timestamp};
use crate::lua_util::{callback_arg, path_arg};
use crate::watch::{Kind, Plan, Setup};

use super::engine::{Core, Options};
use super::loader::{Built, Loader, Memo};
use super::root::{RootCounters, RootEntry};

/// Bytes accounted per cached stat answer beyond its path (the table and its fields).
const ENTRY_OVERHEAD: u64 = 96;
/// Bound on the cached stat answers' accounted bytes.
const META_MAX_BYTES: u64 = 32 << 20;

/// One stat: what it found, or the "does not exist" answer (ENOENT / ENOTDIR), which is cached
/// like any other. Other failures (EACCES, ELOOP, ...) are not cached.
pub struct StatRead {
    /// The identity of what the path names (symlinks followed), or the cached failure.
    pub found: Result<Identity, FsError>,
    /// When the stat ran.
    pub read_at: Timestamp,
}

fn cacheable_failure(e: &FsError) -> bool {
    e.code == "ENOENT" || e.code == "ENOTDIR"
}

fn into_read(r: Result<Identity, FsError>) -> Result<StatRead, FsError> {
    match r {
        Err(e) if !cacheable_failure(&e) => Err(e),
        found => Ok(StatRead {
            found,
            read_at: now_realtime(),
        }),
    }
}

/// The stat half of the cache engine.
pub struct StatLoader;

impl Loader for StatLoader {
    const KIND: Kind = Kind::Meta;
    const READ_VALIDATES: bool = true;
    type Data = StatRead;
    type Mode = ();

    fn read(path: &[u8], _mode: (), _max_size: u64) -> Result<StatRead, FsError> {
        into_read(stat_path(path))
    }

    fn read_watched(path: &[u8], _mode: (), _max: u64) -> Result<(StatRead, bool), FsError> {
        match stat_path_meta(path) {
            Ok((id, plain)) => into_read(Ok(id)).map(|r| (r, plain)),
            Err(e) => into_read(Err(e)).map(|r| (r, true)),
        }
    }

    fn confirm_watch(plan: &Plan, setup: &mut Setup, data: &StatRead, plain: bool, path: &[u8]) {
        let found = data
            .found
            .as_ref()
            .ok()
            .map(|id| (id.dev, id.is_dir(), plain));
        plan.confirm_meta(setup, found, path);
    }

    fn identity(data: &StatRead) -> (Identity, Timestamp) {
        // A missing path has the all-zero identity (mode 0: no file type).
        (data.found.clone().unwrap_or_default(), data.read_at)
    }

    /// A stat table is a handful of fields: never built in slices.
    type Slices = std::convert::Infallible;

    fn slices(_path: &[u8], data: StatRead, _mode: ()) -> Result<Self::Slices, StatRead> {
        Err(data)
    }

    fn step(
        _lua: &Lua,
        slices: &mut Self::Slices,
        _budget: std::time::Duration,
    ) -> LuaResult<Option<Built>> {
        match *slices {}
    }

    fn build(lua: &Lua, path: &[u8], data: StatRead, _mode: ()) -> LuaResult<Built> {
        let t = lua.create_table_with_capacity(0, 5)?;
        match &data.found {
            Ok(id) => {
                t.raw_set("type", EntryKind::from_mode(id.mode).as_str())?;
                t.raw_set("size", id.size)?;
                t.raw_set("mtime", id.mtime.sec)?;
                t.raw_set("mtime_nsec", id.mtime.nsec)?;
                t.raw_set("mode", id.mode)?;
            }
            Err(e) => {
                t.raw_set("err", e.message.as_str())?;
                t.raw_set("code", e.code)?;
            }
        }
        Ok(Built {
            table: t,
            bytes: path.len() as u64 + ENTRY_OVERHEAD,
            memo: 0,
            failure: None,
            parsed: false,
        })
    }

    fn same(_lua: &Lua, old: &LuaTable, data: &StatRead) -> LuaResult<bool> {
        // Called only when the identities are equal: two answers differ only by their code.
        let code: Option<LuaString> = old.raw_get("code")?;
        Ok(match &data.found {
            Ok(_) => code.is_none(),
            Err(e) => code.is_some_and(|c| *c.as_bytes() == *e.code.as_bytes()),
        })
    }

    fn serves(_memo: Memo, _mode: ()) -> bool {
        true
    }

    fn answer(_lua: &Lua, table: &LuaTable, _mode: ()) -> LuaResult<LuaMultiValue> {
        let code: LuaValue = table.raw_get("code")?;
        if code.is_nil() {
            return Ok(LuaMultiValue::from_vec(vec![LuaValue::Table(
                table.clone(),
            )]));
        }
        Ok(LuaMultiValue::from_vec(vec![
            LuaValue::Nil,
            table.raw_get("err")?,
            code,
        ]))
    }
}

/// The per-state metadata cache: stat answers and root answers.
pub struct Meta {
    pub(super) core: Rc<Core<StatLoader>>,
    pub(super) roots: RefCell<FastMap<Vec<u8>, RootEntry>>,
    pub(super) root_counters: RefCell<RootCounters>,
}

/// The Lua handle of a state's [`Meta`] (`native.meta()`).
#[derive(Clone)]
pub struct MetaHandle(pub Rc<Meta>);

impl Meta {
    /// The state's metadata cache (created on first use).
    pub fn get(lua: &Lua) -> LuaResult<Rc<Meta>> {
        if let Some(m) = lua.app_data_ref::<MetaHandle>() {
            return Ok(Rc::clone(&m.0));
        }
        let opts = Options {
            trust_mtime: true,
            max_size: 0,
            max_bytes: META_MAX_BYTES,
            durable: false,
        };
        let m = Rc::new(Meta {
            core: Core::new(lua, opts)?,
            roots: RefCell::default(),
            root_counters: RefCell::default(),
        });
        lua.set_app_data(MetaHandle(Rc::clone(&m)));
        Ok(m)
    }

    /// `meta_stats()`: the stat cache's counters plus the root lookups'.
    pub fn stats_table(&self, lua: &Lua) -> LuaResult<LuaTable> {
        let t = self.core.stats_table(lua)?;
        let c = *self.root_counters.borrow();
        t.raw_set("root_hits", c.hits)?;
        t.raw_set("root_misses", c.misses)?;
        t.raw_set("root_walks", c.walks)?;
        t.raw_set("root_entries", self.roots.borrow().len() as u64)?;
        Ok(t)
    }
}

impl UserData for MetaHandle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("stat", |lua, this, (path, cb): (LuaValue, LuaValue)| {
            let path = path_arg(&path, "stat", 1)?;
            let cb = callback_arg(cb, "stat", 2)?;
            this.0.core.get(lua, path, (), cb)
        });
        m.add_method("stat_sync", |lua, this, path: LuaValue| {
            let path = path_arg(&path, "stat_sync", 1)?;
            this.0.core.get_sync(lua, &path, ())
        });
        // `true, stat|nil, err, code` for a hit servable without I/O (a cached "does not exist"
        // included), `false` otherwise.
        m.add_method("peek", |lua, this, path: LuaString| {
            match this.0.core.peek(lua, &path.as_bytes(), ())? {
                Some(mut v) => {
                    v.push_front(LuaValue::Boolean(true));
                    Ok(v)
                }
                None => Ok(LuaMultiValue::from_vec(vec![LuaValue::Boolean(false)])),
            }
        });
        m.add_method("cancel", |lua, this, handle: u64| {
            this.0.core.cancel(lua, handle)
        });
        m.add_method("clear", |lua, this, ()| {
            this.0.core.clear_all();
            this.0.roots.borrow_mut().clear();
            lua.expire_registry_values();
            Ok(())
        });
        m.add_method("stats", |lua, this, ()| this.0.stats_table(lua));
        // Calls `f()` at the next dispatch, like any other result (a root answered at once still
        // reaches its callback after the call that asked for it).
        m.add_method("defer", |lua, this, f: LuaFunction| {
            let key = lua.create_registry_value(f)?;
            this.0.core.runtime()?.post(move |lua: &Lua| {
                crate::lua_util::deliver(lua, vec![key], LuaMultiValue::new())
            });
            Ok(())
        });
        m.add_method(
            "root_hit",
            |lua, this, (source, marker): (LuaValue, LuaValue)| {
                super::root::root_hit(lua, &this.0, &source, &marker)
            },
        );
        m.add_method(
            "root_try",
            |lua, this, (source, is_dir, groups, fresh): (LuaString, bool, LuaTable, Option<LuaTable>)| {
                super::root::root_try(lua, &this.0, &source.as_bytes(), is_dir, &groups, fresh)
            },
        );
    }
}
