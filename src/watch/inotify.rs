//! The inotify descriptor and the pool-side half of watching: adding watches before a read,
//! telling local file systems from remote ones, reading events on the Lua thread.
//!
//! Linux only; `super` compiles a stub elsewhere.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::Mutex;

use crate::fasthash::FastMap;

/// Events on a watched directory: its entries changed (create, delete, rename in or out), a
/// child's content or attributes changed (modify, close-write, attrib; inotify reports these
/// for every file inside a watched directory, by name), or the directory itself was moved,
/// deleted or had its attributes changed.
pub const DIR_MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_MOVE_SELF
    | libc::IN_DELETE_SELF;

/// `statfs.f_type` of file systems whose changes all go through this kernel, so inotify sees
/// every one of them. Network, FUSE, 9p, virtiofs and pseudo file systems are left out: changes
/// made elsewhere produce no events there, and those paths keep stat validation.
const LOCAL_FS: [i64; 14] = [
    0xEF53,      // ext2/3/4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x8584_58f6, // ramfs
    0xF2F5_2010, // f2fs
    0x794c_7630, // overlayfs
    0x5265_4973, // reiserfs
    0x3153_464a, // jfs
    0xca45_1a4e, // bcachefs
    0x2fc1_2fc1, // zfs
    0x7346_7173, // squashfs (read-only)
    0x4d44,      // vfat/msdos (local block device)
    0x5346_544e, // ntfs (ntfs3)
];

/// The inotify descriptor (non-blocking, close-on-exec), shared by the Lua thread (reads events,
/// removes watches) and pool threads (add watches).
pub struct Inotify {
    fd: RawFd,
    /// st_dev -> on a local file system (filled lazily by pool threads).
    local: Mutex<FastMap<u64, bool>>,
    /// Directory watches added by pool threads (path -> wd), so one burst of reads in a new
    /// directory adds its watch once. The Lua thread removes a path when its watch dies.
    added: Mutex<FastMap<Vec<u8>, i32>>,
}

/// True when nothing can be reached through `path` right now: it does not exist, or it is
/// neither a directory nor a symlink (lstat).
pub fn ends_chain(path: &[u8]) -> bool {
    let Ok(c) = CString::new(path) else {
        return false;
    };
    // SAFETY: an all-zero stat is a valid value; `c` is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above; `st` is writable.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
        let e = errno();
        return e == libc::ENOENT || e == libc::ENOTDIR;
    }
    let t = st.st_mode & libc::S_IFMT;
    t != libc::S_IFDIR && t != libc::S_IFLNK
}

/// One event as read from the descriptor.
pub struct Event<'a> {
    /// Watch descriptor (-1 for IN_Q_OVERFLOW).
    pub wd: i32,
    /// IN_* bits.
    pub mask: u32,
    /// Name of the entry inside a watched directory (empty for events on the watched inode).
    pub name: &'a [u8],
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl Inotify {
    /// A new descriptor, or the errno (EMFILE when the per-user instance limit is reached).
    pub fn new() -> Result<Inotify, i32> {
        // SAFETY: plain syscall, no pointers.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        Ok(Inotify {
            fd,
            local: Mutex::new(FastMap::default()),
            added: Mutex::new(FastMap::default()),
        })
    }

    /// inotify_add_watch; the wd or the errno.
    pub fn add(&self, path: &[u8], mask: u32) -> Result<i32, i32> {
        let c = CString::new(path).map_err(|_| libc::EINVAL)?;
        // SAFETY: `c` is NUL-terminated and outlives the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd, c.as_ptr(), mask) };
        if wd < 0 {
            Err(errno())
        } else {
            Ok(wd)
        }
    }

    /// The watch of directory `dir`: one a pool thread added already, or a new one (added with
    /// `IN_ONLYDIR | IN_DONT_FOLLOW`, so a symlink is refused). The wd or the errno.
    pub fn watch_dir(&self, dir: &[u8]) -> Result<i32, i32> {
        if let Some(wd) = self
            .added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(dir)
        {
            return Ok(*wd);
        }
        let wd = self.add(dir, DIR_MASK | libc::IN_ONLYDIR | libc::IN_DONT_FOLLOW)?;
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(dir.to_vec(), wd);
        Ok(wd)
    }

    /// Forgets a directory watch that died or was removed (Lua thread).
    pub fn forget_dir(&self, dir: &[u8], wd: i32) {
        let mut added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        if added.get(dir) == Some(&wd) {
            added.remove(dir);
        }
    }

    /// inotify_rm_watch (errors ignored: the kernel may have dropped the watch already).
    pub fn remove(&self, wd: i32) {
        // SAFETY: plain syscall on our own descriptor.
        unsafe {
            libc::inotify_rm_watch(self.fd, wd);
        }
    }

    /// True when `dev` (of a file at `path`) is on a file system whose changes inotify reports.
    /// The first path seen on a device pays one statfs; the answer is remembered per device.
    pub fn is_local(&self, dev: u64, path: &[u8]) -> bool {
        if let Some(v) = self
            .local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&dev)
        {
            return *v;
        }
        let Ok(c) = CString::new(path) else {
            return false;
        };
        // SAFETY: an all-zero statfs is a valid value; `c` is NUL-terminated.
        let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: see above; `sfs` is writable.
        if unsafe { libc::statfs(c.as_ptr(), &mut sfs) } != 0 {
            return false;
        }
        #[allow(clippy::unnecessary_cast)]
        let kind = sfs.f_type as i64;
        let local = LOCAL_FS.contains(&kind);
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(dev, local);
        local
    }

    /// For a path that does not exist: true when its deepest existing ancestor is on a local
    /// file system (one stat per missing component, then [`Inotify::is_local`]).
    pub fn is_local_ancestor(&self, path: &[u8]) -> bool {
        let mut p = path;
        while let Some(i) = p.iter().rposition(|b| *b == b'/') {
            p = if i == 0 { &p[..1] } else { &p[..i] };
            let Ok(c) = CString::new(p) else {
                return false;
            };
            // SAFETY: an all-zero stat is a valid value; `c` is NUL-terminated.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: see above; `st` is writable.
            if unsafe { libc::stat(c.as_ptr(), &mut st) } == 0 {
                #[allow(clippy::unnecessary_cast)]
                return self.is_local(st.st_dev as u64, p);
            }
            if p == b"/" {
                return false;
            }
        }
        false
    }

    /// Reads every queued event into `buf` and calls `f` for each. Returns false if the
    /// descriptor failed (anything but EAGAIN/EINTR), in which case the caller stops trusting it.
    pub fn read_events(&self, buf: &mut [u8], mut f: impl FnMut(Event<'_>)) -> bool {
        const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        loop {
            // SAFETY: reads at most buf.len() bytes into a live buffer.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return match errno() {
                    libc::EAGAIN => true,
                    libc::EINTR => continue,
                    _ => false,
                };
            }
            let n = n as usize;
            let mut off = 0;
            while off + HEADER <= n {
                // SAFETY: the kernel wrote a whole inotify_event header at `off` (events are
                // never split across reads); read_unaligned copes with any alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf.as_ptr().add(off).cast()) };
                let len = ev.len as usize;
                let name_end = (off + HEADER + len).min(n);
                let raw = &buf[off + HEADER..name_end];
                let name = match raw.iter().position(|b| *b == 0) {
                    Some(i) => &raw[..i],
                    None => raw,
                };
                f(Event {
                    wd: ev.wd,
                    mask: ev.mask,
                    name,
                });
                off += HEADER + len;
            }
            if n + HEADER + 256 <= buf.len() {
                // Room was left for one more event of any size: the queue is empty (as of this
                // read), so skip the EAGAIN round trip.
                return true;
            }
        }
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and close it once.
        unsafe {
            libc::close(self.fd);
        }
    }
}
