//! Bounded submission to the `blocking` thread pool.
//!
//! At most `limit` jobs run at once; the rest wait in a FIFO. A worker that finishes a job takes
//! the next one from the FIFO itself, so the Lua thread never has to refill the pool.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::completion::CompletionQueue;

/// A unit of pool work: runs on a worker, pushes its own completion.
pub type Job = Box<dyn FnOnce(&CompletionQueue) + Send>;

struct State {
    queue: VecDeque<Job>,
    running: usize,
    limit: usize,
}

/// The pool front: shared by the Lua thread (submit) and the workers (take next).
pub struct Pool {
    state: Mutex<State>,
    completions: Arc<CompletionQueue>,
}

impl Pool {
    /// A pool that runs at most `limit` jobs at once and reports to `completions`.
    pub fn new(limit: usize, completions: Arc<CompletionQueue>) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                running: 0,
                limit: limit.max(1),
            }),
            completions,
        })
    }

    /// Changes the bound; takes effect as jobs start and finish.
    pub fn set_limit(self: &Arc<Self>, limit: usize) {
        let spawn = {
            let mut st = self.lock();
            st.limit = limit.max(1);
            let mut spawn = 0;
            while st.running < st.limit && st.queue.len() > spawn {
                st.running += 1;
                spawn += 1;
            }
            spawn
        };
        for _ in 0..spawn {
            self.spawn_worker(None);
        }
    }

    /// The current bound.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// (jobs running, jobs queued).
    pub fn load(&self) -> (usize, usize) {
        let st = self.lock();
        (st.running, st.queue.len())
    }

    /// Queues `job`; starts a worker for it if fewer than `limit` run.
    pub fn submit(self: &Arc<Self>, job: Job) {
        let start_now = {
            let mut st = self.lock();
            if st.running < st.limit {
                st.running += 1;
                Some(job)
            } else {
                st.queue.push_back(job);
                None
            }
        };
        if let Some(job) = start_now {
            self.spawn_worker(Some(job));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn_worker(self: &Arc<Self>, first: Option<Job>) {
        let pool = Arc::clone(self);
        blocking::unblock(move || {
            let mut next = first;
            loop {
                let job = match next.take() {
                    Some(job) => job,
                    None => {
                        let mut st = pool.lock();
                        match st.queue.pop_front() {
                            Some(job) if st.running <= st.limit => job,
                            Some(job) => {
                                // The bound shrank: put it back and retire this worker.
                                st.queue.push_front(job);
                                st.running -= 1;
                                return;
                            }
                            None => {
                                st.running -= 1;
                                return;
                            }
                        }
                    }
                };
                // A panicking job must not take the worker's bookkeeping down with it.
                let completions = &pool.completions;
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(completions)));
            }
        })
        .detach();
    }
}
