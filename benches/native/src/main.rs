//! `native` baseline for `make bench`: the physical limit of each workload, measured as a tight
//! loop of the same syscalls the Lua systems make (open/fstat/read/close, stat, readdir), on the
//! fixtures `benches/bench.lua` generated.
//!
//! Usage: `fscache-bench-native <fixtures-dir> <reps>`; prints one JSON line per workload:
//! `{"workload":..,"system":"native","per_op_us":[..],"ok":true}` (one figure per repetition,
//! after one warm-up). Layout of the fixtures: see `benches/lib/fixtures.lua`.

use std::ffi::{CStr, CString};
use std::time::Instant;

/// Number of 2 KiB files of W1/W2 (must match fixtures.lua).
const W1_FILES: usize = 2000;
/// Size of each W1 file.
const W1_SIZE: usize = 2048;
/// Number of JSON files of W3.
const W3_FILES: usize = 200;
/// Number of entries in the W4 directory.
const W4_ENTRIES: usize = 10_000;
/// Cold listings per W4 repetition.
const W4_COLD_OPS: usize = 5;
/// Hits per W4-cached repetition.
const W4_HIT_OPS: usize = 2000;

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in fixture paths")
}

/// open, fstat, read st_size bytes, close: what every system does for one cold file.
fn read_file(path: &CStr) -> Result<Vec<u8>, String> {
    // SAFETY: plain syscalls on a NUL-terminated path and a stat buffer we own.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(format!("open {:?} failed", path));
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            libc::close(fd);
            return Err("fstat failed".into());
        }
        let size = st.st_size as usize;
        let mut buf: Vec<u8> = Vec::with_capacity(size + 1);
        let n = libc::read(fd, buf.as_mut_ptr().cast(), size + 1);
        libc::close(fd);
        if n < 0 {
            return Err("read failed".into());
        }
        buf.set_len(n as usize);
        Ok(buf)
    }
}

/// stat(2): (ino, size, mtime ns) — what a stat-validated cache hit costs at least.
fn stat_id(path: &CStr) -> Option<(u64, i64, i64)> {
    // SAFETY: NUL-terminated path, stat buffer we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::stat(path.as_ptr(), &mut st) != 0 {
            return None;
        }
        Some((
            st.st_ino,
            st.st_size,
            st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
        ))
    }
}

/// opendir/readdir (d_type), names sorted: one directory listing.
fn list_dir(path: &CStr) -> Result<Vec<(Vec<u8>, u8)>, String> {
    // SAFETY: the DIR* is used by this thread only and closed once; d_name is NUL-terminated.
    unsafe {
        let dir = libc::opendir(path.as_ptr());
        if dir.is_null() {
            return Err("opendir failed".into());
        }
        let mut out = Vec::with_capacity(W4_ENTRIES);
        loop {
            let ent = libc::readdir(dir);
            if ent.is_null() {
                break;
            }
            let name = CStr::from_ptr((*ent).d_name.as_ptr()).to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            out.push((name.to_vec(), (*ent).d_type));
        }
        libc::closedir(dir);
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Runs `body` once as a warm-up and then `reps` times; prints per-op µs of each repetition.
fn bench(name: &str, reps: usize, ops: usize, mut body: impl FnMut() -> Result<(), String>) {
    let mut per_op = Vec::with_capacity(reps);
    let mut ok = body().map_err(|e| eprintln!("{name}: {e}")).is_ok();
    for _ in 0..reps {
        let t0 = Instant::now();
        let r = body();
        let dt = t0.elapsed();
        if let Err(e) = r {
            eprintln!("{name}: {e}");
            ok = false;
        }
        per_op.push(dt.as_secs_f64() * 1e6 / ops as f64);
    }
    let figures: Vec<String> = per_op.iter().map(|v| format!("{v:.3}")).collect();
    println!(
        "{{\"workload\":\"{name}\",\"system\":\"native\",\"ops\":{ops},\"per_op_us\":[{}],\"ok\":{ok}}}",
        figures.join(",")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: fscache-bench-native <fixtures-dir> <reps>");
        std::process::exit(2);
    }
    let root = &args[1];
    let reps: usize = args[2].parse().expect("reps: a number");
    let w1: Vec<CString> = (0..W1_FILES)
        .map(|i| cstr(&format!("{root}/w1/f{i:04}.txt")))
        .collect();
    let w3: Vec<CString> = (0..W3_FILES)
        .map(|i| cstr(&format!("{root}/w3/d{i:03}.json")))
        .collect();
    let w4 = cstr(&format!("{root}/w4"));

    let cold = || {
        for p in &w1 {
            let data = read_file(p)?;
            if data.len() != W1_SIZE {
                return Err(format!("{p:?}: {} bytes", data.len()));
            }
        }
        Ok(())
    };
    bench("W1-seq", reps, W1_FILES, cold);
    bench("W1-conc", reps, W1_FILES, cold);

    let ids: Vec<_> = w1.iter().map(|p| stat_id(p)).collect();
    let hits = || {
        for (p, id) in w1.iter().zip(&ids) {
            if stat_id(p) != *id || id.is_none() {
                return Err(format!("{p:?} changed"));
            }
        }
        Ok(())
    };
    bench("W2-seq", reps, W1_FILES, hits);
    bench("W2-conc", reps, W1_FILES, hits);

    bench("W3", reps, W3_FILES, || {
        for p in &w3 {
            let data = read_file(p)?;
            let v: serde_json::Value =
                serde_json::from_slice(&data).map_err(|e| format!("{p:?}: {e}"))?;
            if v["items"].as_array().map_or(0, |a| a.len()) == 0 {
                return Err(format!("{p:?}: no items"));
            }
        }
        Ok(())
    });

    bench("W4-cold", reps, W4_COLD_OPS, || {
        for _ in 0..W4_COLD_OPS {
            let l = list_dir(&w4)?;
            if l.len() != W4_ENTRIES {
                return Err(format!("{} entries", l.len()));
            }
        }
        Ok(())
    });
    let dir_id = stat_id(&w4);
    bench("W4-cached", reps, W4_HIT_OPS, || {
        for _ in 0..W4_HIT_OPS {
            if dir_id.is_none() || stat_id(&w4) != dir_id {
                return Err("directory changed".into());
            }
        }
        Ok(())
    });
}
