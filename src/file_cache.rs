//! `FileCache`: whole-file contents (and decoded JSON) validated by file identity, plus atomic
//! writes that update the cache from what was written.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use mlua::prelude::*;
use mlua::{RegistryKey, UserData, UserDataMethods};

use crate::cache_core::{Built, Core, Loader, Memo, Options};
use crate::cache_methods::{add_common_methods, HasCore};
use crate::fs::{read_file, read_file_plain, write_atomic, FileData, FsError, Identity, Timestamp};
use crate::json;
use crate::lua_util::{callback_arg, deliver, failure, path_arg};
use crate::runtime::{Panicked, Runtime};
use crate::watch::Kind;

/// Default `max_size`: 64 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

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
    fn parse(file: FileData, mode: FileMode, path: &[u8]) -> FileRead {
        let json = match mode {
            FileMode::Plain => None,
            FileMode::Json { jsonc } => Some(json::decode_doc(&file.content, jsonc, path)),
        };
        FileRead { file, json }
    }
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
        let t = crate::entry_table::file_entry(lua, path, &data.file.content, &id)?;
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

/// A write waiting for the one before it on the same path.
struct PendingWrite {
    bytes: Vec<u8>,
    json: bool,
    cb: Option<RegistryKey>,
    /// Submitted to the pool (only ever the front of its queue).
    started: bool,
}

/// Writes in flight, per path, in call order (one at a time per path).
type WriteQueues = Rc<RefCell<HashMap<Vec<u8>, VecDeque<PendingWrite>>>>;

/// The `FileCache` userdata (wrapped by the Lua class in `src/lua/caches.lua`).
pub struct FileCache {
    core: Rc<Core<FileLoader>>,
    writes: WriteQueues,
}

/// Reads `{ trust_mtime = bool, max_size = integer }` (all optional).
pub fn parse_options(opts: Option<LuaTable>) -> LuaResult<Options> {
    let mut o = Options {
        trust_mtime: true,
        max_size: DEFAULT_MAX_SIZE,
    };
    if let Some(t) = opts {
        match t.get::<LuaValue>("trust_mtime")? {
            LuaValue::Nil => {}
            LuaValue::Boolean(b) => o.trust_mtime = b,
            v => {
                return Err(LuaError::runtime(format!(
                    "bad option 'trust_mtime' (boolean expected, got {})",
                    v.type_name()
                )))
            }
        }
        match t.get::<LuaValue>("max_size")? {
            LuaValue::Nil => {}
            LuaValue::Integer(n) if n >= 0 => o.max_size = n as u64,
            LuaValue::Number(n) if n >= 0.0 && n.fract() == 0.0 => o.max_size = n as u64,
            v => {
                return Err(LuaError::runtime(format!(
                    "bad option 'max_size' (non-negative integer expected, got {})",
                    v.type_name()
                )))
            }
        }
    }
    Ok(o)
}

/// JSON get options: `{ jsonc = bool }`; `.jsonc` paths are JSONC regardless.
fn json_mode(path: &[u8], opts: &LuaValue, func: &str) -> LuaResult<FileMode> {
    let jsonc = match opts {
        LuaValue::Nil => false,
        LuaValue::Table(t) => match t.get::<LuaValue>("jsonc")? {
            LuaValue::Nil => false,
            LuaValue::Boolean(b) => b,
            v => {
                return Err(LuaError::runtime(format!(
                    "bad option 'jsonc' to '{func}' (boolean expected, got {})",
                    v.type_name()
                )))
            }
        },
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

/// The bytes to write, from `{ content = string }` or `{ json = value, indent = n }`.
/// Ok(Err(..)) is an encoding failure reported as a value; Err is misuse.
fn write_payload(
    lua: &Lua,
    data: &LuaValue,
    func: &str,
) -> LuaResult<Result<(Vec<u8>, bool), FsError>> {
    let LuaValue::Table(t) = data else {
        return Err(LuaError::runtime(format!(
            "bad argument #2 to '{func}' (data: table {{ content = string }} or {{ json = value }} expected, got {})",
            data.type_name()
        )));
    };
    match t.get::<LuaValue>("content")? {
        LuaValue::String(s) => return Ok(Ok((s.as_bytes().to_vec(), false))),
        LuaValue::Nil => {}
        v => {
            return Err(LuaError::runtime(format!(
                "bad field 'content' to '{func}' (string expected, got {})",
                v.type_name()
            )))
        }
    }
    let value: LuaValue = t.get("json")?;
    if value.is_nil() {
        return Err(LuaError::runtime(format!(
            "bad argument #2 to '{func}' (data needs a 'content' string or a 'json' value)"
        )));
    }
    let indent = match t.get::<LuaValue>("indent")? {
        LuaValue::Nil => None,
        LuaValue::Integer(n) if (0..=16).contains(&n) => Some(n as usize),
        LuaValue::Number(n) if (0.0..=16.0).contains(&n) && n.fract() == 0.0 => Some(n as usize),
        v => {
            return Err(LuaError::runtime(format!(
                "bad field 'indent' to '{func}' (integer 0..16 expected, got {})",
                v.type_name()
            )))
        }
    };
    Ok(json::encode(lua, value, indent)
        .map(|b| (b, true))
        .map_err(|e| FsError {
            code: "EJSON",
            message: e.message,
        }))
}

/// Runs on the pool: the atomic write, and the parse of what was written when it was JSON.
fn write_job(path: &[u8], bytes: Vec<u8>, json: bool) -> Result<FileRead, FsError> {
    let (identity, read_at) = write_atomic(path, &bytes)?;
    let parsed = json.then(|| json::decode_doc(&bytes, false, path));
    Ok(FileRead {
        file: FileData {
            content: bytes,
            identity,
            read_at,
        },
        json: parsed,
    })
}

impl FileCache {
    /// A new, empty cache.
    pub fn new(lua: &Lua, opts: Option<LuaTable>) -> LuaResult<FileCache> {
        Ok(FileCache {
            core: Core::new(lua, parse_options(opts)?)?,
            writes: Rc::new(RefCell::new(HashMap::new())),
        })
    }

    /// Stores what a write put on disk and answers `true` (or the failure).
    fn after_write(
        core: &Core<FileLoader>,
        lua: &Lua,
        path: &[u8],
        r: Result<FileRead, FsError>,
    ) -> LuaResult<LuaMultiValue> {
        match r {
            Ok(read) => {
                core.detach(path);
                let (identity, read_at) = FileLoader::identity(&read);
                let mode = match read.json {
                    Some(Ok(_)) => FileMode::Json { jsonc: false },
                    _ => FileMode::Plain,
                };
                let mut built = FileLoader::build(lua, path, read, mode)?;
                built.failure = None;
                core.count(|c| c.parses += built.parsed as u64);
                core.store(lua, path, identity, read_at, built)?;
                Ok(LuaMultiValue::from_vec(vec![LuaValue::Boolean(true)]))
            }
            Err(e) => {
                core.count(|c| c.errors += 1);
                failure(lua, &e)
            }
        }
    }

    /// Submits the first queued write of `path`.
    fn start_write(
        core: &Rc<Core<FileLoader>>,
        writes: &WriteQueues,
        lua: &Lua,
        path: Vec<u8>,
    ) -> LuaResult<()> {
        // Only an unstarted front is submitted: a callback (or a finalizer) may already have
        // started the write queued after the one that just finished, and submitting it twice
        // would run two writes of one path at once and answer a callback before its bytes landed.
        let front = {
            let mut q = writes.borrow_mut();
            match q.get_mut(&path).and_then(|q| q.front_mut()) {
                Some(w) if !w.started => {
                    w.started = true;
                    Some((std::mem::take(&mut w.bytes), w.json))
                }
                _ => None,
            }
        };
        let Some((bytes, is_json)) = front else {
            return Ok(());
        };
        let rt = Runtime::get(lua)?;
        let (core2, writes2, path2) = (Rc::clone(core), Rc::clone(writes), path.clone());
        rt.submit(
            move || write_job(&path, bytes, is_json),
            Box::new(move |lua: &Lua, _id, payload| {
                let r = match payload.downcast::<Result<FileRead, FsError>>() {
                    Ok(r) => *r,
                    Err(p) if p.is::<Panicked>() => Err(FsError::new(
                        "EIO",
                        "internal error: the write panicked",
                        &path2,
                    )),
                    Err(_) => return Err(LuaError::runtime("fscache: unexpected write payload")),
                };
                let done = {
                    let mut q = writes2.borrow_mut();
                    let done = q.get_mut(&path2).and_then(|q| q.pop_front());
                    if q.get(&path2).is_some_and(|q| q.is_empty()) {
                        q.remove(&path2);
                    }
                    done
                };
                let values = FileCache::after_write(&core2, lua, &path2, r)?;
                let res = match done.and_then(|w| w.cb) {
                    Some(cb) => deliver(lua, vec![cb], values),
                    None => Ok(()),
                };
                FileCache::start_write(&core2, &writes2, lua, path2)?;
                res
            }),
        );
        Ok(())
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
            "write",
            |lua, this, (path, data, cb): (LuaValue, LuaValue, LuaValue)| {
                let path = path_arg(&path, "write", 1)?;
                let payload = write_payload(lua, &data, "write")?;
                let cb = match cb {
                    LuaValue::Nil => None,
                    v => Some(lua.create_registry_value(callback_arg(v, "write", 3)?)?),
                };
                let (bytes, json) = match payload {
                    Ok(p) => p,
                    Err(e) => {
                        // Encoding failed: the file is untouched; answer at the next dispatch, like any
                        // result (no pool job: nothing to do off the Lua thread).
                        let core = Rc::clone(&this.core);
                        let rt = Runtime::get(lua)?;
                        rt.post(Box::new(move |lua: &Lua, _id, _payload| {
                            core.count(|c| c.errors += 1);
                            match cb {
                                Some(cb) => deliver(lua, vec![cb], failure(lua, &e)?),
                                None => Ok(()),
                            }
                        }));
                        return Ok(());
                    }
                };
                let first = {
                    let mut q = this.writes.borrow_mut();
                    let q = q.entry(path.clone()).or_default();
                    q.push_back(PendingWrite {
                        bytes,
                        json,
                        cb,
                        started: false,
                    });
                    q.len() == 1
                };
                if first {
                    FileCache::start_write(&this.core, &this.writes, lua, path)?;
                }
                Ok(())
            },
        );
        m.add_method(
            "write_sync",
            |lua, this, (path, data): (LuaValue, LuaValue)| {
                let path = path_arg(&path, "write_sync", 1)?;
                match write_payload(lua, &data, "write_sync")? {
                    Ok((bytes, json)) => {
                        let r = write_job(&path, bytes, json);
                        FileCache::after_write(&this.core, lua, &path, r)
                    }
                    Err(e) => {
                        this.core.count(|c| c.errors += 1);
                        failure(lua, &e)
                    }
                }
            },
        );
    }
}
