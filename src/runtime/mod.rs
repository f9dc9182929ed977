//! The runtime: bounded pool submission, completion queue, wake-up fd, dispatch, blocking wait.
//!
//! One [`Runtime`] per Lua state (kept in mlua app data). Workers only see [`Pool`] and
//! [`CompletionQueue`] (plain data); handlers that touch Lua run in [`Runtime::dispatch`] on the
//! thread that owns the state.

mod completion;
mod lane;
mod pool;
mod waker;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::prelude::*;

pub use completion::{Completion, CompletionQueue};
pub use lane::{flush_all, Lane, LaneJob, LaneKey, Staged, DEFAULT_WRITE_THREADS, FLUSH_LIMIT};
pub use pool::Pool;
pub use waker::Waker;

use crate::fasthash::FastMap;
use crate::watch::Watcher;

/// Payload pushed in place of a result when a job panicked.
pub struct Panicked;

/// Main-thread continuation of a job: gets the payload, may call into Lua.
type Handler = Box<dyn FnOnce(&Lua, u64, Box<dyn Any + Send>) -> LuaResult<()>>;

/// What a typed handler gets: the job's value, or [`Panicked`] when the job panicked.
pub type JobResult<T> = Result<T, Panicked>;

/// Turns a typed handler into a [`Handler`]: the payload is the job's `T` or [`Panicked`].
fn typed<T: 'static>(
    handler: impl FnOnce(&Lua, u64, JobResult<T>) -> LuaResult<()> + 'static,
) -> Handler {
    Box::new(move |lua, id, payload| match payload.downcast::<T>() {
        Ok(v) => handler(lua, id, Ok(*v)),
        Err(p) if p.is::<Panicked>() => handler(lua, id, Err(Panicked)),
        Err(_) => Err(LuaError::runtime(
            "fscache: internal error: job payload of an unexpected type",
        )),
    })
}

/// The run-ahead bound a runtime starts with: [`pool::RUN_AHEAD`] when the process may use one
/// CPU only (see [`pool::shares_one_cpu`]), else none.
pub fn default_run_ahead() -> Option<usize> {
    pool::shares_one_cpu().then_some(pool::RUN_AHEAD)
}

/// Default number of pool jobs in flight.
pub fn default_threads() -> usize {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    (n * 2).clamp(4, 16)
}

/// Per-Lua-state runtime. Lives in app data as `Rc<Runtime>`.
pub struct Runtime {
    pool: Arc<Pool>,
    queue: Arc<CompletionQueue>,
    handlers: RefCell<FastMap<u64, Handler>>,
    backlog: RefCell<VecDeque<Completion>>,
    next_id: Cell<u64>,
    slice: Cell<Duration>,
    delivered: Cell<u64>,
    /// When the dispatch running now must end (None outside dispatch).
    deadline: Cell<Option<Instant>>,
    watcher: Rc<Watcher>,
    lane: Arc<Lane>,
    /// The wake-up descriptor was reset since the last dispatch.
    wake_reset: Cell<bool>,
}

impl Runtime {
    /// A runtime with its own wake-up descriptor and pool front.
    pub fn new() -> std::io::Result<Runtime> {
        let queue = Arc::new(CompletionQueue::new(Waker::new()?));
        queue.set_run_ahead(default_run_ahead());
        Ok(Runtime {
            pool: Pool::with_run_ahead(default_threads(), Arc::clone(&queue)),
            lane: Lane::new(DEFAULT_WRITE_THREADS, Arc::clone(&queue)),
            queue,
            handlers: RefCell::new(FastMap::default()),
            backlog: RefCell::new(VecDeque::new()),
            next_id: Cell::new(0),
            slice: Cell::new(Duration::from_millis(2)),
            delivered: Cell::new(0),
            deadline: Cell::new(None),
            watcher: Rc::new(Watcher::default()),
            wake_reset: Cell::new(false),
        })
    }

    /// The runtime of this Lua state, created on first use.
    pub fn get(lua: &Lua) -> LuaResult<Rc<Runtime>> {
        if let Some(rt) = lua.app_data_ref::<Rc<Runtime>>() {
            return Ok(Rc::clone(&rt));
        }
        let rt = Rc::new(Runtime::new().map_err(|e| {
            LuaError::runtime(format!("fscache: cannot create wake-up descriptor: {e}"))
        })?);
        lua.set_app_data(Rc::clone(&rt));
        Ok(rt)
    }

    /// The descriptor that becomes readable when results wait.
    pub fn fd(&self) -> i32 {
        self.queue.waker().fd()
    }

    /// The pool front (bound, load).
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Sets the time budget of one [`Runtime::dispatch`] call.
    pub fn set_slice(&self, slice: Duration) {
        self.slice.set(slice);
    }

    /// The time budget of one dispatch.
    pub fn slice(&self) -> Duration {
        self.slice.get()
    }

    /// What is left of the running dispatch's budget (the whole slice outside dispatch): the
    /// time a handler that works in steps (a sliced build) may take now.
    pub fn remaining(&self) -> Duration {
        match self.deadline.get() {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => self.slice.get(),
        }
    }

    /// Results of finished jobs that wait for this thread (queued or in the backlog).
    pub fn waiting(&self) -> usize {
        self.queue.waiting()
    }

    /// Sets the run-ahead bound (`setup{ run_ahead }`): `Some(n)` holds the read pool's workers
    /// while `n` results wait, whatever the CPU count; `None` never holds them.
    pub fn set_run_ahead(&self, bound: Option<usize>) {
        self.queue.set_run_ahead(bound);
    }

    /// How many waiting results hold the read pool's workers ([`pool::RUN_AHEAD`] when the
    /// process runs on one CPU), if any bound applies.
    pub fn run_ahead(&self) -> Option<usize> {
        self.queue.run_ahead()
    }

    /// Jobs submitted whose handlers have not run yet.
    pub fn pending(&self) -> usize {
        self.handlers.borrow().len()
    }

    /// Completions delivered since the runtime started.
    pub fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    fn register(&self, handler: Handler) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.handlers.borrow_mut().insert(id, handler);
        id
    }

    /// A fresh id that no job uses (orders writes made without the lane, see `cache::writes`).
    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        id
    }

    /// Runs `work` on the pool; `handler` later gets its result (or [`Panicked`]) on the Lua
    /// thread. Returns the job id (usable with [`Runtime::cancel`]).
    pub fn submit<T, W>(
        &self,
        work: W,
        handler: impl FnOnce(&Lua, u64, JobResult<T>) -> LuaResult<()> + 'static,
    ) -> u64
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
    {
        let id = self.register(typed(handler));
        self.pool.submit(Box::new(move |queue: &CompletionQueue| {
            let payload: Box<dyn Any + Send> =
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                    Ok(v) => Box::new(v),
                    Err(_) => Box::new(Panicked),
                };
            queue.push((id, payload));
        }));
        id
    }

    /// Queues a two-stage `work` on the write lane under `key` (one job at a time per key; a job
    /// still waiting is replaced, see [`Lane::push`]); held jobs start at the next dispatch.
    /// `work` returns the first stage's value and the second stage; `visible` gets the first,
    /// `done` the second. Returns (the first stage's id, the replaced job's first-stage id); the
    /// replaced job's handlers are dropped here and never run.
    pub fn submit_write<T, U, W>(
        &self,
        key: LaneKey,
        work: W,
        visible: impl FnOnce(&Lua, u64, JobResult<T>) -> LuaResult<()> + 'static,
        done: impl FnOnce(&Lua, u64, JobResult<U>) -> LuaResult<()> + 'static,
    ) -> (u64, Option<u64>)
    where
        T: Send + 'static,
        U: Send + 'static,
        W: FnOnce() -> (T, Box<dyn FnOnce() -> U + Send>) + Send + 'static,
    {
        let id = self.register(typed(visible));
        let then_id = self.register(typed(done));
        let job = LaneJob {
            id,
            then_id,
            work: Box::new(move || {
                let (first, then) = work();
                Staged {
                    payload: Box::new(first),
                    then: Box::new(move || Box::new(then()) as Box<dyn Any + Send>),
                }
            }),
        };
        let (replaced, first_held) = self.lane.push(key, job);
        if let Some((old, old_then)) = replaced {
            self.cancel(old);
            self.cancel(old_then);
        }
        if first_held {
            // The burst ends when the Lua code that issued it yields to the loop.
            let lane = Arc::clone(&self.lane);
            self.post(move |_| {
                lane.release();
                Ok(())
            });
        }
        (id, replaced.map(|r| r.0))
    }

    /// The write lane.
    pub fn lane(&self) -> &Arc<Lane> {
        &self.lane
    }

    /// Queues `handler` to run at the next dispatch without any pool work (a result that is
    /// ready now but must still arrive asynchronously, like a callback hit).
    pub fn post(&self, handler: impl FnOnce(&Lua) -> LuaResult<()> + 'static) -> u64 {
        let id = self.register(Box::new(move |lua, _, _| handler(lua)));
        self.queue.push((id, Box::new(())));
        id
    }

    /// The inotify watcher that validates hits without a pool trip.
    pub fn watcher(&self) -> &Rc<Watcher> {
        &self.watcher
    }

    /// Forgets the handler of job `id`: its result is dropped when it arrives.
    pub fn cancel(&self, id: u64) -> bool {
        self.handlers.borrow_mut().remove(&id).is_some()
    }

    /// Resets the wake-up descriptor (the poll callback does this before scheduling dispatch).
    pub fn reset_wake(&self) {
        self.queue.waker().reset();
        self.wake_reset.set(true);
    }

    /// Delivers waiting completions until `budget` is spent (None: the configured slice).
    /// Leftovers stay in a backlog and the descriptor is made readable again, so the host loop
    /// runs its timers before the next slice. Returns how many were delivered. Handler errors
    /// are collected: the first is returned after the slice, the rest are still delivered.
    pub fn dispatch(&self, lua: &Lua, budget: Option<Duration>) -> LuaResult<usize> {
        // The poll callback resets the descriptor right before scheduling this dispatch.
        if !self.wake_reset.replace(false) {
            self.queue.waker().reset();
        }
        {
            let fresh = self.queue.take();
            if !fresh.is_empty() {
                self.backlog.borrow_mut().extend(fresh);
            }
        }
        let budget = budget.unwrap_or(self.slice.get());
        let start = Instant::now();
        // A nested dispatch (a handler blocking on results) keeps the outer deadline if sooner.
        let outer = self.deadline.get();
        let deadline = lane::deadline_after(budget);
        self.deadline
            .set(Some(outer.map_or(deadline, |o| o.min(deadline))));
        let mut n = 0usize;
        let mut first_err = None;
        loop {
            let item = self.backlog.borrow_mut().pop_front();
            let Some((id, payload)) = item else { break };
            // Counted as it is taken, not at the end of the slice: a handler that blocks for
            // another result (block_on in a callback) must not find the workers held by
            // results this slice has already taken.
            self.queue.taken(1);
            let handler = self.handlers.borrow_mut().remove(&id);
            if let Some(handler) = handler {
                n += 1;
                if let Err(e) = handler(lua, id, payload) {
                    first_err.get_or_insert(e);
                }
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        self.deadline.set(outer);
        self.delivered.set(self.delivered.get() + n as u64);
        if !self.backlog.borrow().is_empty() {
            self.queue.waker().wake();
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    /// Blocks the calling thread until results wait or `timeout` passes (no polling loop).
    pub fn wait(&self, timeout: Duration) -> bool {
        if !self.backlog.borrow().is_empty() || !self.queue.is_empty() {
            return true;
        }
        self.queue.waker().wait(timeout)
    }
}

impl Drop for Runtime {
    /// The Lua state is closing: accepted writes still reach the disk (bounded wait).
    fn drop(&mut self) {
        // Nobody takes results any more: held read workers run out their queue and go idle.
        self.queue.set_run_ahead(None);
        if !self.lane.wait_idle(None, lane::deadline_after(FLUSH_LIMIT)) {
            crate::fs::remove_unfinished_temps();
        }
    }
}
