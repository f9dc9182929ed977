//! The completion queue: workers push finished jobs, the Lua thread takes them in batches.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::waker::Waker;

/// What a finished job hands back: its id and a payload only its handler knows how to read.
pub type Completion = (u64, Box<dyn Any + Send>);

/// Finished jobs waiting for the Lua thread, plus the descriptor that says so.
pub struct CompletionQueue {
    items: Mutex<Vec<Completion>>,
    waker: Waker,
    /// Completions pushed and not yet taken off the Lua thread's backlog.
    waiting: AtomicUsize,
    /// The run-ahead bound (0: none): see [`CompletionQueue::set_run_ahead`].
    run_ahead: AtomicUsize,
    /// Workers blocked in [`CompletionQueue::wait_room`].
    blocked: Mutex<usize>,
    room: Condvar,
}

impl CompletionQueue {
    /// A queue owning `waker`.
    pub fn new(waker: Waker) -> CompletionQueue {
        CompletionQueue {
            items: Mutex::new(Vec::new()),
            waker,
            waiting: AtomicUsize::new(0),
            run_ahead: AtomicUsize::new(0),
            blocked: Mutex::new(0),
            room: Condvar::new(),
        }
    }

    /// The wake-up descriptor.
    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Adds a completion; wakes the Lua thread only when the queue was empty (once per batch).
    pub fn push(&self, item: Completion) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let was_empty = {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = items.is_empty();
            items.push(item);
            was_empty
        };
        if was_empty {
            self.waker.wake();
        }
    }

    /// Takes every waiting completion. Call after resetting the waker, never before.
    pub fn take(&self) -> Vec<Completion> {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *items)
    }

    /// Completions pushed and not yet handed to their handlers (queued or in the Lua
    /// thread's backlog).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Bounds how far capped pools ([`Pool::with_run_ahead`](super::pool::Pool::with_run_ahead))
    /// run ahead of the Lua thread: their workers take no new job while `bound` completions
    /// wait for it, and go on once fewer than half of that do. `None` lifts the bound (and
    /// releases blocked workers).
    pub fn set_run_ahead(&self, bound: Option<usize>) {
        self.run_ahead
            .store(bound.map_or(0, |b| b.max(2)), Ordering::Release);
        self.release();
    }

    /// The run-ahead bound, if any.
    pub fn run_ahead(&self) -> Option<usize> {
        match self.run_ahead.load(Ordering::Acquire) {
            0 => None,
            b => Some(b),
        }
    }

    /// True when a capped worker must not take a new job now.
    pub fn full(&self) -> bool {
        self.run_ahead().is_some_and(|b| self.waiting() >= b)
    }

    /// The Lua thread took `n` completions off its backlog: wakes blocked workers when fewer
    /// than half the bound now wait and at least that many did before (workers block only at
    /// the full bound, so every blocked worker sees this crossing).
    pub fn taken(&self, n: usize) {
        let before = self.waiting.fetch_sub(n, Ordering::AcqRel);
        if let Some(b) = self.run_ahead() {
            let low = b / 2;
            if before >= low && before.saturating_sub(n) < low {
                self.release();
            }
        }
    }

    fn release(&self) {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if *blocked > 0 {
            self.room.notify_all();
        }
    }

    /// Blocks a worker while [`CompletionQueue::full`], at most `timeout` (it then looks again:
    /// a missed wake-up costs at most that).
    pub fn wait_room(&self, timeout: Duration) {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if !self.full() {
            return;
        }
        *blocked += 1;
        let (mut blocked, _) = self
            .room
            .wait_timeout_while(blocked, timeout, |_| self.full())
            .unwrap_or_else(|e| e.into_inner());
        *blocked -= 1;
    }

    /// True if completions wait.
    pub fn is_empty(&self) -> bool {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}
