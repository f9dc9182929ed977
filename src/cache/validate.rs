//! What a read job does on the pool (no Lua): make sure the watches exist, validate against the
//! cached identity, read in full if needed. The watches go in before anything is looked at
//! (see `crate::watch`).

use crate::fs::{stat_path, stat_path_plain, FsError, Identity, Timestamp};
use crate::watch::{Kind, Plan, Setup};

use super::loader::Loader;

/// How long after a file's last change its cached copy is re-checked by content even when the
/// identity matches: file-system timestamps are coarse (a kernel tick), so two writes inside one
/// tick can leave size, mtime and ctime equal ("racily clean", as git calls it).
const RACY_WINDOW_NS: i128 = 50_000_000;
/// The same window for file systems that store whole seconds only.
const RACY_WINDOW_COARSE_NS: i128 = 2_000_000_000;

fn ns(t: Timestamp) -> i128 {
    t.sec as i128 * 1_000_000_000 + t.nsec as i128
}

/// True when a change after `read_at` could have left `id` unchanged.
pub fn is_racy(id: &Identity, read_at: Timestamp) -> bool {
    let changed = ns(id.mtime).max(ns(id.ctime));
    let window = if id.mtime.nsec == 0 && id.ctime.nsec == 0 {
        RACY_WINDOW_COARSE_NS
    } else {
        RACY_WINDOW_NS
    };
    ns(read_at) - changed < window
}

/// Outcome of one read job.
pub enum Outcome<D> {
    /// The identity matched the cached one (and was not racy).
    Unchanged,
    /// A full read.
    Fresh(D),
    /// The read failed.
    Failed(FsError),
}

/// What a read job hands back: the outcome and, when it was watched, what it set up.
pub type JobOutput<D> = (Outcome<D>, Option<Setup>);

/// Runs a read job: watches first (if `plan`), then validation against `known`, then the read.
pub fn run_job<L: Loader>(
    path: &[u8],
    mode: L::Mode,
    known: Option<(Identity, Timestamp)>,
    max_size: u64,
    plan: Option<Plan>,
) -> JobOutput<L::Data> {
    let mut setup = plan.as_ref().map(|p| p.setup(path));
    let known = if L::READ_VALIDATES { None } else { known };
    if let Some((id, read_at)) = known {
        let stat = match (L::KIND, &setup) {
            (Kind::File, Some(_)) => stat_path_plain(path),
            _ => stat_path(path).map(|id| (id, true)),
        };
        match stat {
            Err(e) => return (Outcome::Failed(e), setup),
            Ok((now, plain)) if now == id && !is_racy(&id, read_at) => {
                if let (Some(p), Some(s)) = (&plan, &mut setup) {
                    p.confirm(s, now.dev, plain, path);
                }
                return (Outcome::Unchanged, setup);
            }
            Ok(_) => {}
        }
    }
    let outcome = match &plan {
        Some(p) => match L::read_watched(path, mode, max_size) {
            Ok((d, plain)) => {
                if let Some(s) = &mut setup {
                    L::confirm_watch(p, s, &d, plain, path);
                }
                Outcome::Fresh(d)
            }
            Err(e) => Outcome::Failed(e),
        },
        None => match L::read(path, mode, max_size) {
            Ok(d) => Outcome::Fresh(d),
            Err(e) => Outcome::Failed(e),
        },
    };
    (outcome, setup)
}
