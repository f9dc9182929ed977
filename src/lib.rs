//! fscache: cached, non-blocking file and directory access for Lua (LuaJIT, Lua 5.1/5.4, Neovim).
//!
//! `luaopen_fscache` builds the native table and hands it to the embedded Lua shim
//! (`src/lua/*.lua`), which returns the public module.

pub mod cache;
pub mod fasthash;
pub mod fs;
pub mod json;
pub mod lua_util;
pub mod runtime;
pub mod watch;

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
const LUA_SOURCES: [(&str, &str); 6] = [
    ("await", include_str!("lua/await.lua")),
    ("runners", include_str!("lua/runners.lua")),
    ("loop", include_str!("lua/loop.lua")),
    ("caches", include_str!("lua/caches.lua")),
    ("meta", include_str!("lua/meta.lua")),
    ("init", include_str!("lua/init.lua")),
];

fn setup(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<()> {
    let rt = Runtime::get(lua)?;
    let Some(opts) = opts else { return Ok(()) };
    match opts.get::<LuaValue>("threads")? {
        LuaValue::Nil => {}
        LuaValue::Integer(n) if (1..=1024).contains(&n) => rt.pool().set_limit(n as usize),
        LuaValue::Number(n) if (1.0..=1024.0).contains(&n) && n.fract() == 0.0 => {
            rt.pool().set_limit(n as usize)
        }
        v => {
            return Err(LuaError::runtime(format!(
                "bad option 'threads' to 'setup' (integer 1..1024 expected, got {})",
                lua_util::describe(&v)
            )))
        }
    }
    match opts.get::<LuaValue>("worker_nice")? {
        LuaValue::Nil => {}
        LuaValue::Integer(n) if (0..=19).contains(&n) => rt.pool().set_nice(n as i32),
        LuaValue::Number(n) if (0.0..=19.0).contains(&n) && n.fract() == 0.0 => {
            rt.pool().set_nice(n as i32)
        }
        v => {
            let got = lua_util::describe(&v);
            return Err(LuaError::runtime(format!(
                "bad option 'worker_nice' to 'setup' (integer 0..19 expected, got {got})"
            )));
        }
    }
    match opts.get::<LuaValue>("watch_limit")? {
        LuaValue::Nil => {}
        LuaValue::Boolean(false) => rt.watcher().set_limit(0),
        LuaValue::Integer(n) if n >= 0 => rt.watcher().set_limit(n as usize),
        LuaValue::Number(n) if n >= 0.0 && n.fract() == 0.0 => rt.watcher().set_limit(n as usize),
        v => {
            let got = lua_util::describe(&v);
            return Err(LuaError::runtime(format!(
                "bad option 'watch_limit' to 'setup' (integer >= 0 or false expected, got {got})"
            )));
        }
    }
    match opts.get::<LuaValue>("write_threads")? {
        LuaValue::Nil => {}
        LuaValue::Integer(n) if (1..=64).contains(&n) => rt.lane().pool().set_limit(n as usize),
        LuaValue::Number(n) if (1.0..=64.0).contains(&n) && n.fract() == 0.0 => {
            rt.lane().pool().set_limit(n as usize)
        }
        v => {
            let got = lua_util::describe(&v);
            return Err(LuaError::runtime(format!(
                "bad option 'write_threads' to 'setup' (integer 1..64 expected, got {got})"
            )));
        }
    }
    match opts.get::<LuaValue>("slice_ms")? {
        LuaValue::Nil => {}
        LuaValue::Integer(n) if n > 0 => rt.set_slice(Duration::from_millis(n as u64)),
        LuaValue::Number(n) if n > 0.0 && n.is_finite() => rt.set_slice(millis(n)),
        v => {
            return Err(LuaError::runtime(format!(
                "bad option 'slice_ms' to 'setup' (positive number expected, got {})",
                lua_util::describe(&v)
            )))
        }
    }
    Ok(())
}

/// Non-negative milliseconds as a Duration, saturating: `Duration::from_secs_f64` panics on values
/// too large for a Duration (1e300, inf), which a Lua caller can pass.
fn millis(n: f64) -> Duration {
    Duration::try_from_secs_f64(n / 1000.0).unwrap_or(Duration::MAX)
}

fn ms_arg(v: LuaValue, func: &str) -> LuaResult<Option<Duration>> {
    match v {
        LuaValue::Nil => Ok(None),
        LuaValue::Integer(n) if n >= 0 => Ok(Some(Duration::from_millis(n as u64))),
        // +inf (e.g. block_on(fn, math.huge)) means "no limit"; NaN fails `n >= 0.0`.
        LuaValue::Number(n) if n >= 0.0 => Ok(Some(millis(n))),
        v => Err(LuaError::runtime(format!(
            "bad argument #1 to '{func}' (milliseconds: non-negative number expected, got {})",
            lua_util::describe(&v)
        ))),
    }
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
        "drain",
        lua.create_function(|lua, ()| {
            Runtime::get(lua)?.drain_wake();
            Ok(())
        })?,
    )?;
    n.set(
        "dispatch",
        lua.create_function(|lua, budget: LuaValue| {
            let budget = ms_arg(budget, "dispatch")?;
            Runtime::get(lua)?.dispatch(lua, budget)
        })?,
    )?;
    n.set(
        "wait",
        lua.create_function(|lua, ms: LuaValue| {
            let ms = ms_arg(ms, "wait")?.unwrap_or(Duration::from_secs(3600 * 24));
            Ok(Runtime::get(lua)?.wait(ms))
        })?,
    )?;
    n.set(
        "flush_writes",
        lua.create_function(|_, ms: LuaValue| {
            let limit = ms_arg(ms, "flush_writes")?.unwrap_or(runtime::FLUSH_LIMIT);
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
    let init: LuaFunction = chunks.get("init")?;
    init.call((native, chunks))
}

#[mlua::lua_module(name = "fscache", skip_memory_check)]
fn luaopen(lua: &Lua) -> LuaResult<LuaTable> {
    open(lua)
}
