//! Validation logic: when an unchanged identity may be trusted, and the module in a real Lua state.

use fscache::testing::cache::is_racy;
use fscache::testing::fs::{Identity, Timestamp};

fn id(mtime: (i64, i64), ctime: (i64, i64)) -> Identity {
    Identity {
        mtime: Timestamp {
            sec: mtime.0,
            nsec: mtime.1,
        },
        ctime: Timestamp {
            sec: ctime.0,
            nsec: ctime.1,
        },
        ..Identity::default()
    }
}

#[test]
fn a_read_long_after_the_last_change_is_trusted() {
    let i = id((100, 5), (100, 5));
    assert!(!is_racy(&i, Timestamp { sec: 101, nsec: 0 }));
}

#[test]
fn a_read_within_the_window_of_the_last_change_is_racy() {
    let i = id((100, 5), (100, 5));
    assert!(is_racy(
        &i,
        Timestamp {
            sec: 100,
            nsec: 10_000_000
        }
    ));
    assert!(is_racy(&i, Timestamp { sec: 100, nsec: 5 }));
}

#[test]
fn ctime_counts_as_a_change_too() {
    // mtime set back long ago (touch -d), ctime just now: still racy
    let i = id((50, 1), (100, 0));
    assert!(is_racy(
        &i,
        Timestamp {
            sec: 100,
            nsec: 20_000_000
        }
    ));
}

#[test]
fn whole_second_file_systems_get_a_wider_window() {
    let i = id((100, 0), (100, 0));
    assert!(is_racy(
        &i,
        Timestamp {
            sec: 101,
            nsec: 500_000_000
        }
    ));
    assert!(!is_racy(&i, Timestamp { sec: 103, nsec: 0 }));
}

#[test]
fn identities_differ_when_any_field_differs() {
    let a = id((100, 5), (100, 5));
    let mut b = a;
    b.ctime.nsec += 1;
    assert_ne!(a, b);
    let mut c = a;
    c.ino = 7;
    assert_ne!(a, c);
    let mut d = a;
    d.size = 1;
    assert_ne!(a, d);
}
