//! The userdata methods FileCache and DirectoryCache share, registered once for both:
//! `get`, `get_sync`, `peek`, `cancel`, `invalidate`, `clear_all`, `stats`.

use std::rc::Rc;

use mlua::prelude::*;
use mlua::{UserData, UserDataMethods};

use crate::lua_util::{callback_arg, path_arg};

use super::engine::Core;
use super::loader::Loader;

/// A userdata that owns a cache engine.
pub trait HasCore<L: Loader> {
    /// The engine.
    fn core(&self) -> &Rc<Core<L>>;
}

/// `peek(path)`: the answer of a hit servable without I/O, or nil (counts the hit).
pub fn peek_value<L: Loader>(
    lua: &Lua,
    core: &Core<L>,
    path: &LuaValue,
    mode: L::Mode,
) -> LuaResult<LuaValue> {
    let hit = match path {
        LuaValue::String(s) => core.peek(lua, &s.as_bytes(), mode)?,
        other => core.peek(lua, &path_arg(other, "peek", 1)?, mode)?,
    };
    Ok(hit.and_then(|mut v| v.pop_front()).unwrap_or(LuaValue::Nil))
}

/// Registers the shared methods; `mode` is the plain (non-JSON) read mode of the kind.
pub fn add_common_methods<T, L, M>(m: &mut M, mode: L::Mode)
where
    T: HasCore<L> + UserData + 'static,
    L: Loader,
    M: UserDataMethods<T>,
{
    m.add_method("get", move |lua, this, (path, cb): (LuaValue, LuaValue)| {
        let path = path_arg(&path, "get", 1)?;
        let cb = callback_arg(cb, "get", 2)?;
        this.core().get(lua, path, mode, cb)
    });
    m.add_method("get_sync", move |lua, this, path: LuaValue| {
        let path = path_arg(&path, "get_sync", 1)?;
        this.core().get_sync(lua, &path, mode)
    });
    m.add_method("peek", move |lua, this, path: LuaValue| {
        peek_value(lua, this.core(), &path, mode)
    });
    m.add_method("cancel", |lua, this, handle: u64| {
        this.core().cancel(lua, handle)
    });
    m.add_method("invalidate", |lua, this, path: LuaValue| {
        let path = path_arg(&path, "invalidate", 1)?;
        let had = this.core().invalidate(&path);
        lua.expire_registry_values();
        Ok(had)
    });
    m.add_method("clear_all", |lua, this, ()| {
        this.core().clear_all();
        lua.expire_registry_values();
        Ok(())
    });
    m.add_method("stats", |lua, this, ()| this.core().stats_table(lua));
}
