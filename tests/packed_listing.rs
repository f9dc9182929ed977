//! `PackedListing::read` (one arena, integer-prefix sort) gives exactly what `read_dir` followed
//! by `PackedListing::pack` gives: same names, order, types and errors.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fscache::testing::entry_table::PackedListing;
use fscache::testing::fs::read_dir;

fn tmp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fscache-packed-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn both(p: &Path) -> (PackedListing, PackedListing) {
    let b = p.as_os_str().as_bytes();
    (
        PackedListing::pack(read_dir(b).unwrap()),
        PackedListing::read(b).unwrap(),
    )
}

#[test]
fn same_names_order_and_types_as_read_dir() {
    let d = tmp("order");
    // Shared 8-byte prefixes, prefixes of each other, short names, bytes >= 0x80 (unsigned
    // order), a name of 255 bytes, and every type we can make here.
    let mut names: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        b"ab".to_vec(),
        b"abcdefgh".to_vec(),
        b"abcdefgh0".to_vec(),
        b"abcdefghA".to_vec(),
        b"abcdefgg".to_vec(),
        b"abcdefgh\xff".to_vec(),
        b"\xc3\xa9t\xc3\xa9".to_vec(),
        b"\xff".to_vec(),
        b"Z".to_vec(),
        b"~".to_vec(),
        vec![b'x'; 255],
    ];
    for i in 0..300 {
        names.push(format!("e{:05}", (i * 7919) % 1000).into_bytes());
    }
    for n in &names {
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(n)), b"").unwrap();
    }
    std::fs::create_dir(d.join("dir")).unwrap();
    std::os::unix::fs::symlink("a", d.join("link")).unwrap();
    let (a, b) = both(&d);
    assert_eq!(a.names, b.names);
    assert_eq!(a.types, b.types);
    assert_eq!(a.len(), names.len() + 2);
    let listed: Vec<&[u8]> = b.iter().map(|(n, _)| n).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "not in bytewise order");
    let kinds: Vec<&str> = b.iter().map(|(_, k)| k).collect();
    assert!(kinds.contains(&"directory") && kinds.contains(&"link") && kinds.contains(&"file"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn empty_directory() {
    let d = tmp("empty");
    let (a, b) = both(&d);
    assert!(b.is_empty());
    assert_eq!(a.names, b.names);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn same_errors_as_read_dir() {
    let d = tmp("errors");
    std::fs::write(d.join("file"), b"x").unwrap();
    for p in [d.join("missing"), d.join("file")] {
        let b = p.as_os_str().as_bytes();
        let e1 = read_dir(b).unwrap_err();
        let e2 = PackedListing::read(b).err().unwrap();
        assert_eq!(e1.to_string(), e2.to_string());
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `listing` and a `SlicedListing` stepped with a zero budget (a GC between steps) give equal
/// tables; with the JIT filler installed (`jit`) and through the C API.
fn sliced_matches(jit: bool) {
    use fscache::testing::entry_table::{install, listing, SlicedListing};
    use mlua::prelude::*;
    use std::time::Duration;
    let d = tmp(if jit { "sliced-jit" } else { "sliced-capi" });
    for i in 0..1500 {
        std::fs::write(d.join(format!("f{i:05}")), b"").unwrap();
    }
    std::fs::create_dir(d.join("sub")).unwrap();
    let path = d.as_os_str().as_bytes();
    let lua = Lua::new();
    if jit {
        install(&lua).unwrap();
        let on: bool = lua
            .named_registry_value::<LuaValue>("fscache.listing_fill")
            .map(|v| !v.is_nil())
            .unwrap();
        assert!(on, "the JIT filler was not installed (JIT off?)");
    }
    let one = listing(&lua, path, &PackedListing::read(path).unwrap()).unwrap();
    let mut b = SlicedListing::new(path, PackedListing::read(path).unwrap());
    let mut steps = 0;
    let two = loop {
        steps += 1;
        if let Some(t) = b.step(&lua, Duration::ZERO).unwrap() {
            break t;
        }
        lua.gc_collect().unwrap();
    };
    assert!(b.is_finished());
    assert!(steps >= 5, "{steps} steps");
    assert!(b.step(&lua, Duration::ZERO).is_err());
    let e1: LuaTable = one.get("entries").unwrap();
    let e2: LuaTable = two.get("entries").unwrap();
    assert_eq!(e1.raw_len(), 1501);
    assert_eq!(e2.raw_len(), 1501);
    for i in 1..=1501 {
        let (a, b): (LuaTable, LuaTable) = (e1.get(i).unwrap(), e2.get(i).unwrap());
        for k in ["name", "type"] {
            assert_eq!(
                a.get::<LuaString>(k).unwrap().as_bytes(),
                b.get::<LuaString>(k).unwrap().as_bytes(),
                "entry {i} field {k}"
            );
        }
        assert_eq!(a.pairs::<LuaValue, LuaValue>().count(), 2);
        assert_eq!(b.pairs::<LuaValue, LuaValue>().count(), 2);
    }
    for k in ["path", "mtime", "mtime_nsec"] {
        let (a, b): (LuaValue, LuaValue) = (one.get(k).unwrap(), two.get(k).unwrap());
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{k}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Only LuaJIT has the JIT filler.
#[cfg(feature = "luajit")]
#[test]
fn sliced_listing_matches_one_shot_with_jit_filler() {
    sliced_matches(true);
}

#[test]
fn sliced_listing_matches_one_shot_through_c_api() {
    sliced_matches(false);
}

/// Creates a directory holding `names` (empty files) and checks that `PackedListing::read`
/// lists them as `read_dir` + `pack` does, in bytewise order.
fn sorted_like_read_dir(tag: &str, mut names: Vec<Vec<u8>>) {
    let d = tmp(tag);
    names.sort();
    names.dedup();
    for n in &names {
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(n)), b"").unwrap();
    }
    let (a, b) = both(&d);
    assert_eq!(a.names, b.names);
    let listed: Vec<Vec<u8>> = b.iter().map(|(n, _)| n.to_vec()).collect();
    assert_eq!(listed, names, "not in bytewise order");
    let _ = std::fs::remove_dir_all(&d);
}

/// Large listings are sorted by a radix pass over each name's first 8 bytes plus a comparison
/// sort of names sharing them: many long shared prefixes, names that are prefixes of others,
/// and keys differing only in their last byte must still come out in bytewise order, exactly as
/// `read_dir` sorts them.
#[test]
fn large_listing_with_shared_prefixes_is_sorted_bytewise() {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for i in 0..1200u32 {
        let k = (i * 7919) % 1200;
        names.push(format!("node_modules-{k}").into_bytes());
        names.push(format!("pkg{}", k % 97).into_bytes());
        names.push(vec![b'a' + (k % 26) as u8, 0x80 | (k % 128) as u8]);
    }
    sorted_like_read_dir("radix", names);
}

/// Directories whose entries all share a long prefix (`IMG_20240101_…`), with names that end
/// exactly where an 8-byte window of the radix pass ends and names that go on past it, runs of
/// equal windows several levels deep, and a few names without the prefix: bytewise order, as
/// `read_dir` sorts them.
#[test]
fn large_listing_with_a_long_common_prefix_is_sorted_bytewise() {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for i in 0..2000u32 {
        let k = (i * 7919) % 2000;
        names.push(format!("IMG_20240101_{k:06}.jpg").into_bytes());
        names.push(format!("IMG_20240101_{:06}", k % 500).into_bytes());
        names.push(format!("IMG_20240101_000000.jpg.{}", k % 300).into_bytes());
    }
    // Ends exactly at a window boundary (13 + 8 = 21 bytes), and the same plus more.
    names.push(b"IMG_20240101_00000000".to_vec());
    names.push(b"IMG_20240101_00000000\xff".to_vec());
    names.push(b"IMG_2024".to_vec());
    names.push(b"a".to_vec());
    sorted_like_read_dir("prefix", names);
}
