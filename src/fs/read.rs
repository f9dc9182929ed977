//! Whole-file reads and stat, plus the small syscall helpers the other fs modules share.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::error::FsError;
use super::identity::{now_realtime, Identity, Timestamp};

/// A whole regular file and the identity of the open descriptor it was read from.
#[derive(Clone, Debug)]
pub struct FileData {
    /// The bytes read, up to EOF.
    pub content: Vec<u8>,
    /// Identity from the `fstat` taken before reading.
    pub identity: Identity,
    /// CLOCK_REALTIME taken right after the fstat
    pub read_at: Timestamp,
}

/// How many times a file that changed while it was read (a writer rewriting it in place) is
/// read before the last read is returned as it is.
const READ_ATTEMPTS: u32 = 4;

/// A file read whole by one `read` call of at most this many bytes needs no check afterwards;
/// anything else (several calls, or several pages in one call) is checked with a second fstat.
const ONE_PAGE: usize = 4096;

/// open(O_RDONLY|O_NONBLOCK|O_CLOEXEC) -> fstat -> must be a regular file -> size check against
/// `max_size` -> read to EOF -> close (always).
///
/// Errors: directory `EISDIR`; fifo/socket/device `EINVAL` "not a regular file (<kind>)"; larger
/// than `max_size` (before or while reading) `EFBIG`; a NUL byte in `path` `EINVAL` without any
/// syscall; an empty path `ENOENT`. The identity is the one from the fstat before reading, so a
/// change during the read is seen next time.
///
/// Torn reads: a file rewritten in place while it is read can hand one `read` call the start of
/// one version and the next call (or the next page of the same call) the rest of another. When
/// the read took more than one call, or more than [`ONE_PAGE`] in one, a second fstat must
/// show the identity of the first (device, inode, size, mtime and ctime to the nanosecond; since
/// Linux 6.13 a change after a stat always gets a new ctime); otherwise the file is read again
/// from the start, up to [`READ_ATTEMPTS`] times in all. A file that changes during every
/// attempt (a log being appended to) is returned as last read.
pub fn read_file(path: &[u8], max_size: u64) -> Result<FileData, FsError> {
    read_file_flags(path, max_size, 0).map(|(data, _)| data)
}

/// [`read_file`] for the watcher: the last component is not followed if it is a symlink (then
/// the file is read through it as usual and `plain` is false), and `plain` is also false when
/// the file has more than one hard link. A plain file's changes all show up as events on its
/// directory. No extra system call.
pub fn read_file_plain(path: &[u8], max_size: u64) -> Result<(FileData, bool), FsError> {
    match read_file_flags(path, max_size, libc::O_NOFOLLOW) {
        Err(e) if e.code == "ELOOP" => read_file(path, max_size).map(|d| (d, false)),
        Ok((data, nlink)) => Ok((data, nlink == 1)),
        Err(e) => Err(e),
    }
}

/// The read itself; also returns the link count from the same fstat.
fn read_file_flags(
    path: &[u8],
    max_size: u64,
    extra_flags: libc::c_int,
) -> Result<(FileData, u64), FsError> {
    let cpath = c_path(path)?;
    // O_NONBLOCK: opening a FIFO without a writer (or a device that waits) must not block a
    // worker; the fstat below then rejects it. O_NOCTTY: never acquire a controlling terminal.
    let fd = open_fd(
        &cpath,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY | extra_flags,
        0,
    )
    .map_err(|e| FsError::from_errno(e, path))?;
    let mut attempt = 1;
    loop {
        let (identity, nlink) = fstat_nlink(&fd).map_err(|e| FsError::from_errno(e, path))?;
        let read_at = now_realtime();

        if !identity.is_regular() {
            if identity.is_dir() {
                return Err(FsError::from_errno(libc::EISDIR, path));
            }
            return Err(FsError::new("EINVAL", &not_regular(identity.mode), path));
        }
        if identity.size > max_size {
            return Err(too_large(identity.size, max_size, path));
        }

        let (content, calls) = read_to_end(&fd, identity.size, max_size, path)?;
        let whole = calls == 1 && content.len() <= ONE_PAGE;
        let settled = whole || attempt == READ_ATTEMPTS || fstat_fd(&fd) == Ok(identity);
        // Changed while it was read: read it again from the start, if the offset can go back.
        // SAFETY: `fd` is open; rewinding a regular file's offset has no other effect.
        if settled || unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) } != 0 {
            return Ok((
                FileData {
                    content,
                    identity,
                    read_at,
                },
                nlink,
            ));
        }
        attempt += 1;
    }
    // `fd` is closed on drop, on every path.
}

/// stat(2) (follows symlinks) -> Identity; same error mapping as [`read_file`] (NUL check too).
pub fn stat_path(path: &[u8]) -> Result<Identity, FsError> {
    let cpath = c_path(path)?;
    stat_c(&cpath, true).map_err(|e| FsError::from_errno(e, path))
}

/// lstat of `path`, then stat through it when it is a symlink: (identity of what the path names,
/// its link count when it is not a symlink, None when it is one).
fn lstat_through(path: &[u8]) -> Result<(Identity, Option<u64>), FsError> {
    let cpath = c_path(path)?;
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `cpath` is NUL-terminated and `st` is writable.
    if unsafe { libc::lstat(cpath.as_ptr(), &mut st) } != 0 {
        return Err(FsError::from_errno(last_errno(), path));
    }
    let id = Identity::from_stat(&st);
    if id.file_type() == super::identity::ftype::IFLNK {
        return stat_c(&cpath, true)
            .map(|id| (id, None))
            .map_err(|e| FsError::from_errno(e, path));
    }
    #[allow(clippy::unnecessary_cast)]
    let nlink = st.st_nlink as u64;
    Ok((id, Some(nlink)))
}

/// [`stat_path`] for the watcher: lstat first; a symlink is then stat'ed through (plain =
/// false), a file with several hard links is not plain either.
pub fn stat_path_plain(path: &[u8]) -> Result<(Identity, bool), FsError> {
    let (id, nlink) = lstat_through(path)?;
    Ok((id, nlink == Some(1)))
}

/// stat(2) for the metadata cache's watcher: lstat first; a symlink is stat'ed through (plain =
/// false); a directory is plain, anything else only with one hard link.
pub fn stat_path_meta(path: &[u8]) -> Result<(Identity, bool), FsError> {
    let (id, nlink) = lstat_through(path)?;
    Ok((id, nlink.is_some() && (id.is_dir() || nlink == Some(1))))
}

/// Reads `fd` to EOF, never holding more than `max_size + 1` bytes; also returns how many
/// `read` calls returned data or the end.
fn read_to_end(
    fd: &OwnedFd,
    size_hint: u64,
    max_size: u64,
    path: &[u8],
) -> Result<(Vec<u8>, u32), FsError> {
    // One byte past max_size is enough to know the file is too large.
    let limit = usize::try_from(max_size.saturating_add(1)).unwrap_or(usize::MAX);
    // st_size + 1 so that a file of the announced size is read with one read() (whose short
    // count marks the end, see below), without reallocating.
    let initial = usize::try_from(size_hint.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(limit);
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(initial)
        .map_err(|_| FsError::from_errno(libc::ENOMEM, path))?;
    let mut calls = 0;

    loop {
        if buf.len() == buf.capacity() {
            // (buf.len() < limit here: reaching the limit returns below.) Grow geometrically (at least 8 KiB), never past the limit.
            let grow = buf.len().max(8192).min(limit - buf.len());
            buf.try_reserve_exact(grow)
                .map_err(|_| FsError::from_errno(libc::ENOMEM, path))?;
        }
        let spare = buf.capacity() - buf.len();
        let want = spare.min(limit - buf.len());
        // SAFETY: the pointer is `want` (<= spare capacity) writable bytes inside `buf`'s
        // allocation; `read` initialises the first `n` of them, and only those are exposed.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf.as_mut_ptr().add(buf.len()).cast::<libc::c_void>(),
                want,
            )
        };
        if n < 0 {
            let errno = last_errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(FsError::from_errno(errno, path));
        }
        calls += 1;
        if n == 0 {
            break;
        }
        let n = n as usize; // n > 0 and n <= want
                            // SAFETY: `read` initialised exactly `n` bytes after the current length.
        unsafe { buf.set_len(buf.len() + n) };
        if buf.len() >= limit {
            // max_size + 1 bytes read: the file is (now) too large. Report its current size if
            // we can learn it.
            let now = fstat_fd(fd).map(|id| id.size).unwrap_or(0);
            let seen = u64::try_from(buf.len()).unwrap_or(u64::MAX);
            return Err(too_large(now.max(seen), max_size, path));
        }
        if n < want && size_hint > 0 && buf.len() as u64 >= size_hint {
            // A short read that reached the size fstat reported: the end of a regular file.
            // Skips the extra read that would return 0. (Size-0 files such as /proc ones, and
            // files that grew, still read until 0.)
            break;
        }
    }
    Ok((buf, calls))
}

fn too_large(size: u64, max_size: u64, path: &[u8]) -> FsError {
    FsError::new(
        "EFBIG",
        &format!("file too large ({size} bytes, max_size {max_size})"),
        path,
    )
}

/// The cause in "EINVAL: not a regular file (fifo): /x", for the file type in `mode`.
pub(super) fn not_regular(mode: u32) -> String {
    format!(
        "not a regular file ({})",
        super::dir::EntryKind::from_mode(mode).as_str()
    )
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by dir.rs and write.rs. Errors are raw errno values so the caller decides which
// path the message names.

/// Validates a path and converts it for libc: a NUL byte is `EINVAL` "path contains a NUL byte",
/// an empty path is `ENOENT`; neither makes a syscall.
pub(super) fn c_path(path: &[u8]) -> Result<CString, FsError> {
    if path.is_empty() {
        return Err(FsError::from_errno(libc::ENOENT, path));
    }
    CString::new(path).map_err(|_| FsError::new("EINVAL", "path contains a NUL byte", path))
}

/// The calling thread's errno.
pub(super) fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// open(2), retried on EINTR; the descriptor is owned (closed on drop).
pub(super) fn open_fd(
    path: &CString,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> Result<OwnedFd, i32> {
    loop {
        // SAFETY: `path` is NUL-terminated; the mode is passed as the variadic int open expects.
        let fd = unsafe { libc::open(path.as_ptr(), flags, libc::c_uint::from(mode)) };
        if fd >= 0 {
            // SAFETY: `fd` was just returned by open and is owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let errno = last_errno();
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

/// fstat(2) on an open descriptor: identity and link count.
fn fstat_nlink(fd: &OwnedFd) -> Result<(Identity, u64), i32> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(last_errno());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok((Identity::from_stat(&st), st.st_nlink as u64))
}

/// fstat(2) on an open descriptor.
pub(super) fn fstat_fd(fd: &OwnedFd) -> Result<Identity, i32> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(last_errno());
    }
    Ok(Identity::from_stat(&st))
}

/// stat(2) (`follow`) or lstat(2) on a path, returning the raw struct's identity plus uid/gid.
pub(super) fn stat_c(path: &CString, follow: bool) -> Result<Identity, i32> {
    stat_full(path, follow).map(|(id, _, _)| id)
}

/// Like [`stat_c`], also returning the owner's uid and gid.
pub(super) fn stat_full(
    path: &CString,
    follow: bool,
) -> Result<(Identity, libc::uid_t, libc::gid_t), i32> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` is writable.
    let rc = unsafe {
        if follow {
            libc::stat(path.as_ptr(), &mut st)
        } else {
            libc::lstat(path.as_ptr(), &mut st)
        }
    };
    if rc != 0 {
        return Err(last_errno());
    }
    Ok((Identity::from_stat(&st), st.st_uid, st.st_gid))
}
