//! Options from Lua tables (and millisecond arguments), with one message style for every
//! function that takes them: `bad option 'threads' to 'setup' (integer 1..1024 expected, got
//! string "a")`. A bad value's type is always named, and for strings and numbers the value too.
//!
//! Every helper returns `Ok(None)` for a missing (nil) option, so callers keep their defaults.

use std::ops::RangeInclusive;
use std::time::Duration;

use mlua::prelude::*;

/// Longest part of a bad string value quoted in a message.
const QUOTED_MAX: usize = 40;

/// A bad value for a message: its type, plus the value of a number or (the start of) a string:
/// `string "a"`, `number 2.5`, `table`.
pub fn describe(v: &LuaValue) -> String {
    match v {
        LuaValue::Integer(i) => format!("number {i}"),
        LuaValue::Number(n) => format!("number {n}"),
        LuaValue::String(s) => {
            let bytes = s.as_bytes();
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTED_MAX)]).into_owned();
            let more = if bytes.len() > QUOTED_MAX { "..." } else { "" };
            format!("string {text:?}{more}")
        }
        other => other.type_name().to_string(),
    }
}

/// The error for option `name` of function `func`: `bad option 'name' to 'func' (expected
/// expected, got ...)`.
pub fn bad_option(name: &str, func: &str, expected: &str, got: &LuaValue) -> LuaError {
    LuaError::runtime(format!(
        "bad option '{name}' to '{func}' ({expected} expected, got {})",
        describe(got)
    ))
}

/// How a range of integers reads in a message: `integer 1..1024`, `integer >= 0`.
fn int_expected(range: &RangeInclusive<i64>) -> String {
    if *range.end() == i64::MAX {
        format!("integer >= {}", range.start())
    } else {
        format!("integer {}..{}", range.start(), range.end())
    }
}

/// `v` as an integer in `range`: a Lua integer, or a float without fraction (LuaJIT and 5.1
/// have floats only). None for anything else.
pub fn int_in(v: &LuaValue, range: &RangeInclusive<i64>) -> Option<i64> {
    let n = match *v {
        LuaValue::Integer(n) => n,
        // `as` saturates; the range check below rejects what saturated (and NaN, which is 0
        // after the cast but has a fraction check first).
        LuaValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e18 => n as i64,
        _ => return None,
    };
    range.contains(&n).then_some(n)
}

/// Integer option `name` of `t`, within `range`.
pub fn int_option(
    t: &LuaTable,
    name: &str,
    func: &str,
    range: RangeInclusive<i64>,
) -> LuaResult<Option<i64>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        v => match int_in(&v, &range) {
            Some(n) => Ok(Some(n)),
            None => Err(bad_option(name, func, &int_expected(&range), &v)),
        },
    }
}

/// Integer option `name` of `t` within `range`, where `false` means `off` (e.g. a limit of 0).
pub fn int_or_false_option(
    t: &LuaTable,
    name: &str,
    func: &str,
    range: RangeInclusive<i64>,
    off: i64,
) -> LuaResult<Option<i64>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        LuaValue::Boolean(false) => Ok(Some(off)),
        v => match int_in(&v, &range) {
            Some(n) => Ok(Some(n)),
            None => Err(bad_option(
                name,
                func,
                &format!("{} or false", int_expected(&range)),
                &v,
            )),
        },
    }
}

/// Boolean option `name` of `t`.
pub fn bool_option(t: &LuaTable, name: &str, func: &str) -> LuaResult<Option<bool>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        LuaValue::Boolean(b) => Ok(Some(b)),
        v => Err(bad_option(name, func, "boolean", &v)),
    }
}

/// String option `name` of `t`.
pub fn string_option(t: &LuaTable, name: &str, func: &str) -> LuaResult<Option<LuaString>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        LuaValue::String(s) => Ok(Some(s)),
        v => Err(bad_option(name, func, "string", &v)),
    }
}

/// Table option `name` of `t`.
pub fn table_option(t: &LuaTable, name: &str, func: &str) -> LuaResult<Option<LuaTable>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        LuaValue::Table(t) => Ok(Some(t)),
        v => Err(bad_option(name, func, "table", &v)),
    }
}

/// Non-negative milliseconds as a Duration, saturating: `Duration::from_secs_f64` panics on
/// values too large for a Duration (1e300, inf), which a Lua caller can pass.
pub fn millis(n: f64) -> Duration {
    Duration::try_from_secs_f64(n / 1000.0).unwrap_or(Duration::MAX)
}

/// `v` as milliseconds: a number `>= 0` (or `> 0` unless `zero_ok`); +inf means "no limit"
/// (`Duration::MAX`). None for anything else, NaN included.
fn ms_in(v: &LuaValue, zero_ok: bool) -> Option<Duration> {
    match *v {
        LuaValue::Integer(n) if n > 0 || (zero_ok && n == 0) => {
            Some(Duration::from_millis(n as u64))
        }
        LuaValue::Number(n) if n > 0.0 || (zero_ok && n == 0.0) => Some(millis(n)),
        _ => None,
    }
}

/// Milliseconds option `name` of `t`: a positive number (fractions allowed).
pub fn ms_option(t: &LuaTable, name: &str, func: &str) -> LuaResult<Option<Duration>> {
    match t.get::<LuaValue>(name)? {
        LuaValue::Nil => Ok(None),
        v => match ms_in(&v, false) {
            Some(d) => Ok(Some(d)),
            None => Err(bad_option(name, func, "positive number", &v)),
        },
    }
}

/// Milliseconds argument `#pos` of `func`: nil, or a non-negative number.
pub fn ms_arg(v: &LuaValue, func: &str, pos: usize) -> LuaResult<Option<Duration>> {
    if v.is_nil() {
        return Ok(None);
    }
    ms_in(v, true).map(Some).ok_or_else(|| {
        LuaError::runtime(format!(
            "bad argument #{pos} to '{func}' (milliseconds: non-negative number expected, got {})",
            describe(v)
        ))
    })
}

/// Argument `#pos` of `func` that holds options: nil or a table.
pub fn options_arg(v: LuaValue, func: &str, pos: usize) -> LuaResult<Option<LuaTable>> {
    match v {
        LuaValue::Nil => Ok(None),
        LuaValue::Table(t) => Ok(Some(t)),
        v => Err(LuaError::runtime(format!(
            "bad argument #{pos} to '{func}' (options: table or nil expected, got {})",
            describe(&v)
        ))),
    }
}
