//! The hash map for the main thread's path and id maps: `rustc-hash`'s FxHash (the std default,
//! SipHash, is several times slower on short keys and showed up in profiles of the hot path).
//! Keys here are paths and ids the Lua program chose itself, so HashDoS resistance buys nothing.

/// `HashMap` with FxHash.
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
