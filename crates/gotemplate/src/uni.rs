//! Unicode character classes with Go's `unicode` package semantics.
//!
//! Rust's standard library has no general-category tables, so non-ASCII
//! characters are classified with the (Unicode-table backed) `regex` crate.

use std::sync::OnceLock;

use regex::Regex;

fn class(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, c: char) -> Option<bool> {
    let re = class(cell, pattern)?;
    let mut buf = [0u8; 4];
    Some(re.is_match(c.encode_utf8(&mut buf)))
}

/// `unicode.IsLetter`: general category L.
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    matches(&RE, r"^\p{L}$", c).unwrap_or_else(|| c.is_alphabetic())
}

/// `unicode.IsDigit`: general category Nd.
pub(crate) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    matches(&RE, r"^\p{Nd}$", c).unwrap_or_else(|| c.is_numeric())
}

/// `unicode.IsPrint`: categories L, M, N, P, S plus the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    matches(&RE, r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$", c)
        .unwrap_or_else(|| !c.is_control() && !c.is_whitespace())
}

/// `unicode.IsSpace`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's simple (one rune to one rune) upper-case mapping.
pub(crate) fn to_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's simple (one rune to one rune) lower-case mapping.
pub(crate) fn to_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle` (approximated by the simple upper-case mapping,
/// except for the few digraphs that have a distinct title-case form).
pub(crate) fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        _ => to_upper(c),
    }
}
