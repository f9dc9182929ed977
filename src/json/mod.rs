//! JSON and JSONC for fscache: decode on the pool, convert to Lua and encode on the main thread.
//!
//! The work is split so that no Lua value is ever touched off the main thread:
//!
//! 1. Decode (pool thread, no Lua): bytes -> [`JsonDoc`] with [`decode_doc`], a flat node list
//!    (about 3x cheaper to build than a `serde_json::Value`, and free to drop), or a
//!    [`JsonError`] whose message is `"<path>:<line>:<column>: <reason>"`.
//! 2. To Lua (main thread): [`doc_to_lua`], using the [`JsonLua`] context ([`ctx`])
//!    for `null` and the empty-table markers. Tables are built directly on the Lua stack in one
//!    protected call, iteratively: no mlua handle per value (mlua's ~8000-slot reference stack
//!    on LuaJIT / 5.1 is never at risk) and no native stack per nesting level. Large documents
//!    convert a slice at a time with [`SlicedBuild`], so the loop never stalls for long.
//! 3. Encode (main thread): [`encode`]: Lua value -> JSON text, keys sorted, optionally
//!    indented, or a [`JsonError`] naming the key path (`$.a.b[3]: reason`). Same raw, iterative
//!    technique.
//!
//! [`register`] puts the Lua-facing functions (`json_decode`, `json_encode`, `json_configure`,
//! `empty_dict`, `null`) into the native module table.
//!
//! # Conventions (decided here, shared by every host)
//!
//! * **null.** JSON `null` decodes to the configured null value: `vim.NIL` inside Neovim (the shim
//!   calls [`configure`]), otherwise `fscache.null`, which is [`mlua::Value::NULL`] (a `NULL`
//!   lightuserdata). Both encode back to `null`, whichever is configured. (`vim.json.encode`
//!   writes nothing at all for a `NULL` lightuserdata, e.g. `[,1]`, so inside Neovim the public
//!   `fscache.null` should be `vim.NIL`.)
//! * **Empty tables** follow Neovim's `vim.json` on every host: `{}` decodes to a table carrying
//!   the *empty-dict marker* metatable (`getmetatable(vim.empty_dict())` in Neovim, a
//!   module-private table elsewhere; `empty_dict()` makes one), `[]` decodes to a plain empty
//!   table. When encoding, an empty table with the empty-dict marker is `{}`, and any other empty
//!   table is `[]` — exactly what `vim.json.encode` does. If an *array marker* is configured
//!   (`configure { array_mt = mt }`), `[]` decodes to a table carrying it, a marked empty table
//!   encodes as `[]`, and an unmarked empty table then encodes as `{}` (the lua-cjson / mlua-serde
//!   convention). Non-empty tables never get a metatable and are classified by their keys.
//! * **Numbers.** On Lua 5.4 a JSON integer that fits in `i64` stays a Lua integer. Integers
//!   outside the `i64` range (on 5.4) and every number on LuaJIT / Lua 5.1 become the nearest
//!   double, like `vim.json.decode` (`9007199254740993` -> `9007199254740992`), except that
//!   `vim.json.decode` clamps integer literals beyond the `i64` range to ±2^63 while we keep the
//!   nearest double (`18446744073709551616` -> 2^64). Literals that overflow a double (`1e400`)
//!   are an error (`vim.json.decode` returns `inf`, which it then refuses to encode). `-0`
//!   decodes to the float `-0.0` and encodes back as `-0` (`vim.json.decode` gives `0` for `-0`,
//!   `-0.0` for `-0.0`; `vim.json.encode` writes `-0`). Floats are
//!   correctly rounded (serde_json `float_roundtrip`, like strtod).
//! * **Nesting** is limited to [`MAX_DEPTH`] (512) arrays/objects in [`decode_doc`] and
//!   [`encode`]; deeper documents are an ordinary `EJSON` error naming the offending bracket (or
//!   key path). Why 512: serde_json parses by recursive descent and needs about 0.75 KiB of stack
//!   per level in release builds and 2.5 KiB in debug builds (measured); pool threads have the
//!   default 2 MiB stack, and a stack overflow would abort the host (Neovim). 512 keeps a margin
//!   of 5x (release) / 1.6x (debug); serde_json's own limit (127 levels) is disabled in favour of
//!   this one. `vim.json` accepts 1000 levels, so documents nested 513..1000 deep decode there
//!   but not here.

mod decode;
mod doc;
mod encode;
mod lua;
mod sliced;

pub use decode::is_jsonc_path;
pub use doc::{decode_doc, doc_to_lua, JsonDoc};
pub use encode::encode;
pub use lua::{ctx, register};
pub use sliced::SlicedBuild;

use std::fmt;

/// The error code every JSON failure carries (`nil, message, "EJSON"` on the Lua side).
pub const CODE: &str = "EJSON";

/// Deepest nesting of arrays/objects accepted by [`decode_doc`], [`doc_to_lua`] and [`encode`] (see the
/// module docs for why it is 512 and not vim.json's 1000).
pub const MAX_DEPTH: usize = 512;

/// A JSON decode or encode failure. Its code is always [`CODE`] (`"EJSON"`).
///
/// Decode messages are `"<path>:<line>:<column>: <reason>"` (1-based line, 1-based byte column,
/// both pointing into the original text, BOM and comments included). Encode messages are
/// `"<key path>: <reason>"` with the key path written like `$.a["b c"][3]` (`$` is the value
/// passed in; `[n]` uses Lua's 1-based index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Human-readable message; see the type docs for its shape.
    pub message: String,
}

impl JsonError {
    /// Builds an error from any message.
    pub fn new(message: impl Into<String>) -> Self {
        JsonError {
            message: message.into(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

/// Pushes `bytes` as a Lua string.
///
/// # Safety
/// `state` must be a valid Lua state with room for one more stack slot.
pub(crate) unsafe fn push_bytes(state: *mut mlua::ffi::lua_State, bytes: &[u8]) {
    // SAFETY: covered by this function's own contract (the Lua thread, a valid
    // state, and the stack layout and room described above).
    unsafe {
        // mlua's 5.1/LuaJIT `lua_pushlstring` wrapper also fetches the pushed string's pointer
        // (an extra lua_tolstring per string); call the raw function instead.
        #[cfg(not(feature = "lua54"))]
        {
            let p = if bytes.is_empty() {
                c"".as_ptr()
            } else {
                bytes.as_ptr().cast()
            };
            mlua::ffi::lua_pushlstring_(state, p, bytes.len());
        }
        #[cfg(feature = "lua54")]
        {
            mlua::ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
        }
    }
}
