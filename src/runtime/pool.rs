//! The bounded worker pool: at most `limit` threads, each taking jobs from one FIFO.
//!
//! Workers are plain `std` threads that park on a condition variable when the FIFO is empty and
//! exit after [`IDLE_EXIT`] without work. A submit wakes a sleeping worker only when one is
//! asleep and not already being woken (one futex wake per idle worker, none while all are busy),
//! so a burst of submits costs a lock and a push each. A worker that finishes a job takes the
//! next one itself: the Lua thread never refills the pool. A worker that has just found the FIFO
//! empty polls it for [`SPIN`] first (one at a time); a submit meanwhile wakes nobody.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::completion::CompletionQueue;

/// A unit of pool work: runs on a worker, pushes its own completion.
pub type Job = Box<dyn FnOnce(&CompletionQueue) + Send>;

/// Default nice value of worker threads (Linux): below the thread that runs the editor's loop.
/// On one core (or a busy machine) a burst of reads at normal priority takes most of the CPU
/// from that thread and its timers stall for whole scheduler slices. Measured with `make bench`
/// pinned to one CPU (W5, worst gap while results arrive): nice 0 ~30 ms, nice 10 6-10 ms,
/// nice 19 ~4 ms, SCHED_IDLE 2 ms. Nice 19 and SCHED_IDLE let any other busy process (a build,
/// a language server indexing) starve the reads themselves: with other load on the same CPU,
/// W1 concurrent went from 12-18 µs at nice 10 to 19-27 µs at nice 19. Nice 10 keeps reads
/// moving under load. `fscache.setup({ worker_nice = 19 })` favours the loop further.
pub const DEFAULT_WORKER_NICE: i32 = 10;

/// Sets the calling worker thread's nice value (best effort; Linux sets nice per thread).
fn set_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// How long a worker that finds the FIFO empty keeps polling it (giving its CPU away between
/// polls) before it waits on the condition variable; one worker at a time does. A coroutine that
/// awaits reads one after another submits the next read right after the previous one is
/// delivered: a polling worker takes it without a wake-up on either side. A sleeping thread on
/// another CPU takes tens of microseconds to wake (on this project's 2-core VM, W1 sequential
/// awaits unpinned: 62 µs a read). `benches/bench.lua`, alternating runs with and without, three
/// rounds: unpinned, W1 sequential 62.4 -> 35.5 µs, W1 concurrent 11.6 -> 10.3, batch 11.4 ->
/// 10.1 µs a file, W5 10.7 -> 10.2 ms; pinned to one CPU, within noise (W1 sequential 21.6 ->
/// 22.3, concurrent 17.4 -> 16.3, batch 16.5 -> 15.3). 100 µs gained nothing over 50; letting
/// every worker poll made batches 11-32% slower.
pub const SPIN: Duration = Duration::from_micros(50);

/// How many completions may wait for the Lua thread before the read pool's workers stop taking
/// jobs, when the workers share one CPU with it (see [`shares_one_cpu`]).
///
/// Why: on one CPU a worker with jobs queued keeps the CPU until the end of its time slice
/// when the loop's thread wakes (its timer, results to deliver), so the loop waited in whole
/// scheduler ticks (4 ms on a 250 Hz kernel) while a burst was read. Workers that stop once
/// this many results wait give the CPU back within a few hundred microseconds. The price is
/// throughput: the loop and the workers take turns more often. `benches/ab.sh` pinned to one
/// CPU, 3 rounds on a quiet machine: worst stall during a batch of 2,000 5.94 -> 2.19 ms, W5
/// 12.9 -> 8.5 ms (after the caller's loop: 6.0 -> 2.0 ms); batch 13.9 -> 18.7 µs a file,
/// 2,000 concurrent reads 17.5 -> 19.3 µs, sequential reads unchanged, the loop thread's CPU
/// during W5 21.4 -> 27.0 ms (the same instructions, callgrind: more switches, colder caches).
/// Resuming the workers at a quarter or at none of the bound instead of half: the same. A
/// bound of 64 stalled 2.3 ms at a higher price, 256 stalled 4.2 ms. On two or more CPUs the
/// loop has its own, and the same bound cost a third of batch and concurrent-read throughput
/// (8.8 -> 11.7 µs a file, 10.1 -> 13.5 µs) for little less stall (3.0 -> 2.0 ms): off there.
/// `setup{ run_ahead = false }` turns it off on one CPU too.
pub const RUN_AHEAD: usize = 128;

/// How long a worker held by [`RUN_AHEAD`] waits before it looks again (wake-ups are
/// explicit; this only bounds the cost of a missed one).
const ROOM_WAIT: Duration = Duration::from_millis(5);

/// True when this process may run on one CPU only (its affinity mask, or a cgroup CPU quota
/// of one CPU or less): the Lua thread and the pool's workers then share it.
pub fn shares_one_cpu() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() == 1)
}

/// How long a worker waits for work before its thread exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(5);

struct State {
    queue: VecDeque<Job>,
    /// Worker threads alive (started, not yet exited).
    threads: usize,
    /// Workers running a job.
    busy: usize,
    /// Workers waiting on the condition variable.
    idle: usize,
    /// Wake-ups sent and not yet taken by a waiting worker.
    notified: usize,
    /// A worker polls the FIFO for a short while before it waits (see [`SPIN`]; one at a time).
    /// While it does, the job a submit puts into the empty FIFO is left to it (no wake-up).
    spinning: bool,
    limit: usize,
    /// Nice value workers run at (applied by each worker before its next job).
    nice: i32,
}

/// The pool front: shared by the Lua thread (submit) and the workers (take next).
pub struct Pool {
    state: Mutex<State>,
    /// The FIFO's length as last set under the lock (what a polling worker watches).
    queued: AtomicUsize,
    work: Condvar,
    completions: Arc<CompletionQueue>,
    /// Workers obey the completion queue's run-ahead bound (the read pool; never the write
    /// lane, whose writes must land even when nobody takes their results).
    bounded: bool,
}

impl Pool {
    /// A pool that runs at most `limit` jobs at once and reports to `completions`.
    pub fn new(limit: usize, completions: Arc<CompletionQueue>) -> Arc<Pool> {
        Self::build(limit, completions, false)
    }

    /// [`Pool::new`] for reads: its workers take no new job while the completion queue is
    /// [`full`](CompletionQueue::full) (see [`CompletionQueue::set_run_ahead`]).
    pub fn with_run_ahead(limit: usize, completions: Arc<CompletionQueue>) -> Arc<Pool> {
        Self::build(limit, completions, true)
    }

    fn build(limit: usize, completions: Arc<CompletionQueue>, bounded: bool) -> Arc<Pool> {
        Arc::new(Pool {
            bounded,
            queued: AtomicUsize::new(0),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                busy: 0,
                idle: 0,
                notified: 0,
                spinning: false,
                limit: limit.max(1),
                nice: DEFAULT_WORKER_NICE,
            }),
            work: Condvar::new(),
            completions,
        })
    }

    /// Changes the bound; extra workers retire after their current job.
    pub fn set_limit(self: &Arc<Self>, limit: usize) {
        let spawn = {
            let mut st = self.lock();
            st.limit = limit.max(1);
            let mut spawn = 0;
            while st.threads < st.limit && st.queue.len() > st.idle + spawn {
                st.threads += 1;
                spawn += 1;
            }
            spawn
        };
        // Retiring workers must wake up to notice.
        self.work.notify_all();
        for _ in 0..spawn {
            self.spawn_worker();
        }
    }

    /// Sets the nice value of the workers (0..=19), from their next job on.
    pub fn set_nice(&self, nice: i32) {
        self.lock().nice = nice.clamp(0, 19);
    }

    /// The workers' nice value.
    pub fn nice(&self) -> i32 {
        self.lock().nice
    }

    /// The current bound.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// (jobs running, jobs queued). A job a worker is about to take counts as running (up to the
    /// bound), so a burst shows `limit` running at once from the first submit on.
    pub fn load(&self) -> (usize, usize) {
        let st = self.lock();
        let running = (st.busy + st.queue.len()).min(st.limit.max(st.busy));
        (running, st.queue.len() + st.busy - running)
    }

    /// Queues `job`; wakes an idle worker, or starts one if fewer than `limit` exist.
    pub fn submit(self: &Arc<Self>, job: Job) {
        let (wake, spawn) = {
            let mut st = self.lock();
            st.queue.push_back(job);
            self.queued.store(st.queue.len(), Ordering::Release);
            if st.spinning && st.queue.len() == 1 {
                (false, false)
            } else if st.idle > st.notified {
                st.notified += 1;
                (true, false)
            } else if st.threads < st.limit && st.queue.len() > st.notified {
                st.threads += 1;
                (false, true)
            } else {
                (false, false)
            }
        };
        if wake {
            self.work.notify_one();
        }
        if spawn {
            self.spawn_worker();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn_worker(self: &Arc<Self>) {
        let pool = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("fscache-io".into())
            .spawn(move || pool.work_loop());
        if started.is_err() {
            // No thread: run what is queued right here rather than leave it waiting forever.
            let orphaned = {
                let mut st = self.lock();
                st.threads -= 1;
                if st.threads == 0 {
                    std::mem::take(&mut st.queue)
                } else {
                    VecDeque::new()
                }
            };
            for job in orphaned {
                self.run(job);
            }
        }
    }

    fn run(&self, job: Job) {
        // A panicking job must not take the worker's bookkeeping down with it.
        let completions = &self.completions;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(completions)));
    }

    /// Polls the FIFO for up to [`SPIN`], giving the CPU away between polls.
    fn poll_queue(&self) {
        let until = std::time::Instant::now() + SPIN;
        while self.queued.load(Ordering::Acquire) == 0 && std::time::Instant::now() < until {
            std::thread::yield_now();
        }
    }

    fn work_loop(&self) {
        let mut st = self.lock();
        let mut nice = None;
        loop {
            if nice != Some(st.nice) {
                nice = Some(st.nice);
                set_nice(st.nice);
            }
            if st.threads > st.limit {
                st.threads -= 1;
                return;
            }
            if self.bounded && !st.queue.is_empty() && self.completions.full() {
                drop(st);
                self.completions.wait_room(ROOM_WAIT);
                st = self.lock();
                continue;
            }
            if let Some(job) = st.queue.pop_front() {
                self.queued.store(st.queue.len(), Ordering::Release);
                st.busy += 1;
                drop(st);
                self.run(job);
                st = self.lock();
                st.busy -= 1;
                if st.queue.is_empty() && !st.spinning {
                    st.spinning = true;
                    drop(st);
                    self.poll_queue();
                    st = self.lock();
                    st.spinning = false;
                }
                continue;
            }
            st.idle += 1;
            let (guard, waited) = self
                .work
                .wait_timeout(st, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if st.notified > 0 {
                st.notified -= 1;
            } else if waited.timed_out() && st.queue.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::waker::Waker;
    use std::sync::mpsc;

    fn pool(limit: usize) -> Arc<Pool> {
        Pool::new(limit, Arc::new(CompletionQueue::new(Waker::new().unwrap())))
    }

    fn job(tx: &mpsc::Sender<usize>, n: usize) -> Job {
        let tx = tx.clone();
        Box::new(move |_: &CompletionQueue| {
            let _ = tx.send(n);
        })
    }

    /// Jobs submitted while a worker polls the FIFO (right after its previous job) all run: the
    /// one the polling worker takes, and those that need another worker woken or started.
    #[test]
    fn jobs_submitted_while_a_worker_polls_all_run() {
        for limit in [1, 2, 4] {
            let p = pool(limit);
            let (tx, rx) = mpsc::channel();
            for round in 0..200 {
                p.submit(job(&tx, round));
                assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(round));
                // Now a worker polls; submit one job, or a few at once.
                let n = 1 + round % 3;
                for k in 0..n {
                    p.submit(job(&tx, 1000 + k));
                }
                let mut got: Vec<usize> = (0..n)
                    .map(|_| {
                        rx.recv_timeout(Duration::from_secs(5))
                            .expect("a job never ran")
                    })
                    .collect();
                got.sort_unstable();
                assert_eq!(got, (1000..1000 + n).collect::<Vec<_>>());
            }
        }
    }

    /// After the polling window a worker sleeps; a later job still wakes it.
    #[test]
    fn a_job_after_the_polling_window_wakes_a_sleeping_worker() {
        let p = pool(1);
        let (tx, rx) = mpsc::channel();
        p.submit(job(&tx, 1));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
        // Wait until the worker has left its polling window and sleeps: the wake-up path is what
        // is tested here, not the poller.
        let start = std::time::Instant::now();
        loop {
            {
                let st = p.lock();
                if st.idle == 1 && !st.spinning {
                    assert!(st.queue.is_empty());
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the worker never slept"
            );
            std::thread::sleep(SPIN);
        }
        p.submit(job(&tx, 2));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(2));
    }

    /// A job that reports completion `n` to the queue, as read jobs do.
    fn reporting(n: u64) -> Job {
        Box::new(move |q: &CompletionQueue| q.push((n, Box::new(()))))
    }

    /// Waits until `cond` holds (5 s at most).
    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        cond()
    }

    /// A completion queue bounded at `bound`, and a pool of `width` workers (obeying the bound
    /// when `bounded`, as the read pool does) given `jobs` reporting jobs.
    fn loaded(
        bound: usize,
        width: usize,
        bounded: bool,
        jobs: u64,
    ) -> (Arc<CompletionQueue>, Arc<Pool>) {
        let q = Arc::new(CompletionQueue::new(Waker::new().unwrap()));
        q.set_run_ahead(Some(bound));
        let p = if bounded {
            Pool::with_run_ahead(width, Arc::clone(&q))
        } else {
            Pool::new(width, Arc::clone(&q))
        };
        for n in 0..jobs {
            p.submit(reporting(n));
        }
        (q, p)
    }

    /// The Lua thread's side: takes every waiting completion; returns how many.
    fn deliver(q: &CompletionQueue) -> usize {
        let n = q.take().len();
        q.taken(n);
        n
    }

    /// With the run-ahead bound on, the read pool's workers stop while that many results wait,
    /// go on once the Lua thread takes them, and every job runs in the end.
    #[test]
    fn bounded_workers_pause_while_results_wait() {
        let (q, p) = loaded(8, 2, true, 40);
        assert!(eventually(|| q.waiting() >= 8));
        std::thread::sleep(Duration::from_millis(30));
        // Two workers may both have found room for one last job.
        let held = q.waiting();
        assert!((8..=9).contains(&held), "{held} results waiting");
        assert!(p.load().1 > 0, "jobs should still be queued");
        let mut got = 0;
        assert!(eventually(|| {
            got += deliver(&q);
            got == 40
        }));
        assert_eq!(q.waiting(), 0);
    }

    /// A pool made with `Pool::new` (the write lane) ignores the bound: writes land even when
    /// nobody takes their results.
    #[test]
    fn unbounded_pools_ignore_the_run_ahead_bound() {
        let (q, _pool) = loaded(4, 2, false, 20);
        assert!(eventually(|| q.waiting() == 20));
    }

    /// Lifting the bound (the runtime does when its Lua state closes) releases held workers.
    #[test]
    fn lifting_the_bound_releases_held_workers() {
        let (q, _pool) = loaded(4, 1, true, 20);
        assert!(eventually(|| q.waiting() >= 4));
        std::thread::sleep(Duration::from_millis(20));
        assert!(q.waiting() < 20);
        q.set_run_ahead(None);
        assert!(eventually(|| q.waiting() == 20));
    }
}
