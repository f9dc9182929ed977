//! Gets that wait: reads in flight with their waiters (coalescing), hits posted for the next
//! dispatch, and gets held behind pending writes of their path (read-your-writes barriers).
//! Plain bookkeeping, no Lua calls.

use std::rc::Weak;

use mlua::RegistryKey;

use crate::fasthash::FastMap;
use crate::watch::Armed;

use super::batch::{Batch, Notify};

/// Who waits for an answer, with the handle `get` returned for it (see `Core::cancel`).
pub type Waiter = (u64, Notify);

/// A read in flight.
pub struct Job<M> {
    /// The path read.
    pub path: Vec<u8>,
    /// The view asked for.
    pub mode: M,
    /// Callbacks answered when it ends.
    pub waiters: Vec<Waiter>,
    /// Invalidated, cleared or overwritten while in flight: deliver, but do not store.
    pub disowned: bool,
    /// The watcher reference of this read, if armed.
    pub armed: Option<Armed>,
}

/// Gets of one path held until the writes issued before them have landed.
pub struct Barrier<M> {
    /// Completion id of the latest write accepted for the path.
    pub latest: u64,
    /// Id of the newest write whose result was stored.
    pub landed: u64,
    /// Writes accepted and not yet done (a coalesced write counts once).
    pub outstanding: usize,
    /// (write id waited for, view, waiter).
    pub readers: Vec<(u64, M, Waiter)>,
}

impl<M> Default for Barrier<M> {
    fn default() -> Self {
        Barrier {
            latest: 0,
            landed: 0,
            outstanding: 0,
            readers: Vec::new(),
        }
    }
}

/// Everything that waits, per cache.
pub struct Jobs<M> {
    inflight: FastMap<(Vec<u8>, M), u64>,
    jobs: FastMap<u64, Job<M>>,
    /// Watcher-validated hits posted for the next dispatch: handle -> callback.
    pub posted: FastMap<u64, RegistryKey>,
    /// Read-your-writes barriers by path.
    pub barriers: FastMap<Vec<u8>, Barrier<M>>,
    /// Batches in progress by handle (for cancellation).
    pub batches: FastMap<u64, Weak<Batch>>,
    last_waiter: u64,
}

impl<M> Default for Jobs<M> {
    fn default() -> Self {
        Jobs {
            inflight: FastMap::default(),
            jobs: FastMap::default(),
            posted: FastMap::default(),
            barriers: FastMap::default(),
            batches: FastMap::default(),
            last_waiter: 0,
        }
    }
}

impl<M: Copy + Eq + std::hash::Hash> Jobs<M> {
    /// A new waiter handle.
    pub fn next_handle(&mut self) -> u64 {
        self.last_waiter += 1;
        self.last_waiter
    }

    /// Adds `waiter` to the read of (`path`, `mode`) in flight; gives it back when there is none.
    pub fn join(&mut self, path: &[u8], mode: M, waiter: Waiter) -> Option<Waiter> {
        let id = self.inflight.get(&(path.to_vec(), mode)).copied();
        match id.and_then(|id| self.jobs.get_mut(&id)) {
            Some(job) => {
                job.waiters.push(waiter);
                None
            }
            None => Some(waiter),
        }
    }

    /// Records the read `id` just submitted.
    pub fn insert(&mut self, id: u64, job: Job<M>) {
        self.inflight.insert((job.path.clone(), job.mode), id);
        self.jobs.insert(id, job);
    }

    /// Takes the read `id` that just ended (None if it was dropped).
    pub fn finish(&mut self, id: u64) -> Option<Job<M>> {
        let job = self.jobs.remove(&id)?;
        if !job.disowned {
            self.inflight.remove(&(job.path.clone(), job.mode));
        }
        Some(job)
    }

    /// Puts back the job `id` taken by [`Jobs::finish`] whose table is now built a slice at a
    /// time: gets of its path keep joining it (unless it was disowned meanwhile).
    pub fn park(&mut self, id: u64, job: Job<M>) {
        if !job.disowned {
            self.inflight.insert((job.path.clone(), job.mode), id);
        }
        self.jobs.insert(id, job);
    }

    /// True while the job `id` is wanted (in flight or being built; not dropped by a cancel).
    pub fn contains(&self, id: u64) -> bool {
        self.jobs.contains_key(&id)
    }

    /// Removes the waiter `handle` wherever it waits: its callback key, and the id of a read
    /// that nobody wants any more (disowned, no waiter left), which the caller cancels.
    pub fn cancel(&mut self, handle: u64) -> Option<(RegistryKey, Option<u64>)> {
        if let Some(key) = self.posted.remove(&handle) {
            return Some((key, None));
        }
        let is_callback = |h: &u64, n: &Notify| *h == handle && matches!(n, Notify::Callback(_));
        for b in self.barriers.values_mut() {
            if let Some(i) = b
                .readers
                .iter()
                .position(|(_, _, (h, n))| is_callback(h, n))
            {
                if let (_, _, (_, Notify::Callback(key))) = b.readers.remove(i) {
                    return Some((key, None));
                }
            }
        }
        let (id, key, unwanted) = self.jobs.iter_mut().find_map(|(&id, job)| {
            let i = job.waiters.iter().position(|(h, n)| is_callback(h, n))?;
            let (_, Notify::Callback(key)) = job.waiters.remove(i) else {
                return None;
            };
            Some((id, key, job.waiters.is_empty() && job.disowned))
        })?;
        // An unwanted read's handler will never run; dropping the job gives its watch back.
        let dropped = unwanted
            .then(|| self.jobs.remove(&id))
            .flatten()
            .map(|_| id);
        Some((key, dropped))
    }

    /// Stops reads of `path` in flight from storing their result; later gets start new reads.
    pub fn disown(&mut self, path: &[u8]) {
        let ids: Vec<u64> = self
            .inflight
            .iter()
            .filter(|((p, _), _)| p.as_slice() == path)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.disowned = true;
                self.inflight.remove(&(job.path.clone(), job.mode));
            }
        }
    }

    /// [`Jobs::disown`] for every path.
    pub fn disown_all(&mut self) {
        for (_, id) in self.inflight.drain() {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.disowned = true;
            }
        }
    }

    /// Reads in flight.
    pub fn inflight_count(&self) -> usize {
        self.jobs.len()
    }

    /// Writes accepted and not yet done, over all paths.
    pub fn writes_pending(&self) -> usize {
        self.barriers.values().map(|b| b.outstanding).sum()
    }
}
