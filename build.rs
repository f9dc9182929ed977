//! Link settings for the Lua module and for the Rust tests.

fn main() {
    // The host (luajit, nvim, lua5.x) provides the lua_* symbols at load time; macOS ld must be
    // told so for the cdylib.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
    // tests/*.rs run without a host interpreter: link the system Lua for them only.
    let lib = if std::env::var("CARGO_FEATURE_LUA54").is_ok() {
        "lua5.4"
    } else if std::env::var("CARGO_FEATURE_LUA51").is_ok() {
        "lua5.1"
    } else {
        "luajit-5.1"
    };
    println!("cargo:rustc-link-arg-tests=-l{lib}");
    println!("cargo:rerun-if-changed=build.rs");
}
