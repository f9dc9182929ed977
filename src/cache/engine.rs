//! The engine both caches share ([`Core`]): gets validated by identity or by the watcher,
//! coalesced pool reads, read-your-writes barriers, hit/miss accounting, and delivery of results
//! to Lua callbacks. Entries and eviction live in `entries.rs`, the pool side in `validate.rs`,
//! waiting gets in `jobs.rs`, the write path in `writes.rs`.
//!
//! Borrow rule: `state` is borrowed only in short blocks that make no Lua call (creating a Lua
//! value can run a finalizer, which may re-enter the cache).

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mlua::prelude::*;

use crate::fs::{FsError, Identity, Timestamp};
use crate::lua_util::{deliver, failure};
use crate::runtime::{JobResult, LaneKey, Runtime};
use crate::watch::{Armed, WatchRef};

use super::batch::{answer, Batch, Notify};
use super::entries::{Entry, Store};
use super::jobs::{Job, Jobs, Waiter};
use super::loader::{Built, Loader, Memo};
use super::validate::{is_racy, run_job, JobOutput, Outcome};

/// Batch paths not handed out yet: (index, (path, view)).
type BatchRest<M> = std::vec::IntoIter<(usize, (Vec<u8>, M))>;

/// The least time one step of a sliced build gets, even when the dispatch slice is spent
/// (progress under a steady stream of other completions).
const MIN_STEP: Duration = Duration::from_micros(250);

/// What [`Core::apply`] made of an outcome.
enum Applied<L: Loader> {
    /// The values a get answers with (the cache is updated already).
    Values(LuaMultiValue),
    /// A fresh read too big to build at once: built by [`Core::build_step`].
    Sliced(Pending<L>),
}

/// A fresh read whose table is being built a slice at a time, and what its entry will keep.
struct Pending<L: Loader> {
    slices: L::Slices,
    identity: Identity,
    read_at: Timestamp,
    watch: Option<WatchRef>,
}

/// The value a failed sliced build answers with: `EJSON` for a document, `EIO` otherwise.
fn build_failure(path: &[u8], e: &LuaError) -> FsError {
    let msg = match e {
        LuaError::RuntimeError(m) => m.clone(),
        e => e.to_string(),
    };
    let (code, msg) = match msg.strip_prefix("EJSON: ") {
        Some(rest) => ("EJSON", rest),
        None => ("EIO", msg.as_str()),
    };
    FsError {
        code,
        message: format!("{}: {msg}", String::from_utf8_lossy(path)),
    }
}

/// Cache options shared by both kinds (parsed in `options.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Serve hits when the identity is unchanged; false re-reads on every get.
    pub trust_mtime: bool,
    /// Largest file read, in bytes.
    pub max_size: u64,
    /// Bound on the cached bytes (file contents, listing names).
    pub max_bytes: u64,
    /// Writes fsync the file and its directory (false: still atomic, not durable).
    pub durable: bool,
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
    /// Failed gets and writes.
    pub errors: u64,
    /// Hits answered without a pool trip (validated by the watcher).
    pub fast_hits: u64,
    /// Decoded views built (JSON documents converted to Lua).
    pub parses: u64,
    /// Write calls accepted.
    pub writes: u64,
    /// Write calls that never reached the disk because a newer write of the path replaced them.
    pub writes_coalesced: u64,
}

struct State<L: Loader> {
    store: Store,
    jobs: Jobs<L::Mode>,
    counters: Counters,
}

/// The shared cache engine; `FileCache`/`DirectoryCache` wrap an `Rc<Core<_>>`.
pub struct Core<L: Loader> {
    id: u64,
    rt: Weak<Runtime>,
    opts: Options,
    state: RefCell<State<L>>,
}

impl<L: Loader> Core<L> {
    /// A cache bound to the runtime of `lua`.
    pub fn new(lua: &Lua, opts: Options) -> LuaResult<Rc<Core<L>>> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let rt = Runtime::get(lua)?;
        Ok(Rc::new(Core {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            rt: Rc::downgrade(&rt),
            opts,
            state: RefCell::new(State {
                store: Store::new(opts.max_bytes),
                jobs: Jobs::default(),
                counters: Counters::default(),
            }),
        }))
    }

    /// The options this cache was made with.
    pub fn options(&self) -> Options {
        self.opts
    }

    /// The write-lane key of `path` for this cache.
    pub fn lane_key(&self, path: &[u8]) -> LaneKey {
        (self.id, path.to_vec())
    }

    /// The runtime, or an error once the Lua state is closing.
    pub fn runtime(&self) -> LuaResult<Rc<Runtime>> {
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
        st.store
            .get(path)
            .filter(|e| L::serves(e.memo, mode))
            .map(|e| (e.identity, e.read_at))
    }

    /// Asynchronous get: `cb` is called later, on the Lua thread, exactly once (unless
    /// cancelled). Returns a waiter handle for [`Core::cancel`]. A get of a path with writes
    /// pending waits for them; a hit the watcher vouches for is answered at the next dispatch
    /// without a pool trip.
    pub fn get(
        self: &Rc<Self>,
        lua: &Lua,
        path: Vec<u8>,
        mode: L::Mode,
        cb: LuaFunction,
    ) -> LuaResult<u64> {
        let key = lua.create_registry_value(cb)?;
        let handle = self.state.borrow_mut().jobs.next_handle();
        let waiter = (handle, Notify::Callback(key));
        let Some((_, Notify::Callback(key))) = self.wait_behind_writes(&path, mode, waiter)? else {
            return Ok(handle);
        };
        if self.clean_hit(&path, mode) {
            let rt = self.runtime()?;
            self.state.borrow_mut().jobs.posted.insert(handle, key);
            let core = Rc::clone(self);
            rt.post(move |lua: &Lua| {
                // Cancelled meanwhile: the key is gone and nothing is delivered.
                let Some(key) = core.state.borrow_mut().jobs.posted.remove(&handle) else {
                    return Ok(());
                };
                match core.peek(lua, &path, mode)? {
                    Some(values) => deliver(lua, vec![key], values),
                    None => core.join_or_start(path, mode, (handle, Notify::Callback(key))),
                }
            });
            return Ok(handle);
        }
        self.join_or_start(path, mode, (handle, Notify::Callback(key)))?;
        Ok(handle)
    }

    /// Asynchronous batch: every path is got as by [`Core::get`], and `cb(entries, errors)` is
    /// called once, later, when the last one is answered. Returns a handle for [`Core::cancel`].
    /// The paths are handed out a slice at a time: a quarter of the dispatch budget inside the
    /// call (the caller's own turn of the loop goes on after it), then what is left of each
    /// dispatch, so a big batch never holds the loop longer than one slice.
    pub fn get_many(
        self: &Rc<Self>,
        lua: &Lua,
        paths: Vec<(Vec<u8>, L::Mode)>,
        cb: LuaFunction,
    ) -> LuaResult<u64> {
        let batch = Batch::new(lua, paths.len(), cb)?;
        let handle = {
            let mut st = self.state.borrow_mut();
            let handle = st.jobs.next_handle();
            st.jobs.batches.insert(handle, Rc::downgrade(&batch));
            handle
        };
        let rest = paths
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .into_iter();
        self.hand_out(lua, handle, batch, rest, true)?;
        Ok(handle)
    }

    /// Hands out batch paths for one dispatch slice, then posts itself for the rest; once all
    /// are out, marks the batch submitted (always from a posted handler: never synchronously).
    fn hand_out(
        self: &Rc<Self>,
        lua: &Lua,
        handle: u64,
        batch: Rc<Batch>,
        mut rest: BatchRest<L::Mode>,
        first: bool,
    ) -> LuaResult<()> {
        let rt = self.runtime()?;
        let start = std::time::Instant::now();
        // A posted continuation gets what is left of its dispatch (it shares the slice with
        // the deliveries before it); the first call, inside the caller's own code, a quarter
        // of a slice: enough to fill the pool, while the caller may do more in the same turn.
        let budget = if first {
            rt.slice() / 4
        } else {
            rt.remaining().min(rt.slice())
        };
        let mut n = 0usize;
        let mut more = false;
        for (i, (path, mode)) in rest.by_ref() {
            self.batch_one(lua, handle, &batch, i + 1, path, mode)?;
            n += 1;
            if n.is_multiple_of(32) && start.elapsed() >= budget {
                more = true;
                break;
            }
        }
        let core = Rc::clone(self);
        rt.post(move |lua: &Lua| {
            if more {
                return core.hand_out(lua, handle, batch, rest, false);
            }
            core.state.borrow_mut().jobs.batches.remove(&handle);
            batch.submitted(lua)
        });
        Ok(())
    }

    fn batch_one(
        self: &Rc<Self>,
        lua: &Lua,
        handle: u64,
        batch: &Rc<Batch>,
        i: usize,
        path: Vec<u8>,
        mode: L::Mode,
    ) -> LuaResult<()> {
        let slot = (handle, Notify::Slot(Rc::clone(batch), i));
        let Some(slot) = self.wait_behind_writes(&path, mode, slot)? else {
            return Ok(());
        };
        match self.peek(lua, &path, mode)? {
            Some(values) => answer(lua, vec![slot.1], values),
            None => self.join_or_start(path, mode, slot),
        }
    }

    /// Read-your-writes: when writes of `path` are pending, `waiter` waits for the latest of them
    /// (and the held ones start now rather than at the next dispatch: the burst that issued them
    /// is over once someone reads). Gives `waiter` back when no write is pending.
    fn wait_behind_writes(
        &self,
        path: &[u8],
        mode: L::Mode,
        waiter: Waiter,
    ) -> LuaResult<Option<Waiter>> {
        {
            let mut st = self.state.borrow_mut();
            let Some(b) = st.jobs.barriers.get_mut(path) else {
                return Ok(Some(waiter));
            };
            let wait_for = b.latest;
            b.readers.push((wait_for, mode, waiter));
        }
        self.runtime()?.lane().release();
        Ok(None)
    }

    /// Joins the read of `path` in flight, or starts one, for `waiter`.
    fn join_or_start(
        self: &Rc<Self>,
        path: Vec<u8>,
        mode: L::Mode,
        waiter: Waiter,
    ) -> LuaResult<()> {
        let waiter = self.state.borrow_mut().jobs.join(&path, mode, waiter);
        match waiter {
            Some(w) => self.start_job(path, mode, vec![w]),
            None => Ok(()),
        }
    }

    /// Forgets the waiter `handle` (its owner was cancelled): its callback is released now and
    /// never called. A read nobody waits for any more still fills the cache, unless it was
    /// disowned, in which case its result is dropped too. True if the waiter was still waiting.
    pub fn cancel(&self, lua: &Lua, handle: u64) -> LuaResult<bool> {
        let batch = self.state.borrow_mut().jobs.batches.remove(&handle);
        if let Some(b) = batch {
            return Ok(b.upgrade().is_some_and(|b| b.cancel()));
        }
        let (key, dropped) = {
            let mut st = self.state.borrow_mut();
            match st.jobs.cancel(handle) {
                Some(found) => found,
                None => return Ok(false),
            }
        };
        if let Some(id) = dropped {
            if let Some(rt) = self.rt.upgrade() {
                rt.cancel(id);
            }
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
        let (armed, plan) = self.arm(&rt, &path);
        let max_size = self.opts.max_size;
        let core = Rc::clone(self);
        let job_path = path.clone();
        let id = rt.submit(
            move || run_job::<L>(&job_path, mode, known, max_size, plan),
            move |lua: &Lua, id, result: JobResult<JobOutput<L::Data>>| {
                let (outcome, setup) = result.unwrap_or_else(|_| {
                    let e = FsError::new("EIO", "internal error: the read panicked", b"");
                    (Outcome::Failed(e), None)
                });
                core.finish(lua, id, outcome, setup)
            },
        );
        self.state.borrow_mut().jobs.insert(
            id,
            Job {
                path,
                mode,
                waiters,
                disowned: false,
                armed,
            },
        );
        Ok(())
    }

    /// Arms the watcher for a read of `path` (None: unwatched, or hits are never trusted).
    fn arm(&self, rt: &Runtime, path: &[u8]) -> (Option<Armed>, Option<crate::watch::Plan>) {
        if !self.opts.trust_mtime || self.opts.max_bytes == 0 {
            return (None, None);
        }
        match rt.watcher().arm_read(path, L::KIND) {
            Some((armed, plan)) => (Some(armed), Some(plan)),
            None => (None, None),
        }
    }

    /// Main-thread end of a pool job: update the cache, then answer every waiter.
    fn finish(
        self: &Rc<Self>,
        lua: &Lua,
        id: u64,
        outcome: Outcome<L::Data>,
        setup: Option<crate::watch::Setup>,
    ) -> LuaResult<()> {
        let Some(mut job) = self.state.borrow_mut().jobs.finish(id) else {
            return Ok(());
        };
        let watch = match (job.armed.take(), setup) {
            (Some(a), Some(s)) => a.finish(s),
            _ => None, // dropping an unfinished Armed gives its reference back
        };
        if matches!(outcome, Outcome::Unchanged) && !self.has_entry(&job.path) {
            // Invalidated (or evicted) while validating: read again for the same waiters.
            drop(watch);
            if job.waiters.is_empty() {
                return Ok(());
            }
            return self.start_job(job.path, job.mode, job.waiters);
        }
        let watch = if job.disowned { None } else { watch };
        let applied = self.apply(
            lua,
            &job.path,
            job.mode,
            outcome,
            !job.disowned,
            watch,
            true,
        );
        let values = match applied {
            Ok(Applied::Values(values)) => values,
            Ok(Applied::Sliced(pending)) => {
                // The job stays findable: gets of the path join it, cancel and disown reach it.
                self.state.borrow_mut().jobs.park(id, job);
                return self.build_step(lua, id, pending);
            }
            Err(e) => {
                // Building the Lua value failed (out of memory, say): the waiters still get an
                // answer, as a value, as after a failed sliced build; never silence.
                self.count(|c| c.errors += 1);
                failure(lua, &build_failure(&job.path, &e))?
            }
        };
        answer(
            lua,
            job.waiters.into_iter().map(|(_, n)| n).collect(),
            values,
        )
    }

    /// One step of the sliced build of job `id`: what is left of this dispatch's slice now,
    /// then again at the next dispatch (the loop runs in between) until the table exists. Then,
    /// as [`Core::finish`] does after a one-shot build, the entry is stored (unless the job was
    /// disowned meanwhile) and every waiter is answered. A build error is answered as a value.
    /// A job nobody wants any more (disowned, its last waiter cancelled) stops here.
    fn build_step(self: &Rc<Self>, lua: &Lua, id: u64, mut pending: Pending<L>) -> LuaResult<()> {
        if !self.state.borrow().jobs.contains(id) {
            return Ok(());
        }
        let rt = self.runtime()?;
        let budget = rt.remaining().min(rt.slice()).max(MIN_STEP);
        let Some(built) = L::step(lua, &mut pending.slices, budget).transpose() else {
            let core = Rc::clone(self);
            rt.post(move |lua: &Lua| core.build_step(lua, id, pending));
            return Ok(());
        };
        let Some(job) = self.state.borrow_mut().jobs.finish(id) else {
            return Ok(());
        };
        let values = match built {
            Ok(built) => {
                self.count(|c| c.parses += built.parsed as u64);
                let values = L::answer(lua, &built.table, job.mode)?;
                if !job.disowned {
                    let Pending {
                        identity,
                        read_at,
                        watch,
                        ..
                    } = pending;
                    self.store(lua, &job.path, identity, read_at, built, watch)?;
                }
                values
            }
            Err(e) => {
                self.count(|c| c.errors += 1);
                failure(lua, &build_failure(&job.path, &e))?
            }
        };
        answer(
            lua,
            job.waiters.into_iter().map(|(_, n)| n).collect(),
            values,
        )
    }

    fn has_entry(&self, path: &[u8]) -> bool {
        self.state.borrow().store.contains(path)
    }

    /// [`Core::apply`] building at once (synchronous gets).
    fn apply_now(
        &self,
        lua: &Lua,
        path: &[u8],
        mode: L::Mode,
        outcome: Outcome<L::Data>,
        watch: Option<WatchRef>,
    ) -> LuaResult<LuaMultiValue> {
        match self.apply(lua, path, mode, outcome, true, watch, false)? {
            Applied::Values(values) => Ok(values),
            Applied::Sliced(_) => Err(LuaError::runtime(
                "fscache: internal error (sliced build of a synchronous get)",
            )),
        }
    }

    /// Turns an outcome into the values a get answers with, storing what was read if `store`
    /// (the entry keeps `watch`). With `sliced`, a fresh read too big to build at once comes
    /// back as [`Applied::Sliced`] (counted as a read and a miss already) instead.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        lua: &Lua,
        path: &[u8],
        mode: L::Mode,
        outcome: Outcome<L::Data>,
        store: bool,
        watch: Option<WatchRef>,
        sliced: bool,
    ) -> LuaResult<Applied<L>> {
        let values = match outcome {
            Outcome::Failed(e) => {
                let old = {
                    let mut st = self.state.borrow_mut();
                    st.counters.errors += 1;
                    st.counters.misses += 1;
                    if store {
                        st.store.remove(path)
                    } else {
                        None
                    }
                };
                drop(old);
                failure(lua, &e)?
            }
            Outcome::Unchanged => {
                let table = self.cached_table(lua, path)?;
                let Some(table) = table else {
                    let e = FsError::new("EAGAIN", "entry invalidated during validation", path);
                    return failure(lua, &e).map(Applied::Values);
                };
                {
                    let mut st = self.state.borrow_mut();
                    st.counters.hits += 1;
                    st.store.touch(path);
                    if let (Some(w), Some(e)) = (watch, st.store.get_mut(path)) {
                        e.watch = Some(w);
                    }
                }
                L::answer(lua, &table, mode)?
            }
            Outcome::Fresh(data) => {
                let (identity, read_at) = L::identity(&data);
                // Identity unchanged but racy: compare content before calling it a change.
                let old: Option<(LuaTable, Memo)> = {
                    let st = self.state.borrow();
                    match st.store.get(path) {
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
                        st.store.touch(path);
                        if let Some(e) = st.store.get_mut(path) {
                            e.read_at = read_at;
                            if watch.is_some() {
                                e.watch = watch;
                            }
                        }
                        drop(st);
                        return L::answer(lua, &table, mode).map(Applied::Values);
                    }
                }
                let data = match sliced {
                    true => match L::slices(path, data, mode) {
                        Ok(slices) => {
                            let mut st = self.state.borrow_mut();
                            st.counters.misses += 1;
                            st.counters.reads += 1;
                            return Ok(Applied::Sliced(Pending {
                                slices,
                                identity,
                                read_at,
                                watch,
                            }));
                        }
                        Err(data) => data,
                    },
                    false => data,
                };
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
                    self.store(lua, path, identity, read_at, built, watch)?;
                }
                values
            }
        };
        Ok(Applied::Values(values))
    }

    fn cached_table(&self, lua: &Lua, path: &[u8]) -> LuaResult<Option<LuaTable>> {
        let st = self.state.borrow();
        match st.store.get(path) {
            Some(e) => Ok(Some(lua.registry_value(&e.table)?)),
            None => Ok(None),
        }
    }

    /// Puts a freshly built entry in the cache (replacing the old one), then evicts within
    /// `max_bytes`. An entry larger than `max_bytes` is served but not kept.
    pub fn store(
        &self,
        lua: &Lua,
        path: &[u8],
        identity: Identity,
        read_at: Timestamp,
        built: Built,
        watch: Option<WatchRef>,
    ) -> LuaResult<()> {
        let key = lua.create_registry_value(built.table)?;
        let mut entry = Entry::new(identity, read_at, key, built.bytes, built.memo, watch);
        let evicted = {
            let mut st = self.state.borrow_mut();
            if entry.watch.is_none() {
                // An unwatched replacement (what a write stored) keeps the old entry's watch
                // reference: its stamp predates the change, so the watcher never vouches for the
                // new entry with it (the next get validates on the pool), but the directory
                // watches stay in place instead of being removed and added again (re-adding a
                // watch costs milliseconds in the kernel).
                if let Some(old) = st.store.get_mut(path) {
                    entry.watch = old.watch.take();
                }
            }
            let before = st.store.evictions();
            st.store.insert(path, entry);
            st.store.evictions() != before
        };
        if evicted {
            // Dropped keys free their slots only at the next registry operation: free them now
            // so evicted tables can be collected.
            lua.expire_registry_values();
        }
        Ok(())
    }

    /// Blocking get on the calling thread (no pool, no dispatch of other results). With writes
    /// of `path` pending it first waits until they have landed, then reads the file.
    pub fn get_sync(&self, lua: &Lua, path: &[u8], mode: L::Mode) -> LuaResult<LuaMultiValue> {
        let writes_pending = self.state.borrow().jobs.barriers.contains_key(path);
        if writes_pending {
            self.runtime()?.lane().wait_key(&self.lane_key(path));
            let (outcome, _) = run_job::<L>(path, mode, None, self.opts.max_size, None);
            return self.apply_now(lua, path, mode, outcome, None);
        }
        if let Some(values) = self.peek(lua, path, mode)? {
            return Ok(values);
        }
        let known = self.known(path, mode);
        let (armed, plan) = self.arm(&*self.runtime()?, path);
        let (outcome, setup) = run_job::<L>(path, mode, known, self.opts.max_size, plan);
        if known.is_some() {
            self.state.borrow_mut().counters.validations += 1;
        }
        let watch = match (armed, setup) {
            (Some(a), Some(s)) => a.finish(s),
            _ => None,
        };
        self.apply_now(lua, path, mode, outcome, watch)
    }

    /// True when `path` has an entry for `mode` that the watcher vouches for right now.
    fn clean_hit(&self, path: &[u8], mode: L::Mode) -> bool {
        self.clean_stamp(path, mode).is_some()
    }

    fn clean_stamp(&self, path: &[u8], mode: L::Mode) -> Option<u64> {
        self.clean_stamp_with(path, mode, true)
    }

    /// Identity and stamp of the entry of `path` when the watcher vouches for it; with `drain`
    /// false the caller drained the watcher itself just before (a batch of checks). Counts
    /// nothing.
    pub fn clean_identity(
        &self,
        path: &[u8],
        mode: L::Mode,
        drain: bool,
    ) -> Option<(Identity, u64)> {
        let stamp = self.clean_stamp_with(path, mode, drain)?;
        let st = self.state.borrow();
        st.store.get(path).map(|e| (e.identity, stamp))
    }

    /// Identity and stamp (if watched) of the entry of `path`, validated or not.
    pub fn entry_identity(&self, path: &[u8]) -> Option<(Identity, Option<u64>)> {
        let st = self.state.borrow();
        st.store.get(path).map(|e| (e.identity, e.stamp()))
    }

    fn clean_stamp_with(&self, path: &[u8], mode: L::Mode, drain: bool) -> Option<u64> {
        if !self.opts.trust_mtime {
            return None;
        }
        let stamp = {
            let st = self.state.borrow();
            if st.jobs.barriers.contains_key(path) {
                return None;
            }
            let e = st.store.get(path)?;
            if !L::serves(e.memo, mode) || is_racy(&e.identity, e.read_at) {
                return None;
            }
            e.stamp()?
        };
        let rt = self.rt.upgrade()?;
        let w = rt.watcher();
        let clean = if drain {
            w.is_clean(path, L::KIND, stamp)
        } else {
            w.clean_as_drained(path, L::KIND, stamp)
        };
        clean.then_some(stamp)
    }

    /// A hit without I/O: the cached answer when the watcher vouches for the entry (watched,
    /// no event since it was read, not changed just before it was read, no write pending),
    /// else None. Counts a hit. Never blocks: at most one non-blocking read of the inotify
    /// descriptor.
    pub fn peek(&self, lua: &Lua, path: &[u8], mode: L::Mode) -> LuaResult<Option<LuaMultiValue>> {
        let Some(stamp) = self.clean_stamp(path, mode) else {
            return Ok(None);
        };
        let table: LuaTable = {
            let st = self.state.borrow();
            match st.store.get(path) {
                Some(e) if e.stamp() == Some(stamp) => lua.registry_value(&e.table)?,
                _ => return Ok(None),
            }
        };
        {
            let mut st = self.state.borrow_mut();
            st.counters.hits += 1;
            st.counters.fast_hits += 1;
            st.store.touch(path);
        }
        L::answer(lua, &table, mode).map(Some)
    }

    /// Stops in-flight reads of `path` from storing their (possibly older) result.
    pub fn disown_reads(&self, path: &[u8]) {
        self.state.borrow_mut().jobs.disown(path);
    }

    /// Drops the entry of `path` (and disowns reads in flight: they answer but do not store). True if there was one.
    pub fn invalidate(&self, path: &[u8]) -> bool {
        let old = {
            let mut st = self.state.borrow_mut();
            st.jobs.disown(path);
            st.store.remove(path)
        };
        old.is_some()
    }

    /// Drops every entry and disowns every read in flight.
    pub fn clear_all(&self) {
        let old = {
            let mut st = self.state.borrow_mut();
            st.jobs.disown_all();
            st.store.clear()
        };
        drop(old);
    }

    /// `stats()` as a Lua table.
    pub fn stats_table(&self, lua: &Lua) -> LuaResult<LuaTable> {
        let st = self.state.borrow();
        let c = st.counters;
        let t = lua.create_table_with_capacity(0, 18)?;
        t.raw_set("hits", c.hits)?;
        t.raw_set("misses", c.misses)?;
        t.raw_set("entries", st.store.count() as u64)?;
        t.raw_set("bytes", st.store.bytes())?;
        t.raw_set("max_bytes", st.store.max_bytes())?;
        t.raw_set("evictions", st.store.evictions())?;
        t.raw_set("reads", c.reads)?;
        t.raw_set("validations", c.validations)?;
        t.raw_set("errors", c.errors)?;
        t.raw_set("inflight", st.jobs.inflight_count() as u64)?;
        t.raw_set("parses", c.parses)?;
        t.raw_set("trust_mtime", self.opts.trust_mtime)?;
        t.raw_set("fast_hits", c.fast_hits)?;
        t.raw_set("writes", c.writes)?;
        t.raw_set("writes_coalesced", c.writes_coalesced)?;
        t.raw_set("writes_pending", st.jobs.writes_pending() as u64)?;
        t.raw_set("durable", self.opts.durable)?;
        Ok(t)
    }

    /// Mutable access to the counters for kind-specific accounting.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.state.borrow_mut().counters);
    }

    /// A write of `path` was accepted under completion `id` (it replaced the waiting write
    /// `replaced`): later gets of `path` wait for it.
    pub fn write_accepted(&self, path: &[u8], id: u64, replaced: Option<u64>) {
        let mut st = self.state.borrow_mut();
        st.counters.writes += 1;
        if replaced.is_some() {
            st.counters.writes_coalesced += 1;
        }
        let b = st.jobs.barriers.entry(path.to_vec()).or_default();
        b.latest = id;
        if replaced.is_none() {
            b.outstanding += 1;
        }
        // A get that joined a read started before this write must not get that read's result.
        st.jobs.disown(path);
    }

    /// Whether a landed write `id` is newer than anything stored for `path` from a write (then
    /// records it): an older write's result never replaces a newer one.
    pub fn newest_write(&self, path: &[u8], id: u64) -> bool {
        let mut st = self.state.borrow_mut();
        match st.jobs.barriers.get_mut(path) {
            Some(b) if b.landed > id => false,
            Some(b) => {
                b.landed = id;
                true
            }
            None => true,
        }
    }

    /// The write `id` of `path` has landed (or failed): gets that waited for it are answered
    /// from the cache when the entry serves them, else read the file now.
    pub fn write_done(self: &Rc<Self>, lua: &Lua, path: &[u8], id: u64) -> LuaResult<()> {
        let released = {
            let mut st = self.state.borrow_mut();
            let Some(b) = st.jobs.barriers.get_mut(path) else {
                return Ok(());
            };
            b.outstanding = b.outstanding.saturating_sub(1);
            let (ready, waiting): (Vec<_>, Vec<_>) = b
                .readers
                .drain(..)
                .partition(|(wait_for, _, _)| *wait_for <= id);
            b.readers = waiting;
            if b.outstanding == 0 && b.readers.is_empty() {
                st.jobs.barriers.remove(path);
            }
            ready
        };
        let mut first_err = None;
        for (_, mode, waiter) in released {
            let hit = {
                let st = self.state.borrow();
                st.store
                    .get(path)
                    .filter(|e| L::serves(e.memo, mode))
                    .map(|e| lua.registry_value::<LuaTable>(&e.table))
            };
            let r = match hit {
                Some(table) => {
                    self.count(|c| c.hits += 1);
                    let values = L::answer(lua, &table?, mode)?;
                    answer(lua, vec![waiter.1], values)
                }
                None => self.join_or_start(path.to_vec(), mode, waiter),
            };
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
