//! The option helpers (`src/options.rs`): accepted values, and one message style naming the
//! option, the function, what was expected and what was given.

use std::time::Duration;

use fscache::testing::options::*;
use mlua::prelude::*;

fn table(lua: &Lua, src: &str) -> LuaTable {
    lua.load(src).eval().unwrap()
}

#[test]
fn messages_name_option_function_expectation_and_value() {
    let lua = Lua::new();
    let t = table(
        &lua,
        r#"{ threads = "a", big = 2048, frac = 1.5, flag = 1, ms = -1, s = {}, long = string.rep("x", 50) }"#,
    );
    let err = |r: LuaResult<_>| r.map(|_: Option<()>| ()).unwrap_err().to_string();
    assert!(
        err(int_option(&t, "threads", "setup", 1..=1024).map(|_| None)).contains(
            r#"bad option 'threads' to 'setup' (integer 1..1024 expected, got string "a")"#
        )
    );
    assert!(err(int_option(&t, "big", "setup", 1..=1024).map(|_| None))
        .contains("(integer 1..1024 expected, got number 2048)"));
    assert!(err(int_option(&t, "frac", "f", 0..=i64::MAX).map(|_| None))
        .contains("(integer >= 0 expected, got number 1.5)"));
    assert!(
        err(int_or_false_option(&t, "frac", "f", 0..=i64::MAX, 0).map(|_| None))
            .contains("(integer >= 0 or false expected, got number 1.5)")
    );
    assert!(err(bool_option(&t, "flag", "f").map(|_| None))
        .contains("bad option 'flag' to 'f' (boolean expected, got number 1)"));
    assert!(err(ms_option(&t, "ms", "f").map(|_| None))
        .contains("(positive number expected, got number -1)"));
    assert!(err(string_option(&t, "s", "f").map(|_| None)).contains("(string expected, got table)"));
    assert!(err(table_option(&t, "threads", "f").map(|_| None))
        .contains(r#"(table expected, got string "a")"#));
    assert!(err(int_option(&t, "long", "f", 0..=1).map(|_| None))
        .contains(&format!("got string \"{}\"...)", "x".repeat(40))));
}

#[test]
fn accepted_values_and_nil() {
    let lua = Lua::new();
    let t = table(&lua, "{ n = 4, f = 4.0, b = false, ms = 0.5, off = false }");
    assert_eq!(int_option(&t, "n", "f", 1..=8).unwrap(), Some(4));
    assert_eq!(int_option(&t, "f", "f", 1..=8).unwrap(), Some(4));
    assert_eq!(int_option(&t, "missing", "f", 1..=8).unwrap(), None);
    assert_eq!(bool_option(&t, "b", "f").unwrap(), Some(false));
    assert_eq!(
        ms_option(&t, "ms", "f").unwrap(),
        Some(Duration::from_micros(500))
    );
    assert_eq!(
        int_or_false_option(&t, "off", "f", 0..=9, 0).unwrap(),
        Some(0)
    );
    assert_eq!(
        ms_arg(&LuaValue::Number(f64::INFINITY), "f", 1).unwrap(),
        Some(Duration::MAX)
    );
    assert_eq!(
        ms_arg(&LuaValue::Integer(0), "f", 1).unwrap(),
        Some(Duration::ZERO)
    );
    assert!(ms_arg(&LuaValue::Number(f64::NAN), "f", 1).is_err());
    assert!(int_in(&LuaValue::Number(f64::NAN), &(0..=1)).is_none());
    assert!(int_in(&LuaValue::Number(1e300), &(0..=i64::MAX)).is_none());
}
