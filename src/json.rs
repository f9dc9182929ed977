//! TEMPORARY stub until the JSON layer lands (decode on the pool, Lua conversion, encode).
use mlua::prelude::*;

/// A JSON error; code is always "EJSON".
pub struct JsonError {
    /// "<path>:<line>:<column>: <reason>"
    pub message: String,
}

/// Parses JSON text (pool thread).
pub fn decode(bytes: &[u8], _jsonc: bool, path: &[u8]) -> Result<serde_json::Value, JsonError> {
    serde_json::from_slice(bytes).map_err(|e| JsonError {
        message: format!(
            "{}:{}:{}: {}",
            String::from_utf8_lossy(path),
            e.line(),
            e.column(),
            e
        ),
    })
}

/// True for paths ending in ".jsonc".
pub fn is_jsonc_path(path: &[u8]) -> bool {
    path.ends_with(b".jsonc")
}

/// Builds the Lua value of a decoded document.
pub fn value_to_lua(lua: &Lua, v: &serde_json::Value) -> LuaResult<LuaValue> {
    Ok(match v {
        serde_json::Value::Null => LuaValue::NULL,
        serde_json::Value::Bool(b) => LuaValue::Boolean(*b),
        serde_json::Value::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => LuaValue::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table()?;
            for x in a {
                t.raw_push(value_to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table()?;
            for (k, x) in o {
                t.raw_set(k.as_str(), value_to_lua(lua, x)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

/// Encodes a Lua value as JSON text.
pub fn encode(_lua: &Lua, _v: LuaValue, _indent: Option<usize>) -> Result<Vec<u8>, JsonError> {
    Err(JsonError {
        message: "json encode not implemented yet".into(),
    })
}
