//! A fast, non-cryptographic hasher for the main thread's path maps (the std default, SipHash,
//! is several times slower on short keys and showed up in profiles of the hot path). Keys here
//! are paths the Lua program chose itself, so HashDoS resistance buys nothing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style hasher: multiply-rotate over 8-byte words.
#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_paths_sharing_a_prefix() {
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert(format!("/tmp/dir/file{i:05}.txt").into_bytes(), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(b"/tmp/dir/file04242.txt".as_slice()), Some(&4242));
        assert_eq!(m.get(b"/tmp/dir/file4242.txt".as_slice()), None);
    }
}
