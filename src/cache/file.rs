//! `FileCache`: whole-file contents (and decoded JSON) validated by file identity, plus atomic
//! writes that update the cache from what was written.

use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::ffi;
use mlua::prelude::*;
use mlua::{RegistryKey, UserData, UserDataMethods};

use crate::fs::{read_file, read_file_plain, FileData, FsError, Identity, Timestamp};
use crate::json;
use crate::lua_util::{callback_arg, path_arg, with_stack};
use crate::watch::Kind;

use super::engine::Core;
use super::loader::{Built, Loader, Memo};
use super::methods::{add_common_methods, HasCore};
use super::options::{self, Class};
use super::writes::{self, WriteCallbacks};

/// What a file get returns: the entry, or its decoded JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FileMode {
    /// The entry table.
    Plain,
    /// The decoded JSON value (`jsonc`: comments and trailing commas allowed).
    Json {
        /// Accept comments and trailing commas.
        jsonc: bool,
    },
}

const MEMO_JSON: Memo = 1;
const MEMO_JSONC: Memo = 2;

/// One read: the file and, in JSON mode, its parse.
pub struct FileRead {
    /// The bytes and identity.
    pub file: FileData,
    /// The parse, when JSON was asked for.
    pub json: Option<Result<json::JsonDoc, json::JsonError>>,
}

impl FileRead {
    /// The read plus, in JSON mode, its parse (pool thread).
    pub(super) fn parse(file: FileData, mode: FileMode, path: &[u8]) -> FileRead {
        let json = match mode {
            FileMode::Plain => None,
            FileMode::Json { jsonc } => Some(json::decode_doc(&file.content, jsonc, path)),
        };
        FileRead { file, json }
    }
}

/// JSON documents with more nodes than this are converted a slice at a time by async gets
/// (35-45 ns a node measured here on the lockfile fixture: a one-shot conversion of this many
/// holds the loop for about 0.6 ms, a quarter of the default 2 ms slice).
pub const JSON_SLICE_NODES: usize = 16_000;

/// The entry of a JSON get built a slice at a time: the entry table (made at the first step),
/// then the document, converted by a [`json::SlicedBuild`].
pub struct FileSlices {
    path: Vec<u8>,
    /// The content, until the entry table holds it.
    content: Vec<u8>,
    bytes: u64,
    identity: Identity,
    jsonc: bool,
    entry: Option<RegistryKey>,
    build: json::SlicedBuild,
}

/// The file half of the cache engine.
pub struct FileLoader;

impl Loader for FileLoader {
    const KIND: Kind = Kind::File;
    type Data = FileRead;
    type Mode = FileMode;

    fn read(path: &[u8], mode: FileMode, max_size: u64) -> Result<FileRead, FsError> {
        let file = read_file(path, max_size)?;
        Ok(FileRead::parse(file, mode, path))
    }

    fn read_watched(
        path: &[u8],
        mode: FileMode,
        max_size: u64,
    ) -> Result<(FileRead, bool), FsError> {
        let (file, plain) = read_file_plain(path, max_size)?;
        Ok((FileRead::parse(file, mode, path), plain))
    }

    fn identity(data: &FileRead) -> (Identity, Timestamp) {
        (data.file.identity, data.file.read_at)
    }

    fn build(lua: &Lua, path: &[u8], data: FileRead, mode: FileMode) -> LuaResult<Built> {
        let id = data.file.identity;
        let t = super::entry_table::file_entry(lua, path, &data.file.content, &id)?;
        let mut memo = 0;
        let mut failure = None;
        let mut parsed = false;
        match (data.json, mode) {
            (Some(Ok(doc)), FileMode::Json { jsonc }) => {
                let ctx = json::ctx(lua)?;
                t.raw_set("json", json::doc_to_lua(lua, &doc, &ctx)?)?;
                memo = if jsonc { MEMO_JSONC } else { MEMO_JSON };
                parsed = true;
            }
            (Some(Err(e)), _) => {
                failure = Some(FsError {
                    code: "EJSON",
                    message: e.message,
                })
            }
            _ => {}
        }
        Ok(Built {
            table: t,
            bytes: data.file.content.len() as u64,
            memo,
            failure,
            parsed,
        })
    }

    type Slices = FileSlices;

    fn slices(path: &[u8], data: FileRead, mode: FileMode) -> Result<FileSlices, FileRead> {
        let jsonc = match mode {
            FileMode::Json { jsonc } => jsonc,
            FileMode::Plain => return Err(data),
        };
        match data.json {
            Some(Ok(doc)) if doc.node_count() > JSON_SLICE_NODES => Ok(FileSlices {
                path: path.to_vec(),
                bytes: data.file.content.len() as u64,
                content: data.file.content,
                identity: data.file.identity,
                jsonc,
                entry: None,
                build: json::SlicedBuild::new(doc),
            }),
            json => Err(FileRead {
                file: data.file,
                json,
            }),
        }
    }

    fn step(lua: &Lua, s: &mut FileSlices, budget: Duration) -> LuaResult<Option<Built>> {
        let start = Instant::now();
        let entry = match &s.entry {
            Some(k) => lua.registry_value::<LuaTable>(k)?,
            None => {
                let t = super::entry_table::file_entry(lua, &s.path, &s.content, &s.identity)?;
                s.content = Vec::new();
                s.entry = Some(lua.create_registry_value(&t)?);
                t
            }
        };
        let Some(value) = s.build.step(lua, budget.saturating_sub(start.elapsed()))? else {
            return Ok(None);
        };
        entry.raw_set("json", value)?;
        if let Some(k) = s.entry.take() {
            lua.remove_registry_value(k)?;
        }
        Ok(Some(Built {
            table: entry,
            bytes: s.bytes,
            memo: if s.jsonc { MEMO_JSONC } else { MEMO_JSON },
            failure: None,
            parsed: true,
        }))
    }

    fn same(_lua: &Lua, old: &LuaTable, data: &FileRead) -> LuaResult<bool> {
        let content: Option<LuaString> = old.raw_get("content")?;
        Ok(content.is_some_and(|c| *c.as_bytes() == *data.file.content))
    }

    fn serves(memo: Memo, mode: FileMode) -> bool {
        match mode {
            FileMode::Plain => true,
            FileMode::Json { jsonc: false } => memo & MEMO_JSON != 0,
            FileMode::Json { jsonc: true } => memo & MEMO_JSONC != 0,
        }
    }

    fn answer(_lua: &Lua, table: &LuaTable, mode: FileMode) -> LuaResult<LuaMultiValue> {
        let v = match mode {
            FileMode::Plain => LuaValue::Table(table.clone()),
            FileMode::Json { .. } => table.raw_get("json")?,
        };
        Ok(LuaMultiValue::from_vec(vec![v]))
    }
}

/// The `FileCache` userdata (wrapped by the Lua class in `src/lua/caches.lua`).
pub struct FileCache {
    core: Rc<Core<FileLoader>>,
    writes: Rc<WriteCallbacks>,
}

/// A list of paths: a sequence table whose items are paths (see `path_arg`).
fn paths_arg(lua: &Lua, v: &LuaValue, func: &str) -> LuaResult<Vec<Vec<u8>>> {
    let LuaValue::Table(t) = v else {
        return Err(LuaError::runtime(format!(
            "bad argument #1 to '{func}' (paths: table expected, got {})",
            v.type_name()
        )));
    };
    let n = t.raw_len();
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
    // Strings (nearly always all of them) are copied through the raw C API: `Table::raw_get` +
    // `path_arg` cost ~1.3k instructions a path of a 2,000-path batch, this ~0.2k. Anything
    // else is left for `path_arg` below (numbers become paths, the rest are errors).
    with_stack(lua, 2, |raw, l| {
        // SAFETY: one value above the checked stack.
        unsafe { raw.push_value(v)? };
        for i in 1..=n {
            // SAFETY: the table is on top; each item is pushed with a raw get, read while on the
            // stack (its bytes are copied before the pop) and popped.
            unsafe {
                ffi::lua_rawgeti(l, -1, i as _);
                let mut len = 0usize;
                let p = if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
                    ffi::lua_tolstring(l, -1, &mut len)
                } else {
                    std::ptr::null()
                };
                out.push(
                    (!p.is_null())
                        .then(|| std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec()),
                );
                ffi::lua_settop(l, -2);
            }
        }
        Ok(())
    })?;
    let mut paths = Vec::with_capacity(n);
    for (i, p) in out.into_iter().enumerate() {
        let p = match p {
            Some(p) => p,
            None => {
                let item: LuaValue = t.raw_get(i + 1)?;
                path_arg(&item, func, 1).map_err(|_| {
                    LuaError::runtime(format!(
                        "bad argument #1 to '{func}' (paths[{}]: string expected, got {})",
                        i + 1,
                        item.type_name()
                    ))
                })?
            }
        };
        paths.push(p);
    }
    Ok(paths)
}

/// JSON get options: `{ jsonc = bool }`; `.jsonc` paths are JSONC regardless.
fn json_mode(path: &[u8], opts: &LuaValue, func: &str) -> LuaResult<FileMode> {
    let jsonc = match opts {
        LuaValue::Nil => false,
        LuaValue::Table(t) => options::bool_field(t, "jsonc", func)?.unwrap_or(false),
        v => {
            return Err(LuaError::runtime(format!(
                "bad argument #2 to '{func}' (options: table or nil expected, got {})",
                v.type_name()
            )))
        }
    };
    Ok(FileMode::Json {
        jsonc: jsonc || json::is_jsonc_path(path),
    })
}

impl FileCache {
    /// A new, empty cache.
    pub fn new(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<FileCache> {
        Ok(FileCache {
            core: Core::new(lua, options::parse(opts, Class::File)?)?,
            writes: Rc::default(),
        })
    }
}

impl HasCore<FileLoader> for FileCache {
    fn core(&self) -> &Rc<Core<FileLoader>> {
        &self.core
    }
}

impl UserData for FileCache {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        add_common_methods::<Self, FileLoader, M>(m, FileMode::Plain);
        m.add_method(
            "get_json",
            |lua, this, (path, opts, cb): (LuaValue, LuaValue, LuaValue)| {
                let path = path_arg(&path, "get_json", 1)?;
                let mode = json_mode(&path, &opts, "get_json")?;
                let cb = callback_arg(cb, "get_json", 3)?;
                this.core.get(lua, path, mode, cb)
            },
        );
        m.add_method(
            "get_json_sync",
            |lua, this, (path, opts): (LuaValue, LuaValue)| {
                let path = path_arg(&path, "get_json_sync", 1)?;
                let mode = json_mode(&path, &opts, "get_json_sync")?;
                this.core.get_sync(lua, &path, mode)
            },
        );
        m.add_method(
            "get_many",
            |lua, this, (paths, opts, cb): (LuaValue, LuaValue, LuaValue)| {
                let paths = paths_arg(lua, &paths, "get_many")?;
                let json = match &opts {
                    LuaValue::Nil => false,
                    LuaValue::Table(t) => {
                        options::bool_field(t, "json", "get_many")?.unwrap_or(false)
                    }
                    v => {
                        return Err(LuaError::runtime(format!(
                        "bad argument #2 to 'get_many' (options: table or nil expected, got {})",
                        v.type_name()
                    )))
                    }
                };
                let cb = callback_arg(cb, "get_many", 3)?;
                let mut batch = Vec::with_capacity(paths.len());
                for p in paths {
                    let mode = if json {
                        json_mode(&p, &opts, "get_many")?
                    } else {
                        FileMode::Plain
                    };
                    batch.push((p, mode));
                }
                this.core.get_many(lua, batch, cb)
            },
        );
        m.add_method(
            "write",
            |lua, this, (path, data, cb): (LuaValue, LuaValue, LuaValue)| {
                let path = path_arg(&path, "write", 1)?;
                let cb = match cb {
                    LuaValue::Nil => None,
                    v => Some(callback_arg(v, "write", 3)?),
                };
                writes::write(&this.core, &this.writes, lua, path, &data, cb)
            },
        );
        m.add_method(
            "write_sync",
            |lua, this, (path, data): (LuaValue, LuaValue)| {
                let path = path_arg(&path, "write_sync", 1)?;
                writes::write_sync(&this.core, lua, &path, &data)
            },
        );
    }
}
