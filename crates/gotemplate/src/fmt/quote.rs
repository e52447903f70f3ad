//! Go's `strconv.Quote` and `QuoteRune`, as `%q` and error messages use them.

use crate::uni;

use super::LDIGITS;

fn push_hex_escape(buf: &mut String, prefix: &str, v: u32, digits: u32) {
    buf.push_str(prefix);
    for i in (0..digits).rev() {
        let d = (v >> (i * 4)) & 0xF;
        buf.push(char::from(LDIGITS[d as usize]));
    }
}

fn append_escaped_rune(buf: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        buf.push('\\');
        buf.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && uni::is_print(r) {
            buf.push(r);
            return;
        }
    } else if uni::is_print(r) {
        buf.push(r);
        return;
    }
    match r {
        '\u{7}' => buf.push_str("\\a"),
        '\u{8}' => buf.push_str("\\b"),
        '\u{c}' => buf.push_str("\\f"),
        '\n' => buf.push_str("\\n"),
        '\r' => buf.push_str("\\r"),
        '\t' => buf.push_str("\\t"),
        '\u{b}' => buf.push_str("\\v"),
        _ => {
            let c = u32::from(r);
            if c < 0x20 || c == 0x7f {
                push_hex_escape(buf, "\\x", c, 2);
            } else if c < 0x10000 {
                push_hex_escape(buf, "\\u", c, 4);
            } else {
                push_hex_escape(buf, "\\U", c, 8);
            }
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub(crate) fn quote_str(s: &str, ascii_only: bool) -> String {
    let mut buf = String::with_capacity(s.len() + 2);
    buf.push('"');
    for r in s.chars() {
        append_escaped_rune(&mut buf, r, '"', ascii_only);
    }
    buf.push('"');
    buf
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(r: char, ascii_only: bool) -> String {
    let mut buf = String::new();
    buf.push('\'');
    append_escaped_rune(&mut buf, r, '\'', ascii_only);
    buf.push('\'');
    buf
}

/// Go's `strconv.CanBackquote`.
pub(super) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        c != '`' && c != '\u{FEFF}' && (c == '\t' || !((c as u32) < 0x20 || c == '\u{7f}'))
    })
}

pub(super) fn rune_from_i64(v: i64) -> char {
    u32::try_from(v)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}
