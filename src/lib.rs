//! fscache: cached, non-blocking file and directory access for Lua (LuaJIT, Lua 5.1/5.4, Neovim).
//!
//! `luaopen_fscache` builds the native table and hands it to the embedded Lua shim
//! (`src/lua/*.lua`), which returns the public module.

#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

mod cache;
mod fasthash;
mod fs;
mod json;
mod lua_util;
mod options;
mod runtime;
mod watch;

/// What the integration tests (`tests/*.rs`) reach inside the crate. Not a public API: it
/// changes whenever the internals do.
#[doc(hidden)]
pub mod testing {
    /// The file-system layer (`src/fs/`).
    pub mod fs {
        pub use crate::fs::{
            read_dir, read_file, stat_path, write_atomic, EntryKind, FsError, Identity, Timestamp,
        };
    }

    /// The JSON layer (`src/json/`).
    pub mod json {
        pub use crate::json::{
            ctx, decode_doc, doc_to_lua, encode, is_jsonc_path, register, JsonDoc, JsonError,
            SlicedBuild, MAX_DEPTH,
        };

        /// [`decode_doc`] as a `serde_json::Value`, to compare with `serde_json::json!` values.
        pub fn decode(
            bytes: &[u8],
            jsonc: bool,
            path: &[u8],
        ) -> Result<serde_json::Value, JsonError> {
            decode_doc(bytes, jsonc, path).map(|d| d.to_value())
        }
    }

    /// Option parsing (`src/options.rs`).
    pub mod options {
        pub use crate::options::*;
    }

    /// The cache engine (`src/cache/`).
    pub mod cache {
        pub use crate::cache::is_racy;
    }

    /// Entry and listing tables (`src/cache/entry_table.rs`).
    pub mod entry_table {
        pub use crate::cache::entry_table::{install, listing, PackedListing, SlicedListing};
    }
}

use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use mlua::prelude::*;

use crate::cache::{DirectoryCache, FileCache};
use crate::runtime::Runtime;

/// The crate version, exported as `fscache.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Registry name of the per-state table shared by every load of the module.
const SHARED: &str = "fscache.shared";

/// The last panic message caught in this process (never printed: it would break the Neovim TUI).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the default panic hook (which prints to stderr) with one that only records.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info.to_string();
            if let Ok(mut slot) = LAST_PANIC.lock() {
                *slot = Some(msg);
            }
        }));
    });
}

/// Embedded Lua sources, in load order: (name, source).
const LUA_SOURCES: [(&str, &str); 12] = [
    ("report", include_str!("lua/report.lua")),
    ("deliver", include_str!("lua/deliver.lua")),
    ("yield", include_str!("lua/yield.lua")),
    ("adapters", include_str!("lua/adapters.lua")),
    ("run", include_str!("lua/run.lua")),
    ("block_on", include_str!("lua/block_on.lua")),
    ("await", include_str!("lua/await.lua")),
    ("runners", include_str!("lua/runners.lua")),
    ("loop", include_str!("lua/loop.lua")),
    ("caches", include_str!("lua/caches.lua")),
    ("meta", include_str!("lua/meta.lua")),
    ("module", include_str!("lua/module.lua")),
];

fn setup(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<()> {
    const F: &str = "setup";
    let rt = Runtime::get(lua)?;
    let Some(opts) = opts else { return Ok(()) };
    if let Some(n) = options::int_option(&opts, "threads", F, 1..=1024)? {
        rt.pool().set_limit(n as usize);
    }
    if let Some(n) = options::int_option(&opts, "worker_nice", F, 0..=19)? {
        rt.pool().set_nice(n as i32);
    }
    if let Some(n) = options::int_or_false_option(&opts, "watch_limit", F, 0..=i64::MAX, 0)? {
        rt.watcher()
            .set_limit(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = options::int_option(&opts, "write_threads", F, 1..=64)? {
        rt.lane().pool().set_limit(n as usize);
    }
    if let Some(d) = options::ms_option(&opts, "slice_ms", F)? {
        rt.set_slice(d);
    }
    match opts.get::<LuaValue>("run_ahead")? {
        LuaValue::Nil => {}
        LuaValue::Boolean(auto) => {
            rt.set_run_ahead(auto.then(runtime::default_run_ahead).flatten())
        }
        v => match options::int_in(&v, &(2..=1_000_000)) {
            Some(n) => rt.set_run_ahead(Some(n as usize)),
            None => {
                return Err(options::bad_option(
                    "run_ahead",
                    F,
                    "integer 2..1000000, true or false",
                    &v,
                ))
            }
        },
    }
    Ok(())
}

/// The native table handed to the shim.
fn native(lua: &Lua) -> LuaResult<LuaTable> {
    let rt = Runtime::get(lua)?;
    let n = lua.create_table()?;
    n.set("version", VERSION)?;
    n.set("lua_version", lua.globals().get::<LuaValue>("_VERSION")?)?;
    n.set(
        "new_file_cache",
        lua.create_function(|lua, opts: Option<LuaTable>| FileCache::new(lua, opts))?,
    )?;
    n.set(
        "new_dir_cache",
        lua.create_function(|lua, opts: Option<LuaTable>| DirectoryCache::new(lua, opts))?,
    )?;
    n.set("setup", lua.create_function(setup)?)?;
    let fd = rt.fd();
    n.set("fd", lua.create_function(move |_, ()| Ok(fd))?)?;
    n.set(
        "reset_wake",
        lua.create_function(|lua, ()| {
            Runtime::get(lua)?.reset_wake();
            Ok(())
        })?,
    )?;
    n.set(
        "dispatch",
        lua.create_function(|lua, budget: LuaValue| {
            let budget = options::ms_arg(&budget, "dispatch", 1)?;
            Runtime::get(lua)?.dispatch(lua, budget)
        })?,
    )?;
    n.set(
        "wait",
        lua.create_function(|lua, ms: LuaValue| {
            let ms = options::ms_arg(&ms, "wait", 1)?.unwrap_or(Duration::from_secs(3600 * 24));
            Ok(Runtime::get(lua)?.wait(ms))
        })?,
    )?;
    n.set(
        "flush_writes",
        lua.create_function(|_, ms: LuaValue| {
            let limit = options::ms_arg(&ms, "flush_writes", 1)?.unwrap_or(runtime::FLUSH_LIMIT);
            Ok(runtime::flush_all(limit))
        })?,
    )?;
    n.set(
        "pending",
        lua.create_function(|lua, ()| Ok(Runtime::get(lua)?.pending()))?,
    )?;
    n.set(
        "pool_stats",
        lua.create_function(|lua, ()| {
            let rt = Runtime::get(lua)?;
            let (running, queued) = rt.pool().load();
            let t = lua.create_table()?;
            t.set("threads", rt.pool().limit())?;
            t.set("running", running)?;
            t.set("queued", queued)?;
            t.set("pending", rt.pending())?;
            t.set("delivered", rt.delivered())?;
            t.set("waiting", rt.waiting())?;
            t.set("run_ahead", rt.run_ahead().unwrap_or(0))?;
            t.set("slice_ms", rt.slice().as_secs_f64() * 1000.0)?;
            t.set("worker_nice", rt.pool().nice())?;
            t.set("write_threads", rt.lane().pool().limit())?;
            let (w_running, w_queued) = rt.lane().pool().load();
            t.set("writes_running", w_running)?;
            t.set("writes_queued", w_queued)?;
            let w = rt.watcher().stats();
            t.set("watching", w.active)?;
            t.set("watches", w.watches)?;
            t.set("watch_limit", w.limit)?;
            t.set("watched_paths", w.tracked)?;
            t.set("watch_events", w.events)?;
            t.set("watch_inflight", w.inflight)?;
            Ok(t)
        })?,
    )?;
    let epoch = Instant::now();
    n.set(
        "now_ms",
        lua.create_function(move |_, ()| Ok(epoch.elapsed().as_secs_f64() * 1000.0))?,
    )?;
    n.set(
        "set_deliver",
        lua.create_function(|lua, f: LuaFunction| {
            lua.set_named_registry_value(lua_util::DELIVER, f)
        })?,
    )?;
    n.set(
        "last_panic",
        lua.create_function(|_, ()| Ok(LAST_PANIC.lock().ok().and_then(|s| s.clone())))?,
    )?;
    n.set("null", LuaValue::NULL)?;
    // The directory entry type words, in listing-code order (src/fs/dir.rs is their one source).
    n.set(
        "entry_types",
        lua.create_sequence_from(fs::EntryKind::WORDS)?,
    )?;
    json::register(lua, &n)?;
    // The metadata cache (stat and root lookups, `src/lua/meta.lua`).
    n.set(
        "meta",
        lua.create_function(|lua, ()| Ok(cache::MetaHandle(cache::Meta::get(lua)?)))?,
    )?;
    n.set(
        "cwd",
        lua.create_function(|lua, ()| match std::env::current_dir() {
            Ok(p) => {
                use std::os::unix::ffi::OsStrExt;
                Ok(Some(lua.create_string(p.as_os_str().as_bytes())?))
            }
            Err(_) => Ok(None),
        })?,
    )?;
    n.set(
        "shared",
        lua.create_function(|lua, ()| {
            // One table per Lua state, surviving re-require: the poll handle, the runner's
            // coroutine registry, the error handler.
            match lua.named_registry_value::<Option<LuaTable>>(SHARED)? {
                Some(t) => Ok(t),
                None => {
                    let t = lua.create_table()?;
                    lua.set_named_registry_value(SHARED, &t)?;
                    Ok(t)
                }
            }
        })?,
    )?;
    Ok(n)
}

/// Builds the module: native table + embedded Lua shim.
pub fn open(lua: &Lua) -> LuaResult<LuaTable> {
    install_panic_hook();
    let native = native(lua)?;
    cache::entry_table::install(lua)?;
    let chunks = lua.create_table()?;
    for (name, src) in LUA_SOURCES {
        let f = lua
            .load(src)
            .set_name(format!("=fscache/{name}.lua"))
            .into_function()?;
        chunks.set(name, f)?;
    }
    let module: LuaFunction = chunks.get("module")?;
    module.call((native, chunks))
}

#[mlua::lua_module(name = "fscache", skip_memory_check)]
fn luaopen(lua: &Lua) -> LuaResult<LuaTable> {
    open(lua)
}
