//! The parser's front end: BOM, JSONC blanking, depth and error positions. Runs on the pool
//! thread: no Lua in here.

use std::borrow::Cow;

use super::{JsonError, MAX_DEPTH};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One parse of a whole text through a serde_json deserializer, whichever reader it uses (see
/// [`run`]).
pub(crate) trait Parse {
    /// What a successful parse produces.
    type Out;
    /// Parses one value from `de` (the trailing-characters check is [`run`]'s).
    fn parse<'de, R: serde_json::de::Read<'de>>(
        &mut self,
        de: &mut serde_json::Deserializer<R>,
    ) -> Result<Self::Out, serde_json::Error>;
}

/// Parses `text` with `p` (serde_json's recursion limit off: the seed keeps its own), then
/// checks that only whitespace follows.
///
/// Text that is valid UTF-8 as a whole (checked once, a fast pass) is read through
/// serde_json's `StrRead`, which then skips validating every string it meets (a sixth of the
/// parse on string-heavy documents); other text goes through `SliceRead`, which finds and
/// reports the invalid bytes. Both readers accept the same texts, produce the same values and
/// place errors identically: they differ only in where UTF-8 is checked.
fn run<P: Parse>(p: &mut P, text: &[u8]) -> Result<P::Out, serde_json::Error> {
    match std::str::from_utf8(text) {
        Ok(s) => {
            let mut de = serde_json::Deserializer::from_str(s);
            de.disable_recursion_limit();
            p.parse(&mut de).and_then(|value| de.end().map(|()| value))
        }
        Err(_) => {
            let mut de = serde_json::Deserializer::from_slice(text);
            de.disable_recursion_limit();
            p.parse(&mut de).and_then(|value| de.end().map(|()| value))
        }
    }
}

/// The front end of [`decode_doc`](super::decode_doc): BOM, JSONC blanking, the deserializer
/// (serde_json's recursion limit replaced by the seed's), trailing-characters check and error
/// messages.
pub(crate) fn parse_with<P: Parse>(
    bytes: &[u8],
    jsonc: bool,
    path: &[u8],
    mut parse: P,
) -> Result<P::Out, JsonError> {
    let (text, bom) = match bytes.strip_prefix(BOM) {
        Some(rest) => (rest, BOM.len()),
        None => (bytes, 0),
    };
    let err_at = |line: usize, column: usize, reason: &str| {
        // Columns on the first line are shifted by the BOM we skipped.
        let column = if line == 1 { column + bom } else { column };
        JsonError::new(format!(
            "{}:{}:{}: {}",
            String::from_utf8_lossy(path),
            line,
            column.max(1),
            reason
        ))
    };
    // JSONC: valid JSON parses the same with or without blanking, so try the text as is first
    // and blank comments / trailing commas only when that fails.
    if jsonc {
        if let Ok(value) = run(&mut parse, text) {
            return Ok(value);
        }
    }
    let text: Cow<[u8]> = if jsonc {
        match strip_jsonc(text) {
            Ok(Some(stripped)) => Cow::Owned(stripped),
            Ok(None) => Cow::Borrowed(text),
            Err((offset, reason)) => {
                let (line, column) = line_col(text, offset);
                return Err(err_at(line, column, reason));
            }
        }
    } else {
        Cow::Borrowed(text)
    };

    run(&mut parse, &text).map_err(|e| {
        if e.is_eof() && text.iter().all(|b| is_ws(*b)) {
            return JsonError::new(format!(
                "{}:1:1: empty document (no JSON value)",
                String::from_utf8_lossy(path)
            ));
        }
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full);
        // serde_json places errors raised by a visitor only roughly (it may have skipped
        // whitespace or peeked past the bracket): point at the offending bracket itself.
        let deep = reason.starts_with("nesting deeper than");
        let (line, column) = deep
            .then(|| too_deep_at(&text))
            .flatten()
            .map(|offset| line_col(&text, offset))
            .unwrap_or_else(|| at_newline(&text, e.line(), e.column()));
        err_at(line, column, reason)
    })
}

/// serde_json reports the byte it stopped at; when that byte is a newline it says "line N + 1,
/// column 0". Report the newline itself instead: line N, one past its last character.
fn at_newline(text: &[u8], line: usize, column: usize) -> (usize, usize) {
    if column > 0 || line < 2 {
        return (line, column);
    }
    // Offset of the newline ending line `line - 1` (the (line - 1)th newline).
    let Some(nl) = text
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(line - 2)
        .map(|(i, _)| i)
    else {
        return (line, column);
    };
    line_col(text, nl)
}

/// Offset of the first bracket that opens a container deeper than [`MAX_DEPTH`] (strings
/// skipped; comments are already blanked), if any.
fn too_deep_at(text: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// True when `path` names a JSONC file: it ends with `.jsonc` (ASCII case-insensitive).
pub fn is_jsonc_path(path: &[u8]) -> bool {
    const EXT: &[u8] = b".jsonc";
    path.len() >= EXT.len() && path[path.len() - EXT.len()..].eq_ignore_ascii_case(EXT)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// 1-based line and 1-based byte column of `offset` in `text`.
fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

/// Blanks JSONC comments and trailing commas with spaces, keeping `\n`/`\r` so offsets, lines
/// and columns are unchanged. `Ok(None)` means there was nothing to blank (no copy made).
/// `Err((offset, reason))` for an unterminated block comment.
fn strip_jsonc(src: &[u8]) -> Result<Option<Vec<u8>>, (usize, &'static str)> {
    let mut out: Option<Vec<u8>> = None;
    let blank = |out: &mut Option<Vec<u8>>, from: usize, to: usize| {
        let buf = out.get_or_insert_with(|| src.to_vec());
        for b in &mut buf[from..to] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    };
    // The last two significant (non-whitespace, non-comment) bytes: (offset, byte).
    let mut last: Option<(usize, u8)> = None;
    let mut before_last: Option<u8> = None;
    let n = src.len();
    let mut i = 0;
    while i < n {
        let b = src[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                let end = src[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(n, |p| i + p);
                blank(&mut out, i, end);
                i = end;
                continue;
            }
            b'/' if src.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map(|p| i + 2 + p + 2)
                    .ok_or((i, "unterminated block comment"))?;
                blank(&mut out, i, end);
                i = end;
                continue;
            }
            b'"' => {
                // Skip the string, stepping over escaped bytes. An unterminated string runs to
                // the end (serde_json reports it).
                let start = i;
                i += 1;
                while i < n {
                    match src[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                before_last = last.map(|(_, c)| c);
                last = Some((start, b'"'));
                continue;
            }
            b']' | b'}' => {
                if let Some((comma, b',')) = last {
                    // Only a comma that follows a value is a trailing comma: `[,]` and `{"a":,}`
                    // stay errors.
                    if matches!(before_last, Some(c) if !matches!(c, b'[' | b'{' | b',' | b':')) {
                        blank(&mut out, comma, comma + 1);
                    }
                }
            }
            _ => {}
        }
        before_last = last.map(|(_, c)| c);
        last = Some((i, b));
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_keeps_offsets() {
        let src = b"{ // c\n \"a\": \"//x\", /* y\n */ \"b\": [1,2,], }";
        let out = strip_jsonc(src).unwrap().unwrap();
        assert_eq!(out.len(), src.len());
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{     \n \"a\": \"//x\",     \n    \"b\": [1,2 ]  }"
        );
    }

    #[test]
    fn strip_leaves_leading_commas() {
        assert_eq!(strip_jsonc(b"[,]").unwrap(), None);
        assert_eq!(strip_jsonc(b"{\"a\":,}").unwrap(), None);
        assert_eq!(strip_jsonc(b"[1,,]").unwrap(), None);
    }

    #[test]
    fn column_zero_moves_to_the_newline() {
        // "line 2, column 0" is the newline that ends line 1 ("ab\n": the newline is column 3).
        assert_eq!(at_newline(b"ab\ncd", 2, 0), (1, 3));
        assert_eq!(at_newline(b"ab\n\nx", 3, 0), (2, 1));
        assert_eq!(at_newline(b"ab\ncd", 2, 1), (2, 1));
    }

    #[test]
    fn too_deep_skips_strings() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep_at(deep.as_bytes()), Some(MAX_DEPTH));
        let quoted = format!("[\"{}\\\"\", {}", "[".repeat(600), deep);
        assert_eq!(too_deep_at(quoted.as_bytes()), Some(607 + MAX_DEPTH - 1));
        assert_eq!(too_deep_at(b"[[]]"), None);
    }

    #[test]
    fn line_col_counts_bytes() {
        assert_eq!(line_col(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
    }
}
