//! Sprig's string functions (`trim`, `quote`, `indent`, `substr`, random strings ...).

use rand::RngExt as _;

use crate::MAX_STRING_BYTES;
use crate::call::{Cx, i_arg, s_arg, strval};
use crate::uni;
use crate::value::Value;

use super::{R, SLICE_BOUNDS, byte_slice, check_len, go_repeat, too_big};

pub(crate) fn hello(_: &mut Cx<'_>, _: &[Value]) -> R {
    Ok(Value::str("Hello!"))
}

/// goutils.AbbreviateFull (byte-oriented).
fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Some(s.to_string());
    }
    // Here 4 <= max_width < len, so `max_width - 3` and the sums below stay
    // within [0, 2 * len].
    let mut offset = offset.min(len);
    if len.saturating_sub(offset) < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return Some(format!("{}...", byte_slice(s, 0, (max_width - 3) as usize)));
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let inner = byte_slice(s, offset as usize, s.len());
        let abbr = abbreviate_full(&inner, 0, max_width - 3).unwrap_or_default();
        return Some(format!("...{abbr}"));
    }
    Some(format!(
        "...{}",
        byte_slice(s, (len - (max_width - 3)) as usize, s.len())
    ))
}

pub(crate) fn abbrev(_: &mut Cx<'_>, a: &[Value]) -> R {
    let width = i_arg(a, 0);
    let s = s_arg(a, 1);
    if width < 4 {
        return Ok(Value::str(s));
    }
    Ok(Value::str(abbreviate_full(s, 0, width).unwrap_or_default()))
}

pub(crate) fn abbrevboth(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (left, right) = (i_arg(a, 0), i_arg(a, 1));
    let s = s_arg(a, 2);
    if right < 4 || (left > 0 && right < 7) {
        return Ok(Value::str(s));
    }
    Ok(Value::str(
        abbreviate_full(s, left, right).unwrap_or_default(),
    ))
}

pub(crate) fn trunc(_: &mut Cx<'_>, a: &[Value]) -> R {
    let c = i_arg(a, 0);
    let s = s_arg(a, 1);
    let len = s.len() as i64;
    if c < 0 && len + c > 0 {
        return Ok(Value::str(byte_slice(s, (len + c) as usize, s.len())));
    }
    if c >= 0 && len > c {
        return Ok(Value::str(byte_slice(s, 0, c as usize)));
    }
    Ok(Value::str(s))
}

pub(crate) fn trim(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(s_arg(a, 0).trim_matches(uni::is_space)))
}

pub(crate) fn upper(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(
        s_arg(a, 0).chars().map(uni::to_upper).collect::<String>(),
    ))
}

pub(crate) fn lower(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(
        s_arg(a, 0).chars().map(uni::to_lower).collect::<String>(),
    ))
}

/// Go's `strings.Title` word-separator rule.
fn is_separator(r: char) -> bool {
    if r.is_ascii() {
        return !(r.is_ascii_alphanumeric() || r == '_');
    }
    if uni::is_letter(r) || uni::is_digit(r) {
        return false;
    }
    uni::is_space(r)
}

pub(crate) fn title(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut prev = ' ';
    let out: String = s_arg(a, 0)
        .chars()
        .map(|r| {
            let mapped = if is_separator(prev) {
                uni::to_title(r)
            } else {
                r
            };
            prev = r;
            mapped
        })
        .collect();
    Ok(Value::str(out))
}

pub(crate) fn untitle(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut next = true;
    let out: String = s_arg(a, 0)
        .chars()
        .map(|c| {
            if uni::is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                uni::to_lower(c)
            } else {
                c
            }
        })
        .collect();
    Ok(Value::str(out))
}

pub(crate) fn substr(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (start, end) = (i_arg(a, 0), i_arg(a, 1));
    let s = s_arg(a, 2);
    let len = s.len() as i64;
    let (from, to) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    if from < 0 || to < from || to > len {
        // Go panics here; its message carries the string's length,
        // which is withheld.
        return Err(SLICE_BOUNDS.to_string());
    }
    Ok(Value::str(byte_slice(s, from as usize, to as usize)))
}

pub(crate) fn repeat(_: &mut Cx<'_>, a: &[Value]) -> R {
    go_repeat(s_arg(a, 1), i_arg(a, 0)).map(Value::str)
}

pub(crate) fn trim_all(_: &mut Cx<'_>, a: &[Value]) -> R {
    let cutset = s_arg(a, 0);
    Ok(Value::str(s_arg(a, 1).trim_matches(|c| cutset.contains(c))))
}

pub(crate) fn trim_suffix(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (suffix, s) = (s_arg(a, 0), s_arg(a, 1));
    Ok(Value::str(s.strip_suffix(suffix).unwrap_or(s)))
}

pub(crate) fn trim_prefix(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (prefix, s) = (s_arg(a, 0), s_arg(a, 1));
    Ok(Value::str(s.strip_prefix(prefix).unwrap_or(s)))
}

/// goutils treats each byte as a Latin-1 rune.
fn latin1_is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xA0)
}

pub(crate) fn nospace(_: &mut Cx<'_>, a: &[Value]) -> R {
    let s = s_arg(a, 0);
    if !s.bytes().any(latin1_is_space) {
        return Ok(Value::str(s));
    }
    let out: String = s
        .bytes()
        .filter(|b| !latin1_is_space(*b))
        .map(char::from)
        .collect();
    Ok(Value::str(out))
}

pub(crate) fn initials(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = String::new();
    let mut last_was_gap = true;
    for b in s_arg(a, 0).bytes() {
        if latin1_is_space(b) {
            last_was_gap = true;
        } else if last_was_gap {
            out.push(char::from(b));
            last_was_gap = false;
        }
    }
    Ok(Value::str(out))
}

fn random_string(count: i64, charset: &[u8]) -> R {
    if count <= 0 {
        return Ok(Value::str(""));
    }
    check_len(count as usize)?;
    let mut rng = rand::rng();
    let out: String = (0..count)
        .map(|_| char::from(charset[rng.random_range(0..charset.len())]))
        .collect();
    Ok(Value::str(out))
}

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

const ALPHANUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

const NUMERIC: &[u8] = b"0123456789";

pub(crate) fn rand_alpha_num(_: &mut Cx<'_>, a: &[Value]) -> R {
    random_string(i_arg(a, 0), ALPHANUM)
}

pub(crate) fn rand_alpha(_: &mut Cx<'_>, a: &[Value]) -> R {
    random_string(i_arg(a, 0), ALPHA)
}

pub(crate) fn rand_numeric(_: &mut Cx<'_>, a: &[Value]) -> R {
    random_string(i_arg(a, 0), NUMERIC)
}

pub(crate) fn rand_ascii(_: &mut Cx<'_>, a: &[Value]) -> R {
    let printable: Vec<u8> = (32u8..127).collect();
    random_string(i_arg(a, 0), &printable)
}

pub(crate) fn shuffle(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut chars: Vec<char> = s_arg(a, 0).chars().collect();
    let mut rng = rand::rng();
    for i in (1..chars.len()).rev() {
        let j = rng.random_range(0..=i);
        chars.swap(i, j);
    }
    Ok(Value::str(chars.into_iter().collect::<String>()))
}

pub(crate) fn contains(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 1).contains(s_arg(a, 0))))
}

pub(crate) fn has_prefix(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 1).starts_with(s_arg(a, 0))))
}

pub(crate) fn has_suffix(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 1).ends_with(s_arg(a, 0))))
}

pub(crate) fn quote(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = Vec::new();
    for v in a.iter().filter(|v| !v.is_nilish()) {
        out.push(crate::call::go_quote(&strval(v, cx.heap)?));
    }
    Ok(Value::str(out.join(" ")))
}

pub(crate) fn squote(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = Vec::new();
    for v in a.iter().filter(|v| !v.is_nilish()) {
        out.push(format!("'{}'", strval(v, cx.heap)?));
    }
    Ok(Value::str(out.join(" ")))
}

pub(crate) fn cat(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = Vec::new();
    for v in a.iter().filter(|v| !v.is_nilish()) {
        out.push(strval(v, cx.heap)?);
    }
    Ok(Value::str(out.join(" ")))
}

fn indent_str(spaces: i64, v: &str) -> Result<String, String> {
    let pad = go_repeat(" ", spaces)?;
    let lines = v.bytes().filter(|&b| b == b'\n').count() as u128;
    if (v.len() as u128) + (pad.len() as u128) * (lines + 1) > MAX_STRING_BYTES as u128 {
        return Err(too_big());
    }
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

pub(crate) fn indent(_: &mut Cx<'_>, a: &[Value]) -> R {
    indent_str(i_arg(a, 0), s_arg(a, 1)).map(Value::str)
}

pub(crate) fn nindent(_: &mut Cx<'_>, a: &[Value]) -> R {
    indent_str(i_arg(a, 0), s_arg(a, 1)).map(|s| Value::str(format!("\n{s}")))
}

pub(crate) fn replace(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (old, new, src) = (s_arg(a, 0), s_arg(a, 1), s_arg(a, 2));
    let count = if old.is_empty() {
        src.chars().count() + 1
    } else {
        src.matches(old).count()
    };
    let projected = (src.len() as u128) + (count as u128) * (new.len() as u128);
    if projected > MAX_STRING_BYTES as u128 {
        return Err(too_big());
    }
    Ok(Value::str(src.replace(old, new)))
}

pub(crate) fn plural(_: &mut Cx<'_>, a: &[Value]) -> R {
    let count = i_arg(a, 2);
    Ok(Value::str(if count == 1 {
        s_arg(a, 0)
    } else {
        s_arg(a, 1)
    }))
}
