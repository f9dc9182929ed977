//! The cache engine and the two userdata classes built on it.
//!
//! | file | holds |
//! | --- | --- |
//! | `engine.rs` | [`Core`]: gets (hit, fast hit, miss), coalescing, barriers, stats |
//! | `entries.rs` | the entry store and its S3-FIFO eviction within `max_bytes` |
//! | `jobs.rs` | reads in flight and their waiters, posted hits, read-your-writes barriers |
//! | `batch.rs` | `get_many`: many paths, one callback |
//! | `validate.rs` | what a read job runs on the pool (watch setup, stat validation, read) |
//! | `writes.rs` | FileCache writes: payload, lane job, coalescing, storing what was written |
//! | `loader.rs` | the [`Loader`] trait: the kind-specific half of a cache |
//! | `options.rs` | constructor options and defaults |
//! | `file.rs`, `dir.rs` | `FileCache` and `DirectoryCache` (loader + userdata) |
//! | `methods.rs` | the userdata methods both classes share |
//! | `stat.rs` | the metadata cache: cached `stat` answers (missing paths included) |
//! | `root.rs` | root lookups (`vim.fs.root`'s walk) over cached stats, and their cache |
//! | `entry_table.rs` | building entry and listing tables through the raw C API |

mod batch;
mod dir;
mod engine;
mod entries;
pub mod entry_table;
mod file;
mod jobs;
mod loader;
mod methods;
pub mod options;
mod root;
mod stat;
mod validate;
mod writes;

pub use dir::DirectoryCache;
pub use file::FileCache;
pub use stat::{Meta, MetaHandle};
pub use validate::is_racy;
