//! Main-thread side: the [`JsonLua`] context, the protected-call driver of the raw table builder
//! ([`build_protected`], used by [`doc_to_lua`](super::doc_to_lua)), and the Lua-facing functions
//! put into the native table by [`register`].

use std::ffi::c_int;
use std::rc::Rc;

use mlua::prelude::*;
use mlua::{ffi, RegistryKey};

use super::{decode_doc, doc_to_lua, encode, JsonDoc, SlicedBuild, CODE};
use crate::options::{bad_option, bool_option, int_in, options_arg, string_option, table_option};

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
            return Err(bad_option(
                "null",
                F,
                "userdata, lightuserdata or table",
                &v,
            ))
        }
    };
    let empty_dict_mt = match table_option(&opts, "empty_dict_mt", F)? {
        Some(t) => t,
        None => private_dict_mt(lua)?,
    };
    let array_mt = match table_option(&opts, "array_mt", F)? {
        Some(t) => Some(lua.create_registry_value(t)?),
        None => None,
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
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
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
}

fn bad_arg(n: usize, func: &str, expected: &str, got: &LuaValue) -> LuaError {
    LuaError::runtime(format!(
        "bad argument #{n} to '{func}' ({expected} expected, got {})",
        got.type_name()
    ))
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
    if let Some(o) = options_arg(opts, func, 2)? {
        jsonc = bool_option(&o, "jsonc", func)?.unwrap_or(false);
        path = string_option(&o, "path", func)?;
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
    if let Some(o) = options_arg(opts, F, 2)? {
        indent = match o.get::<LuaValue>("indent")? {
            LuaValue::Nil | LuaValue::Boolean(false) => None,
            LuaValue::Boolean(true) => Some(2),
            v => match int_in(&v, &(0..=64)) {
                Some(n) => Some(n as usize),
                None => return Err(bad_option("indent", F, "boolean or integer 0..64", &v)),
            },
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
