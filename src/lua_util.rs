//! Small helpers for the Lua boundary: argument checks, error values, callback delivery.

use mlua::ffi;
use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fs::FsError;

/// Registry name of the shim's `deliver(cb, ...)` (calls `cb` under xpcall, reports errors).
pub const DELIVER: &str = "fscache.deliver";
/// [`DELIVER`] for the raw C API.
const DELIVER_C: &std::ffi::CStr = c"fscache.deliver";

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

/// Runs `body` on the raw Lua state (Lua thread) with `slots` more stack slots guaranteed, and
/// puts the stack back where it was afterwards, whatever `body` returns. For hot paths where
/// mlua's safe calls (a protected call per table access) cost more than the work itself.
///
/// `body` may push at most `slots` values and leave any of them; it must keep to the Lua C API
/// rules (valid indices, no longjmp across Rust frames other than an allocation failure, which
/// unwinds through this frame like everywhere else in the module: `skip_memory_check`).
pub fn with_stack<R>(
    lua: &Lua,
    slots: std::ffi::c_int,
    body: impl FnOnce(&mlua::state::RawLua, *mut ffi::lua_State) -> LuaResult<R>,
) -> LuaResult<R> {
    lua.exec_raw_lua(|raw| {
        // SAFETY: Lua thread; the stack is grown before `body` runs and reset to `top` after.
        unsafe {
            let l = raw.state();
            if ffi::lua_checkstack(l, slots) == 0 {
                return Err(LuaError::runtime("fscache: Lua stack exhausted"));
            }
            let top = ffi::lua_gettop(l);
            let r = body(raw, l);
            ffi::lua_settop(l, top);
            r
        }
    })
}

/// Calls each waiting callback with `values`, through the shim's `deliver` (which runs it under
/// xpcall and reports errors, so nothing raises here), then releases the registry slots.
/// Raw C API: `Function::call` per waiter cost ~2k instructions of stack and protection work.
pub fn deliver(lua: &Lua, waiters: Vec<RegistryKey>, values: LuaMultiValue) -> LuaResult<()> {
    if waiters.is_empty() {
        return Ok(());
    }
    let nvalues = values.len() as std::ffi::c_int;
    let res = with_stack(lua, nvalues + 3, |raw, l| {
        // SAFETY: the values are pushed once above the current top; for each waiter the deliver
        // function, the callback (from its registry slot, still held by `waiters`) and copies of
        // the values are pushed and called; `deliver` catches the callback's errors itself.
        unsafe {
            let top = ffi::lua_gettop(l);
            for v in values.iter() {
                raw.push_value(v)?;
            }
            for key in &waiters {
                ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, DELIVER_C.as_ptr());
                ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, key.id() as _);
                for i in 1..=nvalues {
                    ffi::lua_pushvalue(l, top + i);
                }
                ffi::lua_call(l, nvalues + 1, 0);
            }
            Ok(())
        }
    });
    for key in waiters {
        lua.remove_registry_value(key)?;
    }
    res
}
