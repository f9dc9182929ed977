//! I/O failures as values, with luv-style messages: `ENOENT: no such file or directory: /x`.

use std::fmt;

/// An I/O failure as a value: `code` is the errno name ("ENOENT"), `message` is
/// "<CODE>: <cause>: <path>", e.g. "ENOENT: no such file or directory: /x" (luv style:
/// lowercase strerror).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsError {
    /// The errno name, e.g. "ENOENT"; "UNKNOWN" when the errno has no name here.
    pub code: &'static str,
    /// The full message: "<CODE>: <cause>: <path>".
    pub message: String,
}

impl FsError {
    /// Converts an `io::Error` about `path` (raw OS error -> errno name and libuv's wording).
    pub fn from_io(err: &std::io::Error, path: &[u8]) -> FsError {
        if let Some(errno) = err.raw_os_error() {
            return match errno_name(errno) {
                Some((code, cause)) => FsError::new(code, cause, path),
                None => FsError::new("UNKNOWN", &format!("unknown error (errno {errno})"), path),
            };
        }
        // Not an OS error (constructed by std or by us): map the kind where it is unambiguous.
        use std::io::ErrorKind as K;
        let code = match err.kind() {
            K::NotFound => "ENOENT",
            K::PermissionDenied => "EACCES",
            K::AlreadyExists => "EEXIST",
            K::InvalidInput => "EINVAL",
            K::Interrupted => "EINTR",
            K::OutOfMemory => "ENOMEM",
            K::WriteZero | K::UnexpectedEof => "EIO",
            _ => "UNKNOWN",
        };
        FsError::new(code, &err.to_string().to_lowercase(), path)
    }

    /// Builds an error from an errno name, a lowercase cause and the path it concerns.
    pub fn new(code: &'static str, cause: &str, path: &[u8]) -> FsError {
        FsError {
            code,
            message: format!("{code}: {cause}: {}", display_path(path)),
        }
    }

    /// Converts a raw errno value about `path`.
    pub(crate) fn from_errno(errno: i32, path: &[u8]) -> FsError {
        FsError::from_io(&std::io::Error::from_raw_os_error(errno), path)
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FsError {}

/// A path for humans: lossy UTF-8, with a NUL byte shown as `\0`.
pub(crate) fn display_path(path: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(path);
    if lossy.contains('\0') {
        lossy.replace('\0', "\\0")
    } else {
        lossy.into_owned()
    }
}

/// errno -> (name, libuv's lowercase message). Linux aliases (EWOULDBLOCK = EAGAIN,
/// EOPNOTSUPP = ENOTSUP, EDEADLOCK = EDEADLK) resolve to the first name.
fn errno_name(errno: i32) -> Option<(&'static str, &'static str)> {
    // A table rather than a `match`: some constants are equal on one platform and distinct on
    // another, which a `match` would reject or warn about.
    const TABLE: &[(i32, &str, &str)] = &[
        (libc::ENOENT, "ENOENT", "no such file or directory"),
        (libc::EACCES, "EACCES", "permission denied"),
        (libc::EPERM, "EPERM", "operation not permitted"),
        (libc::EISDIR, "EISDIR", "illegal operation on a directory"),
        (libc::ENOTDIR, "ENOTDIR", "not a directory"),
        (libc::EEXIST, "EEXIST", "file already exists"),
        (libc::ENOSPC, "ENOSPC", "no space left on device"),
        (libc::EROFS, "EROFS", "read-only file system"),
        (libc::EMFILE, "EMFILE", "too many open files"),
        (libc::ENFILE, "ENFILE", "file table overflow"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG", "name too long"),
        (libc::ELOOP, "ELOOP", "too many symbolic links encountered"),
        (libc::EIO, "EIO", "i/o error"),
        (libc::EINVAL, "EINVAL", "invalid argument"),
        (libc::EFBIG, "EFBIG", "file too large"),
        (libc::EAGAIN, "EAGAIN", "resource temporarily unavailable"),
        (libc::EBUSY, "EBUSY", "resource busy or locked"),
        (libc::EXDEV, "EXDEV", "cross-device link not permitted"),
        (libc::ETXTBSY, "ETXTBSY", "text file is busy"),
        (libc::EDQUOT, "EDQUOT", "disk quota exceeded"),
        (libc::ENXIO, "ENXIO", "no such device or address"),
        (libc::ENODEV, "ENODEV", "no such device"),
        (libc::ENOMEM, "ENOMEM", "not enough memory"),
        (libc::EINTR, "EINTR", "interrupted system call"),
        (libc::EBADF, "EBADF", "bad file descriptor"),
        (
            libc::EFAULT,
            "EFAULT",
            "bad address in system call argument",
        ),
        (libc::ENOTEMPTY, "ENOTEMPTY", "directory not empty"),
        (libc::EMLINK, "EMLINK", "too many links"),
        (libc::ENOSYS, "ENOSYS", "function not implemented"),
        (
            libc::ENOTSUP,
            "ENOTSUP",
            "operation not supported on socket",
        ),
        (libc::EOPNOTSUPP, "EOPNOTSUPP", "operation not supported"),
        (
            libc::EOVERFLOW,
            "EOVERFLOW",
            "value too large for defined data type",
        ),
        (libc::ESPIPE, "ESPIPE", "invalid seek"),
        (libc::EPIPE, "EPIPE", "broken pipe"),
        (libc::ENOTTY, "ENOTTY", "inappropriate ioctl for device"),
        (libc::ESTALE, "ESTALE", "stale file handle"),
        (libc::ECANCELED, "ECANCELED", "operation canceled"),
        (libc::ETIMEDOUT, "ETIMEDOUT", "connection timed out"),
        (libc::EILSEQ, "EILSEQ", "illegal byte sequence"),
        (libc::ERANGE, "ERANGE", "result too large"),
        (libc::E2BIG, "E2BIG", "argument list too long"),
        (libc::ESRCH, "ESRCH", "no such process"),
        (libc::ECHILD, "ECHILD", "no child processes"),
        (libc::EDEADLK, "EDEADLK", "resource deadlock avoided"),
        (libc::ENOLCK, "ENOLCK", "no locks available"),
        (libc::ENOTSOCK, "ENOTSOCK", "socket operation on non-socket"),
        (libc::ECONNREFUSED, "ECONNREFUSED", "connection refused"),
        (libc::ECONNRESET, "ECONNRESET", "connection reset by peer"),
        (libc::ENOTCONN, "ENOTCONN", "socket is not connected"),
        (libc::EPROTO, "EPROTO", "protocol error"),
        (libc::ENOBUFS, "ENOBUFS", "no buffer space available"),
        (libc::EADDRINUSE, "EADDRINUSE", "address already in use"),
        (libc::EHOSTUNREACH, "EHOSTUNREACH", "host is unreachable"),
        (libc::ENETUNREACH, "ENETUNREACH", "network is unreachable"),
        (libc::ENETDOWN, "ENETDOWN", "network is down"),
    ];
    TABLE
        .iter()
        .find(|(n, _, _)| *n == errno)
        .map(|(_, name, cause)| (*name, *cause))
}
