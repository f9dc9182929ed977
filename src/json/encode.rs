//! Lua value -> JSON text (main thread).

use std::ffi::{c_int, c_void};

use mlua::ffi;
use mlua::prelude::*;

use super::lua::{ctx, private_dict_mt};
use super::{push_bytes, JsonError, MAX_DEPTH};

/// Encodes a Lua value as JSON text (main thread). The caller writes the bytes only on `Ok`.
///
/// * Object keys are sorted bytewise (stable diffs). `indent = Some(n)` pretty-prints with `n`
///   spaces per level and ends with a newline; `None` is compact with no newline.
/// * A table whose keys are exactly `1..n` (n >= 1) is an array; a table with only string keys
///   is an object. An empty table is `{}` if it carries the empty-dict marker (`vim.empty_dict()`,
///   decoded `{}`), `[]` if it carries the configured array marker, otherwise `[]` — or `{}`
///   when an array marker is configured (see the module docs).
/// * `fscache.null` and the configured null (`vim.NIL`) encode as `null`.
/// * Integers print without `.0` (also integral floats below 2^63); other floats use the
///   shortest representation that round-trips.
/// * Errors (message `"<key path>: <reason>"`, key path like `$.a["b c"][3]`): nil at the top
///   level, NaN or infinity, strings or keys that are not valid UTF-8, functions, threads,
///   userdata other than null, cycles, mixed index/string keys, sparse arrays or indices < 1,
///   keys that are neither strings nor integers, nesting deeper than [`MAX_DEPTH`].
///
/// Tables are read raw (metamethods are ignored), directly through the Lua C API inside one
/// protected call, iteratively: no mlua handle per value and no native stack per level.
pub fn encode(lua: &Lua, v: LuaValue, indent: Option<usize>) -> Result<Vec<u8>, JsonError> {
    let lua_err = |e: LuaError| JsonError::new(format!("$: {e}"));
    if v.is_nil() {
        return Err(JsonError::new(
            "$: cannot encode nil (use fscache.null or vim.NIL for JSON null)",
        ));
    }
    let c = ctx(lua).map_err(lua_err)?;
    let r = c.resolve(lua).map_err(lua_err)?;
    let private = private_dict_mt(lua).map_err(lua_err)?;
    let array_mt = r.array_mt.clone().map_or(LuaValue::Nil, LuaValue::Table);
    let mut result: Result<Vec<u8>, JsonError> = Err(JsonError::new("$: not encoded"));
    // SAFETY: the closure reads its five arguments (see `Encoder`) and only touches stack slots
    // it pushes after lua_checkstack; it clears the stack before returning (no results).
    let called = unsafe {
        lua.exec_raw::<()>(
            (v, r.null.clone(), r.dict_mt.clone(), private, array_mt),
            |state| {
                let mut enc = Encoder {
                    state,
                    out: Vec::new(),
                    indent,
                    stack: Vec::new(),
                };
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    ffi::lua_pushvalue(state, ROOT);
                    enc.run()
                }));
                result = match run {
                    Ok(Ok(())) => {
                        if indent.is_some() {
                            enc.out.push(b'\n');
                        }
                        Ok(std::mem::take(&mut enc.out))
                    }
                    Ok(Err(reason)) => Err(enc.error_at(reason)),
                    Err(_) => Err(JsonError::new("$: internal error (panic) while encoding")),
                };
                ffi::lua_settop(state, 0);
            },
        )
    };
    called.map_err(lua_err)?;
    result
}

/// Stack indices of the arguments passed to the raw encoder.
const ROOT: c_int = 1;
const NULL: c_int = 2;
const DICT_MT: c_int = 3;
const PRIVATE_DICT_MT: c_int = 4;
const ARRAY_MT: c_int = 5;

/// 2^63: every integral double below it in magnitude is an exact i64.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// A key of an object being written: points into a Lua string that stays alive because it is
/// a key of a table held on the Lua stack (tables are not modified while encoding; Lua's GC
/// does not move strings). Checked to be UTF-8 when collected.
#[derive(Clone, Copy)]
struct Key {
    ptr: *const u8,
    len: usize,
}

impl Key {
    /// # Safety
    /// The string the key points into must still be alive (see [`Key`]).
    unsafe fn as_str<'a>(self) -> &'a str {
        // SAFETY: checked to be UTF-8 when the key was collected; alive per the caller.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }
}

/// What the keys of a table say it is.
enum Shape {
    Empty,
    Array(usize),
    Object(Vec<Key>),
}

/// An open table (on the Lua stack): its identity, members and how many have been started.
struct Frame {
    ptr: *const c_void,
    shape: Shape,
    pos: usize,
}

impl Frame {
    fn len(&self) -> usize {
        match &self.shape {
            Shape::Empty => 0,
            Shape::Array(n) => *n,
            Shape::Object(keys) => keys.len(),
        }
    }
}

/// Iterative writer. Lua stack layout: `[root, null, dict_mt, private_dict_mt, array_mt,
/// open tables..., current value]`; the key path of an error is read off `stack`.
struct Encoder {
    state: *mut ffi::lua_State,
    out: Vec<u8>,
    indent: Option<usize>,
    stack: Vec<Frame>,
}

fn newline(out: &mut Vec<u8>, indent: Option<usize>, depth: usize) {
    if let Some(n) = indent {
        out.push(b'\n');
        out.resize(out.len() + n * depth, b' ');
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}

fn push_seg(p: &mut String, frame: &Frame) {
    match &frame.shape {
        Shape::Object(keys) => {
            let Some(k) = keys.get(frame.pos.wrapping_sub(1)) else {
                return;
            };
            // SAFETY: the frame's table is still on the Lua stack when errors are formatted.
            let k = unsafe { k.as_str() };
            let ident = k
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if ident {
                p.push('.');
                p.push_str(k);
            } else {
                p.push('[');
                p.push_str(&serde_json::to_string(k).unwrap_or_default());
                p.push(']');
            }
        }
        _ => p.push_str(&format!("[{}]", frame.pos)),
    }
}

impl Encoder {
    /// `"<key path>: <reason>"` for a failure at the current position.
    fn error_at(&self, reason: String) -> JsonError {
        let mut p = String::from("$");
        // Very deep paths (depth-limit errors) keep their ends only.
        const KEEP: usize = 8;
        let n = self.stack.len();
        if n > 3 * KEEP {
            self.stack[..KEEP].iter().for_each(|f| push_seg(&mut p, f));
            p.push_str(&format!("...({} levels)...", n - 2 * KEEP));
            self.stack[n - KEEP..]
                .iter()
                .for_each(|f| push_seg(&mut p, f));
        } else {
            self.stack.iter().for_each(|f| push_seg(&mut p, f));
        }
        JsonError::new(format!("{p}: {reason}"))
    }

    /// Writes the value on top of the Lua stack and everything nested in it.
    unsafe fn run(&mut self) -> Result<(), String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            let state = self.state;
            self.item()?;
            loop {
                let depth = self.stack.len();
                let Some(top) = self.stack.last_mut() else {
                    return Ok(());
                };
                if top.pos == top.len() {
                    let close = if matches!(top.shape, Shape::Array(_)) {
                        b']'
                    } else {
                        b'}'
                    };
                    self.stack.pop();
                    ffi::lua_pop(state, 1);
                    newline(&mut self.out, self.indent, depth - 1);
                    self.out.push(close);
                    continue;
                }
                if top.pos > 0 {
                    self.out.push(b',');
                }
                top.pos += 1;
                newline(&mut self.out, self.indent, depth);
                match &top.shape {
                    Shape::Object(keys) => {
                        let Some(k) = keys.get(top.pos - 1) else {
                            return Err("internal error: key index".to_owned());
                        };
                        write_str(&mut self.out, k.as_str());
                        self.out.push(b':');
                        if self.indent.is_some() {
                            self.out.push(b' ');
                        }
                        push_bytes(state, std::slice::from_raw_parts(k.ptr, k.len));
                        ffi::lua_rawget(state, -2);
                    }
                    // Array lengths were checked to fit a c_int.
                    _ => {
                        ffi::lua_rawgeti(state, -1, top.pos as ffi::lua_Integer);
                    }
                }
                self.item()?;
            }
        }
    }

    /// Writes the scalar on top of the stack and pops it, or opens the table on top (writes
    /// its opening bracket and pushes a frame; the table stays on the stack).
    unsafe fn item(&mut self) -> Result<(), String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            let state = self.state;
            match ffi::lua_type(state, -1) {
                ffi::LUA_TBOOLEAN => {
                    let b = ffi::lua_toboolean(state, -1) != 0;
                    self.raw(if b { "true" } else { "false" });
                }
                ffi::LUA_TNUMBER => self.number()?,
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(state, -1, &mut len) as *const u8;
                    let bytes = if p.is_null() {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(p, len)
                    };
                    let s = std::str::from_utf8(bytes).map_err(|_| "string is not valid UTF-8")?;
                    write_str(&mut self.out, s);
                }
                ffi::LUA_TLIGHTUSERDATA
                    if ffi::lua_touserdata(state, -1).is_null()
                        || ffi::lua_rawequal(state, -1, NULL) != 0 =>
                {
                    self.raw("null")
                }
                ffi::LUA_TUSERDATA | ffi::LUA_TTABLE if ffi::lua_rawequal(state, -1, NULL) != 0 => {
                    self.raw("null")
                }
                ffi::LUA_TTABLE => return self.open(),
                ffi::LUA_TNIL => return Err("cannot encode nil".to_owned()),
                ffi::LUA_TUSERDATA | ffi::LUA_TLIGHTUSERDATA => {
                    return Err(
                        "cannot encode userdata (only fscache.null / vim.NIL mean null)".to_owned(),
                    )
                }
                ffi::LUA_TFUNCTION => return Err("cannot encode a function".to_owned()),
                ffi::LUA_TTHREAD => return Err("cannot encode a thread".to_owned()),
                t => {
                    let name = std::ffi::CStr::from_ptr(ffi::lua_typename(state, t));
                    return Err(format!("cannot encode a {}", name.to_string_lossy()));
                }
            }
            ffi::lua_pop(state, 1);
            Ok(())
        }
    }

    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, i: i64) {
        // Writing into a Vec cannot fail (serde_json formats integers without allocating).
        let _ = serde_json::to_writer(&mut self.out, &i);
    }

    #[cfg(feature = "lua54")]
    unsafe fn number(&mut self) -> Result<(), String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            if ffi::lua_isinteger(self.state, -1) != 0 {
                self.int(ffi::lua_tointeger(self.state, -1));
                Ok(())
            } else {
                self.float(ffi::lua_tonumber(self.state, -1))
            }
        }
    }

    #[cfg(not(feature = "lua54"))]
    unsafe fn number(&mut self) -> Result<(), String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe { self.float(ffi::lua_tonumber(self.state, -1)) }
    }

    fn float(&mut self, x: f64) -> Result<(), String> {
        if x.is_nan() {
            return Err("cannot encode NaN".into());
        }
        if x.is_infinite() {
            return Err(format!(
                "cannot encode {}inf (JSON has no infinity)",
                if x < 0.0 { "-" } else { "" }
            ));
        }
        if x == 0.0 && x.is_sign_negative() {
            // `-0` (what JSON's `-0` decodes to, and what vim.json.encode writes for it).
            self.raw("-0");
        } else if x.fract() == 0.0 && x.abs() < I64_LIMIT {
            self.int(x as i64);
        } else {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.out, &x);
        }
        Ok(())
    }

    /// The table on top of the stack: checks depth and cycles, classifies it, writes `{}`/`[]`
    /// (and pops it) when empty, else writes the opening bracket and pushes a frame.
    unsafe fn open(&mut self) -> Result<(), String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            let state = self.state;
            if self.stack.len() >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH} arrays/objects"));
            }
            // The table, a key, a value and a metatable on top of it.
            if ffi::lua_checkstack(state, 4) == 0 {
                return Err("Lua stack overflow".to_owned());
            }
            let ptr = ffi::lua_topointer(state, -1);
            if self.stack.iter().any(|f| f.ptr == ptr) {
                return Err("cycle: table contains itself".into());
            }
            let shape = self.shape()?;
            match shape {
                Shape::Empty => {
                    let object = self.empty_is_object();
                    self.raw(if object { "{}" } else { "[]" });
                    ffi::lua_pop(state, 1);
                    return Ok(());
                }
                Shape::Array(_) => self.out.push(b'['),
                Shape::Object(_) => self.out.push(b'{'),
            }
            self.stack.push(Frame { ptr, shape, pos: 0 });
            Ok(())
        }
    }

    /// For the empty table on top of the stack: `{}` (true) or `[]` (false).
    unsafe fn empty_is_object(&mut self) -> bool {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            let state = self.state;
            let array_mt_set = ffi::lua_type(state, ARRAY_MT) == ffi::LUA_TTABLE;
            if ffi::lua_getmetatable(state, -1) != 0 {
                let dict = ffi::lua_rawequal(state, -1, DICT_MT) != 0
                    || ffi::lua_rawequal(state, -1, PRIVATE_DICT_MT) != 0;
                let array = array_mt_set && ffi::lua_rawequal(state, -1, ARRAY_MT) != 0;
                ffi::lua_pop(state, 1);
                if dict {
                    return true;
                }
                if array {
                    return false;
                }
            }
            // vim.json's convention unless an array marker is configured (then cjson/mlua's).
            array_mt_set
        }
    }

    /// Classifies the table on top of the stack by its keys (raw iteration).
    unsafe fn shape(&mut self) -> Result<Shape, String> {
        // SAFETY: covered by this function's own contract (the Lua thread, a valid
        // state, and the stack layout and room described above).
        unsafe {
            let state = self.state;
            let mut count = 0usize;
            let mut min = i64::MAX;
            let mut max = i64::MIN;
            let mut keys: Vec<Key> = Vec::new();
            let mut bad: Option<String> = None;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, -2) != 0 {
                // key at -2, value at -1
                let mut index: Option<i64> = None;
                match ffi::lua_type(state, -2) {
                    ffi::LUA_TNUMBER => match integer_key(state) {
                        Some(i) => index = Some(i),
                        None => {
                            let x = ffi::lua_tonumber(state, -2);
                            bad = Some(format!("unsupported key {x} (not an integer)"));
                        }
                    },
                    ffi::LUA_TSTRING => {
                        let mut len = 0usize;
                        let p = ffi::lua_tolstring(state, -2, &mut len) as *const u8;
                        if p.is_null()
                            || std::str::from_utf8(std::slice::from_raw_parts(p, len)).is_err()
                        {
                            bad = Some("key is not valid UTF-8".to_owned());
                        } else {
                            keys.push(Key { ptr: p, len });
                        }
                    }
                    t => {
                        let name = std::ffi::CStr::from_ptr(ffi::lua_typename(state, t));
                        bad = Some(format!(
                            "unsupported key type {} (keys must be strings or array indices)",
                            name.to_string_lossy()
                        ));
                    }
                }
                if let Some(i) = index {
                    count += 1;
                    min = min.min(i);
                    max = max.max(i);
                }
                ffi::lua_pop(state, 1);
                if bad.is_some() {
                    ffi::lua_pop(state, 1);
                    break;
                }
            }
            if let Some(reason) = bad {
                return Err(reason);
            }
            match (count, keys.is_empty()) {
                (0, true) => Ok(Shape::Empty),
                (0, false) => {
                    // SAFETY: the table holding these key strings is on the stack.
                    keys.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
                    Ok(Shape::Object(keys))
                }
                (_, false) => Err(format!(
                    "table mixes array indices and string keys (e.g. [{min}] and {})",
                    keys.first()
                        .and_then(|k| serde_json::to_string(k.as_str()).ok())
                        .unwrap_or_default()
                )),
                (n, true) if min < 1 => Err(format!(
                    "array index {min} out of range (arrays start at 1; {n} element(s))"
                )),
                (n, true) if max as u64 != n as u64 => {
                    Err(format!("sparse array: index {max} but only {n} element(s)"))
                }
                (n, true) if c_int::try_from(n).is_err() => Err(format!("array too long ({n})")),
                (n, true) => Ok(Shape::Array(n)),
            }
        }
    }
}

/// The integer value of the number key at -2, if it is one.
#[cfg(feature = "lua54")]
unsafe fn integer_key(state: *mut ffi::lua_State) -> Option<i64> {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe { (ffi::lua_isinteger(state, -2) != 0).then(|| ffi::lua_tointeger(state, -2)) }
}

/// The integer value of the number key at -2, if it is one.
#[cfg(not(feature = "lua54"))]
unsafe fn integer_key(state: *mut ffi::lua_State) -> Option<i64> {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        let x = ffi::lua_tonumber(state, -2);
        (x.fract() == 0.0 && x.abs() < I64_LIMIT).then_some(x as i64)
    }
}
