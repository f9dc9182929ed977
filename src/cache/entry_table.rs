//! Building the entry and listing tables handed to Lua, through the raw C API. The high-level `Table::raw_set` costs a protected call, a key conversion and
//! several stack checks per field; profiles showed table building as the largest main-thread
//! cost of a cold read (~12k instructions per 2 KiB entry, 10,000-entry listings in
//! milliseconds). Here a field costs a push and a `lua_setfield`.

use std::ffi::CStr;

use std::time::{Duration, Instant};

use mlua::ffi;
use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fs::{scan_dir, DirListing, EntryKind, FsError, Identity, Timestamp};
use crate::lua_util::with_stack;

/// A directory listing packed on the pool thread, so the Lua thread neither copies nor frees
/// 10,000 small names: each name followed by a NUL byte, and one type byte per entry
/// (1-based index into the luv type words).
pub struct PackedListing {
    /// Names in order, each followed by `\0` (names never contain NUL).
    pub names: Vec<u8>,
    /// One byte per entry: 1 file, 2 directory, 3 link, 4 fifo, 5 socket, 6 char, 7 block,
    /// 8 unknown.
    pub types: Vec<u8>,
    /// Identity of the directory (fstat before reading).
    pub identity: Identity,
    /// When it was read.
    pub read_at: Timestamp,
}

/// One entry while a directory is read: where its name sits in the arena, and a sort key.
#[derive(Clone, Copy, Default)]
struct Rec {
    /// 8 bytes of the name, big-endian, zero-padded, from the offset the sort is at (see
    /// [`sort_recs`]): comparing keys orders names bytewise unless they share those 8 bytes
    /// (names never contain NUL, so padding sorts a shorter name first, as bytewise order does).
    key: u64,
    start: u32,
    len: u32,
    kind: u8,
}

/// The 8 bytes of `name` from `off` (zero-padded past its end), as a big-endian integer.
fn sort_key(name: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    if off < name.len() {
        let n = (name.len() - off).min(8);
        b[..n].copy_from_slice(&name[off..off + n]);
    }
    u64::from_be_bytes(b)
}

/// Below this many entries a comparison sort beats the radix sort's fixed cost.
const RADIX_MIN: usize = 256;

/// Sorts `recs` (keyed on their first 8 bytes) bytewise by name: by key with the `radsort`
/// crate's least-significant-digit radix sort, then each large run of equal keys the same way on
/// 8 bytes of each name taken just after the prefix all names of the run share (and so on), small
/// runs by comparison. Names within one directory are unique, so the order is fully determined.
///
/// Why not only `sort_unstable_by`: for a 10,000-entry directory the comparison sort cost about
/// 2.3M instructions on the pool thread, most of a listing's user-space time. Why the shared
/// prefix: real directories often name every entry alike (`IMG_20240101_…`, `entry_00001.txt`);
/// keyed on the first 8 bytes, such a listing is one run of equal keys, and the comparison sort
/// of that run cost 6.8M instructions per 10,000-entry listing (callgrind, pool thread).
fn sort_recs<'a>(recs: &mut [Rec], name_of: impl Fn(&Rec) -> &'a [u8] + Copy) {
    if recs.len() < RADIX_MIN {
        recs.sort_unstable_by(|a, b| name_of(a).cmp(name_of(b)));
        return;
    }
    // The keys of the first 8 bytes were taken while the names were read (still in cache).
    radsort::sort_by_key(recs, |r| r.key);
    sort_ties(recs, 8, name_of);
}

/// Sorts each run of equal keys of `recs` (sorted by key; a run's names share their first
/// `off` bytes) with [`sort_run`].
fn sort_ties<'a>(recs: &mut [Rec], off: usize, name_of: impl Fn(&Rec) -> &'a [u8] + Copy) {
    let n = recs.len();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && recs[j].key == recs[i].key {
            j += 1;
        }
        if j - i > 1 {
            sort_run(&mut recs[i..j], off, name_of);
        }
        i = j;
    }
}

/// [`sort_recs`] for a run whose names all share their first `off` bytes.
fn sort_run<'a>(recs: &mut [Rec], off: usize, name_of: impl Fn(&Rec) -> &'a [u8] + Copy) {
    if recs.len() < RADIX_MIN {
        let tail = |r: &Rec| name_of(r).get(off..).unwrap_or_default();
        recs.sort_unstable_by(|a, b| tail(a).cmp(tail(b)));
        return;
    }
    // Skip what the whole run shares beyond `off`.
    let first = name_of(&recs[0]);
    let mut shared = first.len();
    for r in recs.iter().skip(1) {
        let name = name_of(r);
        let same = first
            .get(off..shared)
            .unwrap_or_default()
            .iter()
            .zip(name.get(off..).unwrap_or_default())
            .take_while(|(a, b)| a == b)
            .count();
        shared = off + same;
        if same == 0 {
            break;
        }
    }
    let at = shared;
    for r in recs.iter_mut() {
        r.key = sort_key(name_of(r), at);
    }
    radsort::sort_by_key(recs, |r| r.key);
    // Runs of equal keys: names that also share the 8 bytes from `at` (so both go on past them).
    sort_ties(recs, at + 8, name_of);
}

impl PackedListing {
    /// Reads and packs the sorted listing of `path` (pool thread): same entries, order and
    /// errors as [`read_dir`](crate::fs::read_dir) followed by [`PackedListing::pack`], without
    /// one allocation per name, and sorted on an integer prefix of each name first.
    pub fn read(path: &[u8]) -> Result<PackedListing, FsError> {
        let mut arena: Vec<u8> = Vec::new();
        let mut recs: Vec<Rec> = Vec::new();
        let mut too_big = false;
        let (identity, read_at) = scan_dir(path, |name, kind| {
            let (Ok(start), Ok(len)) = (u32::try_from(arena.len()), u32::try_from(name.len()))
            else {
                too_big = true;
                return;
            };
            recs.push(Rec {
                key: sort_key(name, 0),
                start,
                len,
                kind: kind.code(),
            });
            arena.extend_from_slice(name);
        })?;
        if too_big {
            return Err(FsError::from_errno(libc::EOVERFLOW, path));
        }
        let name_of = |r: &Rec| &arena[r.start as usize..(r.start + r.len) as usize];
        sort_recs(&mut recs, name_of);
        let mut names = Vec::with_capacity(arena.len() + recs.len());
        let mut types = Vec::with_capacity(recs.len());
        for r in &recs {
            names.extend_from_slice(name_of(r));
            names.push(0);
            types.push(r.kind);
        }
        Ok(PackedListing {
            names,
            types,
            identity,
            read_at,
        })
    }

    /// Packs a sorted listing (pool thread).
    pub fn pack(l: DirListing) -> PackedListing {
        let size = l.entries.iter().map(|e| e.name.len() + 1).sum();
        let mut names = Vec::with_capacity(size);
        let mut types = Vec::with_capacity(l.entries.len());
        for e in &l.entries {
            names.extend_from_slice(&e.name);
            names.push(0);
            types.push(e.kind.code());
        }
        PackedListing {
            names,
            types,
            identity: l.identity,
            read_at: l.read_at,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// True for an empty directory.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// (name, type word) of each entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &'static str)> {
        self.names
            .split(|b| *b == 0)
            .zip(self.types.iter())
            .map(|(n, t)| (n, EntryKind::from_code(*t).as_str()))
    }

    /// Bytes of names (for `stats().bytes`).
    pub fn name_bytes(&self) -> u64 {
        (self.names.len() - self.types.len()) as u64
    }
}

/// # Safety
/// Lua thread, with room for one more value on the stack.
unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: as the caller promised; `b` outlives the call (Lua copies it).
    unsafe { ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len()) };
}

/// # Safety
/// Lua thread, a table on top of the stack, room for one more value.
unsafe fn set_int(l: *mut ffi::lua_State, key: &CStr, v: i64) {
    // SAFETY: as the caller promised; `key` is NUL-terminated.
    unsafe {
        ffi::lua_pushinteger(l, v as ffi::lua_Integer);
        ffi::lua_setfield(l, -2, key.as_ptr());
    }
}

/// Runs `build` on the raw state; it must leave exactly one new table on top of the stack,
/// which is popped into a handle. No protected call: like the rest of the module
/// (`skip_memory_check`), an allocation failure raises a Lua error through this frame.
fn build_table(
    lua: &Lua,
    slots: i32,
    build: impl FnOnce(*mut ffi::lua_State),
) -> LuaResult<LuaTable> {
    with_stack(lua, slots, |raw, l| {
        // SAFETY: `build` pushes one table (checked) within the checked room; it is popped into
        // a handle (`with_stack` resets the stack on every path).
        unsafe {
            let top = ffi::lua_gettop(l);
            build(l);
            if ffi::lua_gettop(l) != top + 1 || ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                return Err(LuaError::runtime(
                    "fscache: internal error building a table",
                ));
            }
            match raw.pop_value() {
                LuaValue::Table(t) => Ok(t),
                _ => Err(LuaError::runtime(
                    "fscache: internal error building a table",
                )),
            }
        }
    })
}

/// `{ path, content, mtime, mtime_nsec, size }` of a file read.
pub fn file_entry(lua: &Lua, path: &[u8], content: &[u8], id: &Identity) -> LuaResult<LuaTable> {
    build_table(lua, 4, |l| {
        // SAFETY: pushes at most 2 values above the new table; leaves the table.
        unsafe {
            ffi::lua_createtable(l, 0, 7);
            push_bytes(l, path);
            ffi::lua_setfield(l, -2, c"path".as_ptr());
            push_bytes(l, content);
            ffi::lua_setfield(l, -2, c"content".as_ptr());
            set_int(l, c"mtime", id.mtime.sec);
            set_int(l, c"mtime_nsec", id.mtime.nsec);
            set_int(l, c"size", content.len() as i64);
        }
    })
}

/// Registry name of the JIT-compiled listing builder (`src/lua/listing.lua`).
const LISTING_BUILDER: &CStr = c"fscache.listing_builder";

/// Installs the Lua listing builder when LuaJIT's JIT is on (elsewhere the C API loop below is
/// faster than interpreted Lua).
pub fn install(lua: &Lua) -> LuaResult<()> {
    let jit_on: bool = lua
        .load("return type(jit) == 'table' and jit.status and (jit.status()) == true")
        .eval()
        .unwrap_or(false);
    if !jit_on {
        return Ok(());
    }
    let (builder, fill): (LuaFunction, LuaFunction) = lua
        .load(include_str!("../lua/listing.lua"))
        .set_name("=fscache/listing.lua")
        .call(())?;
    lua.set_named_registry_value(LISTING_FILL, fill)?;
    lua.set_named_registry_value(
        LISTING_BUILDER
            .to_str()
            .unwrap_or("fscache.listing_builder"),
        builder,
    )
}

/// Registry name of the JIT-compiled range filler (`fill` in `src/lua/listing.lua`).
const LISTING_FILL: &str = "fscache.listing_fill";

/// `{ path, mtime, mtime_nsec, entries = { {name=, type=}, ... } }` of a directory listing.
pub fn listing(lua: &Lua, path: &[u8], l: &PackedListing) -> LuaResult<LuaTable> {
    let builder: Option<LuaFunction> = lua
        .named_registry_value(LISTING_BUILDER.to_str().unwrap_or(""))
        .unwrap_or(None);
    if let Some(builder) = builder {
        return builder.call((
            lua.create_string(path)?,
            l.identity.mtime.sec,
            l.identity.mtime.nsec,
            lua.create_string(&l.names)?,
            lua.create_string(&l.types)?,
            l.len(),
        ));
    }
    listing_capi(lua, path, l)
}

/// [`listing`] through the C API (interpreters without a JIT).
fn listing_capi(lua: &Lua, path: &[u8], l: &PackedListing) -> LuaResult<LuaTable> {
    let id = &l.identity;
    build_table(lua, 20, |st| {
        // SAFETY: the stack holds the 8 type words, 2 keys, the listing, the entries array and
        // one entry table plus a key and a value at a time (15 slots); only the listing is left.
        unsafe {
            let base = ffi::lua_gettop(st);
            for k in EntryKind::ALL {
                push_bytes(st, k.as_str().as_bytes());
            }
            // The two keys, pushed once: a raw set with a key already on the stack skips
            // interning the key string and the metamethod check for every entry.
            push_bytes(st, b"name");
            push_bytes(st, b"type");
            ffi::lua_createtable(st, 0, 4);
            let out = ffi::lua_gettop(st);
            push_bytes(st, path);
            ffi::lua_setfield(st, out, c"path".as_ptr());
            set_int(st, c"mtime", id.mtime.sec);
            set_int(st, c"mtime_nsec", id.mtime.nsec);
            let n = i32::try_from(l.len()).unwrap_or(i32::MAX);
            ffi::lua_createtable(st, n, 0);
            let entries = ffi::lua_gettop(st);
            fill_range(st, base, entries, l, 0, 0, l.len());
            ffi::lua_setfield(st, out, c"entries".as_ptr());
            // Leave only the listing.
            ffi::lua_replace(st, base + 1);
            ffi::lua_settop(st, base + 1);
        }
    })
}

/// Stores entries `from..to` (0-based, end excluded) of `l` into the table at absolute stack
/// index `entries`, through the C API; their names start at byte `start` of `l.names`. The 8
/// type words sit at `base + 1..=base + 8` and the keys "name" / "type" at `base + 9` /
/// `base + 10`. Returns the byte position of the next name. Pushes at most 3 values at a time.
///
/// # Safety
/// Lua main thread; the stack is laid out as described, with room for 3 more values.
unsafe fn fill_range(
    st: *mut ffi::lua_State,
    base: i32,
    entries: i32,
    l: &PackedListing,
    mut start: usize,
    from: usize,
    to: usize,
) -> usize {
    let (name_key, type_key) = (base + 9, base + 10);
    for i in from..to {
        let t = l.types[i];
        let end = start + l.names[start..].iter().position(|b| *b == 0).unwrap_or(0);
        // SAFETY: the caller's contract (Lua thread, the stack layout and room it describes).
        unsafe {
            ffi::lua_createtable(st, 0, 2);
            ffi::lua_pushvalue(st, name_key);
            push_bytes(st, &l.names[start..end]);
            ffi::lua_rawset(st, -3);
            ffi::lua_pushvalue(st, type_key);
            ffi::lua_pushvalue(st, base + (t as i32).clamp(1, 8));
            ffi::lua_rawset(st, -3);
            ffi::lua_rawseti(st, entries, (i + 1) as _);
        }
        start = end + 1;
    }
    start
}

/// Entries stored per call of the filler between two looks at the clock.
const LISTING_CHUNK: usize = 256;

/// A listing table built a slice at a time, for directories so large that building all entry
/// tables at once would stall the loop (10,000 entries take about 0.5 ms; a million, 50).
///
/// Call [`step`](SlicedListing::step) from the main thread, once per loop turn, until it returns
/// the listing; the same table shape as [`listing`], built by the same code (the JIT filler of
/// `src/lua/listing.lua` when the JIT is on, the C API otherwise). The entries array waits in
/// the registry between steps. No borrow is held across steps.
pub struct SlicedListing {
    path: Vec<u8>,
    data: PackedListing,
    /// Next entry to store (0-based).
    next: usize,
    /// Byte position of its name in `data.names`.
    pos: usize,
    /// The entries array, then (JIT filler only) the names and types strings.
    held: Option<(RegistryKey, Option<(RegistryKey, RegistryKey)>)>,
    finished: bool,
}

impl SlicedListing {
    /// Prepares the listing of `path` from `data`; nothing touches Lua until the first step.
    pub fn new(path: &[u8], data: PackedListing) -> SlicedListing {
        SlicedListing {
            path: path.to_vec(),
            data,
            next: 0,
            pos: 0,
            held: None,
            finished: false,
        }
    }

    /// The packed listing (identity, bytes) the table is built from.
    pub fn data(&self) -> &PackedListing {
        &self.data
    }

    /// Gives the packed listing back (e.g. once the table is built).
    pub fn into_data(self) -> PackedListing {
        self.data
    }

    /// True once [`step`](SlicedListing::step) returned the listing or an error.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Stores entries for about `budget` (at least 256 per call); returns `Ok(Some(listing))`
    /// once every entry is stored, `Ok(None)` while more steps are needed. A step after the end
    /// is an error.
    pub fn step(&mut self, lua: &Lua, budget: Duration) -> LuaResult<Option<LuaTable>> {
        if self.finished {
            return Err(LuaError::runtime(
                "fscache: SlicedListing::step called after the listing was built",
            ));
        }
        let r = self.step_inner(lua, Instant::now() + budget);
        if !matches!(r, Ok(None)) {
            self.finished = true;
            if let Some((e, strings)) = self.held.take() {
                lua.remove_registry_value(e)?;
                if let Some((n, t)) = strings {
                    lua.remove_registry_value(n)?;
                    lua.remove_registry_value(t)?;
                }
            }
        }
        r
    }

    fn step_inner(&mut self, lua: &Lua, deadline: Instant) -> LuaResult<Option<LuaTable>> {
        let n = self.data.len();
        let fill: Option<LuaFunction> = lua.named_registry_value(LISTING_FILL).unwrap_or(None);
        if self.held.is_none() {
            let entries = lua.create_table_with_capacity(n, 0)?;
            let strings = match fill {
                Some(_) => Some((
                    lua.create_registry_value(lua.create_string(&self.data.names)?)?,
                    lua.create_registry_value(lua.create_string(&self.data.types)?)?,
                )),
                None => None,
            };
            self.held = Some((lua.create_registry_value(entries)?, strings));
        }
        let Some((entries_key, strings)) = &self.held else {
            return Err(LuaError::runtime(
                "fscache: internal error (sliced listing)",
            ));
        };
        let entries: LuaTable = lua.registry_value(entries_key)?;
        let strings: Option<(LuaString, LuaString)> = match strings {
            Some((nk, tk)) => Some((lua.registry_value(nk)?, lua.registry_value(tk)?)),
            None => None,
        };
        while self.next < n {
            let to = (self.next + LISTING_CHUNK).min(n);
            match (&fill, &strings) {
                (Some(f), Some((names, types))) => {
                    let pos: usize =
                        f.call((&entries, names, types, self.pos + 1, self.next + 1, to))?;
                    self.pos = pos.saturating_sub(1);
                }
                _ => {
                    let (data, pos, from) = (&self.data, &mut self.pos, self.next);
                    // SAFETY: slot 1 is the entries table; the 10 words and keys plus 3 values
                    // fit after the check; the stack is emptied before returning.
                    unsafe {
                        lua.exec_raw::<()>(&entries, |st| {
                            if ffi::lua_checkstack(st, 16) == 0 {
                                return;
                            }
                            let base = ffi::lua_gettop(st);
                            for k in EntryKind::ALL {
                                push_bytes(st, k.as_str().as_bytes());
                            }
                            push_bytes(st, b"name");
                            push_bytes(st, b"type");
                            *pos = fill_range(st, base, 1, data, *pos, from, to);
                            ffi::lua_settop(st, 0);
                        })?;
                    }
                }
            }
            // A filler that could not run (stack) leaves holes; never claim progress for it.
            if entries.raw_len() < to {
                return Err(LuaError::runtime("fscache: could not build the listing"));
            }
            self.next = to;
            if self.next < n && Instant::now() >= deadline {
                return Ok(None);
            }
        }
        let out = lua.create_table_with_capacity(0, 4)?;
        out.raw_set("path", lua.create_string(&self.path)?)?;
        out.raw_set("mtime", self.data.identity.mtime.sec)?;
        out.raw_set("mtime_nsec", self.data.identity.mtime.nsec)?;
        out.raw_set("entries", entries)?;
        Ok(Some(out))
    }
}
