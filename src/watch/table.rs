//! Bookkeeping of the watcher (Lua thread only, no syscalls): which paths are tracked, which
//! directory watches cover them, and when each path last saw an event.
//!
//! Only directories are watched: a directory watch reports its entries being created, deleted
//! or renamed, every child's modify / close-write / attribute change (by name), and its own
//! move or deletion. A tracked file is covered by the watches of all its ancestors; a tracked
//! listing by those plus its own.
//!
//! Time is a generation counter bumped by every event. A read "armed" at generation `s` (before
//! its watches were added) stays clean while no event touching its path is processed after `s`.
//! Events that cannot be attributed yet (their watch was added by a read still in flight) are
//! logged and replayed against that read's watches when it completes.

use std::sync::Arc;

use crate::fasthash::FastMap;

/// inotify event bits (the Linux ABI values; spelled out so this bookkeeping, and its tests,
/// compile on every platform).
mod ev {
    #[cfg(test)] // child content/attribute events need no special case here
    pub const IN_MODIFY: u32 = 0x2;
    #[cfg(test)]
    pub const IN_ATTRIB: u32 = 0x4;
    pub const IN_MOVED_FROM: u32 = 0x40;
    pub const IN_MOVED_TO: u32 = 0x80;
    pub const IN_CREATE: u32 = 0x100;
    pub const IN_DELETE: u32 = 0x200;
    pub const IN_DELETE_SELF: u32 = 0x400;
    pub const IN_MOVE_SELF: u32 = 0x800;
    pub const IN_UNMOUNT: u32 = 0x2000;
    pub const IN_Q_OVERFLOW: u32 = 0x4000;
    pub const IN_IGNORED: u32 = 0x8000;
}

/// What a tracked path is: a file (covered by its ancestors' watches) or a directory listing
/// (covered by its ancestors' and its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file read by `FileCache`.
    File,
    /// A directory listed by `DirectoryCache`.
    Dir,
    /// A stat answer (the metadata cache), found or not. Covered like a listing (ancestors plus
    /// its own watch when it is a directory), plus its inode's attribute watch when it is not a
    /// directory. A missing path is covered by the watches of its existing ancestors: the first
    /// missing component can only appear inside a watched directory, which reports it by name.
    /// Meta records live apart from file and listing records, so one path can be both.
    Meta,
}

/// What a read's pool-side setup found (see `super::Plan::setup`).
#[derive(Debug, Default)]
pub struct Setup {
    /// Every watch needed is in place, the path has no symlink and one link, and it is on a
    /// local file system.
    pub ok: bool,
    /// Directory watches this read relies on that the Lua thread had not registered when it was
    /// armed: (directory path, wd).
    pub dirs: Vec<(Arc<[u8]>, i32)>,
    /// The file's own (attribute-only) watch.
    pub file_wd: Option<i32>,
    /// The kernel refused a watch for lack of room (ENOSPC: max_user_watches reached).
    pub no_space: bool,
    /// A stat read's chain stopped at this component: it does not exist, or it is not a
    /// directory (a file, or a symlink: `super::Plan::confirm_meta` tells them apart). Deeper
    /// ones cannot exist, and the last watched directory reports its creation.
    pub missing_at: Option<Arc<[u8]>>,
}

struct Record {
    kind: Kind,
    /// Cache entries plus reads in flight holding this path.
    refs: u32,
    /// Generation of the last event that touched this path.
    changed_at: u64,
    /// The file's own watch (files only).
    file_wd: Option<i32>,
}

struct Prefix {
    /// The directory (shared with read plans without copying).
    path: Arc<[u8]>,
    /// Tracked records at or below this directory (that need it watched).
    count: u32,
    wds: Vec<i32>,
}

/// Most watch descriptors remembered for reads in flight; past it, those reads count as changed.
const LOG_CAP: usize = 1 << 16;

/// The watcher's state.
#[derive(Default)]
pub struct Table {
    gen: u64,
    overflow_at: u64,
    records: FastMap<Vec<u8>, Record>,
    /// Stat answers ([`Kind::Meta`]), kept apart from `records` (same path, other coverage).
    metas: FastMap<Vec<u8>, Record>,
    prefixes: FastMap<Vec<u8>, Prefix>,
    dir_wds: FastMap<i32, Arc<[u8]>>,
    /// File watches: wd -> the tracked path it covers.
    file_wds: FastMap<i32, Vec<u8>>,
    inflight: usize,
    /// While reads are in flight: the generation of the last event seen on each watch
    /// descriptor (what a completing read replays against its new watches). A map, not a list
    /// of events: a completion looks up its own watches instead of scanning every event of the
    /// burst (2,000 reads completing while the 2,000 watches of an evicted batch were being
    /// dropped cost O(n²): 6k instructions a completion, a quarter of a cold get).
    log: FastMap<i32, u64>,
    log_lost_at: u64,
    pending_rm: Vec<i32>,
    /// Watches that died or were dropped, for the pool-side cache: (dir, wd).
    forgotten: Vec<(Arc<[u8]>, i32)>,
    events: u64,
}

/// The directories whose watches cover `path`: its proper ancestors, plus itself for a listing.
/// `path` must be absolute and normalized (see `super::watchable`).
pub fn chain(path: &[u8], kind: Kind) -> impl Iterator<Item = &[u8]> {
    let ancestors = std::iter::once(&path[..1]).chain(
        path.iter()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| **b == b'/')
            .map(move |(i, _)| &path[..i]),
    );
    let own = (kind != Kind::File && path.len() > 1).then_some(path);
    ancestors.chain(own)
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if dir != b"/" {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn under(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/"
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/')
}

impl Table {
    /// Current generation (a read armed now is stamped with it).
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// Watch descriptors held.
    pub fn watches(&self) -> usize {
        self.dir_wds.len() + self.file_wds.len()
    }

    /// Reads armed and not completed.
    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Paths tracked.
    pub fn tracked(&self) -> usize {
        self.records.len() + self.metas.len()
    }

    fn recs(&mut self, kind: Kind) -> &mut FastMap<Vec<u8>, Record> {
        match kind {
            Kind::Meta => &mut self.metas,
            _ => &mut self.records,
        }
    }

    /// True when some record of `path` other than the `kind` one holds the file watch `wd`.
    fn file_wd_shared(&self, path: &[u8], kind: Kind, wd: i32) -> bool {
        let other = match kind {
            Kind::Meta => self.records.get(path),
            _ => self.metas.get(path),
        };
        other.is_some_and(|r| r.file_wd == Some(wd))
    }

    /// Starts tracking `path` for a read: returns the read's stamp and the directories of its
    /// chain that have no registered watch (the read's setup provides them).
    pub fn arm(&mut self, path: &[u8], kind: Kind) -> (u64, Vec<Arc<[u8]>>) {
        let fresh = match self.recs(kind).get_mut(path) {
            Some(r) => {
                r.refs += 1;
                false
            }
            None => {
                self.recs(kind).insert(
                    path.to_vec(),
                    Record {
                        kind,
                        refs: 1,
                        changed_at: 0,
                        file_wd: None,
                    },
                );
                true
            }
        };
        let mut need = Vec::new();
        for dir in chain(path, kind) {
            let p = match self.prefixes.get_mut(dir) {
                Some(p) => p,
                None => self.prefixes.entry(dir.to_vec()).or_insert_with(|| Prefix {
                    path: Arc::from(dir),
                    count: 0,
                    wds: Vec::new(),
                }),
            };
            if fresh {
                p.count += 1;
            }
            if p.wds.is_empty() {
                need.push(Arc::clone(&p.path));
            }
        }
        self.inflight += 1;
        (self.gen, need)
    }

    /// A read armed with `stamp` finished its setup; registers the watches it relied on and
    /// replays events on them that arrived since `stamp`. Returns true when the path is watched
    /// and nothing touched it since `stamp`.
    pub fn complete(&mut self, path: &[u8], kind: Kind, stamp: u64, setup: &Setup) -> bool {
        self.inflight = self.inflight.saturating_sub(1);
        for (dir, wd) in &setup.dirs {
            match self.prefixes.get_mut(&**dir) {
                Some(p) => {
                    if !p.wds.contains(wd) {
                        p.wds.push(*wd);
                    }
                    if self.dir_wds.get(wd) != Some(dir) {
                        self.dir_wds.insert(*wd, Arc::clone(dir));
                    }
                }
                None => self.pending_rm.push(*wd),
            }
        }
        if let Some(wd) = setup.file_wd {
            self.attach_file(path, kind, wd);
        }
        let mut changed = stamp < self.log_lost_at || stamp < self.overflow_at;
        if !changed && (!setup.dirs.is_empty() || setup.file_wd.is_some()) {
            let after = |wd: &i32| self.log.get(wd).is_some_and(|g| *g > stamp);
            changed = setup.file_wd.as_ref().is_some_and(after)
                || setup.dirs.iter().any(|(_, wd)| after(wd));
        }
        if self.inflight == 0 {
            self.log.clear();
        }
        let gen = self.gen;
        match self.recs(kind).get_mut(path) {
            Some(r) => {
                if changed {
                    r.changed_at = r.changed_at.max(gen);
                }
                setup.ok && r.changed_at <= stamp
            }
            None => false,
        }
    }

    fn attach_file(&mut self, path: &[u8], kind: Kind, wd: i32) {
        let Some(rec) = self.recs(kind).get_mut(path) else {
            if !self.file_wd_shared(path, kind, wd) {
                self.pending_rm.push(wd);
            }
            return;
        };
        if let Some(old) = rec.file_wd.replace(wd).filter(|o| *o != wd) {
            if self.file_wds.get(&old).is_some_and(|p| p == path)
                && !self.file_wd_shared(path, kind, old)
            {
                self.file_wds.remove(&old);
                self.pending_rm.push(old);
            }
        }
        if self.file_wds.get(&wd).is_none_or(|p| p != path) {
            self.file_wds.insert(wd, path.to_vec());
        }
    }

    /// Drops one reference to `path` (a cache entry went away, or a read is not stored).
    pub fn release(&mut self, path: &[u8], kind: Kind) {
        let Some(rec) = self.recs(kind).get_mut(path) else {
            return;
        };
        rec.refs -= 1;
        if rec.refs > 0 {
            return;
        }
        let file_wd = rec.file_wd;
        self.recs(kind).remove(path);
        if let Some(wd) = file_wd {
            if self.file_wds.get(&wd).is_some_and(|p| p == path)
                && !self.file_wd_shared(path, kind, wd)
            {
                self.file_wds.remove(&wd);
                self.pending_rm.push(wd);
            }
        }
        for dir in chain(path, kind) {
            if let Some(p) = self.prefixes.get_mut(dir) {
                p.count = p.count.saturating_sub(1);
                if p.count == 0 {
                    let wds = std::mem::take(&mut p.wds);
                    self.prefixes.remove(dir);
                    self.pending_rm.extend(wds);
                }
            }
        }
    }

    /// Watch descriptors given up and not removed yet.
    pub fn pending_removal(&self) -> usize {
        self.pending_rm.len()
    }

    /// Watch descriptors no longer needed, once no read is in flight (a read in flight may rely
    /// on one). Each is returned with its directory. (The watcher removes them in rounds, with
    /// [`Table::take_removable_first`].)
    #[cfg(test)]
    pub fn take_removable(&mut self) -> Vec<(Arc<[u8]>, i32)> {
        self.take_removable_first(usize::MAX)
    }

    /// [`Table::take_removable`] for the `n` descriptors given up first (those given up later
    /// stay pending). Until a pending descriptor is removed it keeps reporting events, and a
    /// read that needs its directory again gets it back without a new watch.
    pub fn take_removable_first(&mut self, n: usize) -> Vec<(Arc<[u8]>, i32)> {
        if self.inflight > 0 || self.pending_rm.is_empty() || n == 0 {
            return Vec::new();
        }
        let n = n.min(self.pending_rm.len());
        let mut wds: Vec<i32> = self.pending_rm.drain(..n).collect();
        wds.sort_unstable();
        wds.dedup();
        let mut out = Vec::with_capacity(wds.len());
        for wd in wds {
            if self.file_wds.contains_key(&wd) {
                continue; // handed out again meanwhile
            }
            match self.dir_wds.get(&wd) {
                Some(dir)
                    if self
                        .prefixes
                        .get(&**dir)
                        .is_some_and(|p| p.wds.contains(&wd)) => {}
                Some(_) => {
                    if let Some(dir) = self.dir_wds.remove(&wd) {
                        out.push((dir, wd));
                    }
                }
                None => out.push((Arc::from(&b""[..]), wd)),
            }
        }
        out
    }

    /// Watches that died (the kernel dropped them) since the last call: (dir, wd).
    pub fn take_forgotten(&mut self) -> Vec<(Arc<[u8]>, i32)> {
        std::mem::take(&mut self.forgotten)
    }

    /// True when the entry of `path` stamped `stamp` has seen no event since.
    pub fn is_clean(&self, path: &[u8], kind: Kind, stamp: u64) -> bool {
        let recs = match kind {
            Kind::Meta => &self.metas,
            _ => &self.records,
        };
        stamp >= self.overflow_at
            && recs.get(path).is_some_and(|r| {
                r.changed_at <= stamp && (r.kind != Kind::File || r.file_wd.is_some())
            })
    }

    /// Everything tracked counts as changed (the event queue overflowed, or the descriptor broke).
    pub fn overflow(&mut self) {
        self.gen += 1;
        self.overflow_at = self.gen;
        self.log_lost_at = self.gen;
    }

    fn touch_subtree(&mut self, dir: &[u8], g: u64) {
        for (p, r) in self.records.iter_mut().chain(self.metas.iter_mut()) {
            if under(p, dir) {
                r.changed_at = g;
            }
        }
    }

    /// Applies one event.
    pub fn event(&mut self, wd: i32, mask: u32, name: &[u8]) {
        self.events += 1;
        if mask & ev::IN_Q_OVERFLOW != 0 {
            self.overflow();
            return;
        }
        self.gen += 1;
        let g = self.gen;
        if self.inflight > 0 {
            if self.log.len() < LOG_CAP || self.log.contains_key(&wd) {
                self.log.insert(wd, g);
            } else {
                self.log_lost_at = g;
            }
        }
        if let Some(p) = self.file_wds.get(&wd) {
            // The file's own inode: a link-count or attribute change, or it is gone.
            let recs = [
                self.records.get_mut(p.as_slice()),
                self.metas.get_mut(p.as_slice()),
            ];
            for r in recs.into_iter().flatten() {
                r.changed_at = g;
                if mask & ev::IN_IGNORED != 0 {
                    r.file_wd = None;
                }
            }
            if mask & ev::IN_IGNORED != 0 {
                self.file_wds.remove(&wd);
                self.pending_rm.retain(|w| *w != wd);
            }
            return;
        }
        let Some(dir) = self.dir_wds.get(&wd).cloned() else {
            return;
        };
        if name.is_empty() {
            // The directory itself: moved, deleted, unmounted, or its attributes changed.
            self.touch_subtree(&dir, g);
            let gone = mask
                & (ev::IN_IGNORED | ev::IN_DELETE_SELF | ev::IN_MOVE_SELF | ev::IN_UNMOUNT)
                != 0;
            if gone {
                if let Some(p) = self.prefixes.get_mut(&*dir) {
                    p.wds.retain(|w| *w != wd);
                }
                if mask & ev::IN_IGNORED != 0 {
                    // The kernel dropped it; its number may be reused: never remove it again.
                    self.dir_wds.remove(&wd);
                    self.pending_rm.retain(|w| *w != wd);
                } else {
                    // Still alive, but watching an inode that is no longer at `dir`.
                    self.pending_rm.push(wd);
                }
                self.forgotten.push((dir, wd));
            }
            return;
        }
        let child = join(&dir, name);
        if let Some(r) = self.records.get_mut(child.as_slice()) {
            r.changed_at = g;
        }
        if let Some(r) = self.metas.get_mut(child.as_slice()) {
            r.changed_at = g;
        }
        let entry_change =
            mask & (ev::IN_CREATE | ev::IN_DELETE | ev::IN_MOVED_FROM | ev::IN_MOVED_TO) != 0;
        if let Some(p) = self.prefixes.get(child.as_slice()) {
            // A directory on some tracked path was renamed, replaced, deleted or chmod-ed. A
            // prefix with no watch is no watched directory (a stat's missing component, or a
            // stat'ed file itself): only its appearing or going away matters below it, not a
            // write to it (which would otherwise scan every record).
            if entry_change || !p.wds.is_empty() {
                self.touch_subtree(&child, g);
            }
        }
        if entry_change {
            if let Some(r) = self.records.get_mut(&*dir) {
                if r.kind == Kind::Dir {
                    r.changed_at = g;
                }
            }
            // A directory's own stat (its mtime) changes with its entries.
            if let Some(r) = self.metas.get_mut(&*dir) {
                r.changed_at = g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(dirs: &[(&str, i32)]) -> Setup {
        Setup {
            ok: true,
            dirs: dirs
                .iter()
                .map(|(d, w)| (Arc::from(d.as_bytes()), *w))
                .collect(),
            file_wd: None,
            no_space: false,
            missing_at: None,
        }
    }

    fn setup_file(wd: i32, dirs: &[(&str, i32)]) -> Setup {
        Setup {
            file_wd: Some(wd),
            ..setup(dirs)
        }
    }

    fn chain_of(p: &'static [u8], k: Kind) -> Vec<&'static [u8]> {
        chain(p, k).collect()
    }

    #[test]
    fn chain_lists_ancestors_and_listing_self() {
        assert_eq!(
            chain_of(b"/a/b/c.txt", Kind::File),
            vec![&b"/"[..], b"/a", b"/a/b"]
        );
        assert_eq!(
            chain_of(b"/a/b", Kind::Dir),
            vec![&b"/"[..], b"/a", b"/a/b"]
        );
        assert_eq!(chain_of(b"/", Kind::Dir), vec![&b"/"[..]]);
        assert_eq!(chain_of(b"/f", Kind::File), vec![&b"/"[..]]);
    }

    #[test]
    fn child_event_after_stamp_makes_entry_dirty() {
        let mut t = Table::default();
        let (s, need) = t.arm(b"/a/f", Kind::File);
        let need: Vec<&[u8]> = need.iter().map(|d| &**d).collect();
        assert_eq!(need, vec![&b"/"[..], b"/a"]);
        assert!(t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)])
        ));
        assert!(t.is_clean(b"/a/f", Kind::File, s));
        t.event(2, ev::IN_MODIFY, b"g");
        assert!(t.is_clean(b"/a/f", Kind::File, s));
        t.event(2, ev::IN_MODIFY, b"f");
        assert!(!t.is_clean(b"/a/f", Kind::File, s));
    }

    #[test]
    fn event_during_flight_on_new_watch_is_replayed() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.event(7, ev::IN_MODIFY, b"f"); // wd 7 not registered yet
        assert!(!t.complete(b"/a/f", Kind::File, s, &setup_file(51, &[("/a", 7)])));
    }

    #[test]
    fn second_read_needs_no_new_watch() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)]),
        );
        let (s2, need) = t.arm(b"/a/g", Kind::File);
        assert!(need.is_empty());
        assert!(t.complete(b"/a/g", Kind::File, s2, &setup_file(52, &[])));
    }

    #[test]
    fn rename_of_ancestor_touches_everything_below() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/b/f", Kind::File);
        t.complete(
            b"/a/b/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2), ("/a/b", 3)]),
        );
        assert!(t.is_clean(b"/a/b/f", Kind::File, s));
        t.event(1, ev::IN_CREATE, b"unrelated");
        assert!(t.is_clean(b"/a/b/f", Kind::File, s));
        t.event(1, ev::IN_MOVED_FROM, b"a");
        assert!(!t.is_clean(b"/a/b/f", Kind::File, s));
    }

    #[test]
    fn listing_changes_on_entry_events_only() {
        let mut t = Table::default();
        let (s, need) = t.arm(b"/d", Kind::Dir);
        assert_eq!(need.len(), 2);
        assert!(t.complete(b"/d", Kind::Dir, s, &setup(&[("/", 1), ("/d", 2)])));
        t.event(2, ev::IN_ATTRIB, b"x");
        t.event(2, ev::IN_MODIFY, b"x");
        assert!(t.is_clean(b"/d", Kind::Dir, s));
        t.event(2, ev::IN_CREATE, b"x");
        assert!(!t.is_clean(b"/d", Kind::Dir, s));
    }

    #[test]
    fn dead_directory_watch_is_forgotten() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)]),
        );
        t.event(2, ev::IN_DELETE_SELF, b"");
        t.event(2, ev::IN_IGNORED, b"");
        assert!(!t.is_clean(b"/a/f", Kind::File, s));
        assert_eq!(t.take_forgotten().len(), 2);
        let (_, need) = t.arm(b"/a/f", Kind::File);
        assert_eq!(need.len(), 1);
        assert_eq!(&*need[0], b"/a");
    }

    #[test]
    fn released_paths_free_their_watches_once_idle() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(5, &[("/", 1), ("/a", 2)]),
        );
        t.release(b"/a/f", Kind::File);
        let rm: Vec<i32> = t.take_removable().into_iter().map(|(_, w)| w).collect();
        assert_eq!(rm, vec![1, 2, 5]);
        assert_eq!(t.watches(), 0);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn link_count_change_on_the_file_itself_makes_entry_dirty() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        assert!(t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)])
        ));
        t.event(50, ev::IN_ATTRIB, b"");
        assert!(!t.is_clean(b"/a/f", Kind::File, s));
    }

    #[test]
    fn a_file_without_its_own_watch_is_never_clean() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.complete(b"/a/f", Kind::File, s, &setup(&[("/", 1), ("/a", 2)]));
        assert!(!t.is_clean(b"/a/f", Kind::File, s));
    }

    #[test]
    fn missing_stat_is_dirtied_by_the_creation_of_its_first_missing_component() {
        let mut t = Table::default();
        let (s, need) = t.arm(b"/a/b/x", Kind::Meta);
        assert_eq!(need.len(), 4); // "/", "/a", "/a/b", "/a/b/x" (itself, as a directory)
        let mut st = setup(&[("/", 1), ("/a", 2)]);
        st.missing_at = Some(Arc::from(&b"/a/b"[..]));
        assert!(t.complete(b"/a/b/x", Kind::Meta, s, &st));
        assert!(t.is_clean(b"/a/b/x", Kind::Meta, s));
        t.event(2, ev::IN_CREATE, b"other");
        assert!(t.is_clean(b"/a/b/x", Kind::Meta, s));
        t.event(2, ev::IN_CREATE, b"b");
        assert!(!t.is_clean(b"/a/b/x", Kind::Meta, s));
    }

    #[test]
    fn directory_stat_changes_with_its_entries_not_their_content() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/d", Kind::Meta);
        assert!(t.complete(b"/d", Kind::Meta, s, &setup(&[("/", 1), ("/d", 2)])));
        t.event(2, ev::IN_MODIFY, b"x");
        assert!(t.is_clean(b"/d", Kind::Meta, s));
        t.event(2, ev::IN_CREATE, b"x");
        assert!(!t.is_clean(b"/d", Kind::Meta, s));
    }

    #[test]
    fn file_and_stat_records_of_one_path_share_its_inode_watch() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        assert!(t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)])
        ));
        let (s2, need) = t.arm(b"/a/f", Kind::Meta);
        assert_eq!(need.len(), 1); // only "/a/f" itself, tried as a directory
        assert!(t.complete(b"/a/f", Kind::Meta, s2, &setup_file(50, &[])));
        assert_eq!(t.tracked(), 2);
        t.release(b"/a/f", Kind::File);
        assert!(t.take_removable().iter().all(|(_, w)| *w != 50));
        assert!(t.is_clean(b"/a/f", Kind::Meta, s2));
        t.event(50, ev::IN_ATTRIB, b"");
        assert!(!t.is_clean(b"/a/f", Kind::Meta, s2));
        t.release(b"/a/f", Kind::Meta);
        assert!(t.take_removable().iter().any(|(_, w)| *w == 50));
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn overflow_dirties_everything() {
        let mut t = Table::default();
        let (s, _) = t.arm(b"/a/f", Kind::File);
        t.complete(
            b"/a/f",
            Kind::File,
            s,
            &setup_file(50, &[("/", 1), ("/a", 2)]),
        );
        t.event(-1, ev::IN_Q_OVERFLOW, b"");
        assert!(!t.is_clean(b"/a/f", Kind::File, s));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod abi {
    #[test]
    fn event_bits_match_the_kernel_abi() {
        use super::ev::*;
        assert_eq!(IN_MODIFY, libc::IN_MODIFY);
        assert_eq!(IN_ATTRIB, libc::IN_ATTRIB);
        assert_eq!(IN_MOVED_FROM, libc::IN_MOVED_FROM);
        assert_eq!(IN_MOVED_TO, libc::IN_MOVED_TO);
        assert_eq!(IN_CREATE, libc::IN_CREATE);
        assert_eq!(IN_DELETE, libc::IN_DELETE);
        assert_eq!(IN_DELETE_SELF, libc::IN_DELETE_SELF);
        assert_eq!(IN_MOVE_SELF, libc::IN_MOVE_SELF);
        assert_eq!(IN_UNMOUNT, libc::IN_UNMOUNT);
        assert_eq!(IN_Q_OVERFLOW, libc::IN_Q_OVERFLOW);
        assert_eq!(IN_IGNORED, libc::IN_IGNORED);
    }
}
