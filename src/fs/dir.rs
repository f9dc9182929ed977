//! Directory listing: one open directory descriptor, its identity, and its sorted entries.

use std::ffi::CStr;
use std::os::fd::IntoRawFd;

use super::error::FsError;
use super::identity::{now_realtime, Identity, Timestamp};
use super::read::{c_path, fstat_fd, last_errno, open_fd};

/// The type of a directory entry (symlinks are not followed). The one place the type words are
/// spelled: Lua gets them from [`EntryKind::WORDS`] (`native.entry_types`), listings carry
/// [`EntryKind::code`], and `lua-tests/types_spec.lua` checks the Lua side and the type
/// annotations against that list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Directory,
    /// Symbolic link (not followed).
    Link,
    /// Named pipe.
    Fifo,
    /// Unix domain socket.
    Socket,
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Type could not be determined (e.g. the entry vanished while listing).
    Unknown,
}

impl EntryKind {
    /// Every kind, in [`EntryKind::code`] order.
    pub const ALL: [EntryKind; 8] = [
        EntryKind::File,
        EntryKind::Directory,
        EntryKind::Link,
        EntryKind::Fifo,
        EntryKind::Socket,
        EntryKind::Char,
        EntryKind::Block,
        EntryKind::Unknown,
    ];

    /// The words Lua sees (luv's), in [`EntryKind::ALL`] order.
    pub const WORDS: [&'static str; 8] = [
        "file",
        "directory",
        "link",
        "fifo",
        "socket",
        "char",
        "block",
        "unknown",
    ];

    /// The word Lua sees: "file", "directory", "link", "fifo", "socket", "char", "block",
    /// "unknown".
    pub fn as_str(self) -> &'static str {
        Self::WORDS[self as usize]
    }

    /// 1-based position in [`EntryKind::ALL`] / [`EntryKind::WORDS`] (a Lua array index).
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    /// The kind with [`EntryKind::code`] `code` (out of range: `Unknown`).
    pub fn from_code(code: u8) -> EntryKind {
        Self::ALL
            .get(usize::from(code).wrapping_sub(1))
            .copied()
            .unwrap_or(EntryKind::Unknown)
    }

    /// The kind for the file type bits of an `st_mode`.
    pub(crate) fn from_mode(mode: u32) -> EntryKind {
        use super::identity::ftype::*;
        match mode & IFMT {
            IFREG => EntryKind::File,
            IFDIR => EntryKind::Directory,
            IFLNK => EntryKind::Link,
            IFIFO => EntryKind::Fifo,
            IFSOCK => EntryKind::Socket,
            IFCHR => EntryKind::Char,
            IFBLK => EntryKind::Block,
            _ => EntryKind::Unknown,
        }
    }

    /// The kind for a `d_type`; `None` for DT_UNKNOWN (caller falls back to fstatat).
    fn from_d_type(d_type: u8) -> Option<EntryKind> {
        Some(match d_type {
            libc::DT_REG => EntryKind::File,
            libc::DT_DIR => EntryKind::Directory,
            libc::DT_LNK => EntryKind::Link,
            libc::DT_FIFO => EntryKind::Fifo,
            libc::DT_SOCK => EntryKind::Socket,
            libc::DT_CHR => EntryKind::Char,
            libc::DT_BLK => EntryKind::Block,
            _ => return None,
        })
    }
}

/// One directory entry: its name (raw bytes) and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name, raw bytes (may be non-UTF-8).
    pub name: Vec<u8>,
    /// The entry's type, symlinks not followed.
    pub kind: EntryKind,
}

/// Entries sorted by name (bytewise), without "." and "..", plus the directory's identity taken by
/// fstat on the open directory fd BEFORE reading entries, and read_at (CLOCK_REALTIME after that fstat).
#[derive(Clone, Debug)]
pub struct DirListing {
    /// Entries sorted bytewise by name, "." and ".." excluded.
    pub entries: Vec<DirEntry>,
    /// Identity of the directory from the fstat before reading entries.
    pub identity: Identity,
    /// CLOCK_REALTIME taken right after that fstat.
    pub read_at: Timestamp,
}

/// Owns a `DIR*`; `closedir` on drop (which also closes the descriptor).
struct DirHandle(*mut libc::DIR);

impl Drop for DirHandle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful fdopendir and is closed exactly once.
        unsafe {
            libc::closedir(self.0);
        }
    }
}

/// open(O_RDONLY|O_DIRECTORY|O_CLOEXEC) -> fstat -> fdopendir/readdir using d_type; DT_UNKNOWN
/// falls back to fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW). A regular file gives ENOTDIR.
/// The directory is always closed.
pub fn read_dir(path: &[u8]) -> Result<DirListing, FsError> {
    let mut entries: Vec<DirEntry> = Vec::new();
    let (identity, read_at) = scan_dir(path, |name, kind| {
        entries.push(DirEntry {
            name: name.to_vec(),
            kind,
        });
    })?;
    // Names within one directory are unique, so an unstable sort is deterministic.
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(DirListing {
        entries,
        identity,
        read_at,
    })
}

/// What [`read_dir`] does, without collecting or sorting: calls `visit(name, kind)` for every
/// entry but "." and ".." in directory order, and returns the directory's identity (fstat on
/// the open descriptor before reading) and the time taken right after it. For callers that
/// pack names their own way (one buffer instead of one allocation per name).
pub fn scan_dir(
    path: &[u8],
    mut visit: impl FnMut(&[u8], EntryKind),
) -> Result<(Identity, Timestamp), FsError> {
    let cpath = c_path(path)?;
    // O_NONBLOCK is harmless on a directory and guarantees no open() can wait on a special file
    // on platforms where O_DIRECTORY is checked late.
    let fd = open_fd(
        &cpath,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        0,
    )
    .map_err(|e| FsError::from_errno(e, path))?;
    let identity = fstat_fd(&fd).map_err(|e| FsError::from_errno(e, path))?;
    let read_at = now_realtime();
    if !identity.is_dir() {
        return Err(FsError::from_errno(libc::ENOTDIR, path));
    }

    let raw = fd.into_raw_fd();
    // SAFETY: `raw` is an open directory descriptor; on success the DIR takes ownership of it.
    let dirp = unsafe { libc::fdopendir(raw) };
    if dirp.is_null() {
        let errno = last_errno();
        // SAFETY: fdopendir failed, so we still own `raw` and close it exactly once.
        unsafe {
            libc::close(raw);
        }
        return Err(FsError::from_errno(errno, path));
    }
    let dir = DirHandle(dirp);
    // SAFETY: `dir.0` is a valid DIR*.
    let dfd = unsafe { libc::dirfd(dir.0) };

    loop {
        set_errno(0);
        // SAFETY: `dir.0` is a valid DIR* used by this thread only.
        let ent = unsafe { libc::readdir(dir.0) };
        if ent.is_null() {
            let errno = last_errno();
            if errno != 0 {
                return Err(FsError::from_errno(errno, path));
            }
            break;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated; it stays valid
        // until the next readdir/closedir on this DIR, and we copy what we need before that.
        let (name_c, d_type) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()), (*ent).d_type) };
        let name = name_c.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match EntryKind::from_d_type(d_type) {
            Some(kind) => kind,
            None => kind_at(dfd, name_c),
        };
        visit(name, kind);
    }
    drop(dir);
    Ok((identity, read_at))
}

/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) -> kind; `Unknown` if the entry cannot be stat'ed
/// (e.g. it was removed while we listed).
fn kind_at(dfd: libc::c_int, name: &CStr) -> EntryKind {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `dfd` is the open directory's descriptor, `name` is NUL-terminated, `st` writable.
    let rc = unsafe { libc::fstatat(dfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc != 0 {
        return EntryKind::Unknown;
    }
    EntryKind::from_mode(Identity::from_stat(&st).mode)
}

/// Sets the calling thread's errno (readdir signals errors only through errno).
fn set_errno(value: libc::c_int) {
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "tvos",
        target_os = "watchos"
    ))]
    // SAFETY: __error returns the calling thread's errno location.
    unsafe {
        *libc::__error() = value;
    }
    #[cfg(not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "tvos",
        target_os = "watchos"
    )))]
    // SAFETY: __errno_location returns the calling thread's errno location.
    unsafe {
        *libc::__errno_location() = value;
    }
}
