//! Batches (`get_many`): one callback for many paths. Each path waits like a single get (it
//! joins reads in flight, waits behind writes, is served by the watcher), but answers into a
//! slot of the batch instead of calling Lua; the batch calls its callback once, with
//! `entries, errors`, when its last slot is filled.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::ffi;
use mlua::prelude::*;
use mlua::RegistryKey;

use crate::lua_util::{deliver, with_stack};

/// Where an answer goes: a Lua callback, or slot `i` of a batch.
pub enum Notify {
    /// A Lua function in the registry.
    Callback(RegistryKey),
    /// Slot of a batch (1-based index).
    Slot(Rc<Batch>, usize),
}

/// A batch in progress.
pub struct Batch {
    entries: RegistryKey,
    errors: RegistryKey,
    /// Slots still empty, plus one until the batch is fully submitted.
    remaining: Cell<usize>,
    cb: RefCell<Option<RegistryKey>>,
}

impl Batch {
    /// A batch of `n` slots answering `cb`; it completes after [`Batch::submitted`].
    pub fn new(lua: &Lua, n: usize, cb: LuaFunction) -> LuaResult<Rc<Batch>> {
        let entries = lua.create_table_with_capacity(n, 0)?;
        let errors = lua.create_table()?;
        Ok(Rc::new(Batch {
            entries: lua.create_registry_value(entries)?,
            errors: lua.create_registry_value(errors)?,
            remaining: Cell::new(n + 1),
            cb: RefCell::new(Some(lua.create_registry_value(cb)?)),
        }))
    }

    /// Drops the callback (the batch's owner was cancelled): the slots still fill, nothing is
    /// called. True if it was still waiting.
    pub fn cancel(&self) -> bool {
        self.cb.borrow_mut().take().is_some()
    }

    /// Fills slot `i` with what a get answered (`value` or `nil, message, code`).
    pub fn fill(&self, lua: &Lua, i: usize, values: &LuaMultiValue) -> LuaResult<()> {
        match values.front() {
            Some(v) if !v.is_nil() => {
                // Raw C API: `registry_value` + `Table::raw_set` (a protected call) cost ~950
                // instructions a file of a 2,000-file batch; this ~150.
                let slot = i as ffi::lua_Integer;
                with_stack(lua, 2, |raw, l| {
                    // SAFETY: the entries table (held by its registry key) and the value are
                    // pushed, and the value is stored with a raw set (no metamethods).
                    unsafe {
                        ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.entries.id() as _);
                        raw.push_value(v)?;
                        ffi::lua_rawseti(l, -2, slot as _);
                    }
                    Ok(())
                })?;
            }
            _ => {
                let entries: LuaTable = lua.registry_value(&self.entries)?;
                entries.raw_set(i, false)?;
                // The message starts with its code, as I/O errors already do
                // ("ENOENT: no such file or directory: /x"); JSON errors get "EJSON: " in front.
                let msg = values
                    .get(1)
                    .and_then(|v| v.as_string().map(|s| s.to_string_lossy()));
                let code = values
                    .get(2)
                    .and_then(|v| v.as_string().map(|s| s.to_string_lossy()));
                let text = match (msg, code) {
                    (Some(m), Some(c)) if !m.starts_with(c.as_str()) => format!("{c}: {m}"),
                    (Some(m), _) => m,
                    (None, Some(c)) => c,
                    (None, None) => "EIO: unknown failure".to_string(),
                };
                let errors: LuaTable = lua.registry_value(&self.errors)?;
                errors.raw_set(i, text)?;
            }
        }
        self.done_one(lua)
    }

    /// Every slot has been handed out (call once, from a posted handler: never synchronously).
    pub fn submitted(&self, lua: &Lua) -> LuaResult<()> {
        self.done_one(lua)
    }

    fn done_one(&self, lua: &Lua) -> LuaResult<()> {
        let left = self.remaining.get() - 1;
        self.remaining.set(left);
        if left > 0 {
            return Ok(());
        }
        let Some(cb) = self.cb.borrow_mut().take() else {
            return Ok(());
        };
        let entries: LuaTable = lua.registry_value(&self.entries)?;
        let errors: LuaTable = lua.registry_value(&self.errors)?;
        let values =
            LuaMultiValue::from_vec(vec![LuaValue::Table(entries), LuaValue::Table(errors)]);
        deliver(lua, vec![cb], values)
    }
}

/// Answers every waiter with `values`: callbacks through `deliver`, batch slots filled.
pub fn answer(lua: &Lua, notifies: Vec<Notify>, values: LuaMultiValue) -> LuaResult<()> {
    let mut keys = Vec::with_capacity(notifies.len());
    let mut first_err = None;
    for n in notifies {
        match n {
            Notify::Callback(k) => keys.push(k),
            Notify::Slot(b, i) => {
                if let Err(e) = b.fill(lua, i, &values) {
                    first_err.get_or_insert(e);
                }
            }
        }
    }
    let r = deliver(lua, keys, values);
    match first_err {
        Some(e) => Err(e),
        None => r,
    }
}
