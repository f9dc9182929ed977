//! Hit validation through the kernel's change feed (inotify), so an unchanged cached file is
//! served without a pool round trip.
//!
//! Only directories are watched: a directory watch reports, by name, every entry created,
//! deleted or renamed and every child modified, closed after writing or changed in attributes,
//! plus its own move or deletion. The protocol, per read of an absolute, normalized path P:
//! 1. Lua thread, before submitting: [`Watcher::arm`] tracks P and stamps the read with the
//!    current event generation; it lists the directories on P's chain (its ancestors, and P
//!    itself for a listing) without a registered watch.
//! 2. Pool thread, before opening P: [`Plan::setup`] makes sure each of those has a watch
//!    (added with `IN_ONLYDIR | IN_DONT_FOLLOW`, so a symlinked directory is refused).
//!    A file also gets an attribute-only watch on its own inode: that is where a hard link
//!    made to it later shows up (as a link-count change).
//! 3. The read happens *after* the watches exist: a change that lands before is in what the
//!    read sees; a change after it queues an event. The file is opened with `O_NOFOLLOW` and
//!    must have one link (a change through another hard link would be reported to that link's
//!    directory only); otherwise the read is kept unwatched.
//! 4. Lua thread, at completion: [`Watcher::complete`] registers the new watches and replays
//!    events that arrived on them in between; the entry keeps its stamp.
//! 5. Every hit ([`Watcher::is_clean`]) first reads the inotify descriptor (one `read`, EAGAIN
//!    when quiet), so any change whose system call returned before the get began is seen.
//!    Events mark the named path changed; an event on a directory of some tracked chain (it
//!    was renamed, replaced, deleted, chmod-ed) marks everything below it changed.
//!
//! Anything that is not provably covered is simply not watched and keeps stat validation on the
//! pool: relative or non-normalized paths, symlinks, files with several hard links,
//! network/FUSE/pseudo file systems, no room for watches (`max_user_watches`, or the configured
//! `watch_limit`), a queue overflow, no inotify (other systems). Writes through a shared `mmap`
//! produce no inotify events; that is the one documented gap (stat validation only sees them
//! once the kernel updates mtime).

#[cfg(target_os = "linux")]
mod inotify;
mod table;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use table::{Kind, Setup};

#[cfg(target_os = "linux")]
use inotify::Inotify;
use table::Table;

/// How long ago events may have been read before a read in a new directory reads them again.
const STALE: Duration = Duration::from_millis(1);

/// How long a watch nobody needs any more is kept before it is removed (2 to 4 s in practice).
/// Adding a watch to a directory walks every entry the kernel caches for it: 7-8 ms for a
/// `/tmp` that has seen many files come and go (`strace -T`), in a kernel path that, on one
/// CPU, the loop's thread waits out. A cache dropped and made again (a plugin that builds one
/// per operation, each repetition of `make bench`) re-added every ancestor's watch each time;
/// a watch still held is handed back by the kernel in microseconds.
const LINGER: Duration = Duration::from_secs(2);

/// Default bound on watch descriptors per Lua state: a quarter of the per-user kernel limit,
/// at most 32,768 (editors, language servers and file managers share that limit).
pub fn default_limit() -> usize {
    let kernel = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(8192);
    (kernel / 4).min(32_768)
}

/// True for paths the watcher can cover: absolute, no empty, "." or ".." component, no trailing
/// slash (so the chain of directories is exactly the path's prefixes).
pub fn watchable(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    if path == b"/" {
        return true;
    }
    if path.ends_with(b"/") || path.contains(&0) {
        return false;
    }
    path[1..]
        .split(|b| *b == b'/')
        .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// A read's ticket: its stamp plus what its pool job must do before reading.
pub struct Ticket {
    /// The event generation when the read was armed.
    pub stamp: u64,
    /// The pool-side half.
    pub plan: Plan,
}

/// One reference to a tracked path held by a cached entry; given back to the watcher on drop.
pub struct WatchRef {
    watcher: Weak<Watcher>,
    path: Box<[u8]>,
    kind: Kind,
    stamp: u64,
}

impl WatchRef {
    /// The event generation the entry was read at.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }
}

impl Drop for WatchRef {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.upgrade() {
            w.release(&self.path, self.kind);
        }
    }
}

/// A read armed for watching (Lua thread side). [`Armed::finish`] registers what the pool job
/// set up; dropped unfinished (the read was cancelled), it gives its reference back.
pub struct Armed {
    watcher: Weak<Watcher>,
    path: Box<[u8]>,
    kind: Kind,
    stamp: u64,
    done: bool,
}

impl Armed {
    /// The read is back: registers its watches (see [`Watcher::complete`]) and returns the
    /// reference the stored entry keeps, or None when the result stays unwatched.
    pub fn finish(mut self, setup: Setup) -> Option<WatchRef> {
        self.done = true;
        let w = self.watcher.upgrade()?;
        let stamp = w.complete(&self.path, self.kind, self.stamp, setup)?;
        Some(WatchRef {
            watcher: self.watcher.clone(),
            path: std::mem::take(&mut self.path),
            kind: self.kind,
            stamp,
        })
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if !self.done {
            if let Some(w) = self.watcher.upgrade() {
                w.complete(&self.path, self.kind, self.stamp, Setup::default());
            }
        }
    }
}

/// What a pool job does before reading a watched path (Send: plain data + the shared fd).
pub struct Plan {
    #[cfg(target_os = "linux")]
    ino: Arc<Inotify>,
    kind: Kind,
    dirs: Vec<Arc<[u8]>>,
}

impl Plan {
    /// Makes sure every directory the read needs is watched (pool thread, before the read).
    /// A failure leaves the read unwatched, never failed.
    #[cfg(target_os = "linux")]
    pub fn setup(&self, path: &[u8]) -> Setup {
        let mut s = Setup::default();
        for dir in &self.dirs {
            match self.ino.watch_dir(dir) {
                Ok(wd) => s.dirs.push((Arc::clone(dir), wd)),
                Err(libc::ENOTDIR) if self.kind == Kind::Meta && **dir == *path => {
                    // Not a directory (or a symlink): its inode's attribute watch, as for files.
                    match self.ino.add(path, libc::IN_ATTRIB | libc::IN_DONT_FOLLOW) {
                        Ok(wd) => s.file_wd = Some(wd),
                        Err(libc::ENOENT) => s.missing_at = Some(Arc::clone(dir)),
                        Err(e) => {
                            s.no_space = e == libc::ENOSPC;
                            return s;
                        }
                    }
                    s.ok = true;
                    return s;
                }
                Err(libc::ENOENT | libc::ENOTDIR) if self.kind == Kind::Meta => {
                    s.missing_at = Some(Arc::clone(dir));
                    s.ok = true;
                    return s;
                }
                Err(e) => {
                    s.no_space = e == libc::ENOSPC;
                    return s;
                }
            }
        }
        if self.kind == Kind::File {
            // The file's own inode, for attribute changes only: a hard link made to it later
            // (in a directory nobody watches) shows up as a link-count change here and nowhere
            // else, and writes through that link would reach that directory's watchers only.
            match self.ino.add(path, libc::IN_ATTRIB | libc::IN_DONT_FOLLOW) {
                Ok(wd) => s.file_wd = Some(wd),
                Err(e) => {
                    s.no_space = e == libc::ENOSPC;
                    return s;
                }
            }
        }
        s.ok = true;
        s
    }

    /// Stub: never watched.
    #[cfg(not(target_os = "linux"))]
    pub fn setup(&self, _path: &[u8]) -> Setup {
        Setup::default()
    }

    /// After the read: keeps the result watched only if it was `plain` (no symlink, one link)
    /// and on a file system whose changes inotify reports (`dev` from the read's fstat).
    #[cfg(target_os = "linux")]
    pub fn confirm(&self, setup: &mut Setup, dev: u64, plain: bool, path: &[u8]) {
        if setup.ok && (!plain || !self.ino.is_local(dev, path)) {
            setup.ok = false;
        }
    }

    /// Stub.
    #[cfg(not(target_os = "linux"))]
    pub fn confirm(&self, _setup: &mut Setup, _dev: u64, _plain: bool, _path: &[u8]) {}

    /// After a stat read ([`Kind::Meta`]): `found` is (dev, is a directory, plain) of what the
    /// stat saw, None when the path does not exist (ENOENT/ENOTDIR). The result stays watched
    /// only if the watches the setup placed match it: a directory has its own watch, anything
    /// else its inode's attribute watch, a missing path the watches of its existing ancestors.
    #[cfg(target_os = "linux")]
    pub fn confirm_meta(&self, setup: &mut Setup, found: Option<(u64, bool, bool)>, path: &[u8]) {
        if !setup.ok {
            return;
        }
        setup.ok = match found {
            Some((dev, is_dir, plain)) => {
                let covered = setup.missing_at.is_none() && (setup.file_wd.is_some() != is_dir);
                covered && plain && self.ino.is_local(dev, path)
            }
            // Where the chain stopped must really end it (not a symlink to a directory, which
            // the stat went through and no watch covers).
            // A non-directory the setup saw (its inode watched) that the stat did not find is a
            // dangling symlink (or just deleted): not vouched for either.
            None => {
                setup.file_wd.is_none()
                    && setup.missing_at.as_deref().is_none_or(inotify::ends_chain)
                    && self.ino.is_local_ancestor(path)
            }
        };
    }

    /// Stub.
    #[cfg(not(target_os = "linux"))]
    pub fn confirm_meta(&self, _s: &mut Setup, _found: Option<(u64, bool, bool)>, _p: &[u8]) {}
}

/// Counters for `pool_stats()`.
#[derive(Default, Clone, Copy, Debug)]
pub struct WatchStats {
    /// Watching is possible (inotify available, not disabled).
    pub active: bool,
    /// Watch descriptors held.
    pub watches: usize,
    /// The bound on them.
    pub limit: usize,
    /// Paths tracked.
    pub tracked: usize,
    /// Events processed.
    pub events: u64,
    /// Reads armed and not completed.
    pub inflight: usize,
}

struct Inner {
    #[cfg(target_os = "linux")]
    ino: Arc<Inotify>,
    table: Table,
    buf: Vec<u8>,
}

/// The Lua thread's side of watching (one per runtime). Created lazily on the first read.
pub struct Watcher {
    inner: RefCell<Option<Inner>>,
    /// inotify could not be created, or the descriptor failed: never watch again.
    broken: Cell<bool>,
    limit: Cell<usize>,
    /// When the queued events were last read.
    events_read_at: Cell<Option<Instant>>,
    /// Watches removed so far (see [`Watcher::epoch`]).
    removed: Cell<u64>,
    /// When the watches given up before the last removal round ([`Watcher::flush`]) are due,
    /// and how many of the table's pending removals they are.
    linger: Cell<Option<(Instant, usize)>>,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher::new(default_limit())
    }
}

impl Watcher {
    /// A watcher that holds at most `limit` watches (0: watching off).
    pub fn new(limit: usize) -> Watcher {
        Watcher {
            inner: RefCell::new(None),
            broken: Cell::new(false),
            limit: Cell::new(limit),
            events_read_at: Cell::new(None),
            removed: Cell::new(0),
            linger: Cell::new(None),
        }
    }

    /// Changes the bound on watches (0 turns watching off for new reads).
    pub fn set_limit(&self, limit: usize) {
        self.limit.set(limit);
    }

    /// Counters.
    pub fn stats(&self) -> WatchStats {
        let inner = self.inner.borrow();
        let mut s = WatchStats {
            active: !self.broken.get() && self.limit.get() > 0 && cfg!(target_os = "linux"),
            limit: self.limit.get(),
            ..WatchStats::default()
        };
        if let Some(i) = inner.as_ref() {
            s.watches = i.table.watches();
            s.tracked = i.table.tracked();
            s.events = i.table.events();
            s.inflight = i.table.inflight();
        }
        s
    }

    #[cfg(target_os = "linux")]
    fn ensure(&self) -> bool {
        if self.broken.get() {
            return false;
        }
        let mut inner = self.inner.borrow_mut();
        if inner.is_none() {
            match Inotify::new() {
                Ok(ino) => {
                    *inner = Some(Inner {
                        ino: Arc::new(ino),
                        table: Table::default(),
                        buf: vec![0u8; 16 * 1024],
                    })
                }
                Err(_) => {
                    self.broken.set(true);
                    return false;
                }
            }
        }
        true
    }

    #[cfg(not(target_os = "linux"))]
    fn ensure(&self) -> bool {
        false
    }

    /// Starts tracking a read of `path`; None when it cannot be watched (it then keeps stat
    /// validation). Call right before submitting the read.
    pub fn arm(&self, path: &[u8], kind: Kind) -> Option<Ticket> {
        if self.limit.get() == 0 || !watchable(path) || !self.ensure() {
            return None;
        }
        let full = |w: &Watcher| {
            w.inner
                .borrow()
                .as_ref()
                .is_none_or(|i| i.table.watches() + i.table.inflight() >= w.limit.get())
        };
        if full(self) {
            // Make room with the watches kept only in case they are needed again.
            self.remove_pending(true);
            if full(self) {
                return None;
            }
        }
        let mut guard = self.inner.borrow_mut();
        let inner = guard.as_mut()?;
        let (mut stamp, dirs) = inner.table.arm(path, kind);
        drop(guard);
        if !dirs.is_empty()
            && self
                .events_read_at
                .get()
                .is_none_or(|t| t.elapsed() > STALE)
        {
            // A new directory: events about it (its creation, say) may still be queued from
            // before this read; apply them first so they do not count as changes after it.
            self.read_events();
            stamp = self
                .inner
                .borrow()
                .as_ref()
                .map_or(stamp, |i| i.table.generation());
        }
        let guard = self.inner.borrow();
        let inner = guard.as_ref()?;
        Some(Ticket {
            stamp,
            plan: Plan {
                #[cfg(target_os = "linux")]
                ino: Arc::clone(&inner.ino),
                kind,
                dirs,
            },
        })
    }

    /// [`Watcher::arm`] with the reference held by an [`Armed`] guard.
    pub fn arm_read(self: &Rc<Self>, path: &[u8], kind: Kind) -> Option<(Armed, Plan)> {
        let t = self.arm(path, kind)?;
        let armed = Armed {
            watcher: Rc::downgrade(self),
            path: path.into(),
            kind,
            stamp: t.stamp,
            done: false,
        };
        Some((armed, t.plan))
    }

    /// A read armed with `stamp` is back: registers its watches and returns the stamp its
    /// entry keeps (the entry then holds the path's reference) or None (unwatched; the
    /// reference is released here).
    pub fn complete(&self, path: &[u8], kind: Kind, stamp: u64, setup: Setup) -> Option<u64> {
        let mut guard = self.inner.borrow_mut();
        let inner = guard.as_mut()?;
        if setup.no_space {
            // The kernel is out of watches: stay below what we hold now.
            self.limit.set(
                self.limit
                    .get()
                    .min(inner.table.watches().saturating_sub(1)),
            );
        }
        inner.table.complete(path, kind, stamp, &setup);
        if !setup.ok {
            inner.table.release(path, kind);
            drop(guard);
            self.flush();
            return None;
        }
        Some(stamp)
    }

    /// Drops one reference to `path` (entry removed or replaced, read not stored).
    pub fn release(&self, path: &[u8], kind: Kind) {
        if let Some(inner) = self.inner.borrow_mut().as_mut() {
            inner.table.release(path, kind);
        }
        self.flush();
    }

    /// Removes watches nobody has needed for [`LINGER`] (only while no read is in flight):
    /// the ones given up before the previous round, once that round is `LINGER` old.
    fn flush(&self) {
        self.remove_pending(false);
    }

    /// [`Watcher::flush`]; with `all`, every pending watch now (the watch budget is reached).
    fn remove_pending(&self, all: bool) {
        #[cfg(target_os = "linux")]
        if let Some(inner) = self.inner.borrow_mut().as_mut() {
            let now = Instant::now();
            let due = match self.linger.get() {
                _ if all => usize::MAX,
                Some((at, n)) if now >= at => n,
                Some(_) => return,
                None => 0,
            };
            for (dir, wd) in inner.table.take_removable_first(due) {
                inner.ino.remove(wd);
                inner.ino.forget_dir(&dir, wd);
                self.removed.set(self.removed.get() + 1);
            }
            if due > 0 && inner.table.inflight() > 0 {
                return; // nothing was removed: due again at the next round
            }
            let left = inner.table.pending_removal();
            self.linger.set((left > 0).then(|| (now + LINGER, left)));
        }
        #[cfg(not(target_os = "linux"))]
        let _ = all;
    }

    /// (event generation, watches removed), or None when the watcher cannot vouch for anything.
    /// While it stays equal (call [`Watcher::drain`] first), no watched path has changed and no
    /// watch went away: everything that was clean when it was taken is still clean.
    pub fn epoch(&self) -> Option<(u64, u64)> {
        if self.broken.get() {
            return None;
        }
        let guard = self.inner.borrow();
        let gen = guard.as_ref()?.table.generation();
        Some((gen, self.removed.get()))
    }

    /// Reads and applies every queued event (Lua thread; no Lua calls).
    pub fn read_events(&self) {
        #[cfg(target_os = "linux")]
        {
            let mut guard = self.inner.borrow_mut();
            let Some(inner) = guard.as_mut() else { return };
            let Inner { ino, table, buf } = inner;
            let ok = ino.read_events(buf, |ev| table.event(ev.wd, ev.mask, ev.name));
            self.events_read_at.set(Some(Instant::now()));
            for (dir, wd) in table.take_forgotten() {
                ino.forget_dir(&dir, wd);
            }
            if !ok {
                table.overflow();
                self.broken.set(true);
                self.limit.set(0);
            }
        }
    }

    /// True when an entry of `path` stamped `stamp` is unchanged: reads queued events first, so every
    /// change completed before this call is seen.
    pub fn is_clean(&self, path: &[u8], kind: Kind, stamp: u64) -> bool {
        if self.broken.get() {
            return false;
        }
        self.read_events();
        self.clean_as_drained(path, kind, stamp)
    }

    /// [`Watcher::is_clean`] without draining first: for a batch of checks made right after one
    /// drain, with no other code running in between (a root lookup).
    pub fn clean_as_drained(&self, path: &[u8], kind: Kind, stamp: u64) -> bool {
        if self.broken.get() {
            return false;
        }
        let guard = self.inner.borrow();
        guard
            .as_ref()
            .is_some_and(|i| i.table.is_clean(path, kind, stamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchable_paths_are_absolute_and_normalized() {
        assert!(watchable(b"/"));
        assert!(watchable(b"/a/b.txt"));
        assert!(!watchable(b"a/b"));
        assert!(!watchable(b"/a//b"));
        assert!(!watchable(b"/a/./b"));
        assert!(!watchable(b"/a/../b"));
        assert!(!watchable(b"/a/"));
        assert!(!watchable(b""));
    }
}
