//! Writes of a FileCache: what to write, the job on the write lane, coalescing, and the
//! read-your-writes bookkeeping (the barrier lives in the engine, see `Core::write_accepted`).
//!
//! A write goes to the runtime's write lane under (cache, path): one write of a path runs at a
//! time, a write waiting behind it is replaced by a newer one (its callbacks then get the newer
//! write's result), and pending writes are flushed at exit (`runtime::lane`). When a write
//! lands, the entry is built from the bytes written, unless a newer write already landed.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::prelude::*;
use mlua::RegistryKey;

use crate::fasthash::FastMap;
use crate::fs::{write_atomic_with, write_visible, FileData, FsError};
use crate::json;
use crate::lua_util::{deliver, failure};
use crate::runtime::JobResult;

use super::engine::Core;
use super::file::{FileLoader, FileMode, FileRead};
use super::loader::Loader;

/// What the first stage of a lane write tells its second: the write's id and its result.
#[derive(Default)]
struct Landing {
    id: std::cell::Cell<u64>,
    result: RefCell<Option<Result<(), FsError>>>,
}

/// Callbacks of accepted writes, by the write's completion id (a replaced write's callbacks
/// move to the write that replaced it).
#[derive(Default)]
pub struct WriteCallbacks {
    by_id: RefCell<FastMap<u64, Vec<RegistryKey>>>,
}

/// What to write: the bytes, whether they are JSON we encoded, and the write's own `durable`.
pub struct Payload {
    bytes: Vec<u8>,
    json: bool,
    durable: Option<bool>,
}

/// Reads the data argument: a string, `{ content = string }` or `{ json = value, indent = n }`,
/// each table form with an optional `durable = boolean`. `Ok(Err(..))` is an encoding failure
/// (reported as a value); `Err` is misuse.
pub fn payload(lua: &Lua, data: &LuaValue, func: &str) -> LuaResult<Result<Payload, FsError>> {
    let t = match data {
        LuaValue::String(s) => {
            return Ok(Ok(Payload {
                bytes: s.as_bytes().to_vec(),
                json: false,
                durable: None,
            }))
        }
        LuaValue::Table(t) => t,
        _ => {
            return Err(LuaError::runtime(format!(
                "bad argument #2 to '{func}' (data: string, {{ content = string }} or {{ json = value }} expected, got {})",
                data.type_name()
            )))
        }
    };
    let durable = super::options::bool_field(t, "durable", func)?;
    match t.get::<LuaValue>("content")? {
        LuaValue::String(s) => {
            return Ok(Ok(Payload {
                bytes: s.as_bytes().to_vec(),
                json: false,
                durable,
            }))
        }
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
        v => match crate::options::int_in(&v, &(0..=16)) {
            Some(n) => Some(n as usize),
            None => {
                return Err(LuaError::runtime(format!(
                    "bad field 'indent' to '{func}' (integer 0..16 expected, got {})",
                    v.type_name()
                )))
            }
        },
    };
    Ok(json::encode(lua, value, indent)
        .map(|bytes| Payload {
            bytes,
            json: true,
            durable,
        })
        .map_err(|e| FsError {
            code: "EJSON",
            message: e.message,
        }))
}

/// What was written, as a read of it: the bytes, the identity, and the parse when it was JSON.
fn as_read(
    path: &[u8],
    bytes: Vec<u8>,
    json: bool,
    w: (crate::fs::Identity, crate::fs::Timestamp),
) -> FileRead {
    let parsed = json.then(|| json::decode_doc(&bytes, false, path));
    FileRead {
        file: FileData {
            content: bytes,
            identity: w.0,
            read_at: w.1,
        },
        json: parsed,
    }
}

/// The whole write on the calling thread (write_sync).
fn write_job(path: &[u8], bytes: Vec<u8>, json: bool, durable: bool) -> Result<FileRead, FsError> {
    let w = write_atomic_with(path, &bytes, durable)?;
    Ok(as_read(path, bytes, json, w))
}

/// A lane write: up to the rename (visible), then the directory fsync and the release of the
/// replaced file as a second stage, so gets waiting for the write are answered before them.
type FirstStage = Result<FileRead, FsError>;
fn lane_job(
    path: Vec<u8>,
    bytes: Vec<u8>,
    json: bool,
    durable: bool,
) -> (FirstStage, Box<dyn FnOnce() + Send>) {
    match write_visible(&path, &bytes, durable) {
        Ok(v) => {
            let read = as_read(&path, bytes, json, (v.identity, v.at));
            (Ok(read), Box::new(move || v.settle()))
        }
        Err(e) => (Err(e), Box::new(|| {})),
    }
}

/// Stores what write `id` put on disk (unless a newer write's result is stored already) and
/// returns what its callbacks get: `true`, or the failure.
fn landed(
    core: &Core<FileLoader>,
    lua: &Lua,
    path: &[u8],
    id: u64,
    r: Result<FileRead, FsError>,
) -> LuaResult<LuaMultiValue> {
    match r {
        Ok(read) => {
            if core.newest_write(path, id) {
                core.disown_reads(path);
                let (identity, read_at) = FileLoader::identity(&read);
                let mode = match read.json {
                    Some(Ok(_)) => FileMode::Json { jsonc: false },
                    _ => FileMode::Plain,
                };
                let mut built = FileLoader::build(lua, path, read, mode)?;
                built.failure = None;
                core.count(|c| c.parses += built.parsed as u64);
                core.store(lua, path, identity, read_at, built, None)?;
            }
            Ok(LuaMultiValue::from_vec(vec![LuaValue::Boolean(true)]))
        }
        Err(e) => {
            core.count(|c| c.errors += 1);
            failure(lua, &e)
        }
    }
}

/// `write(path, data, cb)`: queues the write on the lane; `cb` (optional) later gets `true` or
/// `nil, message, code`.
pub fn write(
    core: &Rc<Core<FileLoader>>,
    cbs: &Rc<WriteCallbacks>,
    lua: &Lua,
    path: Vec<u8>,
    data: &LuaValue,
    cb: Option<LuaFunction>,
) -> LuaResult<()> {
    let payload = payload(lua, data, "write")?;
    let cb = cb.map(|f| lua.create_registry_value(f)).transpose()?;
    let rt = core.runtime()?;
    let p = match payload {
        Ok(p) => p,
        Err(e) => {
            // Encoding failed: the file is untouched; answer at the next dispatch, like any
            // result (no job: nothing to do off the Lua thread).
            let core = Rc::clone(core);
            rt.post(move |lua: &Lua| {
                core.count(|c| c.errors += 1);
                match cb {
                    Some(cb) => deliver(lua, vec![cb], failure(lua, &e)?),
                    None => Ok(()),
                }
            });
            return Ok(());
        }
    };
    let durable = p.durable.unwrap_or(core.options().durable);
    let job_path = path.clone();
    // Gets waiting for the write are answered when it is visible (first stage); its callbacks
    // get the result once it is durable (second stage: the directory fsync).
    let shared = Rc::new(Landing::default());
    let (core2, path2, landing) = (Rc::clone(core), path.clone(), Rc::clone(&shared));
    let (cbs2, landing2) = (Rc::clone(cbs), Rc::clone(&shared));
    let (id, replaced) = rt.submit_write(
        core.lane_key(&path),
        move || lane_job(job_path, p.bytes, p.json, durable),
        move |lua: &Lua, id, r: JobResult<FirstStage>| {
            let r = r.unwrap_or_else(|_| {
                Err(FsError::new(
                    "EIO",
                    "internal error: the write panicked",
                    &path2,
                ))
            });
            *landing.result.borrow_mut() = Some(match &r {
                Ok(_) => Ok(()),
                Err(e) => Err(FsError {
                    code: e.code,
                    message: e.message.clone(),
                }),
            });
            let stored = landed(&core2, lua, &path2, id, r).map(|_| ());
            let released = core2.write_done(lua, &path2, id);
            stored.and(released)
        },
        move |lua: &Lua, _, _: JobResult<()>| {
            let keys = cbs2
                .by_id
                .borrow_mut()
                .remove(&landing2.id.get())
                .unwrap_or_default();
            let values = match landing2.result.borrow_mut().take() {
                Some(Ok(())) | None => LuaMultiValue::from_vec(vec![LuaValue::Boolean(true)]),
                Some(Err(e)) => failure(lua, &e)?,
            };
            deliver(lua, keys, values)
        },
    );
    shared.id.set(id);
    core.write_accepted(&path, id, replaced);
    let mut by_id = cbs.by_id.borrow_mut();
    let mut keys = replaced
        .and_then(|old| by_id.remove(&old))
        .unwrap_or_default();
    keys.extend(cb);
    if !keys.is_empty() {
        by_id.insert(id, keys);
    }
    Ok(())
}

/// `write_sync(path, data)`: waits until the writes of `path` queued before it have landed,
/// then writes on the calling thread.
pub fn write_sync(
    core: &Core<FileLoader>,
    lua: &Lua,
    path: &[u8],
    data: &LuaValue,
) -> LuaResult<LuaMultiValue> {
    let p = match payload(lua, data, "write_sync")? {
        Ok(p) => p,
        Err(e) => {
            core.count(|c| c.errors += 1);
            return failure(lua, &e);
        }
    };
    let rt = core.runtime()?;
    rt.lane().wait_key(&core.lane_key(path));
    let id = rt.next_id();
    core.count(|c| c.writes += 1);
    let durable = p.durable.unwrap_or(core.options().durable);
    landed(
        core,
        lua,
        path,
        id,
        write_job(path, p.bytes, p.json, durable),
    )
}
