//! The wake-up descriptor: eventfd on Linux, a non-blocking pipe elsewhere.
//!
//! Workers write it once per batch of completions; the Lua side watches the read end with
//! `uv.new_poll` (or blocks on it with [`Waker::wait`]). The descriptor lives as long as the
//! last `Arc` holding it, so a late worker never writes to a reused fd number.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Owner of the wake-up descriptor(s).
pub struct Waker {
    read_fd: RawFd,
    write_fd: RawFd,
}

impl Waker {
    /// Creates the descriptor (close-on-exec, non-blocking).
    pub fn new() -> io::Result<Waker> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain syscall, no pointers.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Waker {
                read_fd: fd,
                write_fd: fd,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut fds = [0 as RawFd; 2];
            // SAFETY: fds has room for two descriptors.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            for fd in fds {
                // SAFETY: fd was just returned by pipe().
                unsafe {
                    libc::fcntl(
                        fd,
                        libc::F_SETFL,
                        libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
                    );
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(Waker {
                read_fd: fds[0],
                write_fd: fds[1],
            })
        }
    }

    /// The descriptor that becomes readable when results wait.
    pub fn fd(&self) -> RawFd {
        self.read_fd
    }

    /// Makes the descriptor readable (any thread).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; a full pipe/eventfd (EAGAIN) is already readable.
        unsafe {
            libc::write(self.write_fd, (&one as *const u64).cast(), 8);
        }
    }

    /// Resets the descriptor to not readable (Lua thread; the poll is level-triggered).
    pub fn reset(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a live buffer of the given length. One read resets an eventfd's
        // counter; a pipe is read until EAGAIN.
        unsafe {
            while libc::read(self.read_fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {
                if cfg!(target_os = "linux") {
                    break;
                }
            }
        }
    }

    /// Blocks until the descriptor is readable or `timeout` passes; true if readable.
    pub fn wait(&self, timeout: Duration) -> bool {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd: self.read_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n >= 0 {
                return n > 0;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // SAFETY: we own these descriptors and close them exactly once.
        unsafe {
            libc::close(self.read_fd);
            if self.write_fd != self.read_fd {
                libc::close(self.write_fd);
            }
        }
    }
}
