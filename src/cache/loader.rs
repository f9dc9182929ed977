//! The kind-specific half of a cache ([`Loader`]): what a pool read produces and how Lua sees it.
//! `FileLoader` (`file.rs`) and `DirLoader` (`dir.rs`) implement it; the engine does the rest.

use std::time::Duration;

use mlua::prelude::*;

use crate::fs::{FsError, Identity, Timestamp};
use crate::watch::{Kind, Plan, Setup};

/// What a cached entry already holds beyond the plain read (bit set, meaning is the loader's).
pub type Memo = u8;

/// A Lua value built from a read, ready to be cached.
pub struct Built {
    /// The entry table handed to Lua.
    pub table: LuaTable,
    /// Bytes accounted in `stats().bytes` (and against `max_bytes`).
    pub bytes: u64,
    /// What the entry holds (see [`Loader::serves`]).
    pub memo: Memo,
    /// The read worked but the requested view failed (e.g. invalid JSON): answer with this.
    pub failure: Option<FsError>,
    /// A decoded view (JSON) was built from the read: counted in `stats().parses`.
    pub parsed: bool,
}

/// The kind-specific half of a cache: how to read on the pool and what Lua sees.
pub trait Loader: 'static {
    /// How the watcher covers a path of this cache.
    const KIND: Kind;
    /// What one pool read produces.
    type Data: Send + 'static;
    /// Per-request view (e.g. plain content or decoded JSON).
    type Mode: Copy + Eq + std::hash::Hash + Send + 'static;
    /// Reads `path` (pool thread, no Lua).
    fn read(path: &[u8], mode: Self::Mode, max_size: u64) -> Result<Self::Data, FsError>;
    /// Reads `path` for a watched entry; also says whether the path is plain for the watcher
    /// (no symlink as last component, one hard link; see `crate::watch`).
    fn read_watched(
        path: &[u8],
        mode: Self::Mode,
        max_size: u64,
    ) -> Result<(Self::Data, bool), FsError> {
        Self::read(path, mode, max_size).map(|d| (d, true))
    }
    /// The read is itself the validation (a stat): gets never stat before reading.
    const READ_VALIDATES: bool = false;
    /// After a watched read (pool thread): keeps `setup` watched only if it covers what was
    /// read (`plain` as returned by [`Loader::read_watched`]).
    fn confirm_watch(plan: &Plan, setup: &mut Setup, data: &Self::Data, plain: bool, path: &[u8]) {
        plan.confirm(setup, Self::identity(data).0.dev, plain, path);
    }
    /// Identity and read time of what was read.
    fn identity(data: &Self::Data) -> (Identity, Timestamp);
    /// Builds the entry table (Lua thread).
    fn build(lua: &Lua, path: &[u8], data: Self::Data, mode: Self::Mode) -> LuaResult<Built>;
    /// An entry table built a slice at a time (see [`Loader::slices`]).
    type Slices: 'static;
    /// When building `data` at once would hold the loop for longer than about a quarter of a
    /// dispatch slice (a large JSON document, a large listing), the build to step instead
    /// (`Ok`); otherwise the data back (`Err`), for [`Loader::build`]. No Lua call.
    fn slices(path: &[u8], data: Self::Data, mode: Self::Mode) -> Result<Self::Slices, Self::Data>;
    /// Builds for about `budget`; `Some` once the table exists (the same [`Built`] as
    /// [`Loader::build`] gives). An error ends the build (Lua thread).
    fn step(lua: &Lua, slices: &mut Self::Slices, budget: Duration) -> LuaResult<Option<Built>>;
    /// True if `old` holds exactly what `data` read (used when the identity could not tell).
    fn same(lua: &Lua, old: &LuaTable, data: &Self::Data) -> LuaResult<bool>;
    /// Whether an entry with `memo` can answer `mode` without reading again.
    fn serves(memo: Memo, mode: Self::Mode) -> bool;
    /// The values a get in `mode` answers with, from a cached entry table.
    fn answer(lua: &Lua, table: &LuaTable, mode: Self::Mode) -> LuaResult<LuaMultiValue>;
}
