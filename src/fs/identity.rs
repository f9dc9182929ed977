//! File identity (what a cache entry is validated against) and the realtime clock.

/// File type bits as u32 (`mode_t` is u32 on Linux, u16 on macOS).
#[allow(clippy::unnecessary_cast)]
pub(crate) mod ftype {
    /// Mask of the file type bits.
    pub const IFMT: u32 = libc::S_IFMT as u32;
    /// Regular file.
    pub const IFREG: u32 = libc::S_IFREG as u32;
    /// Directory.
    pub const IFDIR: u32 = libc::S_IFDIR as u32;
    /// Symbolic link.
    pub const IFLNK: u32 = libc::S_IFLNK as u32;
    /// FIFO.
    pub const IFIFO: u32 = libc::S_IFIFO as u32;
    /// Socket.
    pub const IFSOCK: u32 = libc::S_IFSOCK as u32;
    /// Character device.
    pub const IFCHR: u32 = libc::S_IFCHR as u32;
    /// Block device.
    pub const IFBLK: u32 = libc::S_IFBLK as u32;
}

/// Seconds + nanoseconds, as in `struct timespec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Whole seconds since the Unix epoch.
    pub sec: i64,
    /// Nanoseconds within the second (0..1_000_000_000).
    pub nsec: i64,
}

/// What identifies one version of a file or directory. Equality covers every field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Identity {
    /// Device the inode lives on (`st_dev`).
    pub dev: u64,
    /// Inode number (`st_ino`).
    pub ino: u64,
    /// Size in bytes (`st_size`; 0 for many pseudo files).
    pub size: u64,
    /// Last modification time, to the nanosecond.
    pub mtime: Timestamp,
    /// Last status change time, to the nanosecond.
    pub ctime: Timestamp,
    /// st_mode (file type + permission bits)
    pub mode: u32,
}

// The `stat` field types differ per platform (e.g. `st_dev` is i32 on macOS, u64 on Linux), so
// the casts below are needed somewhere even where they are no-ops here.
#[allow(clippy::unnecessary_cast)]
impl Identity {
    /// Builds an identity from a `stat` / `fstat` result.
    pub fn from_stat(st: &libc::stat) -> Identity {
        Identity {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: if st.st_size < 0 { 0 } else { st.st_size as u64 },
            mtime: Timestamp {
                sec: st.st_mtime as i64,
                nsec: st.st_mtime_nsec as i64,
            },
            ctime: Timestamp {
                sec: st.st_ctime as i64,
                nsec: st.st_ctime_nsec as i64,
            },
            mode: st.st_mode as u32,
        }
    }

    /// The file type bits of `mode` (`mode & S_IFMT`).
    pub(crate) fn file_type(&self) -> u32 {
        self.mode & ftype::IFMT
    }

    /// True for a regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == ftype::IFREG
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == ftype::IFDIR
    }
}

/// CLOCK_REALTIME now.
#[allow(clippy::unnecessary_cast)]
pub fn now_realtime() -> Timestamp {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if rc != 0 {
        // CLOCK_REALTIME cannot fail on any supported platform; fall back to std just in case.
        return match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp {
                sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nsec: i64::from(d.subsec_nanos()),
            },
            Err(_) => Timestamp::default(),
        };
    }
    Timestamp {
        sec: ts.tv_sec as i64,
        nsec: ts.tv_nsec as i64,
    }
}
