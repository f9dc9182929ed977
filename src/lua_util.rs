//! Small helpers for the Lua boundary: argument checks, error values, callback delivery.

use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fs::FsError;

/// Registry name of the shim's `deliver(cb, ...)` (calls `cb` under xpcall, reports errors).
pub const DELIVER: &str = "fscache.deliver";

/// A path argument: a string, or a number coerced like `io.open` does; anything else is a Lua
/// error naming the argument and the function.
pub fn path_arg(v: &LuaValue, func: &str, pos: usize) -> LuaResult<Vec<u8>> {
    match v {
        LuaValue::String(s) => Ok(s.as_bytes().to_vec()),
        LuaValue::Integer(i) => Ok(i.to_string().into_bytes()),
        LuaValue::Number(n) => Ok(format_number(*n).into_bytes()),
        other => Err(LuaError::runtime(format!(
            "bad argument #{pos} to '{func}' (path: string expected, got {})",
            other.type_name()
        ))),
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A callback argument: must be a function.
pub fn callback_arg(v: LuaValue, func: &str, pos: usize) -> LuaResult<LuaFunction> {
    match v {
        LuaValue::Function(f) => Ok(f),
        other => Err(LuaError::runtime(format!(
            "bad argument #{pos} to '{func}' (callback: function expected, got {})",
            other.type_name()
        ))),
    }
}

/// `nil, message, code` for an I/O failure.
pub fn failure(lua: &Lua, e: &FsError) -> LuaResult<LuaMultiValue> {
    Ok(LuaMultiValue::from_vec(vec![
        LuaValue::Nil,
        LuaValue::String(lua.create_string(&e.message)?),
        LuaValue::String(lua.create_string(e.code)?),
    ]))
}

/// Calls each waiting callback with `values`, through the shim's `deliver`, releasing its
/// registry slot first.
pub fn deliver(lua: &Lua, waiters: Vec<RegistryKey>, values: LuaMultiValue) -> LuaResult<()> {
    if waiters.is_empty() {
        return Ok(());
    }
    let deliver: LuaFunction = lua.named_registry_value(DELIVER)?;
    let mut first_err = None;
    for key in waiters {
        let cb: LuaValue = lua.registry_value(&key)?;
        lua.remove_registry_value(key)?;
        let mut args = LuaMultiValue::with_capacity(values.len() + 1);
        args.push_back(cb);
        args.extend(values.iter().cloned());
        if let Err(e) = deliver.call::<()>(args) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A short description of a bad value for error messages: its type, or a number's value.
pub fn describe(v: &LuaValue) -> String {
    match v {
        LuaValue::Integer(i) => format!("number {i}"),
        LuaValue::Number(n) => format!("number {n}"),
        other => other.type_name().to_string(),
    }
}
