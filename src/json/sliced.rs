//! [`SlicedBuild`]: converting a large [`JsonDoc`] to Lua a slice at a time, so the main loop
//! never stalls for longer than one slice, whatever the document's size.
//!
//! A one-shot [`doc_to_lua`](super::doc_to_lua) of a 3.8 MB document holds the main thread for
//! tens of milliseconds. [`SlicedBuild::step`] converts members until its time budget is spent,
//! then returns; the tables built so far (the open containers, outermost first) wait in a Lua
//! table held through the registry until the next step. Every step walks the same code as the
//! one-shot conversion ([`Walk`]), so the result is the same value, key for key.
//!
//! # Use from the cache engine
//!
//! When an async `get_json*` read completes with a [`JsonDoc`] of more than
//! `cache::file::JSON_SLICE_NODES` nodes ([`JsonDoc::node_count`]; 35-45 ns a node here), the
//! file loader wraps a `SlicedBuild` (`Loader::slices`) and the engine parks the read's job with
//! its waiters and calls `step(lua, what is left of the dispatch slice)` once per dispatch
//! (`Core::build_step`), the loop running in between; the waiters resume after the step that
//! returns the value, exactly as after a one-shot build. The builder is never in a `RefCell`
//! while it steps. Synchronous gets (`get_json_sync`) keep the one-shot conversion.

use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::ffi;
use mlua::prelude::*;
use mlua::RegistryKey;

use super::doc::Walk;
use super::lua::JsonLua;
use super::lua::{build_protected, EXTRA};
use super::{ctx, JsonDoc};

/// An incremental conversion of one [`JsonDoc`] to a Lua value.
///
/// Call [`step`](SlicedBuild::step) from the main thread, once per loop turn (dispatch), until
/// it returns `Some(value)`. Holds no borrow between steps and never calls back into Lua code
/// (only raw table building), so a caller may keep it in a `RefCell` as long as it takes it out
/// (or drops the borrow) before calling `step`. Dropping it before the end frees the partial
/// tables with the next garbage collection.
pub struct SlicedBuild {
    doc: JsonDoc,
    walk: Walk,
    /// Between steps, the stack slots the walk had above the fixed ones, bottom first: the open
    /// tables and, under an object's open child, the child's key (created on the first step).
    open: Option<RegistryKey>,
    /// How many slots `open` holds (entries beyond it are nil).
    stored: usize,
    /// The JSON context of the first step (null, markers), kept for the whole document.
    ctx: Option<Rc<JsonLua>>,
    /// Converted, failed or handed out: further steps are a misuse.
    finished: bool,
}

impl SlicedBuild {
    /// Prepares the conversion of `doc`; nothing touches Lua until the first step.
    pub fn new(doc: JsonDoc) -> SlicedBuild {
        SlicedBuild {
            doc,
            walk: Walk::default(),
            open: None,
            stored: 0,
            ctx: None,
            finished: false,
        }
    }

    /// Converts members for about `budget` (at least 256 of them per call, checked every 256,
    /// so a zero budget still makes progress); returns `Ok(Some(value))` once the whole value
    /// exists, `Ok(None)` when more steps are needed. The null value and empty-table markers
    /// are those of this Lua state's JSON context at the first step. Errors (nesting deeper
    /// than [`MAX_DEPTH`](super::MAX_DEPTH), out of memory) are `EJSON: ...` Lua errors and end
    /// the build; a step after the end is an error too.
    pub fn step(&mut self, lua: &Lua, budget: Duration) -> LuaResult<Option<LuaValue>> {
        if self.finished {
            return Err(LuaError::runtime(
                "EJSON: SlicedBuild::step called after the build ended",
            ));
        }
        let deadline = Instant::now() + budget;
        let result = self.step_inner(lua, deadline);
        if !matches!(result, Ok(None)) {
            self.finished = true;
            // The partial tables are garbage now.
            if let Some(key) = self.open.take() {
                lua.remove_registry_value(key)?;
            }
        }
        result
    }

    /// True once [`step`](SlicedBuild::step) returned the value or an error.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// (nodes converted, nodes in the document): progress, for diagnostics.
    pub fn progress(&self) -> (usize, usize) {
        (self.walk.position(), self.doc.node_count())
    }

    fn step_inner(&mut self, lua: &Lua, deadline: Instant) -> LuaResult<Option<LuaValue>> {
        let c = match &self.ctx {
            Some(c) => Rc::clone(c),
            None => {
                let c = ctx(lua)?;
                self.ctx = Some(Rc::clone(&c));
                c
            }
        };
        let open: LuaTable = match &self.open {
            Some(k) => lua.registry_value(k)?,
            None => {
                let t = lua.create_table()?;
                self.open = Some(lua.create_registry_value(&t)?);
                t
            }
        };
        let mut done = false;
        let (walk, doc, stored) = (&mut self.walk, &self.doc, &mut self.stored);
        // SAFETY: the closure follows build_protected's contract: it grows the stack before
        // pushing the open tables, the walk keeps its own stack discipline (Walk::run), and it
        // leaves exactly one value: the result, or nil while unfinished.
        let value = unsafe {
            build_protected(lua, &c, LuaValue::Table(open), |state| {
                let held = std::ffi::c_int::try_from(*stored).map_err(|_| "too deep")?;
                if ffi::lua_checkstack(state, held + 8) == 0 {
                    return Err("Lua stack overflow".to_owned());
                }
                for i in 1..=held {
                    ffi::lua_rawgeti(state, EXTRA, i as ffi::lua_Integer);
                }
                if walk.run(state, doc, || Instant::now() >= deadline)? {
                    done = true;
                    return Ok(());
                }
                // Park the slots (top first) and forget the ones a deeper pause left before.
                let now = ffi::lua_gettop(state) - EXTRA;
                for i in (1..=now).rev() {
                    ffi::lua_rawseti(state, EXTRA, i as ffi::lua_Integer);
                }
                for i in now + 1..=held {
                    ffi::lua_pushnil(state);
                    ffi::lua_rawseti(state, EXTRA, i as ffi::lua_Integer);
                }
                *stored = usize::try_from(now).unwrap_or(0);
                ffi::lua_pushnil(state);
                Ok(())
            })?
        };
        Ok(done.then_some(value))
    }
}
