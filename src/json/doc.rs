//! [`JsonDoc`]: a compact, flat decoded document — the fast path from pool thread to Lua.
//!
//! A [`serde_json::Value`] costs one heap allocation per string, key, array and object, and as
//! much again to free it. [`decode_doc`] parses into two vectors instead (nodes in pre-order,
//! and all string bytes), several times cheaper to build and free; [`doc_to_lua`] turns them
//! into Lua values on the main thread.

use std::ffi::c_int;
use std::fmt;

use mlua::ffi;
use mlua::prelude::*;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::decode::{parse_with, Parse};
use super::lua::{build_protected, JsonLua, ARRAY_MT, DICT_MT, NULL};
use super::{push_bytes, JsonError, MAX_DEPTH};

/// One value of a [`JsonDoc`], in pre-order: a container is followed by its members (for an
/// object: key, value, key, value, ...).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number (floats, integers beyond `i64`), as the nearest double.
    Float(f64),
    /// `strings[start..start + len]`.
    Str {
        start: u32,
        len: u32,
    },
    /// An object key met more than once in the document (or likely to be): `keys[i]`, created
    /// once per conversion and copied from then on (see [`Interner`]).
    Key(u32),
    /// An array with this many members.
    Array(u32),
    /// An object with this many key/value pairs (duplicates included; the last one wins).
    Object(u32),
}

/// A decoded JSON document in a flat, allocation-light form. `Send`: built on the pool thread,
/// converted on the main thread with [`doc_to_lua`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JsonDoc {
    nodes: Vec<Node>,
    strings: Vec<u8>,
    /// The distinct interned keys (`Node::Key`): `(start, len)` in `strings`.
    keys: Vec<(u32, u32)>,
}

/// Slots of the [`Interner`]'s direct-mapped table; also the most keys one document interns.
const INTERN_SLOTS: usize = 1024;
/// Keys longer than this are not interned (they are rarely repeated, and cost more to hash).
const INTERN_MAX_LEN: usize = 64;

/// Pool-side key deduplication while decoding.
///
/// Why: object keys repeat (every element of an array of records has the same few), and on the
/// main thread pushing a repeated key is a string hash and string-table lookup inside Lua
/// (about 130 instructions in LuaJIT), while copying an already created one is a stack copy.
///
/// Two lookups, cheapest first: the key that followed the previous key last time (records of
/// one shape list their keys in the same order, so this nearly always hits and costs one
/// comparison), then a direct-mapped table from the key's hash to its index. A key whose table
/// slot is taken by another key is simply not interned, so a lookup is one hash and at most one
/// comparison whatever the document (no collision chains to attack).
struct Interner {
    /// `index + 1` into `JsonDoc::keys`, 0 for a free slot.
    slots: Box<[u32; INTERN_SLOTS]>,
    /// For each interned key, `index + 1` of the interned key that came right after it last
    /// time (0: none yet).
    next: Vec<u32>,
    /// Index of the last key met when it was interned (`u32::MAX`: none, or not interned).
    last: u32,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            slots: Box::new([0; INTERN_SLOTS]),
            next: Vec::new(),
            last: u32::MAX,
        }
    }

    /// The node for key `k`: an interned [`Node::Key`] (adding it to `doc.keys` on its first
    /// occurrence), or `None` when `k` is not interned (too long, or its slot holds another key).
    fn key(&mut self, doc: &mut JsonDoc, k: &[u8]) -> Option<Node> {
        let last = std::mem::replace(&mut self.last, u32::MAX);
        if let Some(&guess) = self.next.get(last as usize) {
            if guess != 0 && doc.key_bytes(guess - 1) == k {
                self.last = guess - 1;
                return Some(Node::Key(guess - 1));
            }
        }
        if k.len() > INTERN_MAX_LEN {
            return None;
        }
        let mut h = rustc_hash::FxHasher::default();
        std::hash::Hasher::write(&mut h, k);
        let h = std::hash::Hasher::finish(&h);
        let slot = &mut self.slots[((h ^ (h >> 32)) as usize) & (INTERN_SLOTS - 1)];
        let id = if *slot != 0 {
            let id = *slot - 1;
            if doc.key_bytes(id) != k {
                return None;
            }
            id
        } else {
            let start = u32::try_from(doc.strings.len()).ok()?;
            let id = u32::try_from(doc.keys.len()).ok()?;
            doc.strings.extend_from_slice(k);
            doc.keys.push((start, k.len() as u32));
            self.next.push(0);
            *slot = id + 1;
            id
        };
        if let Some(n) = self.next.get_mut(last as usize) {
            *n = id + 1;
        }
        self.last = id;
        Some(Node::Key(id))
    }
}

/// Parses `bytes` as one JSON document (JSONC when `jsonc` is true) into a [`JsonDoc`].
///
/// * A leading UTF-8 BOM is skipped.
/// * JSONC accepts `//` line comments, `/* */` block comments and a trailing comma before `]` or
///   `}`. They are blanked out in a copy that keeps every byte offset and newline, so error
///   positions still point into the original text; text inside strings is never touched.
/// * Empty (or whitespace/comment-only) input, trailing garbage, invalid UTF-8 inside strings,
///   lone surrogate escapes, numbers that overflow a double and nesting deeper than
///   [`MAX_DEPTH`] are errors. Duplicate keys: the last one wins (as in `vim.json.decode`).
/// * Never returns a partial value.
///
/// The error message is `"<path>:<line>:<column>: <reason>"`, `path` printed lossily as UTF-8.
pub fn decode_doc(bytes: &[u8], jsonc: bool, path: &[u8]) -> Result<JsonDoc, JsonError> {
    parse_with(bytes, jsonc, path, DocParse(bytes.len()))
}

/// [`Parse`] into a fresh [`JsonDoc`], its vectors sized for a text of this many bytes.
struct DocParse(usize);

impl Parse for DocParse {
    type Out = JsonDoc;

    fn parse<'de, R: serde_json::de::Read<'de>>(
        &mut self,
        de: &mut serde_json::Deserializer<R>,
    ) -> Result<JsonDoc, serde_json::Error> {
        let mut doc = JsonDoc {
            // About one node per 4-6 bytes in typical documents (20 KiB of objects: one per 6).
            nodes: Vec::with_capacity(self.0 / 4 + 1),
            strings: Vec::with_capacity(self.0 / 2 + 1),
            keys: Vec::new(),
        };
        let mut interner = Interner::new();
        DocSeed {
            doc: &mut doc,
            interner: &mut interner,
            remaining: MAX_DEPTH,
        }
        .deserialize(de)?;
        Ok(doc)
    }
}

impl JsonDoc {
    /// The document as a [`serde_json::Value`] (duplicate keys: the last one wins). Only the
    /// integration tests use it: they compare what the one parser produced with expected
    /// values, and a `Value` is what `serde_json::json!` builds.
    #[doc(hidden)]
    pub fn to_value(&self) -> serde_json::Value {
        let mut at = 0;
        self.value_at(&mut at)
    }

    fn value_at(&self, at: &mut usize) -> serde_json::Value {
        use serde_json::Value;
        let node = self.nodes[*at];
        *at += 1;
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::from(i),
            Node::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Node::Str { start, len } => {
                let bytes = &self.strings[start as usize..(start + len) as usize];
                Value::String(String::from_utf8_lossy(bytes).into_owned())
            }
            Node::Key(id) => {
                let (start, len) = self.keys[id as usize];
                let bytes = &self.strings[start as usize..(start + len) as usize];
                Value::String(String::from_utf8_lossy(bytes).into_owned())
            }
            Node::Array(n) => Value::Array((0..n).map(|_| self.value_at(at)).collect()),
            Node::Object(n) => {
                let mut map = serde_json::Map::new();
                for _ in 0..n {
                    let key = match self.value_at(at) {
                        Value::String(k) => k,
                        other => other.to_string(),
                    };
                    let v = self.value_at(at);
                    map.insert(key, v);
                }
                Value::Object(map)
            }
        }
    }
}

struct DocSeed<'d> {
    doc: &'d mut JsonDoc,
    interner: &'d mut Interner,
    /// Containers still allowed at this level and below.
    remaining: usize,
}

impl DocSeed<'_> {
    fn push_str<E: serde::de::Error>(&mut self, s: &str) -> Result<(), E> {
        let start = u32::try_from(self.doc.strings.len());
        let len = u32::try_from(s.len());
        let (Ok(start), Ok(len)) = (start, len) else {
            return Err(E::custom("document too large (4 GiB of strings)"));
        };
        self.doc.strings.extend_from_slice(s.as_bytes());
        self.doc.nodes.push(Node::Str { start, len });
        Ok(())
    }

    /// Pushes a container node (count patched later); returns its position and the members'
    /// remaining depth.
    fn open<E: serde::de::Error>(&mut self, node: Node) -> Result<(usize, usize), E> {
        let Some(remaining) = self.remaining.checked_sub(1) else {
            return Err(E::custom(format_args!(
                "nesting deeper than {MAX_DEPTH} arrays/objects"
            )));
        };
        self.doc.nodes.push(node);
        Ok((self.doc.nodes.len() - 1, remaining))
    }

    fn close<E: serde::de::Error>(
        &mut self,
        at: usize,
        count: usize,
        object: bool,
    ) -> Result<(), E> {
        let count = u32::try_from(count).map_err(|_| E::custom("container too large"))?;
        if let Some(n) = self.doc.nodes.get_mut(at) {
            *n = if object {
                Node::Object(count)
            } else {
                Node::Array(count)
            };
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.doc.nodes.push(Node::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.doc.nodes.push(Node::Int(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.doc.nodes.push(match i64::try_from(v) {
            Ok(i) => Node::Int(i),
            Err(_) => Node::Float(v as f64),
        });
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("number out of range"));
        }
        self.doc.nodes.push(Node::Float(v));
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        self.push_str(v)
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.doc.nodes.push(Node::Null);
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.doc.nodes.push(Node::Null);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let (at, remaining) = self.open(Node::Array(0))?;
        let mut count = 0usize;
        while seq
            .next_element_seed(DocSeed {
                doc: &mut *self.doc,
                interner: &mut *self.interner,
                remaining,
            })?
            .is_some()
        {
            count += 1;
        }
        self.close(at, count, false)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let (at, remaining) = self.open(Node::Object(0))?;
        let mut count = 0usize;
        while map
            .next_key_seed(KeySeed {
                doc: &mut *self.doc,
                interner: &mut *self.interner,
            })?
            .is_some()
        {
            map.next_value_seed(DocSeed {
                doc: &mut *self.doc,
                interner: &mut *self.interner,
                remaining,
            })?;
            count += 1;
        }
        self.close(at, count, true)
    }
}

/// Deserializes an object key into a `Key` node (interned) or a `Str` node.
struct KeySeed<'d> {
    doc: &'d mut JsonDoc,
    interner: &'d mut Interner,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(node) = self.interner.key(self.doc, v.as_bytes()) {
            self.doc.nodes.push(node);
            return Ok(());
        }
        DocSeed {
            doc: self.doc,
            interner: self.interner,
            remaining: 0,
        }
        .push_str(v)
    }
}

impl JsonDoc {
    /// The bytes of interned key `id` (which must exist).
    fn key_bytes(&self, id: u32) -> &[u8] {
        let (start, len) = self.keys[id as usize];
        &self.strings[start as usize..(start + len) as usize]
    }

    /// `strings[start..start + len]`, or an internal error.
    fn string(&self, start: u32, len: u32) -> Result<&[u8], String> {
        let (start, len) = (start as usize, len as usize);
        self.strings
            .get(start..start + len)
            .ok_or_else(|| "internal error: string out of range".to_owned())
    }

    /// Number of values in the document (keys included): what a conversion to Lua walks. The
    /// cache uses it to decide between a one-shot [`doc_to_lua`] and a
    /// [`SlicedBuild`](super::SlicedBuild).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Converts a [`JsonDoc`] to Lua (main thread), with the same conventions as
/// the JSON module docs (null, empty-table markers, numbers), in one protected call that
/// builds the tables directly on the Lua stack, iteratively.
pub fn doc_to_lua(lua: &Lua, doc: &JsonDoc, ctx: &JsonLua) -> LuaResult<LuaValue> {
    // SAFETY: the walk follows build_protected's contract (it pushes the result, or fails).
    unsafe {
        build_protected(lua, ctx, LuaValue::Nil, |state| {
            let mut walk = Walk::default();
            // The interned keys go to the stack once, above the fixed slots and below the
            // tables: each occurrence is then a stack copy instead of a string lookup.
            if !doc.keys.is_empty() {
                let n = c_int::try_from(doc.keys.len()).map_err(|_| "too many keys")?;
                if ffi::lua_checkstack(state, n + 1) == 0 {
                    return Err("Lua stack overflow".to_owned());
                }
                walk.keys_base = ffi::lua_gettop(state) + 1;
                for &(start, len) in &doc.keys {
                    push_bytes(state, doc.string(start, len)?);
                }
            }
            match walk.run(state, doc, || false)? {
                true => Ok(()),
                false => Err("internal error: conversion paused".to_owned()),
            }
        })
    }
}

/// An open table on the Lua stack.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    /// Members (key/value pairs for objects) still to read.
    left: u32,
    object: bool,
    /// 1-based index of the last array member stored.
    index: c_int,
}

/// The state of a conversion that can stop between two members and go on later (see
/// [`SlicedBuild`](super::SlicedBuild)): the next node to read and the open containers, whose
/// tables (and keys) sit on the Lua stack, outermost first, while [`Walk::run`] runs.
#[derive(Default)]
pub(super) struct Walk {
    /// Index of the next node.
    pos: usize,
    /// Open containers, outermost first (one table on the stack each).
    pub(super) frames: Vec<Frame>,
    /// The root has been pushed.
    started: bool,
    /// Stack slot of the first interned key (`JsonDoc::keys`, all of them in order, pushed by
    /// the caller below everything the walk pushes), or 0: keys are then pushed as strings.
    keys_base: c_int,
}

/// How many members [`Walk::run`] converts between two calls of its `pause` check.
const PAUSE_EVERY: u32 = 256;

impl Walk {
    /// Nodes read so far.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// Converts nodes until the document is done or `pause()` says stop (asked every
    /// [`PAUSE_EVERY`] members, never before that many were converted in this call).
    ///
    /// Stack layout while building: `[fixed..., open tables..., (key), value]`, where an object's
    /// open child sits on its key. On entry the stack holds the fixed slots (null, dict_mt,
    /// array_mt, extra) and whatever the previous paused call left above them (nothing on a
    /// fresh walk). On `Ok(true)` the root value has replaced that; on `Ok(false)` the stack
    /// holds the open tables and their keys only (no member pending), to be put back as they
    /// are before the next call.
    ///
    /// # Safety
    /// Lua main thread, inside a protected call; the stack is as described above.
    pub(super) unsafe fn run(
        &mut self,
        state: *mut ffi::lua_State,
        doc: &JsonDoc,
        mut pause: impl FnMut() -> bool,
    ) -> Result<bool, String> {
        let nodes = &doc.nodes;
        let malformed = || "internal error: malformed document".to_owned();
        let next = |pos: &mut usize| -> Result<&Node, String> {
            let n = nodes.get(*pos).ok_or_else(malformed)?;
            *pos += 1;
            Ok(n)
        };
        if !self.started {
            self.started = true;
            let root = next(&mut self.pos)?;
            // SAFETY: this function's contract (Lua thread, protected call, stack as described).
            match unsafe { push(state, doc, root, 0, self.keys_base)? } {
                Some(f) => self.frames.push(f),
                None => return Ok(true),
            }
        }
        let mut budget = PAUSE_EVERY;
        loop {
            budget -= 1;
            if budget == 0 {
                if pause() {
                    return Ok(false);
                }
                budget = PAUSE_EVERY;
            }
            let depth = self.frames.len();
            let Some(top) = self.frames.last_mut() else {
                return Ok(true);
            };
            if top.left == 0 {
                self.frames.pop();
                match self.frames.last() {
                    None => return Ok(true),
                    // SAFETY: the closed table is on top of its parent (or its parent's key).
                    Some(parent) => unsafe { attach(state, parent) },
                }
                continue;
            }
            top.left -= 1;
            if top.object {
                let key = next(&mut self.pos)?;
                // SAFETY: this function's contract; `push` checks the stack room it needs.
                unsafe { push(state, doc, key, depth, self.keys_base)? };
            } else {
                top.index += 1;
            }
            let node = next(&mut self.pos)?;
            // SAFETY: as above; a leaf is attached to the open table right under it.
            match unsafe { push(state, doc, node, depth, self.keys_base)? } {
                Some(child) => self.frames.push(child),
                None => unsafe { attach(state, top) },
            }
        }
    }
}

/// Stores the value on top of the stack into the open table `parent` (under its key).
unsafe fn attach(state: *mut ffi::lua_State, parent: &Frame) {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        if parent.object {
            ffi::lua_rawset(state, -3);
        } else {
            ffi::lua_rawseti(state, -2, parent.index as ffi::lua_Integer);
        }
    }
}

/// Pushes the value of `node` (a container at nesting `depth + 1`); returns a frame for a
/// non-empty container, whose members follow in the node list. `keys_base`: see
/// [`Walk::keys_base`].
unsafe fn push(
    state: *mut ffi::lua_State,
    doc: &JsonDoc,
    node: &Node,
    depth: usize,
    keys_base: c_int,
) -> Result<Option<Frame>, String> {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        match *node {
            Node::Null => ffi::lua_pushvalue(state, NULL),
            Node::Bool(b) => ffi::lua_pushboolean(state, c_int::from(b)),
            Node::Int(i) => push_int(state, i),
            Node::Float(x) => ffi::lua_pushnumber(state, x),
            Node::Str { start, len } => push_bytes(state, doc.string(start, len)?),
            Node::Key(id) if keys_base > 0 => ffi::lua_pushvalue(state, keys_base + id as c_int),
            Node::Key(id) => {
                let &(start, len) = doc
                    .keys
                    .get(id as usize)
                    .ok_or("internal error: key out of range")?;
                push_bytes(state, doc.string(start, len)?);
            }
            Node::Array(n) | Node::Object(n) => {
                let object = matches!(node, Node::Object(_));
                if depth >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} arrays/objects"));
                }
                // The table, a key, a value and a metatable.
                if ffi::lua_checkstack(state, 4) == 0 {
                    return Err("Lua stack overflow".to_owned());
                }
                let n_int = c_int::try_from(n).map_err(|_| "container too large for Lua")?;
                if object {
                    ffi::lua_createtable(state, 0, n_int);
                } else {
                    ffi::lua_createtable(state, n_int, 0);
                }
                if n > 0 {
                    return Ok(Some(Frame {
                        left: n,
                        object,
                        index: 0,
                    }));
                }
                if object {
                    ffi::lua_pushvalue(state, DICT_MT);
                    ffi::lua_setmetatable(state, -2);
                } else if ffi::lua_type(state, ARRAY_MT) == ffi::LUA_TTABLE {
                    ffi::lua_pushvalue(state, ARRAY_MT);
                    ffi::lua_setmetatable(state, -2);
                }
            }
        }
        Ok(None)
    }
}

#[cfg(feature = "lua54")]
unsafe fn push_int(state: *mut ffi::lua_State, i: i64) {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        ffi::lua_pushinteger(state, i);
    }
}

#[cfg(not(feature = "lua54"))]
unsafe fn push_int(state: *mut ffi::lua_State, i: i64) {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        // Lua numbers are doubles: the nearest one, as strtod (vim.json.decode) gives.
        ffi::lua_pushnumber(state, i as f64);
    }
}
