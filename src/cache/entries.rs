//! The entry store: cached entries by path, their byte total, and eviction within `max_bytes`.
//!
//! Eviction is S3-FIFO (Yang et al., SOSP 2023), counted in bytes: new entries go to a small
//! FIFO (10% of the bound), entries read again while there move to the main FIFO when they reach
//! its tail, the others leave and are remembered (path hash only) in a ghost FIFO; an entry read
//! again after leaving goes straight to main. Main is a FIFO with reinsertion: an entry with
//! hits left goes back to the head with one hit less. A one-off scan of many files passes through
//! the small FIFO and never touches main, so a working set read again and again survives it
//! (plain LRU, CLOCK and 2Q do not: `make bench` shows the hit ratios on such a trace).
//!
//! Dropping an [`Entry`] releases everything it holds: its registry slot (mlua frees it at the
//! next registry operation) and its watch reference ([`WatchRef`]). No Lua call happens here.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::rc::Rc;

use mlua::RegistryKey;

use crate::fasthash::FastMap;
use crate::fs::{Identity, Timestamp};
use crate::watch::WatchRef;

use super::loader::Memo;

/// Hits an entry can bank (S3-FIFO's two-bit counter).
const MAX_FREQ: u8 = 3;

/// One cached entry.
pub struct Entry {
    /// Identity of what was read (or written).
    pub identity: Identity,
    /// When it was read.
    pub read_at: Timestamp,
    /// The entry table handed to Lua.
    pub table: RegistryKey,
    /// Bytes it counts against the bound.
    pub bytes: u64,
    /// What it holds beyond the plain read.
    pub memo: Memo,
    /// Watcher reference while the watcher vouches for it.
    pub watch: Option<WatchRef>,
    freq: u8,
    queue: Queue,
    /// Sequence number of its live record in its queue (older records are stale).
    seq: u64,
}

impl Entry {
    /// A new entry (not yet in any queue).
    pub fn new(
        identity: Identity,
        read_at: Timestamp,
        table: RegistryKey,
        bytes: u64,
        memo: Memo,
        watch: Option<WatchRef>,
    ) -> Entry {
        Entry {
            identity,
            read_at,
            table,
            bytes,
            memo,
            watch,
            freq: 0,
            queue: Queue::Small,
            seq: 0,
        }
    }

    /// The watcher stamp it holds, if watched.
    pub fn stamp(&self) -> Option<u64> {
        self.watch.as_ref().map(WatchRef::stamp)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Queue {
    Small,
    Main,
}

/// Entries by path, bounded by bytes.
pub struct Store {
    map: FastMap<Rc<[u8]>, Entry>,
    small: VecDeque<(Rc<[u8]>, u64)>,
    main: VecDeque<(Rc<[u8]>, u64)>,
    ghost: VecDeque<u64>,
    ghost_set: FastMap<u64, u32>,
    small_bytes: u64,
    main_bytes: u64,
    max_bytes: u64,
    next_seq: u64,
    evictions: u64,
}

fn hash(path: &[u8]) -> u64 {
    FastMap::<(), ()>::default().hasher().hash_one(path)
}

impl Store {
    /// An empty store bounded by `max_bytes` (0: nothing is kept).
    pub fn new(max_bytes: u64) -> Store {
        Store {
            map: FastMap::default(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: VecDeque::new(),
            ghost_set: FastMap::default(),
            small_bytes: 0,
            main_bytes: 0,
            max_bytes,
            next_seq: 0,
            evictions: 0,
        }
    }

    /// The entry of `path`.
    pub fn get(&self, path: &[u8]) -> Option<&Entry> {
        self.map.get(path)
    }

    /// The entry of `path`, mutable.
    pub fn get_mut(&mut self, path: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(path)
    }

    /// True if `path` has an entry.
    pub fn contains(&self, path: &[u8]) -> bool {
        self.map.contains_key(path)
    }

    /// Records a hit on `path` (for eviction).
    pub fn touch(&mut self, path: &[u8]) {
        if let Some(e) = self.map.get_mut(path) {
            e.freq = (e.freq + 1).min(MAX_FREQ);
        }
    }

    /// Number of entries.
    pub fn count(&self) -> usize {
        self.map.len()
    }

    /// Bytes of all entries.
    pub fn bytes(&self) -> u64 {
        self.small_bytes + self.main_bytes
    }

    /// The bound.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Entries evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Stores `entry` for `path`, replacing the old one (which keeps its queue and hits), then
    /// evicts until the bound holds. An entry larger than the bound is not kept (the old one is
    /// dropped too: it is stale). Returns false when the entry was not kept.
    pub fn insert(&mut self, path: &[u8], mut entry: Entry) -> bool {
        let old = self.remove_keep_place(path);
        if entry.bytes > self.max_bytes {
            return false;
        }
        let key: Rc<[u8]> = path.into();
        let seq = self.seq();
        entry.seq = seq;
        match old {
            Some((queue, freq)) => {
                entry.queue = queue;
                entry.freq = freq;
            }
            None => {
                let h = hash(path);
                entry.queue = if self.ghost_set.contains_key(&h) {
                    Queue::Main
                } else {
                    Queue::Small
                };
            }
        }
        match entry.queue {
            Queue::Small => {
                self.small_bytes += entry.bytes;
                self.small.push_back((Rc::clone(&key), seq));
            }
            Queue::Main => {
                self.main_bytes += entry.bytes;
                self.main.push_back((Rc::clone(&key), seq));
            }
        }
        self.map.insert(key, entry);
        self.evict();
        self.compact();
        self.map.contains_key(path)
    }

    /// Removes the entry of `path` and returns it.
    pub fn remove(&mut self, path: &[u8]) -> Option<Entry> {
        let e = self.map.remove(path)?;
        match e.queue {
            Queue::Small => self.small_bytes -= e.bytes,
            Queue::Main => self.main_bytes -= e.bytes,
        }
        Some(e)
    }

    fn remove_keep_place(&mut self, path: &[u8]) -> Option<(Queue, u8)> {
        let e = self.remove(path)?;
        Some((e.queue, e.freq))
    }

    /// Removes every entry (the ghost history stays).
    pub fn clear(&mut self) -> Vec<Entry> {
        self.small.clear();
        self.main.clear();
        self.small_bytes = 0;
        self.main_bytes = 0;
        self.map.drain().map(|(_, e)| e).collect()
    }

    /// Evicts until the bytes fit the bound.
    fn evict(&mut self) {
        while self.bytes() > self.max_bytes {
            let small_target = self.max_bytes / 10;
            let progressed = if self.small_bytes > small_target || self.main.is_empty() {
                self.evict_small()
            } else {
                self.evict_main()
            };
            if !progressed && !self.evict_main() && !self.evict_small() {
                break;
            }
        }
    }

    /// Pops the live record at the tail (front) of `queue`; stale records are skipped.
    fn pop_live(&mut self, queue: Queue) -> Option<Rc<[u8]>> {
        loop {
            let (key, seq) = match queue {
                Queue::Small => self.small.pop_front()?,
                Queue::Main => self.main.pop_front()?,
            };
            if self
                .map
                .get(&key)
                .is_some_and(|e| e.seq == seq && e.queue == queue)
            {
                return Some(key);
            }
        }
    }

    /// One step on the small FIFO: its tail moves to main if read again, else leaves (to the
    /// ghost FIFO). True if anything happened.
    fn evict_small(&mut self) -> bool {
        let Some(key) = self.pop_live(Queue::Small) else {
            return false;
        };
        let seq = self.seq();
        let e = self.map.get_mut(&key).expect("live record");
        if e.freq > 0 {
            e.freq = 0;
            e.queue = Queue::Main;
            e.seq = seq;
            self.small_bytes -= e.bytes;
            self.main_bytes += e.bytes;
            self.main.push_back((key, seq));
        } else {
            self.remember(hash(&key));
            self.drop_entry(&key);
        }
        true
    }

    /// One step on the main FIFO: its tail goes back to the head with one hit less, or leaves.
    fn evict_main(&mut self) -> bool {
        loop {
            let Some(key) = self.pop_live(Queue::Main) else {
                return false;
            };
            let seq = self.seq();
            let e = self.map.get_mut(&key).expect("live record");
            if e.freq > 0 {
                e.freq -= 1;
                e.seq = seq;
                self.main.push_back((key, seq));
                continue;
            }
            self.drop_entry(&key);
            return true;
        }
    }

    fn drop_entry(&mut self, key: &[u8]) {
        if self.remove(key).is_some() {
            self.evictions += 1;
        }
    }

    /// Adds a path hash to the ghost FIFO (bounded by the number of entries, at least 64).
    fn remember(&mut self, h: u64) {
        *self.ghost_set.entry(h).or_insert(0) += 1;
        self.ghost.push_back(h);
        let cap = self.map.len().max(64);
        while self.ghost.len() > cap {
            let Some(old) = self.ghost.pop_front() else {
                break;
            };
            if let Some(n) = self.ghost_set.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.ghost_set.remove(&old);
                }
            }
        }
    }

    /// Drops stale queue records once they outnumber live entries (invalidations, moves).
    fn compact(&mut self) {
        let live = self.map.len();
        if self.small.len() + self.main.len() <= 2 * live + 64 {
            return;
        }
        let map = &self.map;
        let keep = |q: Queue| {
            move |(k, s): &(Rc<[u8]>, u64)| map.get(k).is_some_and(|e| e.seq == *s && e.queue == q)
        };
        self.small.retain(keep(Queue::Small));
        self.main.retain(keep(Queue::Main));
    }
}
