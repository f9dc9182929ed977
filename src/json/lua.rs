//! Main-thread side: the [`JsonLua`] context, [`serde_json::Value`] -> Lua, and the Lua-facing
//! functions put into the native table by [`register`].

use std::ffi::c_int;
use std::rc::Rc;

use mlua::prelude::*;
use mlua::{ffi, RegistryKey};
use serde_json::Value;

use super::{decode_doc, doc_to_lua, encode, JsonDoc, SlicedBuild, CODE, MAX_DEPTH};

/// Registry name of the module-private empty-dict marker (used when no Neovim marker is
/// configured, and still recognised after one is).
const PRIVATE_DICT_MT: &str = "fscache.json.empty_dict_mt";

/// Per-Lua-state JSON settings, stored in the state's app data (see [`ctx`], [`configure`]).
///
/// Everything is held as a [`RegistryKey`], never as a live handle, so the context costs no slot
/// on mlua's reference stack.
pub struct JsonLua {
    /// What JSON `null` decodes to (`vim.NIL` in Neovim, [`LuaValue::NULL`] otherwise).
    pub null: RegistryKey,
    /// Metatable marking an empty table as a JSON object (`getmetatable(vim.empty_dict())` in
    /// Neovim, the module-private marker otherwise).
    pub empty_dict_mt: RegistryKey,
    /// Optional metatable marking an empty table as a JSON array. When set, `[]` decodes to a
    /// table carrying it and unmarked empty tables encode as `{}` instead of `[]`.
    pub array_mt: Option<RegistryKey>,
}

/// [`JsonLua`] resolved to live values for the duration of one conversion.
pub(crate) struct Resolved {
    pub(crate) null: LuaValue,
    pub(crate) dict_mt: LuaTable,
    pub(crate) array_mt: Option<LuaTable>,
}

impl JsonLua {
    /// The default context: null = [`LuaValue::NULL`], the module-private empty-dict marker, no
    /// array marker.
    pub fn new_default(lua: &Lua) -> LuaResult<JsonLua> {
        Ok(JsonLua {
            null: lua.create_registry_value(LuaValue::NULL)?,
            empty_dict_mt: lua.create_registry_value(private_dict_mt(lua)?)?,
            array_mt: None,
        })
    }

    pub(crate) fn resolve(&self, lua: &Lua) -> LuaResult<Resolved> {
        let null: LuaValue = lua.registry_value(&self.null)?;
        let dict_mt: LuaTable = lua.registry_value(&self.empty_dict_mt)?;
        let array_mt = match &self.array_mt {
            Some(k) => Some(lua.registry_value::<LuaTable>(k)?),
            None => None,
        };
        Ok(Resolved {
            null,
            dict_mt,
            array_mt,
        })
    }
}

/// The module-private empty-dict marker, created on first use and kept in the registry.
pub(crate) fn private_dict_mt(lua: &Lua) -> LuaResult<LuaTable> {
    if let LuaValue::Table(t) = lua.named_registry_value::<LuaValue>(PRIVATE_DICT_MT)? {
        return Ok(t);
    }
    let t = lua.create_table()?;
    t.raw_set("__name", "fscache.empty_dict")?;
    lua.set_named_registry_value(PRIVATE_DICT_MT, &t)?;
    Ok(t)
}

/// The JSON context of this Lua state: the one stored by [`configure`], or a default one
/// (null = [`LuaValue::NULL`], module-private empty-dict marker) created and stored on first use.
pub fn ctx(lua: &Lua) -> LuaResult<Rc<JsonLua>> {
    if let Ok(Some(c)) = lua.try_app_data_ref::<Rc<JsonLua>>() {
        return Ok(Rc::clone(&c));
    }
    let c = Rc::new(JsonLua::new_default(lua)?);
    // If app data is borrowed right now, use the default without storing it.
    let _ = lua.try_set_app_data(Rc::clone(&c));
    Ok(c)
}

fn bad_opt(func: &str, what: &str, got: &LuaValue) -> LuaError {
    LuaError::runtime(format!(
        "bad argument #1 to '{func}' ({what}, got {})",
        got.type_name()
    ))
}

/// Replaces the JSON context of this Lua state from
/// `{ null = <value>, empty_dict_mt = <table|nil>, array_mt = <table|nil> }`.
///
/// * `null` (default `fscache.null`): a userdata, lightuserdata or table that JSON `null`
///   decodes to; it (and `fscache.null`) encode as `null`. Neovim passes `vim.NIL`.
/// * `empty_dict_mt` (default: the module-private marker): metatable put on decoded `{}` and
///   recognised on empty tables when encoding. Neovim passes `getmetatable(vim.empty_dict())`.
/// * `array_mt` (default none): see [`JsonLua::array_mt`].
///
/// Wrong types are Lua errors naming the field.
pub fn configure(lua: &Lua, opts: LuaTable) -> LuaResult<()> {
    const F: &str = "json_configure";
    let null = match opts.get::<LuaValue>("null")? {
        LuaValue::Nil => LuaValue::NULL,
        v @ (LuaValue::LightUserData(_) | LuaValue::UserData(_) | LuaValue::Table(_)) => v,
        v => {
            return Err(bad_opt(
                F,
                "opts.null must be a userdata, lightuserdata or table",
                &v,
            ))
        }
    };
    let empty_dict_mt = match opts.get::<LuaValue>("empty_dict_mt")? {
        LuaValue::Nil => private_dict_mt(lua)?,
        LuaValue::Table(t) => t,
        v => return Err(bad_opt(F, "opts.empty_dict_mt must be a table or nil", &v)),
    };
    let array_mt = match opts.get::<LuaValue>("array_mt")? {
        LuaValue::Nil => None,
        LuaValue::Table(t) => Some(lua.create_registry_value(t)?),
        v => return Err(bad_opt(F, "opts.array_mt must be a table or nil", &v)),
    };
    let c = JsonLua {
        null: lua.create_registry_value(null)?,
        empty_dict_mt: lua.create_registry_value(empty_dict_mt)?,
        array_mt,
    };
    lua.try_set_app_data(Rc::new(c))
        .map(|_| ())
        .map_err(|_| LuaError::runtime("json_configure: Lua app data is busy; try again"))
}

/// A new empty table that encodes as `{}` (like `vim.empty_dict()`; in Neovim it is one).
pub fn empty_dict(lua: &Lua) -> LuaResult<LuaTable> {
    let r = ctx(lua)?.resolve(lua)?;
    let t = lua.create_table()?;
    t.set_metatable(Some(r.dict_mt))?;
    Ok(t)
}

/// Converts a decoded value to Lua (main thread).
///
/// Arrays and objects become fresh tables; `null` becomes `ctx.null`; an empty object gets the
/// empty-dict marker, an empty array the array marker if one is configured. Numbers: see the
/// module docs (integers stay integers on Lua 5.4 when they fit in `i64`; otherwise, and on
/// LuaJIT / 5.1, the nearest double).
///
/// The tables are built directly on the Lua stack inside one protected call (no mlua handle per
/// value, so huge documents never touch mlua's ~8000-slot reference stack on LuaJIT / 5.1), and
/// the walk is iterative (no native stack per nesting level). Nesting deeper than [`MAX_DEPTH`]
/// is an error.
pub fn to_lua(lua: &Lua, v: &Value, ctx: &JsonLua) -> LuaResult<LuaValue> {
    // SAFETY: raw::build follows build_protected's contract.
    unsafe { build_protected(lua, ctx, LuaValue::Nil, |state| raw::build(state, v)) }
}

/// Stack slots of the null value, the empty-dict metatable, the array metatable (or nil) and
/// the caller's extra value while a raw builder runs (see [`build_protected`]).
pub(super) const NULL: c_int = 1;
pub(super) const DICT_MT: c_int = 2;
pub(super) const ARRAY_MT: c_int = 3;
pub(super) const EXTRA: c_int = 4;

/// Runs a raw table builder in one protected call, with [`NULL`], [`DICT_MT`], [`ARRAY_MT`]
/// and `extra` at stack slots 1..=4 ([`EXTRA`]), and returns the one value it pushed (or its
/// error, or a caught panic, as an `EJSON` Lua error).
///
/// # Safety
/// `build` may only use the slots it pushes (after `lua_checkstack`) and slots 1..=4, and on
/// `Ok` must leave exactly one more value on the stack: the result.
pub(super) unsafe fn build_protected(
    lua: &Lua,
    ctx: &JsonLua,
    extra: LuaValue,
    build: impl FnOnce(*mut ffi::lua_State) -> Result<(), String>,
) -> LuaResult<LuaValue> {
    let r = ctx.resolve(lua)?;
    let array_mt = r.array_mt.clone().map_or(LuaValue::Nil, LuaValue::Table);
    let mut failure: Option<String> = None;
    let args = (r.null.clone(), r.dict_mt.clone(), array_mt, extra);
    let out: LuaValue = lua.exec_raw(args, |state| {
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(state)));
        let e = match built {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("internal error (panic) while building the Lua value".to_owned()),
        };
        if e.is_some() {
            ffi::lua_pushnil(state);
        }
        failure = e;
        // Keep only the result.
        ffi::lua_replace(state, 1);
        ffi::lua_settop(state, 1);
    })?;
    match failure {
        Some(e) => Err(LuaError::runtime(format!("{CODE}: {e}"))),
        None => Ok(out),
    }
}

/// Raw Lua C API table building for [`to_lua`].
mod raw {
    use std::ffi::c_int;

    use mlua::ffi;
    use serde_json::Value;

    use super::{ARRAY_MT, DICT_MT, MAX_DEPTH, NULL};

    enum Members<'v> {
        Array(std::slice::Iter<'v, Value>),
        Object(serde_json::map::Iter<'v>),
    }

    /// An open table (on the Lua stack) and its members still to convert.
    struct Frame<'v> {
        members: Members<'v>,
        /// 1-based index of the last array member taken.
        index: usize,
    }

    enum Step<'v> {
        /// A leaf was pushed on top of the open table (and, for objects, its key).
        Leaf,
        /// A new non-empty table was pushed; it becomes the open one.
        Open(Frame<'v>),
        /// The open table has no more members.
        Close,
    }

    /// Pushes the Lua value for `root` on top of the stack.
    ///
    /// Stack layout while building: `[null, dict_mt, array_mt, open tables..., (key), value]`;
    /// every open table sits under the one nested in it, object keys under their value.
    pub(super) unsafe fn build(state: *mut ffi::lua_State, root: &Value) -> Result<(), String> {
        let mut frames: Vec<Frame> = Vec::new();
        if let Some(f) = push(state, root, 0)? {
            frames.push(f);
        }
        loop {
            let depth = frames.len();
            let Some(top) = frames.last_mut() else {
                return Ok(());
            };
            let step = match &mut top.members {
                Members::Array(items) => match items.next() {
                    Some(v) => {
                        top.index += 1;
                        match push(state, v, depth)? {
                            Some(child) => Step::Open(child),
                            None => Step::Leaf,
                        }
                    }
                    None => Step::Close,
                },
                Members::Object(items) => match items.next() {
                    Some((k, v)) => {
                        push_str(state, k);
                        match push(state, v, depth)? {
                            Some(child) => Step::Open(child),
                            None => Step::Leaf,
                        }
                    }
                    None => Step::Close,
                },
            };
            match step {
                Step::Leaf => attach(state, top),
                Step::Open(child) => frames.push(child),
                Step::Close => {
                    frames.pop();
                    if let Some(parent) = frames.last() {
                        attach(state, parent);
                    }
                }
            }
        }
    }

    /// Stores the value on top of the stack into the open table `parent` (under its key).
    unsafe fn attach(state: *mut ffi::lua_State, parent: &Frame) {
        match parent.members {
            // `push` refuses arrays longer than i32::MAX, so the index fits every Lua version.
            Members::Array(_) => ffi::lua_rawseti(state, -2, parent.index as ffi::lua_Integer),
            Members::Object(_) => ffi::lua_rawset(state, -3),
        }
    }

    unsafe fn push_str(state: *mut ffi::lua_State, s: &str) {
        super::super::push_bytes(state, s.as_bytes());
    }

    /// Pushes `v` (a container at nesting `depth + 1`); returns a frame for a non-empty
    /// container, whose members the caller then fills in.
    unsafe fn push<'v>(
        state: *mut ffi::lua_State,
        v: &'v Value,
        depth: usize,
    ) -> Result<Option<Frame<'v>>, String> {
        let container = matches!(v, Value::Array(_) | Value::Object(_));
        if container {
            if depth >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH} arrays/objects"));
            }
            // The table, a key, a value and a metatable.
            if ffi::lua_checkstack(state, 4) == 0 {
                return Err("Lua stack overflow".to_owned());
            }
        }
        match v {
            Value::Null => ffi::lua_pushvalue(state, NULL),
            Value::Bool(b) => ffi::lua_pushboolean(state, c_int::from(*b)),
            Value::Number(n) => push_number(state, n),
            Value::String(s) => push_str(state, s),
            Value::Array(items) if items.is_empty() => {
                ffi::lua_createtable(state, 0, 0);
                if ffi::lua_type(state, ARRAY_MT) == ffi::LUA_TTABLE {
                    ffi::lua_pushvalue(state, ARRAY_MT);
                    ffi::lua_setmetatable(state, -2);
                }
            }
            Value::Object(map) if map.is_empty() => {
                ffi::lua_createtable(state, 0, 0);
                ffi::lua_pushvalue(state, DICT_MT);
                ffi::lua_setmetatable(state, -2);
            }
            Value::Array(items) => {
                let n = c_int::try_from(items.len()).map_err(|_| "array too large for Lua")?;
                ffi::lua_createtable(state, n, 0);
                return Ok(Some(Frame {
                    members: Members::Array(items.iter()),
                    index: 0,
                }));
            }
            Value::Object(map) => {
                ffi::lua_createtable(state, 0, c_int::try_from(map.len()).unwrap_or(c_int::MAX));
                return Ok(Some(Frame {
                    members: Members::Object(map.iter()),
                    index: 0,
                }));
            }
        }
        Ok(None)
    }

    #[cfg(feature = "lua54")]
    unsafe fn push_number(state: *mut ffi::lua_State, n: &serde_json::Number) {
        match n.as_i64() {
            Some(i) => ffi::lua_pushinteger(state, i),
            None => ffi::lua_pushnumber(state, n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    #[cfg(not(feature = "lua54"))]
    unsafe fn push_number(state: *mut ffi::lua_State, n: &serde_json::Number) {
        // Lua numbers are doubles: the nearest one, as strtod (vim.json.decode) gives.
        ffi::lua_pushnumber(state, n.as_f64().unwrap_or(f64::NAN));
    }
}

fn bad_arg(n: usize, func: &str, expected: &str, got: &LuaValue) -> LuaError {
    LuaError::runtime(format!(
        "bad argument #{n} to '{func}' ({expected} expected, got {})",
        got.type_name()
    ))
}

/// `opts` must be nil or a table; returns the table if any.
fn opts_table(n: usize, func: &str, opts: LuaValue) -> LuaResult<Option<LuaTable>> {
    match opts {
        LuaValue::Nil => Ok(None),
        LuaValue::Table(t) => Ok(Some(t)),
        v => Err(bad_arg(n, func, "table or nil", &v)),
    }
}

type Ret = (LuaValue, Option<String>, Option<&'static str>);

fn failed(message: String) -> Ret {
    (LuaValue::Nil, Some(message), Some(CODE))
}

/// Parses `(str, opts?)` of `json_decode` / `json_decode_sliced` and decodes the text.
fn decode_args(func: &str, s: LuaValue, opts: LuaValue) -> LuaResult<Result<JsonDoc, String>> {
    let s = match s {
        LuaValue::String(s) => s,
        v => return Err(bad_arg(1, func, "string", &v)),
    };
    let mut jsonc = false;
    let mut path: Option<LuaString> = None;
    if let Some(o) = opts_table(2, func, opts)? {
        jsonc = match o.get::<LuaValue>("jsonc")? {
            LuaValue::Nil => false,
            LuaValue::Boolean(b) => b,
            v => return Err(bad_arg(2, func, "boolean opts.jsonc", &v)),
        };
        path = match o.get::<LuaValue>("path")? {
            LuaValue::Nil => None,
            LuaValue::String(p) => Some(p),
            v => return Err(bad_arg(2, func, "string opts.path", &v)),
        };
    }
    let path_bytes = path.as_ref().map(|p| p.as_bytes());
    let path: &[u8] = path_bytes.as_deref().unwrap_or(b"<string>");
    Ok(decode_doc(&s.as_bytes(), jsonc, path).map_err(|e| e.message))
}

/// `json_decode(str, opts?)`: opts `{ jsonc = bool, path = string }` (`path` only names the
/// source in error messages; default `"<string>"`).
fn lua_decode(lua: &Lua, (s, opts): (LuaValue, LuaValue)) -> LuaResult<Ret> {
    match decode_args("json_decode", s, opts)? {
        Ok(doc) => {
            let c = ctx(lua)?;
            Ok((doc_to_lua(lua, &doc, &c)?, None, None))
        }
        Err(e) => Ok(failed(e)),
    }
}

/// The Lua face of a [`SlicedBuild`] (returned by `json_decode_sliced`).
struct SlicedDecode(Option<SlicedBuild>);

impl LuaUserData for SlicedDecode {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        // `step(budget_ms)` -> `true, value` once built, `false` while more steps are needed.
        m.add_function(
            "step",
            |lua, (ud, budget_ms): (LuaAnyUserData, LuaValue)| {
                let ms = match budget_ms {
                    LuaValue::Integer(n) if n >= 0 => n as f64,
                    LuaValue::Number(n) if n >= 0.0 && n.is_finite() => n,
                    v => return Err(bad_arg(1, "step", "non-negative number budget_ms", &v)),
                };
                // Taken out while it runs: no borrow of the userdata is held across the build.
                let taken = ud.borrow_mut::<SlicedDecode>()?.0.take();
                let Some(mut b) = taken else {
                    return Err(LuaError::runtime("step: the build already ended"));
                };
                let out = b.step(lua, std::time::Duration::from_secs_f64(ms / 1e3))?;
                if !b.is_finished() {
                    ud.borrow_mut::<SlicedDecode>()?.0 = Some(b);
                }
                Ok((out.is_some(), out.unwrap_or(LuaValue::Nil)))
            },
        );
    }
}

/// `json_decode_sliced(str, opts?)` -> a builder whose `step(budget_ms)` converts the decoded
/// text a slice at a time (`true, value` at the end), or `nil, msg, "EJSON"`. For the specs and
/// the benchmark; the caches use [`SlicedBuild`] directly.
fn lua_decode_sliced(lua: &Lua, (s, opts): (LuaValue, LuaValue)) -> LuaResult<Ret> {
    match decode_args("json_decode_sliced", s, opts)? {
        Ok(doc) => {
            let b = lua.create_userdata(SlicedDecode(Some(SlicedBuild::new(doc))))?;
            Ok((LuaValue::UserData(b), None, None))
        }
        Err(e) => Ok(failed(e)),
    }
}

/// `json_encode(value, opts?)`: opts `{ indent = n | true | false }` (`true` = 2 spaces).
fn lua_encode(lua: &Lua, (v, opts): (LuaValue, LuaValue)) -> LuaResult<Ret> {
    const F: &str = "json_encode";
    let mut indent = None;
    if let Some(o) = opts_table(2, F, opts)? {
        indent = match o.get::<LuaValue>("indent")? {
            LuaValue::Nil | LuaValue::Boolean(false) => None,
            LuaValue::Boolean(true) => Some(2),
            LuaValue::Integer(n) if (0..=64).contains(&n) => Some(n as usize),
            LuaValue::Number(n) if n.fract() == 0.0 && (0.0..=64.0).contains(&n) => {
                Some(n as usize)
            }
            v => return Err(bad_arg(2, F, "boolean or integer 0..64 opts.indent", &v)),
        };
    }
    match encode(lua, v, indent) {
        Ok(bytes) => Ok((LuaValue::String(lua.create_string(bytes)?), None, None)),
        Err(e) => Ok(failed(e.message)),
    }
}

/// Adds the JSON functions to the native module table:
///
/// * `json_decode(str, opts?) -> value | nil, msg, "EJSON"`; `opts.jsonc` (boolean),
///   `opts.path` (string used in error messages).
/// * `json_encode(value, opts?) -> string | nil, msg, "EJSON"`; `opts.indent` (integer spaces,
///   or `true` for 2); keys sorted; trailing newline when indented.
/// * `json_decode_sliced(str, opts?) -> builder | nil, msg, "EJSON"`: the same decode, converted
///   by `builder:step(budget_ms)` (returns `true, value` at the end, `false` before); internal,
///   for the specs and the benchmark.
/// * `json_configure(opts)`: see [`configure`].
/// * `empty_dict() -> table`: see [`empty_dict`].
/// * `null`: [`LuaValue::NULL`], the default JSON null outside Neovim.
///
/// Wrong argument types raise Lua errors naming the argument; JSON failures are returned.
pub fn register(lua: &Lua, native: &LuaTable) -> LuaResult<()> {
    native.set("null", LuaValue::NULL)?;
    native.set("json_decode", lua.create_function(lua_decode)?)?;
    native.set("json_encode", lua.create_function(lua_encode)?)?;
    native.set(
        "json_decode_sliced",
        lua.create_function(lua_decode_sliced)?,
    )?;
    native.set(
        "json_configure",
        lua.create_function(|lua, opts: LuaValue| match opts {
            LuaValue::Table(t) => configure(lua, t),
            v => Err(bad_arg(1, "json_configure", "table", &v)),
        })?,
    )?;
    native.set(
        "empty_dict",
        lua.create_function(|lua, ()| empty_dict(lua))?,
    )?;
    Ok(())
}
