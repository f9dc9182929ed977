//! Pure Rust file-system operations run on the pool: no Lua in here.
//!
//! Every function takes a path as raw bytes (what Lua hands us) and returns plain data or an
//! [`FsError`] whose message names the path and the cause, luv style:
//! `ENOENT: no such file or directory: /x`.

mod dir;
mod dir_sync;
mod error;
mod identity;
mod read;
mod write;

pub use dir::{read_dir, scan_dir, DirListing, EntryKind};
pub use error::FsError;
pub use identity::{now_realtime, Identity, Timestamp};
pub use read::{read_file, read_file_plain, stat_path, stat_path_meta, stat_path_plain, FileData};
pub use write::{remove_unfinished_temps, write_atomic, write_atomic_with, write_visible};
