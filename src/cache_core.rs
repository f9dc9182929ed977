//! What FileCache and DirectoryCache share: entries validated by identity, coalesced pool reads,
//! hit/miss accounting, and delivery of results to Lua callbacks.
//!
//! Borrow rule: `state` is borrowed only in short blocks that make no Lua call (creating a Lua
//! value can run a finalizer, which may re-enter the cache).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fs::{stat_path, FsError, Identity, Timestamp};
use crate::lua_util::{deliver, failure};
use crate::runtime::{Panicked, Runtime};

/// How long after a file's last change its cached copy is re-checked by content even when the
/// identity matches: file-system timestamps are coarse (a kernel tick), so two writes inside one
/// tick can leave size, mtime and ctime equal ("racily clean", as git calls it).
const RACY_WINDOW_NS: i128 = 50_000_000;
/// The same window for file systems that store whole seconds only.
const RACY_WINDOW_COARSE_NS: i128 = 2_000_000_000;

fn ns(t: Timestamp) -> i128 {
    t.sec as i128 * 1_000_000_000 + t.nsec as i128
}

/// True when a change after `read_at` could have left `id` unchanged.
pub fn is_racy(id: &Identity, read_at: Timestamp) -> bool {
    let changed = ns(id.mtime).max(ns(id.ctime));
    let window = if id.mtime.nsec == 0 && id.ctime.nsec == 0 {
        RACY_WINDOW_COARSE_NS
    } else {
        RACY_WINDOW_NS
    };
    ns(read_at) - changed < window
}

/// What a cached entry already holds beyond the plain read (bit set, meaning is the loader's).
pub type Memo = u8;

/// A Lua value built from a read, ready to be cached.
pub struct Built {
    /// The entry table handed to Lua.
    pub table: LuaTable,
    /// Bytes accounted in `stats().bytes`.
    pub bytes: u64,
    /// What the entry holds (see [`Loader::serves`]).
    pub memo: Memo,
    /// The read worked but the requested view failed (e.g. invalid JSON): answer with this.
    pub failure: Option<FsError>,
    /// A decoded view (JSON) was built from the read: counted in `stats().parses`.
    pub parsed: bool,
}

/// The kind-specific half of a cache: how to read on the pool and what Lua sees.
pub trait Loader: 'static {
    /// What one pool read produces.
    type Data: Send + 'static;
    /// Per-request view (e.g. plain content or decoded JSON).
    type Mode: Copy + Eq + std::hash::Hash + Send + 'static;
    /// Reads `path` (pool thread, no Lua).
    fn read(path: &[u8], mode: Self::Mode, max_size: u64) -> Result<Self::Data, FsError>;
    /// Identity and read time of what was read.
    fn identity(data: &Self::Data) -> (Identity, Timestamp);
    /// Builds the entry table (Lua thread).
    fn build(lua: &Lua, path: &[u8], data: Self::Data, mode: Self::Mode) -> LuaResult<Built>;
    /// True if `old` holds exactly what `data` read (used when the identity could not tell).
    fn same(lua: &Lua, old: &LuaTable, data: &Self::Data) -> LuaResult<bool>;
    /// Whether an entry with `memo` can answer `mode` without reading again.
    fn serves(memo: Memo, mode: Self::Mode) -> bool;
    /// The values a get in `mode` answers with, from a cached entry table.
    fn answer(lua: &Lua, table: &LuaTable, mode: Self::Mode) -> LuaResult<LuaMultiValue>;
}

/// Cache options shared by both kinds.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Serve hits when the identity is unchanged; false re-reads on every get.
    pub trust_mtime: bool,
    /// Largest file read, in bytes.
    pub max_size: u64,
}

/// Counters reported by `stats()`.
#[derive(Default, Clone, Copy, Debug)]
pub struct Counters {
    /// Gets answered from the cache after validation.
    pub hits: u64,
    /// Gets that had to read.
    pub misses: u64,
    /// Pool or inline reads performed.
    pub reads: u64,
    /// Stat-only validations performed.
    pub validations: u64,
    /// Failed gets.
    pub errors: u64,
    /// Decoded views built (JSON documents converted to Lua).
    pub parses: u64,
}

struct Entry {
    identity: Identity,
    read_at: Timestamp,
    table: RegistryKey,
    bytes: u64,
    memo: Memo,
}

/// A callback waiting for a job, with the handle `get` returned for it (see [`Core::cancel`]).
type Waiter = (u64, RegistryKey);

struct Job<M> {
    path: Vec<u8>,
    mode: M,
    waiters: Vec<Waiter>,
    /// Invalidated, cleared or overwritten while in flight: deliver, but do not store.
    detached: bool,
}

/// Outcome of one pool job.
pub enum Outcome<D> {
    /// The identity matched the cached one (and was not racy).
    Unchanged,
    /// A full read.
    Fresh(D),
    /// The read failed.
    Failed(FsError),
}

struct State<L: Loader> {
    entries: HashMap<Vec<u8>, Entry>,
    inflight: HashMap<(Vec<u8>, L::Mode), u64>,
    jobs: HashMap<u64, Job<L::Mode>>,
    counters: Counters,
    bytes: u64,
    /// Last waiter handle handed out by `get`.
    last_waiter: u64,
}

/// The shared cache engine; `FileCache`/`DirectoryCache` wrap an `Rc<Core<_>>`.
pub struct Core<L: Loader> {
    rt: Weak<Runtime>,
    opts: Options,
    state: RefCell<State<L>>,
}

/// Runs a read job: validate against `known` first, read in full if needed.
fn run_job<L: Loader>(
    path: &[u8],
    mode: L::Mode,
    known: Option<(Identity, Timestamp)>,
    max_size: u64,
) -> Outcome<L::Data> {
    if let Some((id, read_at)) = known {
        match stat_path(path) {
            Err(e) => return Outcome::Failed(e),
            Ok(now) if now == id && !is_racy(&id, read_at) => return Outcome::Unchanged,
            Ok(_) => {}
        }
    }
    match L::read(path, mode, max_size) {
        Ok(d) => Outcome::Fresh(d),
        Err(e) => Outcome::Failed(e),
    }
}

impl<L: Loader> Core<L> {
    /// A cache bound to the runtime of `lua`.
    pub fn new(lua: &Lua, opts: Options) -> LuaResult<Rc<Core<L>>> {
        let rt = Runtime::get(lua)?;
        Ok(Rc::new(Core {
            rt: Rc::downgrade(&rt),
            opts,
            state: RefCell::new(State {
                entries: HashMap::new(),
                inflight: HashMap::new(),
                jobs: HashMap::new(),
                counters: Counters::default(),
                bytes: 0,
                last_waiter: 0,
            }),
        }))
    }

    /// The options this cache was made with.
    pub fn options(&self) -> Options {
        self.opts
    }

    fn runtime(&self) -> LuaResult<Rc<Runtime>> {
        self.rt
            .upgrade()
            .ok_or_else(|| LuaError::runtime("fscache: the runtime is gone (Lua state closing)"))
    }

    /// What a validation may compare against, or None when a full read is needed.
    fn known(&self, path: &[u8], mode: L::Mode) -> Option<(Identity, Timestamp)> {
        if !self.opts.trust_mtime {
            return None;
        }
        let st = self.state.borrow();
        st.entries
            .get(path)
            .filter(|e| L::serves(e.memo, mode))
            .map(|e| (e.identity, e.read_at))
    }

    /// Asynchronous get: `cb` is called later, on the Lua thread, exactly once (unless
    /// cancelled). Returns a waiter handle for [`Core::cancel`].
    pub fn get(
        self: &Rc<Self>,
        lua: &Lua,
        path: Vec<u8>,
        mode: L::Mode,
        cb: LuaFunction,
    ) -> LuaResult<u64> {
        let key = lua.create_registry_value(cb)?;
        let (handle, joined) = {
            let mut st = self.state.borrow_mut();
            st.last_waiter += 1;
            let handle = st.last_waiter;
            let job_id = st.inflight.get(&(path.clone(), mode)).copied();
            match job_id.and_then(|id| st.jobs.get_mut(&id)) {
                Some(job) => {
                    job.waiters.push((handle, key));
                    (handle, None)
                }
                None => (handle, Some(key)),
            }
        };
        if let Some(key) = joined {
            self.start_job(path, mode, vec![(handle, key)])?;
        }
        Ok(handle)
    }

    /// Forgets the waiter `handle` (its owner was cancelled): its callback is released now and
    /// never called. A read nobody waits for any more still fills the cache, unless it was
    /// detached, in which case its result is dropped too. True if the waiter was still waiting.
    pub fn cancel(&self, lua: &Lua, handle: u64) -> LuaResult<bool> {
        let (key, dropped_job) = {
            let mut st = self.state.borrow_mut();
            let found = st.jobs.iter_mut().find_map(|(&id, job)| {
                let i = job.waiters.iter().position(|(h, _)| *h == handle)?;
                let (_, key) = job.waiters.remove(i);
                Some((id, key, job.waiters.is_empty() && job.detached))
            });
            let Some((job_id, key, unwanted)) = found else {
                return Ok(false);
            };
            if unwanted {
                st.jobs.remove(&job_id);
            }
            (key, unwanted.then_some(job_id))
        };
        if let (Some(id), Some(rt)) = (dropped_job, self.rt.upgrade()) {
            rt.cancel(id);
        }
        lua.remove_registry_value(key)?;
        Ok(true)
    }

    fn start_job(
        self: &Rc<Self>,
        path: Vec<u8>,
        mode: L::Mode,
        waiters: Vec<Waiter>,
    ) -> LuaResult<()> {
        let rt = self.runtime()?;
        let known = self.known(&path, mode);
        if known.is_some() {
            self.state.borrow_mut().counters.validations += 1;
        }
        let max_size = self.opts.max_size;
        let core = Rc::clone(self);
        let job_path = path.clone();
        let id = rt.submit(
            move || run_job::<L>(&job_path, mode, known, max_size),
            Box::new(move |lua: &Lua, id, payload| {
                let outcome = match payload.downcast::<Outcome<L::Data>>() {
                    Ok(o) => *o,
                    Err(p) if p.is::<Panicked>() => Outcome::Failed(FsError::new(
                        "EIO",
                        "internal error: the read panicked",
                        b"",
                    )),
                    Err(_) => return Err(LuaError::runtime("fscache: unexpected job payload")),
                };
                core.finish(lua, id, outcome)
            }),
        );
        let mut st = self.state.borrow_mut();
        st.inflight.insert((path.clone(), mode), id);
        st.jobs.insert(
            id,
            Job {
                path,
                mode,
                waiters,
                detached: false,
            },
        );
        Ok(())
    }

    /// Main-thread end of a pool job: update the cache, then answer every waiter.
    fn finish(self: &Rc<Self>, lua: &Lua, id: u64, outcome: Outcome<L::Data>) -> LuaResult<()> {
        let job = {
            let mut st = self.state.borrow_mut();
            let Some(job) = st.jobs.remove(&id) else {
                return Ok(());
            };
            if !job.detached {
                st.inflight.remove(&(job.path.clone(), job.mode));
            }
            job
        };
        if matches!(outcome, Outcome::Unchanged) && !self.has_entry(&job.path) {
            // Invalidated while validating: nothing to serve, read again for the same waiters.
            if job.waiters.is_empty() {
                return Ok(());
            }
            return self.start_job(job.path, job.mode, job.waiters);
        }
        let values = self.apply(lua, &job.path, job.mode, outcome, !job.detached)?;
        deliver(
            lua,
            job.waiters.into_iter().map(|(_, k)| k).collect(),
            values,
        )
    }

    fn has_entry(&self, path: &[u8]) -> bool {
        self.state.borrow().entries.contains_key(path)
    }

    /// Turns an outcome into the values a get answers with, storing what was read if `store`.
    fn apply(
        &self,
        lua: &Lua,
        path: &[u8],
        mode: L::Mode,
        outcome: Outcome<L::Data>,
        store: bool,
    ) -> LuaResult<LuaMultiValue> {
        match outcome {
            Outcome::Failed(e) => {
                {
                    let mut st = self.state.borrow_mut();
                    st.counters.errors += 1;
                    st.counters.misses += 1;
                    if store {
                        if let Some(old) = st.entries.remove(path) {
                            st.bytes -= old.bytes;
                            drop(st);
                            lua.remove_registry_value(old.table)?;
                        }
                    }
                }
                failure(lua, &e)
            }
            Outcome::Unchanged => {
                let table: Option<LuaTable> = {
                    let st = self.state.borrow();
                    match st.entries.get(path) {
                        Some(e) => Some(lua.registry_value(&e.table)?),
                        None => None,
                    }
                };
                let Some(table) = table else {
                    return failure(
                        lua,
                        &FsError::new("EAGAIN", "entry invalidated during validation", path),
                    );
                };
                self.state.borrow_mut().counters.hits += 1;
                L::answer(lua, &table, mode)
            }
            Outcome::Fresh(data) => {
                let (identity, read_at) = L::identity(&data);
                // Identity unchanged but racy: compare content before calling it a change.
                let old: Option<(LuaTable, Memo)> = {
                    let st = self.state.borrow();
                    match st.entries.get(path) {
                        Some(e) if self.opts.trust_mtime && e.identity == identity => {
                            Some((lua.registry_value(&e.table)?, e.memo))
                        }
                        _ => None,
                    }
                };
                if let Some((table, memo)) = old {
                    if L::serves(memo, mode) && L::same(lua, &table, &data)? {
                        let mut st = self.state.borrow_mut();
                        st.counters.hits += 1;
                        st.counters.reads += 1;
                        if let Some(e) = st.entries.get_mut(path) {
                            e.read_at = read_at;
                        }
                        drop(st);
                        return L::answer(lua, &table, mode);
                    }
                }
                let built = L::build(lua, path, data, mode)?;
                {
                    let mut st = self.state.borrow_mut();
                    st.counters.misses += 1;
                    st.counters.reads += 1;
                    st.counters.parses += built.parsed as u64;
                }
                let values = match &built.failure {
                    Some(e) => {
                        self.state.borrow_mut().counters.errors += 1;
                        failure(lua, e)?
                    }
                    None => L::answer(lua, &built.table, mode)?,
                };
                if store {
                    self.store(lua, path, identity, read_at, built)?;
                }
                Ok(values)
            }
        }
    }

    /// Puts a freshly built entry in the cache (also used after a write).
    pub fn store(
        &self,
        lua: &Lua,
        path: &[u8],
        identity: Identity,
        read_at: Timestamp,
        built: Built,
    ) -> LuaResult<()> {
        let key = lua.create_registry_value(built.table)?;
        let old = {
            let mut st = self.state.borrow_mut();
            st.bytes += built.bytes;
            let old = st.entries.insert(
                path.to_vec(),
                Entry {
                    identity,
                    read_at,
                    table: key,
                    bytes: built.bytes,
                    memo: built.memo,
                },
            );
            if let Some(o) = &old {
                st.bytes -= o.bytes;
            }
            old
        };
        if let Some(o) = old {
            lua.remove_registry_value(o.table)?;
        }
        Ok(())
    }

    /// Blocking get on the calling thread (no pool, no dispatch of other results).
    pub fn get_sync(&self, lua: &Lua, path: &[u8], mode: L::Mode) -> LuaResult<LuaMultiValue> {
        let known = self.known(path, mode);
        let outcome = run_job::<L>(path, mode, known, self.opts.max_size);
        if known.is_some() {
            self.state.borrow_mut().counters.validations += 1;
        }
        self.apply(lua, path, mode, outcome, true)
    }

    /// Stops in-flight reads of `path` from storing their (possibly older) result.
    pub fn detach(&self, path: &[u8]) {
        let mut st = self.state.borrow_mut();
        let ids: Vec<u64> = st
            .inflight
            .iter()
            .filter(|((p, _), _)| p.as_slice() == path)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            if let Some(job) = st.jobs.get_mut(&id) {
                job.detached = true;
                let k = (job.path.clone(), job.mode);
                st.inflight.remove(&k);
            }
        }
    }

    /// Drops the entry of `path` (and detaches reads in flight). True if there was one.
    pub fn invalidate(&self, lua: &Lua, path: &[u8]) -> LuaResult<bool> {
        self.detach(path);
        let old = {
            let mut st = self.state.borrow_mut();
            let old = st.entries.remove(path);
            if let Some(o) = &old {
                st.bytes -= o.bytes;
            }
            old
        };
        match old {
            Some(o) => {
                lua.remove_registry_value(o.table)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Drops every entry and detaches every read in flight.
    pub fn clear_all(&self, lua: &Lua) -> LuaResult<()> {
        let old: Vec<Entry> = {
            let mut st = self.state.borrow_mut();
            let ids: Vec<u64> = st.inflight.drain().map(|(_, id)| id).collect();
            for id in ids {
                if let Some(job) = st.jobs.get_mut(&id) {
                    job.detached = true;
                }
            }
            st.bytes = 0;
            st.entries.drain().map(|(_, e)| e).collect()
        };
        for e in old {
            lua.remove_registry_value(e.table)?;
        }
        Ok(())
    }

    /// Counters and sizes: (counters, entries, bytes, reads in flight).
    pub fn stats(&self) -> (Counters, usize, u64, usize) {
        let st = self.state.borrow();
        (st.counters, st.entries.len(), st.bytes, st.jobs.len())
    }

    /// `stats()` as a Lua table: hits, misses, entries, bytes, reads, validations, errors, inflight.
    pub fn stats_table(&self, lua: &Lua) -> LuaResult<LuaTable> {
        let (c, entries, bytes, inflight) = self.stats();
        let t = lua.create_table_with_capacity(0, 9)?;
        t.raw_set("hits", c.hits)?;
        t.raw_set("misses", c.misses)?;
        t.raw_set("entries", entries as u64)?;
        t.raw_set("bytes", bytes)?;
        t.raw_set("reads", c.reads)?;
        t.raw_set("validations", c.validations)?;
        t.raw_set("errors", c.errors)?;
        t.raw_set("inflight", inflight as u64)?;
        t.raw_set("parses", c.parses)?;
        t.raw_set("trust_mtime", self.opts.trust_mtime)?;
        Ok(t)
    }

    /// Mutable access to the counters for kind-specific accounting.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.state.borrow_mut().counters);
    }
}
