//! What FileCache and DirectoryCache share: entries validated by identity, coalesced pool reads,
//! hit/miss accounting, and delivery of results to Lua callbacks.
//!
//! Borrow rule: `state` is borrowed only in short blocks that make no Lua call (creating a Lua
//! value can run a finalizer, which may re-enter the cache).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fasthash::FastMap;
use crate::fs::{stat_path, stat_path_plain, FsError, Identity, Timestamp};
use crate::lua_util::{deliver, failure};
use crate::runtime::{Panicked, Runtime};
use crate::watch::{Kind, Plan, Setup};

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
    /// How the watcher covers a path of this cache.
    const KIND: Kind;
    /// What one pool read produces.
    type Data: Send + 'static;
    /// Per-request view (e.g. plain content or decoded JSON).
    type Mode: Copy + Eq + std::hash::Hash + Send + 'static;
    /// Reads `path` (pool thread, no Lua).
    fn read(path: &[u8], mode: Self::Mode, max_size: u64) -> Result<Self::Data, FsError>;
    /// Reads `path` for a watched entry; also says whether the path is plain for the watcher
    /// (no symlink as last component, one hard link; see `crate::watch`).
    fn read_watched(
        path: &[u8],
        mode: Self::Mode,
        max_size: u64,
    ) -> Result<(Self::Data, bool), FsError> {
        Self::read(path, mode, max_size).map(|d| (d, true))
    }
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
    /// Hits answered without a pool trip (validated by the watcher).
    pub fast_hits: u64,
    /// Decoded views built (JSON documents converted to Lua).
    pub parses: u64,
}

struct Entry {
    identity: Identity,
    read_at: Timestamp,
    table: RegistryKey,
    bytes: u64,
    memo: Memo,
    /// Watcher stamp (the entry then holds one watcher reference to its path).
    watch: Option<u64>,
}

/// A callback waiting for a job, with the handle `get` returned for it (see [`Core::cancel`]).
type Waiter = (u64, RegistryKey);

struct Job<M> {
    path: Vec<u8>,
    mode: M,
    waiters: Vec<Waiter>,
    /// Invalidated, cleared or overwritten while in flight: deliver, but do not store.
    detached: bool,
    /// Watcher stamp of this read (it holds one watcher reference until finished).
    stamp: Option<u64>,
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
    entries: FastMap<Vec<u8>, Entry>,
    inflight: FastMap<(Vec<u8>, L::Mode), u64>,
    jobs: FastMap<u64, Job<L::Mode>>,
    counters: Counters,
    bytes: u64,
    /// Last waiter handle handed out by `get`.
    last_waiter: u64,
    /// Watcher-validated hits posted for the next dispatch: handle -> callback.
    posted: FastMap<u64, RegistryKey>,
}

/// The shared cache engine; `FileCache`/`DirectoryCache` wrap an `Rc<Core<_>>`.
pub struct Core<L: Loader> {
    rt: Weak<Runtime>,
    opts: Options,
    state: RefCell<State<L>>,
}

/// Runs a read job: make sure the watches exist (if armed), validate against `known`, read in
/// full if needed. The watches go in before anything is looked at (see `crate::watch`).
fn run_job<L: Loader>(
    path: &[u8],
    mode: L::Mode,
    known: Option<(Identity, Timestamp)>,
    max_size: u64,
    plan: Option<Plan>,
) -> (Outcome<L::Data>, Option<Setup>) {
    let Some(plan) = plan else {
        return (run_unwatched::<L>(path, mode, known, max_size), None);
    };
    let mut setup = plan.setup(path);
    if let Some((id, read_at)) = known {
        let stat = match L::KIND {
            Kind::File => stat_path_plain(path),
            Kind::Dir => stat_path(path).map(|id| (id, true)),
        };
        match stat {
            Err(e) => return (Outcome::Failed(e), Some(setup)),
            Ok((now, plain)) if now == id && !is_racy(&id, read_at) => {
                plan.confirm(&mut setup, now.dev, plain, path);
                return (Outcome::Unchanged, Some(setup));
            }
            Ok(_) => {}
        }
    }
    let outcome = match L::read_watched(path, mode, max_size) {
        Ok((d, plain)) => {
            plan.confirm(&mut setup, L::identity(&d).0.dev, plain, path);
            Outcome::Fresh(d)
        }
        Err(e) => Outcome::Failed(e),
    };
    (outcome, Some(setup))
}

fn run_unwatched<L: Loader>(
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
                entries: FastMap::default(),
                inflight: FastMap::default(),
                jobs: FastMap::default(),
                counters: Counters::default(),
                bytes: 0,
                last_waiter: 0,
                posted: FastMap::default(),
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
    /// cancelled). Returns a waiter handle for [`Core::cancel`]. A hit the watcher vouches for
    /// is answered at the next dispatch without a pool trip.
    pub fn get(
        self: &Rc<Self>,
        lua: &Lua,
        path: Vec<u8>,
        mode: L::Mode,
        cb: LuaFunction,
    ) -> LuaResult<u64> {
        let key = lua.create_registry_value(cb)?;
        let handle = {
            let mut st = self.state.borrow_mut();
            st.last_waiter += 1;
            st.last_waiter
        };
        if self.clean_hit(&path, mode) {
            let rt = self.runtime()?;
            self.state.borrow_mut().posted.insert(handle, key);
            let core = Rc::clone(self);
            rt.post(Box::new(move |lua: &Lua, _id, _payload| {
                // Cancelled meanwhile: the key is gone and nothing is delivered.
                let Some(key) = core.state.borrow_mut().posted.remove(&handle) else {
                    return Ok(());
                };
                match core.peek(lua, &path, mode)? {
                    Some(values) => deliver(lua, vec![key], values),
                    None => core.join_or_start(path, mode, handle, key),
                }
            }));
            return Ok(handle);
        }
        self.join_or_start(path, mode, handle, key)?;
        Ok(handle)
    }

    /// Joins the read of `path` in flight, or starts one, for the waiter (`handle`, `key`).
    fn join_or_start(
        self: &Rc<Self>,
        path: Vec<u8>,
        mode: L::Mode,
        handle: u64,
        key: RegistryKey,
    ) -> LuaResult<()> {
        let joined = {
            let mut st = self.state.borrow_mut();
            let job_id = st.inflight.get(&(path.clone(), mode)).copied();
            match job_id.and_then(|id| st.jobs.get_mut(&id)) {
                Some(job) => {
                    job.waiters.push((handle, key));
                    None
                }
                None => Some(key),
            }
        };
        if let Some(key) = joined {
            self.start_job(path, mode, vec![(handle, key)])?;
        }
        Ok(())
    }

    /// Forgets the waiter `handle` (its owner was cancelled): its callback is released now and
    /// never called. A read nobody waits for any more still fills the cache, unless it was
    /// detached, in which case its result is dropped too. True if the waiter was still waiting.
    pub fn cancel(&self, lua: &Lua, handle: u64) -> LuaResult<bool> {
        let posted = self.state.borrow_mut().posted.remove(&handle);
        if let Some(key) = posted {
            lua.remove_registry_value(key)?;
            return Ok(true);
        }
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
            let dropped = if unwanted {
                st.jobs.remove(&job_id).map(|job| (job_id, job))
            } else {
                None
            };
            (key, dropped)
        };
        if let Some((id, job)) = dropped_job {
            if let Some(rt) = self.rt.upgrade() {
                rt.cancel(id);
            }
            // Its handler will never run: give the watcher its reference back.
            self.settle(&job.path, job.stamp, None);
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
        let ticket = self.arm(&rt, &path);
        let stamp = ticket.as_ref().map(|t| t.stamp);
        let plan = ticket.map(|t| t.plan);
        let max_size = self.opts.max_size;
        let core = Rc::clone(self);
        let job_path = path.clone();
        let id = rt.submit(
            move || run_job::<L>(&job_path, mode, known, max_size, plan),
            Box::new(move |lua: &Lua, id, payload| {
                let (outcome, setup) = match payload.downcast::<(Outcome<L::Data>, Option<Setup>)>()
                {
                    Ok(o) => *o,
                    Err(p) if p.is::<Panicked>() => (
                        Outcome::Failed(FsError::new(
                            "EIO",
                            "internal error: the read panicked",
                            b"",
                        )),
                        None,
                    ),
                    Err(_) => return Err(LuaError::runtime("fscache: unexpected job payload")),
                };
                core.finish(lua, id, outcome, setup)
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
                stamp,
            },
        );
        Ok(())
    }

    /// Arms the watcher for a read of `path` (None: unwatched, or hits are never trusted).
    fn arm(&self, rt: &Runtime, path: &[u8]) -> Option<crate::watch::Ticket> {
        if !self.opts.trust_mtime {
            return None;
        }
        rt.watcher().arm(path, L::KIND)
    }

    /// The watcher's verdict on a read armed with `stamp`: the stamp the stored entry keeps.
    fn settle(&self, path: &[u8], stamp: Option<u64>, setup: Option<Setup>) -> Option<u64> {
        let stamp = stamp?;
        let rt = self.rt.upgrade()?;
        match setup {
            Some(s) => rt.watcher().complete(path, stamp, s),
            None => {
                rt.watcher().complete(path, stamp, Setup::default());
                None
            }
        }
    }

    fn release(&self, path: &[u8], stamp: Option<u64>) {
        if stamp.is_some() {
            if let Some(rt) = self.rt.upgrade() {
                rt.watcher().release(path);
            }
        }
    }

    /// Main-thread end of a pool job: update the cache, then answer every waiter.
    fn finish(
        self: &Rc<Self>,
        lua: &Lua,
        id: u64,
        outcome: Outcome<L::Data>,
        setup: Option<Setup>,
    ) -> LuaResult<()> {
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
        let stamp = self.settle(&job.path, job.stamp, setup);
        if matches!(outcome, Outcome::Unchanged) && !self.has_entry(&job.path) {
            // Invalidated while validating: nothing to serve, read again for the same waiters.
            self.release(&job.path, stamp);
            if job.waiters.is_empty() {
                return Ok(());
            }
            return self.start_job(job.path, job.mode, job.waiters);
        }
        let stamp = if job.detached {
            self.release(&job.path, stamp);
            None
        } else {
            stamp
        };
        let values = self.apply(lua, &job.path, job.mode, outcome, !job.detached, stamp)?;
        deliver(
            lua,
            job.waiters.into_iter().map(|(_, k)| k).collect(),
            values,
        )
    }

    fn has_entry(&self, path: &[u8]) -> bool {
        self.state.borrow().entries.contains_key(path)
    }

    /// Turns an outcome into the values a get answers with, storing what was read if `store`
    /// (with the watcher `stamp`, whose reference the stored entry takes over; otherwise it is
    /// released here).
    fn apply(
        &self,
        lua: &Lua,
        path: &[u8],
        mode: L::Mode,
        outcome: Outcome<L::Data>,
        store: bool,
        stamp: Option<u64>,
    ) -> LuaResult<LuaMultiValue> {
        match outcome {
            Outcome::Failed(e) => {
                self.release(path, stamp);
                let old = {
                    let mut st = self.state.borrow_mut();
                    st.counters.errors += 1;
                    st.counters.misses += 1;
                    let old = if store { st.entries.remove(path) } else { None };
                    if let Some(o) = &old {
                        st.bytes -= o.bytes;
                    }
                    old
                };
                if let Some(old) = old {
                    self.release(path, old.watch);
                    lua.remove_registry_value(old.table)?;
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
                    self.release(path, stamp);
                    return failure(
                        lua,
                        &FsError::new("EAGAIN", "entry invalidated during validation", path),
                    );
                };
                self.state.borrow_mut().counters.hits += 1;
                self.restamp(path, stamp);
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
                        self.restamp(path, stamp);
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
                    self.store_watched(lua, path, identity, read_at, built, stamp)?;
                } else {
                    self.release(path, stamp);
                }
                Ok(values)
            }
        }
    }

    /// Gives the entry of `path` the newer watcher `stamp` (after a validation): it keeps one
    /// reference, so the extra one is released.
    fn restamp(&self, path: &[u8], stamp: Option<u64>) {
        let Some(stamp) = stamp else { return };
        let had = {
            let mut st = self.state.borrow_mut();
            match st.entries.get_mut(path) {
                Some(e) => e.watch.replace(stamp).is_some(),
                None => true, // no entry to hold it
            }
        };
        if had {
            self.release(path, Some(stamp));
        }
    }

    /// Puts a freshly built entry in the cache (also used after a write; unwatched).
    pub fn store(
        &self,
        lua: &Lua,
        path: &[u8],
        identity: Identity,
        read_at: Timestamp,
        built: Built,
    ) -> LuaResult<()> {
        self.store_watched(lua, path, identity, read_at, built, None)
    }

    fn store_watched(
        &self,
        lua: &Lua,
        path: &[u8],
        identity: Identity,
        read_at: Timestamp,
        built: Built,
        stamp: Option<u64>,
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
                    watch: stamp,
                },
            );
            if let Some(o) = &old {
                st.bytes -= o.bytes;
            }
            old
        };
        if let Some(o) = old {
            self.release(path, o.watch);
            lua.remove_registry_value(o.table)?;
        }
        Ok(())
    }

    /// Blocking get on the calling thread (no pool, no dispatch of other results).
    pub fn get_sync(&self, lua: &Lua, path: &[u8], mode: L::Mode) -> LuaResult<LuaMultiValue> {
        if let Some(values) = self.peek(lua, path, mode)? {
            return Ok(values);
        }
        let known = self.known(path, mode);
        let ticket = self.arm(&*self.runtime()?, path);
        let stamp = ticket.as_ref().map(|t| t.stamp);
        let (outcome, setup) = run_job::<L>(
            path,
            mode,
            known,
            self.opts.max_size,
            ticket.map(|t| t.plan),
        );
        if known.is_some() {
            self.state.borrow_mut().counters.validations += 1;
        }
        let stamp = self.settle(path, stamp, setup);
        self.apply(lua, path, mode, outcome, true, stamp)
    }

    /// True when `path` has an entry for `mode` that the watcher vouches for right now.
    fn clean_hit(&self, path: &[u8], mode: L::Mode) -> bool {
        self.clean_stamp(path, mode).is_some()
    }

    fn clean_stamp(&self, path: &[u8], mode: L::Mode) -> Option<u64> {
        if !self.opts.trust_mtime {
            return None;
        }
        let stamp = {
            let st = self.state.borrow();
            let e = st.entries.get(path)?;
            if !L::serves(e.memo, mode) || is_racy(&e.identity, e.read_at) {
                return None;
            }
            e.watch?
        };
        let rt = self.rt.upgrade()?;
        rt.watcher().is_clean(path, stamp).then_some(stamp)
    }

    /// A hit without I/O: the cached answer when the watcher vouches for the entry (watched,
    /// no event since it was read, not changed just before it was read), else None. Counts a
    /// hit. Never blocks: at most one non-blocking read of the inotify descriptor.
    pub fn peek(&self, lua: &Lua, path: &[u8], mode: L::Mode) -> LuaResult<Option<LuaMultiValue>> {
        let Some(stamp) = self.clean_stamp(path, mode) else {
            return Ok(None);
        };
        let table: LuaTable = {
            let st = self.state.borrow();
            match st.entries.get(path) {
                Some(e) if e.watch == Some(stamp) => lua.registry_value(&e.table)?,
                _ => return Ok(None),
            }
        };
        {
            let mut st = self.state.borrow_mut();
            st.counters.hits += 1;
            st.counters.fast_hits += 1;
        }
        L::answer(lua, &table, mode).map(Some)
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
                self.release(path, o.watch);
                lua.remove_registry_value(o.table)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Drops every entry and detaches every read in flight.
    pub fn clear_all(&self, lua: &Lua) -> LuaResult<()> {
        let old: Vec<(Vec<u8>, Entry)> = {
            let mut st = self.state.borrow_mut();
            let ids: Vec<u64> = st.inflight.drain().map(|(_, id)| id).collect();
            for id in ids {
                if let Some(job) = st.jobs.get_mut(&id) {
                    job.detached = true;
                }
            }
            st.bytes = 0;
            st.entries.drain().collect::<Vec<_>>()
        };
        for (p, e) in old {
            self.release(&p, e.watch);
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
        let t = lua.create_table_with_capacity(0, 10)?;
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
        t.raw_set("fast_hits", c.fast_hits)?;
        Ok(t)
    }

    /// Mutable access to the counters for kind-specific accounting.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.state.borrow_mut().counters);
    }
}

impl<L: Loader> Drop for Core<L> {
    /// A collected cache gives its watcher references back (the registry slots of its tables
    /// are reclaimed by mlua when the keys drop).
    fn drop(&mut self) {
        let Some(rt) = self.rt.upgrade() else { return };
        let paths: Vec<Vec<u8>> = match self.state.try_borrow() {
            Ok(st) => st
                .entries
                .iter()
                .filter(|(_, e)| e.watch.is_some())
                .map(|(p, _)| p.clone())
                .collect(),
            Err(_) => return,
        };
        for p in paths {
            rt.watcher().release(&p);
        }
    }
}
