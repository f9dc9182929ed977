//! The completion queue: workers push finished jobs, the Lua thread takes them in batches.

use std::any::Any;
use std::sync::Mutex;

use super::waker::Waker;

/// What a finished job hands back: its id and a payload only its handler knows how to read.
pub type Completion = (u64, Box<dyn Any + Send>);

/// Finished jobs waiting for the Lua thread, plus the descriptor that says so.
pub struct CompletionQueue {
    items: Mutex<Vec<Completion>>,
    waker: Waker,
}

impl CompletionQueue {
    /// A queue owning `waker`.
    pub fn new(waker: Waker) -> CompletionQueue {
        CompletionQueue {
            items: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// The wake-up descriptor.
    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Adds a completion; wakes the Lua thread only when the queue was empty (once per batch).
    pub fn push(&self, item: Completion) {
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

    /// True if completions wait.
    pub fn is_empty(&self) -> bool {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}
