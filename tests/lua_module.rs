//! The module opened in a real Lua state (system LuaJIT linked for tests by build.rs).

use mlua::prelude::*;

fn module(lua: &Lua) -> LuaTable {
    let m = fscache::open(lua).expect("open fscache");
    lua.globals().set("fscache", &m).unwrap();
    m
}

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fscache-rs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("f.txt");
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn get_sync_and_block_on_read_a_real_file() {
    let lua = Lua::new();
    module(&lua);
    let p = temp_file("sync", "from rust");
    lua.globals().set("P", p.to_str().unwrap()).unwrap();
    let (a, b): (String, String) = lua
        .load(
            r#"
            local files = fscache.FileCache.new()
            local a = files:get_sync(P).content
            local b = fscache.block_on(function() return files:get_async(P).content end, 5000)
            return a, b
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(a, "from rust");
    assert_eq!(b, "from rust");
    std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
}

#[test]
fn errors_are_values_and_misuse_is_a_lua_error() {
    let lua = Lua::new();
    module(&lua);
    let (v, msg, code): (LuaValue, String, String) = lua
        .load(r#"return fscache.FileCache.new():get_sync("/definitely/not/here")"#)
        .eval()
        .unwrap();
    assert!(v.is_nil());
    assert_eq!(
        msg,
        "ENOENT: no such file or directory: /definitely/not/here"
    );
    assert_eq!(code, "ENOENT");
    let err = lua
        .load(r#"return fscache.FileCache.new():get_sync({})"#)
        .exec()
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad argument #1 to 'get_sync'"), "{err}");
}

#[test]
fn dropping_the_state_with_jobs_in_flight_is_safe() {
    let p = temp_file("drop", "x");
    for _ in 0..20 {
        let lua = Lua::new();
        module(&lua);
        lua.globals().set("P", p.to_str().unwrap()).unwrap();
        lua.load(
            r#"
            local files = fscache.FileCache.new()
            for i = 1, 200 do files:get(P .. (i % 2 == 0 and "" or ".missing"), function() end) end
            "#,
        )
        .exec()
        .unwrap();
        drop(lua);
    }
    std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
}
