//! Tests for `fscache::json::SlicedBuild`: a conversion done a slice at a time gives the same
//! Lua value as the one-shot `doc_to_lua`, on the JSON fixture corpus and on a 3.8 MB
//! package-lock-shaped document, whatever happens between the steps.

use std::time::Duration;

use fscache::testing::json::{self, decode_doc, doc_to_lua, JsonDoc, SlicedBuild};
use mlua::prelude::*;

/// A Lua state with `deep_equal(a, b) -> ok, where` (values, metatables and null identity).
fn lua() -> Lua {
    let lua = Lua::new();
    lua.load(
        r#"
        function deep_equal(a, b, path)
          path = path or "$"
          if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
          if type(a) ~= "table" then
            if a ~= b and not (a ~= a and b ~= b) then
              return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
            end
            if type(a) == "number" and 1 / a ~= 1 / b then return false, path .. ": sign of zero" end
            return true
          end
          if getmetatable(a) ~= getmetatable(b) then return false, path .. ": metatables differ" end
          for k, v in pairs(a) do
            local ok, where = deep_equal(v, b[k], path .. "." .. tostring(k))
            if not ok then return false, where end
          end
          for k in pairs(b) do
            if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing" end
          end
          return true
        end
        "#,
    )
    .exec()
    .unwrap();
    lua
}

fn doc(text: &[u8]) -> JsonDoc {
    decode_doc(text, true, b"t.json").unwrap()
}

/// Runs a sliced build to the end with `budget`, collecting garbage between steps; returns the
/// value and the number of steps.
fn sliced(lua: &Lua, d: JsonDoc, budget: Duration) -> (LuaValue, usize) {
    let mut b = SlicedBuild::new(d);
    let mut steps = 0;
    loop {
        steps += 1;
        match b.step(lua, budget).unwrap() {
            Some(v) => return (v, steps),
            None => lua.gc_collect().unwrap(),
        }
        assert!(!b.is_finished());
        assert!(steps < 1_000_000, "no progress");
    }
}

fn assert_same(lua: &Lua, a: &LuaValue, b: &LuaValue, what: &str) {
    let f: LuaFunction = lua.globals().get("deep_equal").unwrap();
    let (ok, msg): (bool, Option<String>) = f.call((a, b)).unwrap();
    assert!(ok, "{what}: sliced and one-shot differ at {msg:?}");
}

fn lockfile(lua: &Lua) -> Vec<u8> {
    let m: LuaTable = lua
        .load(include_str!("../benches/lib/lockfile.lua"))
        .eval()
        .unwrap();
    let text: LuaString = m.get::<LuaFunction>("text").unwrap().call(()).unwrap();
    text.as_bytes().to_vec()
}

#[test]
fn corpus_matches_one_shot() {
    let lua = lua();
    let ctx = json::ctx(&lua).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lua-tests/fixtures/json/valid");
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read(&p).unwrap();
        let d = doc(&text);
        let one = doc_to_lua(&lua, &d, &ctx).unwrap();
        let (two, _) = sliced(&lua, d, Duration::ZERO);
        assert_same(&lua, &one, &two, &p.display().to_string());
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} fixtures found in {dir}");
}

#[test]
fn big_document_matches_one_shot_in_many_steps() {
    let lua = lua();
    let ctx = json::ctx(&lua).unwrap();
    let text = lockfile(&lua);
    assert!(text.len() > 3_500_000, "lockfile is {} bytes", text.len());
    let d = doc(&text);
    let nodes = d.node_count();
    let one = doc_to_lua(&lua, &d, &ctx).unwrap();
    let (two, steps) = sliced(&lua, d, Duration::ZERO);
    // A zero budget converts 256 members per step.
    assert!(steps > nodes / 600, "{steps} steps for {nodes} nodes");
    assert_same(&lua, &one, &two, "lockfile");
    let t = two.as_table().unwrap();
    let packages: LuaTable = t.get("packages").unwrap();
    assert_eq!(packages.pairs::<LuaValue, LuaValue>().count(), 12_001);
}

#[test]
fn a_generous_budget_finishes_in_one_step() {
    let lua = lua();
    let mut b = SlicedBuild::new(doc(br#"{"a":[1,2,{"b":null}],"c":{}}"#));
    let v = b.step(&lua, Duration::from_secs(60)).unwrap().unwrap();
    assert!(b.is_finished());
    let t = v.as_table().unwrap();
    assert_eq!(t.get::<LuaTable>("a").unwrap().raw_len(), 3);
    // A step after the end is a misuse, reported as an error.
    let e = b.step(&lua, Duration::ZERO).unwrap_err().to_string();
    assert!(e.contains("after the build ended"), "{e}");
}

#[test]
fn scalar_documents_finish_at_once() {
    let lua = lua();
    for (text, want) in [
        (&b"42"[..], "42"),
        (b"\"x\"", "x"),
        (b"true", "true"),
        (b"[]", "table"),
    ] {
        let mut b = SlicedBuild::new(doc(text));
        let v = b.step(&lua, Duration::ZERO).unwrap().unwrap();
        let shown = match &v {
            LuaValue::Table(_) => "table".to_owned(),
            v => v.to_string().unwrap(),
        };
        assert_eq!(shown, want);
    }
}

#[test]
fn deep_nesting_pauses_and_resumes_inside_open_tables() {
    let lua = lua();
    let ctx = json::ctx(&lua).unwrap();
    // 400 levels, each with 3 members, so pauses fall at many depths.
    let mut s = String::new();
    for i in 0..400 {
        s.push_str(&format!("{{\"k{i}\":[{i},\"v{i}\"],\"n\":"));
    }
    s.push_str("null");
    for _ in 0..400 {
        s.push('}');
    }
    let d = doc(s.as_bytes());
    let one = doc_to_lua(&lua, &d, &ctx).unwrap();
    let (two, steps) = sliced(&lua, d, Duration::ZERO);
    assert!(steps > 3, "{steps} steps");
    assert_same(&lua, &one, &two, "deep");
}

#[test]
fn configured_null_and_markers_are_used() {
    let lua = lua();
    let native = lua.create_table().unwrap();
    json::register(&lua, &native).unwrap();
    lua.globals().set("native", native).unwrap();
    lua.load(
        r#"
        NULL = setmetatable({}, { __name = "my-null" })
        DICT = {}
        native.json_configure({ null = NULL, empty_dict_mt = DICT })
        local text = "[" .. string.rep('{"a":null,"b":{}},', 2000) .. "null]"
        local b = assert(native.json_decode_sliced(text))
        local done, v, steps = false, nil, 0
        repeat
          done, v = b:step(0)
          steps = steps + 1
          collectgarbage()
        until done
        assert(steps > 5, steps)
        assert(#v == 2001)
        assert(rawequal(v[1].a, NULL) and rawequal(v[2001], NULL))
        assert(getmetatable(v[2000].b) == DICT)
        local ok, err = pcall(b.step, b, 0)
        assert(not ok and tostring(err):find("already ended"), tostring(err))
        "#,
    )
    .exec()
    .unwrap();
}

#[test]
fn lua_face_rejects_bad_input() {
    let lua = lua();
    let native = lua.create_table().unwrap();
    json::register(&lua, &native).unwrap();
    lua.globals().set("native", native).unwrap();
    lua.load(
        r#"
        local v, err, code = native.json_decode_sliced("[1,", { path = "x.json" })
        assert(v == nil and code == "EJSON" and err:find("^x.json:1:"), err)
        local ok, e = pcall(native.json_decode_sliced, 42)
        assert(not ok and tostring(e):find("bad argument #1 to 'json_decode_sliced'"), tostring(e))
        ok, e = pcall(native.json_decode_sliced, "[]", 5)
        assert(not ok and tostring(e):find("bad argument #2"), tostring(e))
        local b = native.json_decode_sliced("[1]")
        ok, e = pcall(b.step, b, -1)
        assert(not ok and tostring(e):find("budget_ms"), tostring(e))
        ok, e = pcall(b.step, b, "x")
        assert(not ok and tostring(e):find("budget_ms"), tostring(e))
        "#,
    )
    .exec()
    .unwrap();
}
