//! Root lookups (`fscache.root*`, the walk of Neovim's `vim.fs.root`) over cached stats.
//!
//! `root_try` answers for name markers (the Lua side in `src/lua/meta.lua` handles function
//! markers and drives the loop). An answer found before is served again when every stat it
//! depended on is still vouched for by the watcher: one drain of the inotify descriptor, no
//! other system call. Otherwise the walk runs over the cached stats; paths without a clean
//! cached stat are handed back ("need"), the Lua side stats them (on the pool, together) and
//! calls again with their results in `fresh`.

use mlua::prelude::*;

use super::stat::Meta;

/// Bound on cached root answers per Lua state (the map is cleared when it is reached).
const MAX_ROOTS: usize = 4096;

/// One cached root answer and the stat entries (path, stamp) it was computed from.
pub struct RootEntry {
    answer: Option<Vec<u8>>,
    deps: Vec<(Vec<u8>, u64)>,
    /// The watcher's epoch when every dependency was last seen clean: while it is unchanged the
    /// answer stands without looking at each dependency.
    epoch: Option<(u64, u64)>,
}

/// Root lookup counters (`meta_stats()`).
#[derive(Default, Clone, Copy, Debug)]
pub struct RootCounters {
    /// Lookups answered from the root cache (no walk, no stat).
    pub hits: u64,
    /// Lookups that walked.
    pub misses: u64,
    /// Walk passes (a miss walks again after each batch of pool stats).
    pub walks: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    Missing,
    Dir,
    Other,
}

/// Neovim's `vim.fs.joinpath(p, name)`: joined with "/", runs of slashes collapsed.
fn joinpath(p: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() + 1 + name.len());
    for &b in p.iter().chain(std::iter::once(&b'/')).chain(name.iter()) {
        if b == b'/' && out.last() == Some(&b'/') {
            continue;
        }
        out.push(b);
    }
    out
}

/// `vim.fs.normalize` of an absolute path: "." and ".." resolved lexically, no trailing slash.
fn normalize(p: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    for c in parts {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// `vim.fs.dirname` of an absolute, normalized path.
fn dirname(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &p[..i],
    }
}

fn key(source: &[u8], is_dir: bool, groups: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut k = source.to_vec();
    k.push(if is_dir { 1 } else { 0 });
    for g in groups {
        k.push(2);
        for n in g {
            k.push(3);
            k.extend_from_slice(n);
        }
    }
    k
}

struct Walk<'a> {
    meta: &'a Meta,
    fresh: Option<LuaTable>,
    deps: Vec<(Vec<u8>, u64)>,
    need: Vec<Vec<u8>>,
    cacheable: bool,
}

impl Walk<'_> {
    /// What a stat of `path` answers, from a clean cached entry or from `fresh`; None: unknown.
    fn look(&mut self, path: &[u8]) -> LuaResult<Option<Look>> {
        if let Some(f) = &self.fresh {
            let v: LuaValue = f.raw_get(LuaString::wrap(path))?;
            if !v.is_nil() {
                let look = match &v {
                    LuaValue::Table(t) => match t.raw_get::<Option<LuaString>>("type")? {
                        Some(s) if *s.as_bytes() == *b"directory" => Look::Dir,
                        _ => Look::Other,
                    },
                    _ => Look::Missing,
                };
                // Cacheable only when the stored entry is watched and says the same.
                match self.meta.core.entry_identity(path) {
                    Some((id, Some(stamp))) if look_of(&id) == look => {
                        self.deps.push((path.to_vec(), stamp))
                    }
                    _ => self.cacheable = false,
                }
                return Ok(Some(look));
            }
        }
        Ok(match self.meta.core.clean_identity(path, (), false) {
            Some((id, stamp)) => {
                self.deps.push((path.to_vec(), stamp));
                Some(look_of(&id))
            }
            None => None,
        })
    }
}

fn look_of(id: &crate::fs::Identity) -> Look {
    if id.mode == 0 {
        Look::Missing
    } else if id.is_dir() {
        Look::Dir
    } else {
        Look::Other
    }
}

fn groups_of(groups: &LuaTable) -> LuaResult<Vec<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    for g in groups.sequence_values::<LuaTable>() {
        let g = g?;
        let mut names = Vec::new();
        for n in g.sequence_values::<LuaString>() {
            names.push(n?.as_bytes().to_vec());
        }
        out.push(names);
    }
    Ok(out)
}

/// One pass of a root lookup for `source` (absolute; `is_dir`: known to be the start directory)
/// and name marker `groups`. Returns `true, root|nil` when answered, `false, {paths}` when those
/// paths need a stat first.
pub fn root_try(
    lua: &Lua,
    meta: &Meta,
    source: &[u8],
    is_dir: bool,
    groups: &LuaTable,
    fresh: Option<LuaTable>,
) -> LuaResult<(bool, LuaValue)> {
    let groups = groups_of(groups)?;
    let key = key(source, is_dir, &groups);
    let rt = meta.core.runtime()?;
    // Every check below relies on this one drain (no Lua code runs until the answer).
    rt.watcher().read_events();
    if fresh.is_none() {
        if let Some(answer) = cached(meta, &key, rt.watcher().epoch()) {
            meta.root_counters.borrow_mut().hits += 1;
            return Ok((true, opt_string(lua, answer)?));
        }
        meta.root_counters.borrow_mut().misses += 1;
    }
    meta.root_counters.borrow_mut().walks += 1;
    let all_clean = fresh.is_none();
    let mut w = Walk {
        meta,
        fresh,
        deps: Vec::new(),
        need: Vec::new(),
        cacheable: true,
    };
    let start: Vec<u8> = if is_dir {
        source.to_vec()
    } else {
        match w.look(source)? {
            Some(Look::Dir) => source.to_vec(),
            Some(_) => dirname(source).to_vec(),
            None => {
                // Walk from the parent meanwhile (a source is most often a file).
                w.need.push(source.to_vec());
                dirname(source).to_vec()
            }
        }
    };
    let mut answer = None;
    'groups: for g in &groups {
        let mut p = start.clone();
        loop {
            for name in g {
                let cand = joinpath(&p, name);
                match w.look(&cand)? {
                    None => w.need.push(cand),
                    Some(Look::Missing) => {}
                    Some(_) => {
                        if w.need.is_empty() {
                            answer = Some(dirname(&normalize(&cand)).to_vec());
                        }
                        break 'groups;
                    }
                }
            }
            let parent = dirname(&p);
            if parent == p.as_slice() {
                break;
            }
            p = parent.to_vec();
        }
    }
    if !w.need.is_empty() {
        let t = lua.create_table_with_capacity(w.need.len(), 0)?;
        for (i, p) in w.need.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(p)?)?;
        }
        return Ok((false, LuaValue::Table(t)));
    }
    if w.cacheable {
        let mut roots = meta.roots.borrow_mut();
        if roots.len() >= MAX_ROOTS {
            roots.clear();
        }
        // Dependencies that came from `fresh` were not checked against the watcher here: the
        // next lookup checks them one by one before trusting the epoch.
        let epoch = if all_clean {
            rt.watcher().epoch()
        } else {
            None
        };
        roots.insert(
            key,
            RootEntry {
                answer: answer.clone(),
                deps: w.deps,
                epoch,
            },
        );
    }
    Ok((true, opt_string(lua, answer)?))
}

/// The cached answer for `key` if it still stands (the watcher was drained just before): same
/// epoch, or every dependency still clean with the stamp it had (the epoch is then renewed).
fn cached(meta: &Meta, key: &[u8], epoch: Option<(u64, u64)>) -> Option<Option<Vec<u8>>> {
    let mut roots = meta.roots.borrow_mut();
    let e = roots.get_mut(key)?;
    if epoch.is_some() && e.epoch == epoch {
        return Some(e.answer.clone());
    }
    let clean = e.deps.iter().all(|(p, s)| {
        meta.core
            .clean_identity(p, (), false)
            .is_some_and(|(_, now)| now == *s)
    });
    if !clean {
        return None;
    }
    e.epoch = epoch;
    Some(e.answer.clone())
}

/// Root lookup fast path (`meta:root_hit(source, marker)`): the cached answer for an absolute,
/// normalized `source` and a name marker (string, or list of strings / lists of strings), read
/// straight from the Lua values. `true, root|nil` on a hit; `false` otherwise (including any
/// input the fast path does not handle: the full lookup then runs).
pub fn root_hit(
    lua: &Lua,
    meta: &Meta,
    source: &LuaValue,
    marker: &LuaValue,
) -> LuaResult<(bool, LuaValue)> {
    let miss = Ok((false, LuaValue::Nil));
    let LuaValue::String(source) = source else {
        return miss;
    };
    let src = source.as_bytes();
    if !crate::watch::watchable(&src) || src.len() < 2 {
        return miss;
    }
    let mut key = src.to_vec();
    key.push(0);
    match marker {
        LuaValue::String(m) => {
            key.extend_from_slice(&[2, 3]);
            key.extend_from_slice(&m.as_bytes());
        }
        LuaValue::Table(t) => {
            for v in t.sequence_values::<LuaValue>() {
                match v? {
                    LuaValue::String(m) => {
                        key.extend_from_slice(&[2, 3]);
                        key.extend_from_slice(&m.as_bytes());
                    }
                    LuaValue::Table(g) => {
                        key.push(2);
                        for n in g.sequence_values::<LuaValue>() {
                            let LuaValue::String(n) = n? else {
                                return miss;
                            };
                            key.push(3);
                            key.extend_from_slice(&n.as_bytes());
                        }
                    }
                    _ => return miss,
                }
            }
        }
        _ => return miss,
    }
    if key.contains(&0) && key.iter().filter(|b| **b == 0).count() > 1 {
        return miss; // a NUL byte in a name: the full lookup answers EINVAL
    }
    let Some(rt) = meta.core.runtime().ok() else {
        return miss;
    };
    rt.watcher().read_events();
    match cached(meta, &key, rt.watcher().epoch()) {
        Some(answer) => {
            meta.root_counters.borrow_mut().hits += 1;
            Ok((true, opt_string(lua, answer)?))
        }
        None => miss,
    }
}

fn opt_string(lua: &Lua, s: Option<Vec<u8>>) -> LuaResult<LuaValue> {
    match s {
        Some(s) => Ok(LuaValue::String(lua.create_string(s)?)),
        None => Ok(LuaValue::Nil),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_vim_fs() {
        assert_eq!(joinpath(b"/", b".git"), b"/.git");
        assert_eq!(joinpath(b"/a", b"b//c"), b"/a/b/c");
        assert_eq!(normalize(b"/a/b/.."), b"/a");
        assert_eq!(normalize(b"/a/./b/"), b"/a/b");
        assert_eq!(normalize(b"/.."), b"/");
        assert_eq!(dirname(b"/a/b"), b"/a");
        assert_eq!(dirname(b"/a"), b"/");
        assert_eq!(dirname(b"/"), b"/");
    }
}
