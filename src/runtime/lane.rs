//! The write lane: a pool of its own for jobs that must run one at a time per key (writes of one
//! path through one cache), where a job that has not started yet is replaced by a newer one for
//! the same key ("latest wins"), and which is flushed at exit.
//!
//! Reads never queue behind writes: the lane has its own workers (`setup{ write_threads }`), and
//! its jobs report to the same completion queue as the read pool. A key's jobs run in order on
//! one worker: when a job ends, that worker takes the key's waiting job itself (no round trip
//! through the Lua thread between two writes of one path).
//!
//! Exit: [`flush_all`] waits (bounded) until every lane is idle. It runs from a process
//! `atexit` handler (hosts that exit without closing the Lua state: `os.exit`, Neovim's `:qa`),
//! from `Runtime`'s drop (the state closes) and from Neovim's `VimLeave` autocmd.

use std::any::Any;
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use super::completion::CompletionQueue;
use super::pool::Pool;
use super::Panicked;
use crate::fasthash::FastMap;

/// How long the exit flush waits for pending writes before the process goes on exiting.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(3);

/// Default number of lane workers. Writes are bound by fsync latency, and fsyncs of different
/// files issued together share the file system's journal commits: in the write-heavy load of
/// `benches/writes.lua` (4 files, 100 writes per load) lanes of 1 / 2 / 4 / 8 workers took
/// 40 / 25 / 16 / 16 ms per load (median, pinned, same run). Past 4 nothing was gained, and each
/// worker is a thread that may hold a file open.
pub const DEFAULT_WRITE_THREADS: usize = 4;

/// Identifies a serial queue: (owner, key bytes), e.g. (cache id, path).
pub type LaneKey = (u64, Vec<u8>);

/// What the first stage of a lane job hands back: its payload (reported at once) and the
/// second stage, run right after on the same worker and reported under the job's `then_id`.
pub struct Staged {
    /// Reported under the job's `id`.
    pub payload: Box<dyn Any + Send>,
    /// Runs after `payload` was reported (e.g. the directory fsync of a write).
    pub then: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>,
}

/// One unit of lane work in two stages (a write: visible, then durable), each reported under
/// its own completion id.
pub struct LaneJob {
    /// Completion id of the first stage.
    pub id: u64,
    /// Completion id of the second stage.
    pub then_id: u64,
    /// The work (runs on a lane worker; no Lua).
    pub work: Box<dyn FnOnce() -> Staged + Send>,
}

#[derive(Default)]
struct LaneState {
    /// Keys with a job running or held; the value is the job waiting (at most one).
    busy: FastMap<LaneKey, Option<LaneJob>>,
    /// Keys whose waiting job is held until [`Lane::release`] (nothing of theirs runs yet).
    held: Vec<LaneKey>,
}

/// A keyed serial lane over its own pool.
pub struct Lane {
    pool: Arc<Pool>,
    completions: Arc<CompletionQueue>,
    state: Mutex<LaneState>,
    idle: Condvar,
}

fn registry() -> &'static Mutex<Vec<Weak<Lane>>> {
    static LANES: Mutex<Vec<Weak<Lane>>> = Mutex::new(Vec::new());
    &LANES
}

/// Waits (at most `limit` in all) until every lane of the process is idle. True if they are.
pub fn flush_all(limit: Duration) -> bool {
    let deadline = deadline_after(limit);
    let lanes: Vec<Arc<Lane>> = {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        reg.retain(|w| w.strong_count() > 0);
        reg.iter().filter_map(Weak::upgrade).collect()
    };
    lanes.iter().all(|l| l.wait_idle(None, deadline))
}

extern "C" fn flush_at_exit() {
    if !flush_all(FLUSH_LIMIT) {
        // A write still hangs (a stuck file system): the process exits without it; its target
        // keeps what it had, and its temp file does not stay behind.
        crate::fs::remove_unfinished_temps();
    }
}

/// Keeps this library mapped until the process exits (`dlopen` of itself with `RTLD_NODELETE`).
/// False when that cannot be done (the exit flush then relies on the state closing and on
/// Neovim's `VimLeave`).
fn pin_library() -> bool {
    // SAFETY: dladdr only reads the address of a function of this library; dlopen gets the
    // NUL-terminated path dladdr returned; the handle is leaked on purpose.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let addr = flush_at_exit as *const std::ffi::c_void;
        if libc::dladdr(addr, &mut info) == 0 || info.dli_fname.is_null() {
            return false;
        }
        !libc::dlopen(info.dli_fname, libc::RTLD_NOW | libc::RTLD_NODELETE).is_null()
    }
}

/// `now + limit`, saturating at a year from now (an `Instant` cannot hold `Duration::MAX`).
pub fn deadline_after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

impl Lane {
    /// A lane with `threads` workers reporting to `completions`; registered for the exit flush.
    pub fn new(threads: usize, completions: Arc<CompletionQueue>) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            pool: Pool::new(threads, Arc::clone(&completions)),
            completions,
            state: Mutex::new(LaneState::default()),
            idle: Condvar::new(),
        });
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&lane));
        static AT_EXIT: Once = Once::new();
        AT_EXIT.call_once(|| {
            // The handler lives in this library: it must stay mapped until the process exits,
            // even if the host unloads the module when it closes its Lua state (LuaJIT does).
            if pin_library() {
                // SAFETY: registers a plain extern "C" function with no arguments, in a library
                // that is never unloaded now.
                unsafe {
                    libc::atexit(flush_at_exit);
                }
            }
        });
        lane
    }

    /// The lane's pool (bound, load, nice).
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` for `key`, replacing the job already waiting there (held, or behind the
    /// running one). A job of an idle key is held until [`Lane::release`]: a burst of writes
    /// issued by one stretch of Lua code collapses to the newest per key before any starts.
    /// Returns (the replaced job's id, whether this is the first job held since the last
    /// release: then the caller arranges a release).
    pub fn push(&self, key: LaneKey, job: LaneJob) -> (Option<(u64, u64)>, bool) {
        let mut st = self.lock();
        if let Some(waiting) = st.busy.get_mut(&key) {
            return (waiting.replace(job).map(|old| (old.id, old.then_id)), false);
        }
        st.busy.insert(key.clone(), Some(job));
        st.held.push(key);
        (None, st.held.len() == 1)
    }

    /// Starts every held job.
    pub fn release(self: &Arc<Self>) {
        let jobs: Vec<(LaneKey, LaneJob)> = {
            let mut st = self.lock();
            let held = std::mem::take(&mut st.held);
            held.into_iter()
                .filter_map(|k| {
                    let job = st.busy.get_mut(&k).and_then(Option::take)?;
                    Some((k, job))
                })
                .collect()
        };
        for (key, job) in jobs {
            let lane = Arc::clone(self);
            self.pool
                .submit(Box::new(move |_: &CompletionQueue| lane.run(key, job)));
        }
    }

    /// Runs `job`, then every job queued behind it for `key`, then marks the key idle.
    fn run(&self, key: LaneKey, mut job: LaneJob) {
        loop {
            let work = job.work;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                Ok(staged) => {
                    self.completions.push((job.id, staged.payload));
                    let then = staged.then;
                    let payload: Box<dyn Any + Send> =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(then))
                            .unwrap_or_else(|_| Box::new(Panicked));
                    self.completions.push((job.then_id, payload));
                }
                Err(_) => {
                    self.completions.push((job.id, Box::new(Panicked)));
                    self.completions.push((job.then_id, Box::new(Panicked)));
                }
            }
            let mut st = self.lock();
            match st.busy.get_mut(&key).and_then(Option::take) {
                Some(next) => job = next,
                None => {
                    st.busy.remove(&key);
                    drop(st);
                    self.idle.notify_all();
                    return;
                }
            }
        }
    }

    /// Blocks until `key` is idle, with no deadline (a hung file system hangs this caller, as
    /// any blocking read of it would). Held jobs are released first.
    pub fn wait_key(self: &Arc<Self>, key: &LaneKey) {
        self.wait_idle(Some(key), deadline_after(Duration::MAX));
    }

    /// Releases held jobs, then blocks until `key` (None: every key) has no job running or
    /// waiting, or `deadline` passes. True if idle.
    pub fn wait_idle(self: &Arc<Self>, key: Option<&LaneKey>, deadline: Instant) -> bool {
        self.release();
        let mut st = self.lock();
        loop {
            let busy = match key {
                Some(k) => st.busy.contains_key(k),
                None => !st.busy.is_empty(),
            };
            if !busy {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .idle
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
