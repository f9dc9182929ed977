//! Main-thread side: the [`JsonLua`] context, the protected-call driver of the raw table builder
//! ([`build_protected`], used by [`doc_to_lua`](super::doc_to_lua)), and the Lua-facing functions
//! put into the native table by [`register`].

use std::ffi::c_int;
use std::rc::Rc;

use mlua::prelude::*;
use mlua::{ffi, RegistryKey};

use super::{decode_doc, doc_to_lua, encode, CODE};
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

/// Stack slots of the null value, the empty-dict metatable and the array metatable (or nil)
/// while a raw builder runs (see [`build_protected`]).
pub(super) const NULL: c_int = 1;
pub(super) const DICT_MT: c_int = 2;
pub(super) const ARRAY_MT: c_int = 3;

/// Runs a raw table builder in one protected call, with [`NULL`], [`DICT_MT`] and [`ARRAY_MT`]
/// at stack slots 1..=3, and returns the one value it pushed (or its error, or a caught panic,
/// as an `EJSON` Lua error).
///
/// # Safety
/// `build` may only use the slots it pushes (after `lua_checkstack`) and slots 1..=3, and on
/// `Ok` must leave exactly one more value on the stack: the result.
pub(super) unsafe fn build_protected(
    lua: &Lua,
    ctx: &JsonLua,
    build: impl FnOnce(*mut ffi::lua_State) -> Result<(), String>,
) -> LuaResult<LuaValue> {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        let r = ctx.resolve(lua)?;
        let array_mt = r.array_mt.clone().map_or(LuaValue::Nil, LuaValue::Table);
        let mut failure: Option<String> = None;
        let out: LuaValue =
            lua.exec_raw((r.null.clone(), r.dict_mt.clone(), array_mt), |state| {
                let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(state)));
                let e = match built {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => {
                        Some("internal error (panic) while building the Lua value".to_owned())
                    }
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

/// `json_decode(str, opts?)`: opts `{ jsonc = bool, path = string }` (`path` only names the
/// source in error messages; default `"<string>"`).
fn lua_decode(lua: &Lua, (s, opts): (LuaValue, LuaValue)) -> LuaResult<Ret> {
    const F: &str = "json_decode";
    let s = match s {
        LuaValue::String(s) => s,
        v => return Err(bad_arg(1, F, "string", &v)),
    };
    let mut jsonc = false;
    let mut path: Option<LuaString> = None;
    if let Some(o) = options_arg(opts, F, 2)? {
        jsonc = bool_option(&o, "jsonc", F)?.unwrap_or(false);
        path = string_option(&o, "path", F)?;
    }
    let path_bytes = path.as_ref().map(|p| p.as_bytes());
    let path: &[u8] = path_bytes.as_deref().unwrap_or(b"<string>");
    let doc = decode_doc(&s.as_bytes(), jsonc, path);
    match doc {
        Ok(doc) => {
            let c = ctx(lua)?;
            Ok((doc_to_lua(lua, &doc, &c)?, None, None))
        }
        Err(e) => Ok(failed(e.message)),
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
