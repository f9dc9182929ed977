//! Directory fsyncs shared by the writes of one directory (group commit).
//!
//! A durable write's rename is made durable by an fsync of its directory. Writes of one
//! directory that land together need only one: [`sync_dir_shared`] waits while other writes of
//! the directory are still before their rename (their renames join the same fsync), and an fsync
//! that started after a rename covers it, so a caller whose rename such an fsync covers returns
//! without one of its own. On a journaling file system each directory fsync is a journal commit,
//! and commits are taken one at a time: fewer of them is what lets the next writes' file fsyncs
//! (and so the gets waiting for them) through sooner.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::fasthash::FastMap;

/// How long a directory fsync waits for writes of its directory still before their rename.
const JOIN_LIMIT: Duration = Duration::from_millis(5);

#[derive(Default)]
struct DirState {
    /// Writes of the directory between their start and their rename (or failure).
    writing: usize,
    /// Ticket of the latest rename into the directory.
    renamed: u64,
    /// Every rename with a ticket up to this one is covered by a finished fsync.
    synced: u64,
    /// An fsync of the directory is running.
    syncing: bool,
    /// Callers inside [`sync_dir_shared`].
    waiters: usize,
}

#[derive(Default)]
struct Dirs {
    by_dir: FastMap<Vec<u8>, DirState>,
    /// Ticket of the latest rename, every directory counted: tickets grow across a directory's
    /// state being forgotten and made again, so an fsync that starts after a rename always
    /// covers that rename's ticket.
    tickets: u64,
}

struct Shared {
    dirs: Mutex<Dirs>,
    changed: Condvar,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| Shared {
        dirs: Mutex::new(Dirs::default()),
        changed: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, Dirs> {
    shared().dirs.lock().unwrap_or_else(|e| e.into_inner())
}

impl Dirs {
    /// The state of `dir`. A directory's state is forgotten only once every rename into it was
    /// covered by a finished fsync, so a new one starts with every ticket so far covered.
    fn of(&mut self, dir: &[u8]) -> &mut DirState {
        let covered = self.tickets;
        self.by_dir.entry(dir.to_vec()).or_insert_with(|| DirState {
            renamed: covered,
            synced: covered,
            ..DirState::default()
        })
    }
}

/// A durable write of `dir` on its way to its rename; [`Writing::renamed`] or drop ends it.
pub struct Writing {
    dir: Vec<u8>,
    done: bool,
}

/// Marks the start of a durable write into `dir`.
pub fn writing(dir: &[u8]) -> Writing {
    let mut d = lock();
    let st = d.of(dir);
    st.writing += 1;
    Writing {
        dir: dir.to_vec(),
        done: false,
    }
}

impl Writing {
    /// The write's rename is done: it now needs a directory fsync that starts after this call.
    /// Returns the ticket to pass to [`sync_dir_shared`].
    pub fn renamed(mut self) -> u64 {
        self.done = true;
        let mut dirs = lock();
        dirs.tickets += 1;
        let ticket = dirs.tickets;
        // The state exists: this write has counted itself in `writing` since it started.
        let st = dirs.of(&self.dir);
        st.writing -= 1;
        st.renamed = ticket;
        drop(dirs);
        shared().changed.notify_all();
        ticket
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut dirs = lock();
        if let Some(st) = dirs.by_dir.get_mut(&self.dir) {
            st.writing -= 1;
        }
        drop(dirs);
        shared().changed.notify_all();
    }
}

/// Returns once an fsync of `dir` that started after rename `ticket` has finished: runs it, or
/// waits for the one another write runs. With `join`, it first waits (up to [`JOIN_LIMIT`])
/// while other writes of `dir` are still before their rename, so one fsync covers theirs too.
/// `fsync` does the work (best effort, its result is not reported: see `sync_dir`).
pub fn sync_dir_shared(dir: &[u8], ticket: u64, join: bool, fsync: impl Fn()) {
    let sh = shared();
    let join_until = Instant::now() + if join { JOIN_LIMIT } else { Duration::ZERO };
    let mut dirs = lock();
    dirs.of(dir).waiters += 1;
    loop {
        let st = dirs.of(dir);
        if st.synced >= ticket {
            break;
        }
        let now = Instant::now();
        if st.syncing || (st.writing > 0 && now < join_until) {
            let wait = if st.syncing {
                JOIN_LIMIT
            } else {
                join_until - now
            };
            dirs = sh
                .changed
                .wait_timeout(dirs, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        st.syncing = true;
        let covers = dirs.tickets;
        drop(dirs);
        // Even if `fsync` panics, the directory must not stay marked as syncing.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&fsync));
        dirs = lock();
        let st = dirs.of(dir);
        st.syncing = false;
        if ran.is_ok() {
            st.synced = st.synced.max(covers);
        }
        sh.changed.notify_all();
        if let Err(panic) = ran {
            dirs.of(dir).waiters -= 1;
            drop(dirs);
            std::panic::resume_unwind(panic);
        }
    }
    let st = dirs.of(dir);
    st.waiters -= 1;
    // Forgotten once idle with every rename covered (see `Dirs::of`).
    if st.waiters == 0 && st.writing == 0 && !st.syncing && st.synced >= st.renamed {
        dirs.by_dir.remove(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Barrier};
    use std::thread;

    /// Runs `f` on a thread; fails the test instead of hanging it.
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || tx.send(f()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("sync_dir_shared hung")
    }

    #[test]
    fn writes_that_land_together_share_one_fsync() {
        let dir: &'static [u8] = b"/test/dir_sync/together";
        let fsyncs = Arc::new(AtomicUsize::new(0));
        let all_renamed = Arc::new(Barrier::new(9));
        // The test's own write is before its rename while the others land: they wait for it.
        let own = writing(dir);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (fsyncs, all_renamed) = (Arc::clone(&fsyncs), Arc::clone(&all_renamed));
                thread::spawn(move || {
                    let ticket = writing(dir).renamed();
                    all_renamed.wait();
                    sync_dir_shared(dir, ticket, true, || {
                        fsyncs.fetch_add(1, Ordering::SeqCst);
                    });
                })
            })
            .collect();
        all_renamed.wait();
        let ticket = own.renamed();
        let f = Arc::clone(&fsyncs);
        within(move || {
            sync_dir_shared(dir, ticket, true, || {
                f.fetch_add(1, Ordering::SeqCst);
            })
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_rename_after_an_fsync_started_waits_for_the_next_one() {
        let dir: &'static [u8] = b"/test/dir_sync/after";
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (finish_tx, finish_rx) = mpsc::channel::<()>();
        let finish_rx = Mutex::new(finish_rx);
        let fsyncs = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fsyncs);
        let first = writing(dir).renamed();
        let a = thread::spawn(move || {
            sync_dir_shared(dir, first, true, || {
                f.fetch_add(1, Ordering::SeqCst);
                started_tx.send(()).unwrap();
                finish_rx.lock().unwrap().recv().unwrap();
            })
        });
        started_rx.recv().unwrap(); // the first fsync is running
        let second = writing(dir).renamed();
        let f = Arc::clone(&fsyncs);
        let b = thread::spawn(move || {
            sync_dir_shared(dir, second, true, || {
                f.fetch_add(1, Ordering::SeqCst);
            })
        });
        thread::sleep(Duration::from_millis(20));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1, "the second ran early");
        assert!(
            !b.is_finished(),
            "covered by an fsync that started before its rename"
        );
        finish_tx.send(()).unwrap();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(fsyncs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn tickets_outlive_a_forgotten_directory() {
        let dir: &'static [u8] = b"/test/dir_sync/forgotten";
        let fsyncs = Arc::new(AtomicUsize::new(0));
        for round in 1..=3 {
            // Renamed, then the directory's state is forgotten by another write's sync before
            // this one asks: its ticket must still be answered by a new fsync.
            let ticket = writing(dir).renamed();
            let other = writing(dir).renamed();
            let f = Arc::clone(&fsyncs);
            within(move || {
                sync_dir_shared(dir, other, false, || {
                    f.fetch_add(1, Ordering::SeqCst);
                })
            });
            let f = Arc::clone(&fsyncs);
            within(move || {
                sync_dir_shared(dir, ticket, false, || {
                    f.fetch_add(1, Ordering::SeqCst);
                })
            });
            assert_eq!(
                fsyncs.load(Ordering::SeqCst),
                round,
                "one fsync covers both"
            );
        }
        assert!(!lock().by_dir.contains_key(dir), "idle state is forgotten");
    }

    #[test]
    fn a_failed_write_does_not_hold_the_others() {
        let dir: &'static [u8] = b"/test/dir_sync/failed";
        let failed = writing(dir);
        let ticket = writing(dir).renamed();
        drop(failed); // the write failed before its rename
        let start = Instant::now();
        within(move || sync_dir_shared(dir, ticket, true, || {}));
        assert!(
            start.elapsed() < JOIN_LIMIT,
            "waited for a write that had failed"
        );
    }
}
