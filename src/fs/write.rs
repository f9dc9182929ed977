//! Atomic file replacement: temp file in the same directory, fsync, rename over the target.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::dir_sync;
use super::error::FsError;
use super::identity::{ftype, now_realtime, Identity, Timestamp};
use super::read::{c_path, fstat_fd, last_errno, not_regular, open_fd, stat_full};

/// Symlink hops followed before giving up with ELOOP (Linux's own limit is 40).
const MAX_LINK_HOPS: usize = 40;
/// Temp names tried before giving up on EEXIST.
const TEMP_ATTEMPTS: usize = 16;
/// Longest slice of the target's basename used inside the temp name (NAME_MAX is 255).
const MAX_TEMP_BASE: usize = 200;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomic replace. If `path` is a symlink, resolve it (follow the chain; a dangling link writes to
/// its final target path) and write through to the real file (the link stays a link).
///
/// A temp file `.<basename>.fscache-<pid>-<counter>.tmp` is created next to the real target
/// (mode 0600, `O_EXCL|O_NOFOLLOW`), filled, given the target's owner (best effort) and permission
/// bits (new file: `0666 & !umask`), fsync'ed and renamed over the target; then the directory is
/// fsync'ed (best effort: the data is already in place). Returns the identity of the written file
/// (fstat after the rename) and CLOCK_REALTIME taken after that fstat.
///
/// On failure the temp file is removed, the target is untouched and the error names `path`:
/// missing directory `ENOENT`, target is a directory `EISDIR`, target is a fifo/socket/device
/// `EINVAL` "not a regular file (<kind>)" (never replaced), NUL byte in `path` `EINVAL`, an
/// existing target the caller may not write `EACCES` (even when its directory is writable).
pub fn write_atomic(path: &[u8], content: &[u8]) -> Result<(Identity, Timestamp), FsError> {
    write_atomic_with(path, content, true)
}

/// [`write_atomic`], with the fsyncs of the file and of its directory only when `durable`
/// (without them the write is still atomic: readers see the old or the new file, never a torn
/// one; a power loss may lose it).
pub fn write_atomic_with(
    path: &[u8],
    content: &[u8],
    durable: bool,
) -> Result<(Identity, Timestamp), FsError> {
    let v = write_visible(path, content, durable)?;
    let landed = (v.identity, v.at);
    // A write on the caller's thread (write_sync) does not wait for other writes to join.
    v.settle_with(false);
    Ok(landed)
}

/// A write that is visible under its target name (the first stage): what it wrote, and what is
/// left to do ([`Visible::settle`]).
pub struct Visible {
    /// Identity of the written file (fstat after the rename).
    pub identity: Identity,
    /// CLOCK_REALTIME taken after that fstat.
    pub at: Timestamp,
    /// The directory whose fsync makes the rename durable, and the rename's ticket there
    /// (durable writes only).
    dir: Option<(Vec<u8>, u64)>,
    /// The replaced file, held open across the rename: releasing the last reference to an inode
    /// frees its blocks (and waits for its writeback) inside whichever call drops it, so the
    /// rename would pay for it. Held here, that cost moves to `settle`, off the path of gets
    /// waiting for this write (on ext4: rename 86-124 µs -> 9-12 µs after an fsynced write,
    /// 0.8-3.6 ms -> 50 µs after a write still under writeback; measured with a loop of temp
    /// file + rename, described in the commit that added this).
    old: Option<OwnedFd>,
}

impl Visible {
    /// The second stage: fsyncs the directory (durable writes; best effort, see [`sync_dir`]),
    /// then releases the replaced file.
    ///
    /// Other durable writes of the directory still on their way to their rename are waited
    /// for (briefly) so that one directory fsync covers them all.
    pub fn settle(self) {
        self.settle_with(true);
    }

    fn settle_with(self, join: bool) {
        if let Some((dir, ticket)) = &self.dir {
            dir_sync::sync_dir_shared(dir, *ticket, join, || sync_dir(dir));
        }
        drop(self.old);
    }
}

/// The first stage of [`write_atomic_with`]: up to the rename (the new content is visible
/// under the target name). [`Visible::settle`] does the rest.
pub fn write_visible(path: &[u8], content: &[u8], durable: bool) -> Result<Visible, FsError> {
    let err = |errno: i32| FsError::from_errno(errno, path);
    c_path(path)?; // NUL / empty checks before any syscall

    let (real, existing) = resolve_target(path)?;
    let split = split_path(&real).ok_or_else(|| err(libc::EISDIR))?;

    if let Some(target) = &existing {
        if target.identity.is_dir() {
            return Err(err(libc::EISDIR));
        }
        if !target.identity.is_regular() {
            let cause = not_regular(target.identity.mode);
            return Err(FsError::new("EINVAL", &cause, path));
        }
        // The rename below needs only the directory's permission: without this check a file
        // the caller may not write would be replaced anyway (open(2) would say EACCES).
        may_write(&real).map_err(err)?;
    }

    // Durable writes of one directory share their directory fsyncs (see `dir_sync`).
    let writing = durable.then(|| dir_sync::writing(&split.dir));
    let (temp, fd) = create_temp(&split).map_err(err)?;

    write_all(&fd, content).map_err(err)?;

    let perms = match &existing {
        Some(target) => target.identity.mode & 0o7777,
        None => 0o666 & !process_umask(),
    };
    if let Some(target) = &existing {
        // Owner first: chown may clear set-id bits, which the fchmod below restores.
        let (_, uid, gid) = fstat_owner(&fd).map_err(err)?;
        if (uid, gid) != (target.uid, target.gid) {
            // SAFETY: `fd` is an open descriptor.
            if unsafe { libc::fchown(fd.as_raw_fd(), target.uid, target.gid) } != 0 {
                let errno = last_errno();
                // Best effort: an unprivileged writer cannot give files away (EPERM), and ids
                // unmapped in a user namespace are EINVAL.
                if errno != libc::EPERM && errno != libc::EINVAL {
                    return Err(err(errno));
                }
            }
        }
    }
    // SAFETY: `fd` is an open descriptor; perms fit mode_t (masked to 0o7777).
    if unsafe { libc::fchmod(fd.as_raw_fd(), perms as libc::mode_t) } != 0 {
        return Err(err(last_errno()));
    }

    if durable {
        fsync_fd(&fd).map_err(err)?;
    }

    let real_c = c_path(&real)?;
    // Best effort: whatever inode holds the name now (normally the one stat-ed above).
    let old = existing.as_ref().and_then(|_| {
        open_fd(
            &real_c,
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )
        .ok()
    });
    // SAFETY: both paths are NUL-terminated.
    if unsafe { libc::rename(temp.path.as_ptr(), real_c.as_ptr()) } != 0 {
        return Err(err(last_errno()));
    }
    temp.disarm();
    let ticket = writing.map(dir_sync::Writing::renamed);

    // rename(2) may update the inode's ctime, so the identity is taken after it.
    let identity = fstat_fd(&fd).map_err(err)?;
    let at = now_realtime();
    Ok(Visible {
        identity,
        at,
        dir: ticket.map(|t| (split.dir.clone(), t)),
        old,
    })
}

/// Makes a rename in `dir` durable (fsync of the directory). The new content is already visible
/// under the target name, so a failure here (some file systems refuse fsync on directories) is
/// not reported as a failed write, which would wrongly suggest the target is untouched.
pub fn sync_dir(dir: &[u8]) {
    if let Ok(dir_c) = c_path(dir) {
        if let Ok(dfd) = open_fd(
            &dir_c,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        ) {
            let _ = fsync_fd(&dfd);
        }
    }
}

/// Whether the effective user may write the existing file at `path` (faccessat W_OK with
/// AT_EACCESS, so ACLs count): EACCES / EPERM deny. Other answers are left to the write itself
/// (EROFS fails creating the temp file; ETXTBSY does not stop a rename).
fn may_write(path: &[u8]) -> Result<(), i32> {
    let c = CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: `c` is NUL-terminated; faccessat only reads it.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    if rc == 0 {
        return Ok(());
    }
    match last_errno() {
        e @ (libc::EACCES | libc::EPERM) => Err(e),
        _ => Ok(()),
    }
}

/// What `lstat` said about an existing target.
struct Existing {
    identity: Identity,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// Follows a symlink chain from `path` to the path that will be replaced, and stats it.
/// `None` when that final path does not exist yet (new file or dangling link).
fn resolve_target(path: &[u8]) -> Result<(Vec<u8>, Option<Existing>), FsError> {
    let mut cur = path.to_vec();
    for _ in 0..=MAX_LINK_HOPS {
        let cur_c = c_path(&cur)?;
        match stat_full(&cur_c, false) {
            Ok((identity, uid, gid)) => {
                let is_link = identity.file_type() == ftype::IFLNK;
                if !is_link {
                    return Ok((cur, Some(Existing { identity, uid, gid })));
                }
                let target = read_link(&cur_c).map_err(|e| FsError::from_errno(e, path))?;
                cur = join_link(&cur, &target);
            }
            Err(libc::ENOENT) => return Ok((cur, None)),
            Err(errno) => return Err(FsError::from_errno(errno, path)),
        }
    }
    Err(FsError::from_errno(libc::ELOOP, path))
}

/// readlink(2) into a growing buffer.
fn read_link(path: &CString) -> Result<Vec<u8>, i32> {
    let mut cap = 256usize;
    loop {
        let mut buf = vec![0u8; cap];
        // SAFETY: `path` is NUL-terminated; `buf` has `cap` writable bytes.
        let n = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), cap) };
        if n < 0 {
            return Err(last_errno());
        }
        let n = n as usize;
        if n < cap {
            buf.truncate(n);
            return Ok(buf);
        }
        if cap >= 1 << 20 {
            return Err(libc::ENAMETOOLONG);
        }
        cap *= 2;
    }
}

/// Where a link at `link_path` with content `target` points.
fn join_link(link_path: &[u8], target: &[u8]) -> Vec<u8> {
    if target.first() == Some(&b'/') {
        return target.to_vec();
    }
    match link_path.iter().rposition(|&b| b == b'/') {
        Some(i) => {
            let mut out = link_path[..=i].to_vec();
            out.extend_from_slice(target);
            out
        }
        None => target.to_vec(),
    }
}

/// A target path split for the temp file.
struct Split {
    /// The directory to fsync ("." or "/" when implicit).
    dir: Vec<u8>,
    /// The directory prefix including its trailing '/', empty for a bare name.
    prefix: Vec<u8>,
    /// The final component.
    base: Vec<u8>,
}

/// Splits `path` into directory and basename; `None` when there is no usable basename
/// (trailing '/', ".", ".."), i.e. the target can only be a directory.
fn split_path(path: &[u8]) -> Option<Split> {
    let (prefix, base) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    if base.is_empty() || base == b"." || base == b".." {
        return None;
    }
    let dir = match prefix.len() {
        0 => b".".to_vec(),
        1 => b"/".to_vec(),
        n => prefix[..n - 1].to_vec(),
    };
    Some(Split {
        dir,
        prefix: prefix.to_vec(),
        base: base.to_vec(),
    })
}

/// The temp file's path; removed on drop unless disarmed (after a successful rename).
struct TempPath {
    path: CString,
    armed: bool,
}

/// Temp files of writes in progress in this process (for [`remove_unfinished_temps`]).
static UNFINISHED: std::sync::Mutex<Vec<CString>> = std::sync::Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<CString>> {
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner())
}

impl TempPath {
    fn new(path: CString) -> TempPath {
        unfinished().push(path.clone());
        TempPath { path, armed: true }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            // SAFETY: `path` is NUL-terminated.
            unsafe {
                libc::unlink(self.path.as_ptr());
            }
        }
        let mut list = unfinished();
        if let Some(i) = list.iter().position(|p| *p == self.path) {
            list.swap_remove(i);
        }
    }
}

/// Removes the temp files of writes still in progress (the process is exiting and will not wait
/// for them: their targets stay as they were). Best effort.
pub fn remove_unfinished_temps() {
    for p in unfinished().drain(..) {
        // SAFETY: `p` is NUL-terminated.
        unsafe {
            libc::unlink(p.as_ptr());
        }
    }
}

/// Creates `.<base>.fscache-<pid>-<n>.tmp` next to the target, exclusively, mode 0600.
fn create_temp(split: &Split) -> Result<(TempPath, OwnedFd), i32> {
    let pid = std::process::id();
    let base = &split.base[..split.base.len().min(MAX_TEMP_BASE)];
    let mut last = libc::EEXIST;
    for _ in 0..TEMP_ATTEMPTS {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = split.prefix.clone();
        name.push(b'.');
        name.extend_from_slice(base);
        name.extend_from_slice(format!(".fscache-{pid}-{n}.tmp").as_bytes());
        // Cannot contain NUL: built from NUL-free parts.
        let Ok(cname) = CString::new(name) else {
            return Err(libc::EINVAL);
        };
        match open_fd(
            &cname,
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o600,
        ) {
            Ok(fd) => return Ok((TempPath::new(cname), fd)),
            Err(libc::EEXIST) => last = libc::EEXIST,
            Err(errno) => return Err(errno),
        }
    }
    Err(last)
}

/// write(2) until everything is written; retries EINTR and short writes.
fn write_all(fd: &OwnedFd, mut data: &[u8]) -> Result<(), i32> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid readable slice for its length.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(errno);
        }
        if n == 0 {
            return Err(libc::EIO);
        }
        data = &data[(n as usize).min(data.len())..];
    }
    Ok(())
}

/// fsync(2), retried on EINTR.
fn fsync_fd(fd: &OwnedFd) -> Result<(), i32> {
    loop {
        // SAFETY: `fd` is an open descriptor.
        if unsafe { libc::fsync(fd.as_raw_fd()) } == 0 {
            return Ok(());
        }
        let errno = last_errno();
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

/// fstat(2) returning identity, uid and gid.
fn fstat_owner(fd: &OwnedFd) -> Result<(Identity, libc::uid_t, libc::gid_t), i32> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(last_errno());
    }
    Ok((Identity::from_stat(&st), st.st_uid, st.st_gid))
}

/// The process umask, read once. Linux: the "Umask:" line of /proc/self/status (no side
/// effects); elsewhere (or on kernels before 4.7) umask(2) set-and-restore, done exactly once.
fn process_umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        if let Some(mask) = umask_from_proc() {
            return mask;
        }
        // SAFETY: umask cannot fail; the original value is restored immediately.
        #[allow(clippy::unnecessary_cast)]
        unsafe {
            let old = libc::umask(0o022);
            libc::umask(old);
            old as u32
        }
    })
}

fn umask_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
}
