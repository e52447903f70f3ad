//! Sprig (v3.3) function implementations.
//!
//! Each function mirrors the Go implementation's observable behaviour,
//! including its quirks (byte-oriented string slicing, errors swallowed into
//! zero values, panics surfacing as `error calling NAME: ...`).

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use rand::RngExt as _;
use regex::Regex;
use sha1::Digest as _;

use super::budget::{Exceeded, Limit, Meter};
use super::funcs::{Cx, arg, b_arg, i_arg, m_arg, over_budget, s_arg, strval};
use super::number::{parse_float, parse_int};
use super::uni;
use super::value::{
    ELEM_BYTES, ENTRY_BYTES, ElemType, ListVal, Value, deep_copy as value_deep_copy, deep_equal,
    is_true, kind_name, type_name,
};
use super::{MAX_LIST_LEN, MAX_STRING_BYTES};

type R = Result<Value, String>;

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";
const SLICE_BOUNDS: &str = "runtime error: slice bounds out of range";

fn too_big() -> String {
    format!("result exceeds the maximum size of {MAX_STRING_BYTES} bytes")
}

fn check_len(n: usize) -> Result<(), String> {
    if n > MAX_STRING_BYTES {
        return Err(too_big());
    }
    Ok(())
}

/// Byte-range slice of a string, as Go's `s[a:b]`; a cut through a
/// multi-byte character yields U+FFFD (Go would keep the raw bytes).
fn byte_slice(s: &str, a: usize, b: usize) -> String {
    match s.get(a..b) {
        Some(t) => t.to_string(),
        None => String::from_utf8_lossy(s.as_bytes().get(a..b).unwrap_or(&[])).into_owned(),
    }
}

/// Go's `strings.Repeat` with its panics.
fn go_repeat(s: &str, count: i64) -> Result<String, String> {
    if count < 0 {
        return Err("strings: negative Repeat count".to_string());
    }
    let total = (s.len() as u128) * (count as u128);
    if total > MAX_STRING_BYTES as u128 {
        return Err(too_big());
    }
    Ok(s.repeat(count as usize))
}

// ---------------------------------------------------------------------------
// strings

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
        out.push(super::funcs::go_quote(&strval(v, cx.heap)?));
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha1sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha1::Sha1::digest(s_arg(a, 0).as_bytes()))))
}

pub(crate) fn sha256sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha2::Sha256::digest(
        s_arg(a, 0).as_bytes(),
    ))))
}

pub(crate) fn sha512sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha2::Sha512::digest(
        s_arg(a, 0).as_bytes(),
    ))))
}

pub(crate) fn adler32sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    const MOD: u32 = 65521;
    let (mut s1, mut s2) = (1u32, 0u32);
    for &b in s_arg(a, 0).as_bytes() {
        s1 = (s1 + u32::from(b)) % MOD;
        s2 = (s2 + s1) % MOD;
    }
    Ok(Value::str(((s2 << 16) | s1).to_string()))
}

pub(crate) fn to_string(cx: &mut Cx<'_>, a: &[Value]) -> R {
    strval(arg(a, 0), cx.heap).map(Value::str)
}

// ---------------------------------------------------------------------------
// numbers (spf13/cast semantics)

/// cast's `trimZeroDecimal`: "10.00" -> "10".
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// cast.ToInt64 (errors become 0).
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint8(b) => i64::from(*b),
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int(trim_zero_decimal(s), 0).unwrap_or(0),
        _ => 0,
    }
}

/// cast.ToFloat64 (errors become 0).
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint8(b) => f64::from(*b),
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

pub(crate) fn atoi(_: &mut Cx<'_>, a: &[Value]) -> R {
    let v = match parse_int(s_arg(a, 0), 10) {
        Ok(v) => v,
        Err((super::number::NumError::Range, clamped)) => clamped,
        Err(_) => 0,
    };
    Ok(Value::Int(v))
}

pub(crate) fn int64(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Int64(to_int64(arg(a, 0))))
}

pub(crate) fn int(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Int(to_int64(arg(a, 0))))
}

pub(crate) fn float64(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0))))
}

pub(crate) fn to_decimal(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let s = strval(arg(a, 0), cx.heap)?;
    Ok(Value::Int64(parse_int(&s, 8).unwrap_or(0)))
}

/// Sprig's `untilStep`, with a size guard.
fn until_step_vec(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let mut v = Vec::new();
    let too_long = || format!("list exceeds the maximum length of {MAX_LIST_LEN}");
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            if v.len() >= MAX_LIST_LEN {
                return Err(too_long());
            }
            v.push(i);
            i = match i.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        if v.len() >= MAX_LIST_LEN {
            return Err(too_long());
        }
        v.push(i);
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(v)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::list(ElemType::Int, v.into_iter().map(Value::Int).collect())
}

pub(crate) fn until(_: &mut Cx<'_>, a: &[Value]) -> R {
    let count = i_arg(a, 0);
    let step = if count < 0 { -1 } else { 1 };
    until_step_vec(0, count, step).map(int_list)
}

pub(crate) fn until_step(_: &mut Cx<'_>, a: &[Value]) -> R {
    until_step_vec(i_arg(a, 0), i_arg(a, 1), i_arg(a, 2)).map(int_list)
}

pub(crate) fn seq(_: &mut Cx<'_>, a: &[Value]) -> R {
    let p: Vec<i64> = a.iter().map(|v| v.as_int().unwrap_or(0)).collect();
    let join = |v: Vec<i64>| v.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    let out = match p.as_slice() {
        [end] => {
            let start = 1;
            let increment = if *end < start { -1 } else { 1 };
            join(until_step_vec(
                start,
                end.wrapping_add(increment),
                increment,
            )?)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            join(until_step_vec(*start, end.wrapping_add(step), step)?)
        }
        [start, step, end] => {
            let mut increment = 1;
            if end < start {
                increment = -1;
                if *step > 0 {
                    return Ok(Value::str(""));
                }
            }
            join(until_step_vec(*start, end.wrapping_add(increment), *step)?)
        }
        _ => String::new(),
    };
    Ok(Value::str(out))
}

pub(crate) fn add1(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_add(1)))
}

pub(crate) fn add(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
    ))
}

pub(crate) fn sub(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Int64(
        to_int64(arg(a, 0)).wrapping_sub(to_int64(arg(a, 1))),
    ))
}

pub(crate) fn div(_: &mut Cx<'_>, a: &[Value]) -> R {
    let d = to_int64(arg(a, 1));
    if d == 0 {
        return Err("runtime error: integer divide by zero".to_string());
    }
    Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_div(d)))
}

pub(crate) fn modulo(_: &mut Cx<'_>, a: &[Value]) -> R {
    let d = to_int64(arg(a, 1));
    if d == 0 {
        return Err("runtime error: integer divide by zero".to_string());
    }
    Ok(Value::Int64(to_int64(arg(a, 0)).wrapping_rem(d)))
}

pub(crate) fn mul(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut v = to_int64(arg(a, 0));
    for b in a.iter().skip(1) {
        v = v.wrapping_mul(to_int64(b));
    }
    Ok(Value::Int64(v))
}

pub(crate) fn rand_int(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (min, max) = (i_arg(a, 0), i_arg(a, 1));
    let n = max.wrapping_sub(min);
    if n <= 0 {
        return Err("invalid argument to Intn".to_string());
    }
    let r = rand::rng().random_range(0..n);
    Ok(Value::Int(r.wrapping_add(min)))
}

pub(crate) fn max(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_int64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = m.max(to_int64(b));
    }
    Ok(Value::Int64(m))
}

pub(crate) fn min(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_int64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = m.min(to_int64(b));
    }
    Ok(Value::Int64(m))
}

/// Go's `math.Max`.
fn go_fmax(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`.
fn go_fmin(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

pub(crate) fn maxf(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_float64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = go_fmax(m, to_float64(b));
    }
    Ok(Value::Float(m))
}

pub(crate) fn minf(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_float64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = go_fmin(m, to_float64(b));
    }
    Ok(Value::Float(m))
}

pub(crate) fn ceil(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)).ceil()))
}

pub(crate) fn floor(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)).floor()))
}

pub(crate) fn round(_: &mut Cx<'_>, a: &[Value]) -> R {
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        _ => 0.5,
    };
    let val = to_float64(arg(a, 0));
    let places = i_arg(a, 1) as f64;
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let div = digit.fract();
    let r = if div >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}

// ---------------------------------------------------------------------------
// string lists

/// Sprig's `strslice`.
fn strslice(v: &Value, cx: &Cx<'_>) -> Result<Vec<String>, String> {
    match v {
        Value::List(l) => {
            let mut out = Vec::with_capacity(l.items.len());
            for item in l.items.iter() {
                if !item.is_nilish() {
                    out.push(strval(item, cx.heap)?);
                }
            }
            Ok(out)
        }
        Value::Invalid | Value::Nil => Ok(Vec::new()),
        other => Ok(vec![strval(other, cx.heap)?]),
    }
}

pub(crate) fn join(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let parts = strslice(arg(a, 1), cx)?;
    let sep = s_arg(a, 0);
    let total: usize = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    check_len(total)?;
    Ok(Value::str(parts.join(sep)))
}

pub(crate) fn sort_alpha(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let v = arg(a, 0);
    match v {
        Value::List(_) => {
            let mut parts = strslice(v, cx)?;
            parts.sort();
            Ok(Value::str_list(parts))
        }
        other => Ok(Value::str_list(vec![strval(other, cx.heap)?])),
    }
}

pub(crate) fn to_strings(cx: &mut Cx<'_>, a: &[Value]) -> R {
    strslice(arg(a, 0), cx).map(Value::str_list)
}

/// Go's `strings.SplitN` (n < 0: all).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        // explode: one string per UTF-8 sequence.
        let chars: Vec<&str> = s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
        let limit = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        let mut out: Vec<String> = chars
            .iter()
            .take(limit.saturating_sub(1))
            .map(|c| (*c).to_string())
            .collect();
        if limit > 0 {
            let consumed: usize = out.iter().map(String::len).sum();
            out.push(s[consumed..].to_string());
        }
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_string).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_string).collect()
    }
}

fn indexed_map(parts: Vec<String>) -> Value {
    let m: BTreeMap<String, String> = parts
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("_{i}"), v))
        .collect();
    Value::StrMap(Rc::new(m))
}

pub(crate) fn split(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(indexed_map(go_split(s_arg(a, 1), s_arg(a, 0), -1)))
}

pub(crate) fn split_list(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str_list(go_split(s_arg(a, 1), s_arg(a, 0), -1)))
}

pub(crate) fn splitn(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(indexed_map(go_split(s_arg(a, 2), s_arg(a, 0), i_arg(a, 1))))
}

// ---------------------------------------------------------------------------
// defaults, flow

fn empty_value(v: &Value, cx: &Cx<'_>) -> bool {
    !is_true(v, cx.heap)
}

pub(crate) fn default(cx: &mut Cx<'_>, a: &[Value]) -> R {
    match a.get(1) {
        Some(given) if !empty_value(given, cx) => Ok(given.clone()),
        _ => Ok(arg(a, 0).clone()),
    }
}

pub(crate) fn empty(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(empty_value(arg(a, 0), cx)))
}

pub(crate) fn coalesce(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(a.iter()
        .find(|v| !empty_value(v, cx))
        .cloned()
        .unwrap_or(Value::Nil))
}

pub(crate) fn all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().all(|v| !empty_value(v, cx))))
}

pub(crate) fn any(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().any(|v| !empty_value(v, cx))))
}

pub(crate) fn ternary(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(if b_arg(a, 2) {
        arg(a, 0).clone()
    } else {
        arg(a, 1).clone()
    })
}

pub(crate) fn deep_copy(cx: &mut Cx<'_>, a: &[Value]) -> R {
    value_deep_copy(arg(a, 0), cx.heap, 0).map_err(over_budget)
}

pub(crate) fn fail(cx: &mut Cx<'_>, a: &[Value]) -> R {
    // The message is echoed only when it is a literal in the template text;
    // a computed message might contain secret data.
    if cx.literal.first().copied().unwrap_or(false) {
        Err(s_arg(a, 0).to_string())
    } else {
        Err("(message withheld: it was not a string literal in the template)".to_string())
    }
}

// ---------------------------------------------------------------------------
// reflection

pub(crate) fn type_of(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(type_name(arg(a, 0))))
}

pub(crate) fn type_is(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 0) == type_name(arg(a, 1))))
}

pub(crate) fn type_is_like(_: &mut Cx<'_>, a: &[Value]) -> R {
    let target = s_arg(a, 0);
    let t = type_name(arg(a, 1));
    Ok(Value::Bool(
        target == t || t.strip_prefix('*').is_some_and(|rest| rest == target),
    ))
}

pub(crate) fn kind_of_fn(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(kind_name(arg(a, 0))))
}

pub(crate) fn kind_is(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 0) == kind_name(arg(a, 1))))
}

pub(crate) fn deep_equal_fn(cx: &mut Cx<'_>, a: &[Value]) -> R {
    deep_equal(arg(a, 0), arg(a, 1), cx.heap, 0)
        .map(Value::Bool)
        .map_err(over_budget)
}

// ---------------------------------------------------------------------------
// paths (Go's `path` package; `filepath` is identical on Unix)

pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let p = path.as_bytes();
    let rooted = p[0] == b'/';
    let n = p.len();
    // Port of Go's lazybuf: `buf[..w]` is the output so far, and bytes past
    // `w` may still be inspected after backing up.
    let mut buf: Vec<u8> = Vec::with_capacity(n);
    let mut w = 0usize;
    let append = |buf: &mut Vec<u8>, w: &mut usize, c: u8| {
        if *w < buf.len() {
            buf[*w] = c;
        } else {
            buf.push(c);
        }
        *w += 1;
    };
    let (mut r, mut dotdot) = (0usize, 0usize);
    if rooted {
        append(&mut buf, &mut w, b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            r += 1;
        } else if p[r] == b'.' && p.get(r + 1) == Some(&b'.') && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if w > dotdot {
                w -= 1;
                while w > dotdot && buf.get(w) != Some(&b'/') {
                    w -= 1;
                }
            } else if !rooted {
                if w > 0 {
                    append(&mut buf, &mut w, b'/');
                }
                append(&mut buf, &mut w, b'.');
                append(&mut buf, &mut w, b'.');
                dotdot = w;
            }
        } else {
            if (rooted && w != 1) || (!rooted && w != 0) {
                append(&mut buf, &mut w, b'/');
            }
            while r < n && p[r] != b'/' {
                append(&mut buf, &mut w, p[r]);
                r += 1;
            }
        }
    }
    if w == 0 {
        return ".".to_string();
    }
    String::from_utf8_lossy(buf.get(..w).unwrap_or(&[])).into_owned()
}

pub(crate) fn path_clean(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(clean_path(s_arg(a, 0))))
}

pub(crate) fn path_base(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut p = s_arg(a, 0);
    if p.is_empty() {
        return Ok(Value::str("."));
    }
    p = p.trim_end_matches('/');
    if let Some(i) = p.rfind('/') {
        p = &p[i + 1..];
    }
    if p.is_empty() {
        return Ok(Value::str("/"));
    }
    Ok(Value::str(p))
}

pub(crate) fn path_dir(_: &mut Cx<'_>, a: &[Value]) -> R {
    let p = s_arg(a, 0);
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    Ok(Value::str(clean_path(dir)))
}

pub(crate) fn path_ext(_: &mut Cx<'_>, a: &[Value]) -> R {
    let p = s_arg(a, 0);
    for (i, b) in p.bytes().enumerate().rev() {
        if b == b'/' {
            break;
        }
        if b == b'.' {
            return Ok(Value::str(&p[i..]));
        }
    }
    Ok(Value::str(""))
}

pub(crate) fn path_is_abs(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 0).starts_with('/')))
}

// ---------------------------------------------------------------------------
// encoding

pub(crate) fn b64enc(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(
        base64::engine::general_purpose::STANDARD.encode(s_arg(a, 0).as_bytes()),
    ))
}

fn b64_decode_map(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString`, including its error offsets.
fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut dst = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0usize;
    loop {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4usize;
        let mut j = 0usize;
        let mut trailing_err: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(dst);
                }
                // Padding is mandatory for StdEncoding.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_decode_map(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18)
            | (u32::from(dbuf[1]) << 12)
            | (u32::from(dbuf[2]) << 6)
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        match dlen {
            4 => dst.extend_from_slice(&bytes),
            3 => dst.extend_from_slice(&bytes[..2]),
            2 => dst.push(bytes[0]),
            _ => {}
        }
        if let Some(e) = trailing_err {
            return Err(e);
        }
        if dlen < 4 {
            return Ok(dst);
        }
    }
}

pub(crate) fn b64dec(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(match go_b64_decode(s_arg(a, 0).as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(pos) => format!("illegal base64 data at input byte {pos}"),
    }))
}

const B32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(crate) fn b32enc(_: &mut Cx<'_>, a: &[Value]) -> R {
    let src = s_arg(a, 0).as_bytes();
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let nchars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < nchars {
                let idx = ((v >> (35 - 5 * i)) & 0x1F) as usize;
                out.push(char::from(B32_ALPHABET[idx]));
            } else {
                out.push('=');
            }
        }
    }
    Ok(Value::str(out))
}

/// Go's `base32.StdEncoding.DecodeString` (newlines stripped first).
fn go_b32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input
        .iter()
        .copied()
        .filter(|&c| c != b'\n' && c != b'\r')
        .collect();
    let olen = src.len();
    let mut dst = Vec::new();
    let mut rest: &[u8] = &src;
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8usize;
        let mut j = 0usize;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - rest.len() - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 8 - 1 {
                    return Err(olen);
                }
                for k in 0..(8 - 1 - j) {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if dlen == 1 || dlen == 3 || dlen == 6 {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32_ALPHABET.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = v as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let mut out = [0u8; 5];
        out[0] = (dbuf[0] << 3) | (dbuf[1] >> 2);
        out[1] = (dbuf[1] << 6) | (dbuf[2] << 1) | (dbuf[3] >> 4);
        out[2] = (dbuf[3] << 4) | (dbuf[4] >> 1);
        out[3] = (dbuf[4] << 7) | (dbuf[5] << 2) | (dbuf[6] >> 3);
        out[4] = (dbuf[6] << 5) | dbuf[7];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        dst.extend_from_slice(&out[..n]);
    }
    Ok(dst)
}

pub(crate) fn b32dec(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(match go_b32_decode(s_arg(a, 0).as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(pos) => format!("illegal base32 data at input byte {pos}"),
    }))
}

// ---------------------------------------------------------------------------
// JSON

fn json_string(s: &str, escape_html: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            super::fmt::format_float(f, 'g', -1)
        ));
    }
    let abs = f.abs();
    let fmt = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        'e'
    } else {
        'f'
    };
    let mut s = super::fmt::format_float(f, fmt, -1);
    if fmt == 'e' {
        // clean up e-09 to e-9
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    Ok(s)
}

fn json_encode(
    v: &Value,
    cx: &Cx<'_>,
    escape_html: bool,
    out: &mut String,
    depth: usize,
) -> Result<(), String> {
    let meter = &cx.heap.meter;
    meter.check_depth(depth).map_err(over_budget)?;
    meter.step(1).map_err(over_budget)?;
    if out.len() > meter.alloc_left() {
        return Err(over_budget(meter.fail(Limit::Alloc)));
    }
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint8(b) => out.push_str(&b.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => json_string(s, escape_html, out),
        Value::List(l) => {
            if l.is_nil {
                out.push_str("null");
                return Ok(());
            }
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_encode(item, cx, escape_html, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(id) => {
            if cx.heap.map_is_nil(*id) {
                out.push_str("null");
                return Ok(());
            }
            out.push('{');
            for (i, (k, item)) in cx.heap.entries(*id).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, escape_html, out);
                out.push(':');
                json_encode(item, cx, escape_html, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::StrMap(m) => {
            out.push('{');
            for (i, (k, s)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, escape_html, out);
                out.push(':');
                json_string(s, escape_html, out);
            }
            out.push('}');
        }
    }
    if out.len() > MAX_STRING_BYTES {
        return Err(too_big());
    }
    Ok(())
}

/// Go's `json.Indent(dst, src, "", "  ")` applied to compact JSON; fails
/// when the result outgrows the allocation budget.
fn json_indent(src: &str, meter: &Meter) -> Result<String, String> {
    let cap = meter.alloc_left();
    let mut out = String::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut need_indent = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    for c in src.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if out.len() > cap {
            return Err(over_budget(meter.fail(Limit::Alloc)));
        }
        if need_indent && c != ']' && c != '}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                need_indent = true;
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '}' | ']' => {
                if need_indent {
                    // empty object or array
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    meter.alloc_usize(out.len()).map_err(over_budget)?;
    Ok(out)
}

fn marshal(v: &Value, cx: &Cx<'_>, escape_html: bool) -> Result<String, String> {
    let mut out = String::new();
    json_encode(v, cx, escape_html, &mut out, 0)?;
    cx.alloc(out.len())?;
    Ok(out)
}

/// Sprig's non-`must` JSON encoders swallow encoding errors (the result is
/// empty), but a value nested too deeply (only possible through a
/// self-referencing map, on which Go would overflow its stack) and the
/// size limit still fail the template.
fn swallow(r: Result<String, String>) -> R {
    match r {
        Ok(s) => Ok(Value::str(s)),
        Err(e) if e.starts_with("json: ") => Ok(Value::str("")),
        Err(e) => Err(e),
    }
}

pub(crate) fn to_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    swallow(marshal(arg(a, 0), cx, true))
}

pub(crate) fn must_to_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    marshal(arg(a, 0), cx, true).map(Value::str)
}

pub(crate) fn to_pretty_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    swallow(marshal(arg(a, 0), cx, true).and_then(|s| json_indent(&s, &cx.heap.meter)))
}

pub(crate) fn must_to_pretty_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let s = marshal(arg(a, 0), cx, true)?;
    json_indent(&s, &cx.heap.meter).map(Value::str)
}

pub(crate) fn to_raw_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    marshal(arg(a, 0), cx, false).map(Value::str)
}

pub(crate) fn must_to_raw_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    marshal(arg(a, 0), cx, false).map(Value::str)
}

/// Converts parsed JSON, charging every node to the budget and failing
/// beyond the value depth limit.
fn from_serde(v: serde_json::Value, cx: &mut Cx<'_>, depth: usize) -> Result<Value, Exceeded> {
    cx.heap.meter.check_depth(depth)?;
    cx.heap.meter.step(1)?;
    Ok(match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => {
            cx.heap.meter.alloc_usize(s.len())?;
            Value::str(s)
        }
        serde_json::Value::Array(items) => {
            cx.heap
                .meter
                .alloc_usize(items.len().saturating_mul(ELEM_BYTES))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(from_serde(item, cx, depth + 1)?);
            }
            Value::list(ElemType::Any, out)
        }
        serde_json::Value::Object(map) => {
            let keys: usize = map.keys().map(String::len).sum();
            cx.heap
                .meter
                .alloc_usize(map.len().saturating_mul(ENTRY_BYTES).saturating_add(keys))?;
            let mut entries = BTreeMap::new();
            for (k, v) in map {
                let v = from_serde(v, cx, depth + 1)?;
                entries.insert(k, v);
            }
            Value::Map(cx.heap.alloc(entries))
        }
    })
}

fn parse_json(s: &str, cx: &mut Cx<'_>) -> Result<Value, String> {
    // The parsed document takes a few times the size of its text.
    cx.alloc(s.len().saturating_mul(2))?;
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => from_serde(v, cx, 0).map_err(over_budget),
        // serde's messages can quote the offending input; keep only the
        // position.
        Err(e) => Err(format!(
            "invalid JSON input at line {} column {}",
            e.line(),
            e.column()
        )),
    }
}

pub(crate) fn from_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(parse_json(s_arg(a, 0), cx).unwrap_or(Value::Nil))
}

pub(crate) fn must_from_json(cx: &mut Cx<'_>, a: &[Value]) -> R {
    parse_json(s_arg(a, 0), cx)
}

// ---------------------------------------------------------------------------
// lists and dicts

pub(crate) fn list(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::list(
        ElemType::Any,
        a.iter().map(normalize_nil).collect(),
    ))
}

fn normalize_nil(v: &Value) -> Value {
    match v {
        Value::Invalid => Value::Nil,
        other => other.clone(),
    }
}

pub(crate) fn dict(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut entries = BTreeMap::new();
    let mut i = 0;
    while i < a.len() {
        let key = strval(&a[i], cx.heap)?;
        let val = a.get(i + 1).map_or_else(|| Value::str(""), normalize_nil);
        entries.insert(key, val);
        i += 2;
    }
    Ok(Value::Map(cx.heap.alloc(entries)))
}

pub(crate) fn get(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let key = s_arg(a, 1);
    Ok(m_arg(a, 0)
        .and_then(|id| cx.heap.map_get(id, key))
        .unwrap_or_else(|| Value::str("")))
}

pub(crate) fn set(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let Some(id) = m_arg(a, 0) else {
        return Err("assignment to entry in nil map".to_string());
    };
    let key = s_arg(a, 1).to_string();
    let val = normalize_nil(arg(a, 2));
    if !cx.heap.map_insert(id, key, val) {
        return Err("assignment to entry in nil map".to_string());
    }
    Ok(Value::Map(id))
}

pub(crate) fn unset(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let Some(id) = m_arg(a, 0) else {
        return Ok(arg(a, 0).clone());
    };
    if let Some(m) = cx.heap.get_mut(id) {
        m.entries.remove(s_arg(a, 1));
    }
    Ok(Value::Map(id))
}

pub(crate) fn has_key(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let key = s_arg(a, 1);
    Ok(Value::Bool(
        m_arg(a, 0).is_some_and(|id| cx.heap.map_get(id, key).is_some()),
    ))
}

pub(crate) fn pluck(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let key = s_arg(a, 0);
    let mut out = Vec::new();
    for d in a.iter().skip(1) {
        if let Value::Map(id) = d {
            if let Some(v) = cx.heap.map_get(*id, key) {
                out.push(v);
            }
        }
    }
    Ok(Value::list(ElemType::Any, out))
}

pub(crate) fn keys(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = Vec::new();
    for d in a {
        if let Value::Map(id) = d {
            out.extend(cx.heap.entries(*id).into_iter().map(|(k, _)| k));
        }
    }
    Ok(Value::str_list(out))
}

pub(crate) fn pick(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let mut entries = BTreeMap::new();
    if let Some(id) = m_arg(a, 0) {
        for k in a.iter().skip(1) {
            if let Value::Str(k) = k {
                if let Some(v) = cx.heap.map_get(id, k) {
                    entries.insert(k.to_string(), v);
                }
            }
        }
    }
    Ok(Value::Map(cx.heap.alloc(entries)))
}

pub(crate) fn omit(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let omitted: Vec<&str> = a
        .iter()
        .skip(1)
        .filter_map(|v| match v {
            Value::Str(s) => Some(&**s),
            _ => None,
        })
        .collect();
    let entries: BTreeMap<String, Value> = match m_arg(a, 0) {
        Some(id) => cx
            .heap
            .entries(id)
            .into_iter()
            .filter(|(k, _)| !omitted.contains(&k.as_str()))
            .collect(),
        None => BTreeMap::new(),
    };
    Ok(Value::Map(cx.heap.alloc(entries)))
}

pub(crate) fn values(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let out = match m_arg(a, 0) {
        Some(id) => cx.heap.entries(id).into_iter().map(|(_, v)| v).collect(),
        None => Vec::new(),
    };
    Ok(Value::list(ElemType::Any, out))
}

fn conversion_panic(v: &Value, want: &str) -> String {
    let got = if v.is_nilish() { "nil" } else { type_name(v) };
    format!("interface conversion: interface {{}} is {got}, not {want}")
}

pub(crate) fn dig(cx: &mut Cx<'_>, a: &[Value]) -> R {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".to_string());
    }
    let last = &a[a.len() - 1];
    let &Value::Map(mut dict) = last else {
        return Err(conversion_panic(last, "map[string]interface {}"));
    };
    let default = normalize_nil(&a[a.len() - 2]);
    let mut keys = Vec::new();
    for k in &a[..a.len() - 2] {
        match k {
            Value::Str(s) => keys.push(s.to_string()),
            other => return Err(conversion_panic(other, "string")),
        }
    }
    for (i, k) in keys.iter().enumerate() {
        let Some(step) = cx.heap.map_get(dict, k) else {
            return Ok(default);
        };
        if i + 1 == keys.len() {
            return Ok(step);
        }
        match step {
            Value::Map(next) => dict = next,
            other => return Err(conversion_panic(&other, "map[string]interface {}")),
        }
    }
    Ok(default)
}

/// `reflect.TypeOf(list).Kind()` checks shared by the list functions:
/// returns the slice, or the Go error/panic message.
fn as_list<'v>(v: &'v Value, what: &str) -> Result<&'v ListVal, String> {
    match v {
        Value::List(l) => Ok(l),
        Value::Invalid | Value::Nil => Err(NIL_DEREF.to_string()),
        other => Err(format!("Cannot {what} on type {}", kind_name(other))),
    }
}

fn items_of(l: &ListVal) -> Vec<Value> {
    l.items
        .iter()
        .map(|v| {
            if l.elem == ElemType::Any {
                normalize_nil(v)
            } else {
                v.clone()
            }
        })
        .collect()
}

pub(crate) fn push(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "push")?;
    let mut items = items_of(l);
    items.push(normalize_nil(arg(a, 1)));
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn must_push(cx: &mut Cx<'_>, a: &[Value]) -> R {
    push(cx, a)
}

pub(crate) fn prepend(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "prepend")?;
    let mut items = vec![normalize_nil(arg(a, 1))];
    items.extend(items_of(l));
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn must_prepend(cx: &mut Cx<'_>, a: &[Value]) -> R {
    prepend(cx, a)
}

pub(crate) fn first(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find first")?;
    Ok(l.items.first().map_or(Value::Nil, normalize_nil))
}

pub(crate) fn must_first(cx: &mut Cx<'_>, a: &[Value]) -> R {
    first(cx, a)
}

pub(crate) fn last(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find last")?;
    Ok(l.items.last().map_or(Value::Nil, normalize_nil))
}

pub(crate) fn must_last(cx: &mut Cx<'_>, a: &[Value]) -> R {
    last(cx, a)
}

pub(crate) fn rest(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find rest")?;
    if l.items.is_empty() {
        return Ok(Value::nil_list(ElemType::Any));
    }
    Ok(Value::list(
        ElemType::Any,
        items_of(l).into_iter().skip(1).collect(),
    ))
}

pub(crate) fn must_rest(cx: &mut Cx<'_>, a: &[Value]) -> R {
    rest(cx, a)
}

pub(crate) fn initial(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find initial")?;
    if l.items.is_empty() {
        return Ok(Value::nil_list(ElemType::Any));
    }
    let mut items = items_of(l);
    items.pop();
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn must_initial(cx: &mut Cx<'_>, a: &[Value]) -> R {
    initial(cx, a)
}

pub(crate) fn reverse(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find reverse")?;
    let mut items = items_of(l);
    items.reverse();
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn must_reverse(cx: &mut Cx<'_>, a: &[Value]) -> R {
    reverse(cx, a)
}

pub(crate) fn compact(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "compact")?;
    let items = items_of(l)
        .into_iter()
        .filter(|v| !empty_value(v, cx))
        .collect();
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn must_compact(cx: &mut Cx<'_>, a: &[Value]) -> R {
    compact(cx, a)
}

fn in_list(cx: &Cx<'_>, haystack: &[Value], needle: &Value) -> Result<bool, String> {
    for h in haystack {
        if deep_equal(needle, h, cx.heap, 0).map_err(over_budget)? {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn uniq(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find uniq")?;
    let mut dest: Vec<Value> = Vec::new();
    for item in items_of(l) {
        if !in_list(cx, &dest, &item)? {
            dest.push(item);
        }
    }
    Ok(Value::list(ElemType::Any, dest))
}

pub(crate) fn must_uniq(cx: &mut Cx<'_>, a: &[Value]) -> R {
    uniq(cx, a)
}

pub(crate) fn without(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find without")?;
    let omit: Vec<Value> = a.iter().skip(1).map(normalize_nil).collect();
    let mut res = Vec::new();
    for item in items_of(l) {
        if !in_list(cx, &omit, &item)? {
            res.push(item);
        }
    }
    Ok(Value::list(ElemType::Any, res))
}

pub(crate) fn must_without(cx: &mut Cx<'_>, a: &[Value]) -> R {
    without(cx, a)
}

pub(crate) fn has(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let haystack = arg(a, 1);
    if haystack.is_nilish() {
        return Ok(Value::Bool(false));
    }
    let l = as_list(haystack, "find has")?;
    let needle = normalize_nil(arg(a, 0));
    in_list(cx, &items_of(l), &needle).map(Value::Bool)
}

pub(crate) fn must_has(cx: &mut Cx<'_>, a: &[Value]) -> R {
    has(cx, a)
}

pub(crate) fn slice(_: &mut Cx<'_>, a: &[Value]) -> R {
    let v = arg(a, 0);
    let l = match v {
        Value::List(l) => l,
        Value::Invalid | Value::Nil => return Err(NIL_DEREF.to_string()),
        other => {
            return Err(format!(
                "list should be type of slice or array but {}",
                kind_name(other)
            ));
        }
    };
    let len = l.items.len() as i64;
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map_or(0, to_int64);
    let end = a.get(2).map_or(len, to_int64);
    if start < 0 || end < start || end > len {
        return Err("reflect.Value.Slice: slice index out of bounds".to_string());
    }
    let items: Vec<Value> = l.items[start as usize..end as usize].to_vec();
    Ok(Value::List(ListVal::new(l.elem, items, false)))
}

pub(crate) fn must_slice(cx: &mut Cx<'_>, a: &[Value]) -> R {
    slice(cx, a)
}

pub(crate) fn concat(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut res = Vec::new();
    for v in a {
        match v {
            Value::List(l) => res.extend(items_of(l)),
            Value::Invalid | Value::Nil => return Err(NIL_DEREF.to_string()),
            other => return Err(format!("Cannot concat type {} as list", kind_name(other))),
        }
        if res.len() > MAX_LIST_LEN {
            return Err(format!("list exceeds the maximum length of {MAX_LIST_LEN}"));
        }
    }
    if res.is_empty() {
        return Ok(Value::nil_list(ElemType::Any));
    }
    Ok(Value::list(ElemType::Any, res))
}

pub(crate) fn chunk(_: &mut Cx<'_>, a: &[Value]) -> R {
    let size = i_arg(a, 0);
    let l = match arg(a, 1) {
        Value::List(l) => l,
        Value::Invalid | Value::Nil => return Err(NIL_DEREF.to_string()),
        other => return Err(format!("Cannot chunk type {}", kind_name(other))),
    };
    let items = items_of(l);
    let len = items.len() as i64;
    let makeslice = || "runtime error: makeslice: len out of range".to_string();
    let cs_f = (((len - 1) as f64) / (size as f64)).floor() + 1.0;
    if !cs_f.is_finite() || cs_f < 0.0 || cs_f > MAX_LIST_LEN as f64 {
        return Err(makeslice());
    }
    let cs = cs_f as i64;
    let mut out = Vec::new();
    for i in 0..cs {
        let mut clen = size;
        if i == cs - 1 {
            clen = ((len as f64) % (size as f64)).floor() as i64;
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 || clen > MAX_LIST_LEN as i64 {
            return Err(makeslice());
        }
        let mut part = Vec::new();
        for j in 0..clen {
            let ix = i.wrapping_mul(size).wrapping_add(j);
            match usize::try_from(ix).ok().and_then(|ix| items.get(ix)) {
                Some(v) => part.push(v.clone()),
                None => return Err("reflect: slice index out of range".to_string()),
            }
        }
        out.push(Value::list(ElemType::Any, part));
    }
    Ok(Value::list(ElemType::AnyList, out))
}

pub(crate) fn must_chunk(cx: &mut Cx<'_>, a: &[Value]) -> R {
    chunk(cx, a)
}

// ---------------------------------------------------------------------------
// crypto and randomness

const BCRYPT_COST: u32 = 10;

fn bcrypt_hash(input: &str) -> String {
    if input.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .to_string();
    }
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt[..]);
    match bcrypt::hash_with_salt(input.as_bytes(), BCRYPT_COST, salt) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

pub(crate) fn bcrypt_fn(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(bcrypt_hash(s_arg(a, 0))))
}

pub(crate) fn htpasswd(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (user, password) = (s_arg(a, 0), s_arg(a, 1));
    if user.contains(':') {
        return Ok(Value::str(format!("invalid username: {user}")));
    }
    Ok(Value::str(format!("{user}:{}", bcrypt_hash(password))))
}

pub(crate) fn rand_bytes(_: &mut Cx<'_>, a: &[Value]) -> R {
    let count = i_arg(a, 0);
    if count < 0 {
        return Err("runtime error: makeslice: len out of range".to_string());
    }
    check_len((count as usize).saturating_mul(4) / 3)?;
    let mut buf = vec![0u8; count as usize];
    rand::rng().fill(&mut buf[..]);
    Ok(Value::str(
        base64::engine::general_purpose::STANDARD.encode(&buf),
    ))
}

pub(crate) fn uuidv4(_: &mut Cx<'_>, _: &[Value]) -> R {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b[..]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(Value::str(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )))
}

// ---------------------------------------------------------------------------
// regular expressions (Go RE2 syntax on top of the `regex` crate)

/// Rewrites Go's ASCII-only Perl classes (`\d`, `\w`, `\s`, `\b`) into
/// explicit ASCII forms, since the `regex` crate makes them Unicode-aware.
fn translate_go_regex(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len() + 16);
    let mut chars = pat.chars().peekable();
    let mut class_depth = 0usize;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = class_start;
        class_start = false;
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let inside = class_depth > 0;
                let rep: Option<&str> = match (n, inside) {
                    ('d', false) => Some("[0-9]"),
                    ('D', _) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', _) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('S', _) => Some("[^\\t\\n\\f\\r ]"),
                    ('d', true) => Some("0-9"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    _ => None,
                };
                match rep {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if class_depth > 0 => {
                if chars.peek() == Some(&':') {
                    // POSIX class like [:alpha:]; copy verbatim.
                    out.push('[');
                    for d in chars.by_ref() {
                        out.push(d);
                        if d == ']' {
                            break;
                        }
                    }
                } else {
                    // A '[' inside a class is a literal in Go but would
                    // open a nested class in the `regex` crate.
                    out.push_str("\\[");
                }
            }
            '&' | '~' if class_depth > 0 => {
                // Set operators (`&&`, `~~`) in the `regex` crate.
                out.push('\\');
                out.push(c);
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                class_start = true;
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    // A leading ']' is a literal in Go.
                    out.push_str("\\]");
                    chars.next();
                    class_start = false;
                }
            }
            ']' if class_depth > 0 && !at_class_start => {
                class_depth -= 1;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

fn compile(pattern: &str, literal: bool) -> Result<Regex, String> {
    regex::RegexBuilder::new(&translate_go_regex(pattern))
        .size_limit(1 << 22)
        .dfa_size_limit(1 << 22)
        .build()
        .map_err(|e| {
            if literal {
                let detail = e.to_string().replace('\n', " ");
                format!(
                    "error parsing regexp: {}",
                    detail.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            } else {
                "error parsing regexp (pattern withheld: not a template literal)".to_string()
            }
        })
}

fn compile_arg(cx: &Cx<'_>, a: &[Value]) -> Result<Regex, String> {
    compile(s_arg(a, 0), cx.literal.first().copied().unwrap_or(false))
}

/// Like `compile_arg`, but phrased as the panic of Go's `MustCompile`.
fn must_compile_arg(cx: &Cx<'_>, a: &[Value]) -> Result<Regex, String> {
    compile_arg(cx, a).map_err(|e| format!("regexp: Compile: {e}"))
}

/// Go's `allMatches` iteration (empty matches abutting a previous match
/// are skipped). `n < 0` means no limit.
/// Every accepted match is charged to the allocation budget (the pair and
/// the string later made of it).
fn all_matches(re: &Regex, s: &str, n: i64, meter: &Meter) -> Result<Vec<(usize, usize)>, String> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut out = Vec::new();
    let end = s.len();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while out.len() < limit && pos <= end {
        let Some(m) = re.find_at(s, pos) else {
            break;
        };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            meter
                .alloc_usize(16 + ELEM_BYTES + (m.end() - m.start()))
                .map_err(over_budget)?;
            out.push((m.start(), m.end()));
        }
    }
    Ok(out)
}

pub(crate) fn regex_match(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(
        compile_arg(cx, a).is_ok_and(|re| re.is_match(s_arg(a, 1))),
    ))
}

pub(crate) fn must_regex_match(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    Ok(Value::Bool(re.is_match(s_arg(a, 1))))
}

fn find_all(re: &Regex, s: &str, n: i64, meter: &Meter) -> R {
    if n == 0 {
        return Ok(Value::nil_list(ElemType::Str));
    }
    let found: Vec<String> = all_matches(re, s, n, meter)?
        .into_iter()
        .map(|(a, b)| s[a..b].to_string())
        .collect();
    if found.is_empty() {
        return Ok(Value::nil_list(ElemType::Str));
    }
    Ok(Value::str_list(found))
}

pub(crate) fn regex_find_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = must_compile_arg(cx, a)?;
    find_all(&re, s_arg(a, 1), i_arg(a, 2), &cx.heap.meter)
}

pub(crate) fn must_regex_find_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    find_all(&re, s_arg(a, 1), i_arg(a, 2), &cx.heap.meter)
}

pub(crate) fn regex_find(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = must_compile_arg(cx, a)?;
    let found = re.find(s_arg(a, 1)).map_or("", |m| m.as_str());
    cx.alloc(found.len())?;
    Ok(Value::str(found))
}

pub(crate) fn must_regex_find(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    let found = re.find(s_arg(a, 1)).map_or("", |m| m.as_str());
    cx.alloc(found.len())?;
    Ok(Value::str(found))
}

/// Go's `Regexp.Expand` template expansion.
fn expand(re: &Regex, template: &str, src: &str, caps: &regex::Captures<'_>, dst: &mut String) {
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let mut t = template;
    while let Some(i) = t.find('$') {
        dst.push_str(&t[..i]);
        t = &t[i + 1..];
        if t.starts_with('$') {
            dst.push('$');
            t = &t[1..];
            continue;
        }
        // extract
        let (brace, body) = match t.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let name_len: usize = body
            .char_indices()
            .find(|&(_, c)| !(uni::is_letter(c) || uni::is_digit(c) || c == '_'))
            .map_or(body.len(), |(i, _)| i);
        if name_len == 0 || (brace && !body[name_len..].starts_with('}')) {
            dst.push('$');
            continue;
        }
        let name = &body[..name_len];
        let rest = &body[name_len + usize::from(brace)..];
        t = rest;
        let mut num: i64 = 0;
        for b in name.bytes() {
            if !b.is_ascii_digit() || num >= 100_000_000 {
                num = -1;
                break;
            }
            num = num * 10 + i64::from(b - b'0');
        }
        if name.starts_with('0') && name.len() > 1 {
            num = -1;
        }
        if num >= 0 {
            if let Some(m) = caps.get(num as usize) {
                dst.push_str(&src[m.start()..m.end()]);
            }
        } else if let Some(idx) = names.iter().position(|n| *n == Some(name)) {
            if let Some(m) = caps.get(idx) {
                dst.push_str(&src[m.start()..m.end()]);
            }
        }
    }
    dst.push_str(t);
}

/// Go's `replaceAll` loop.
/// Fails as soon as the result outgrows the allocation budget.
fn replace_all(
    re: &Regex,
    src: &str,
    repl: &str,
    literal: bool,
    meter: &Meter,
) -> Result<String, String> {
    let cap = meter.alloc_left();
    let mut buf = String::new();
    let mut last_match_end = 0usize;
    let mut search_pos = 0usize;
    let end = src.len();
    while search_pos <= end {
        let Some(caps) = re.captures_at(src, search_pos) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        buf.push_str(src.get(last_match_end..m.start()).unwrap_or(""));
        if m.end() > last_match_end || m.start() == 0 {
            if literal {
                buf.push_str(repl);
            } else {
                expand(re, repl, src, &caps, &mut buf);
            }
        }
        if buf.len() > cap {
            return Err(over_budget(meter.fail(Limit::Alloc)));
        }
        if buf.len() > MAX_STRING_BYTES {
            return Err(too_big());
        }
        last_match_end = m.end();
        let width = src[search_pos..].chars().next().map_or(0, char::len_utf8);
        if search_pos + width > m.end() {
            search_pos += width;
        } else if search_pos + 1 > m.end() {
            search_pos += 1;
        } else {
            search_pos = m.end();
        }
    }
    buf.push_str(&src[last_match_end.min(end)..]);
    meter.alloc_usize(buf.len()).map_err(over_budget)?;
    Ok(buf)
}

pub(crate) fn regex_replace_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = must_compile_arg(cx, a)?;
    replace_all(&re, s_arg(a, 1), s_arg(a, 2), false, &cx.heap.meter).map(Value::str)
}

pub(crate) fn must_regex_replace_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    replace_all(&re, s_arg(a, 1), s_arg(a, 2), false, &cx.heap.meter).map(Value::str)
}

pub(crate) fn regex_replace_all_literal(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = must_compile_arg(cx, a)?;
    replace_all(&re, s_arg(a, 1), s_arg(a, 2), true, &cx.heap.meter).map(Value::str)
}

pub(crate) fn must_regex_replace_all_literal(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    replace_all(&re, s_arg(a, 1), s_arg(a, 2), true, &cx.heap.meter).map(Value::str)
}

/// Go's `Regexp.Split`.
fn go_regex_split(re: &Regex, s: &str, n: i64, meter: &Meter) -> R {
    if n == 0 {
        return Ok(Value::nil_list(ElemType::Str));
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return Ok(Value::str_list(vec![String::new()]));
    }
    // The parts hold at most the input's bytes.
    meter.alloc_usize(s.len()).map_err(over_budget)?;
    let matches = all_matches(re, s, n, meter)?;
    let mut strings: Vec<String> = Vec::with_capacity(matches.len());
    let (mut beg, mut end) = (0usize, 0usize);
    for (ms, me) in matches {
        if n > 0 && strings.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            strings.push(s[beg..end].to_string());
        }
        beg = me;
    }
    if end != s.len() {
        strings.push(s[beg..].to_string());
    }
    Ok(Value::str_list(strings))
}

pub(crate) fn regex_split(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = must_compile_arg(cx, a)?;
    go_regex_split(&re, s_arg(a, 1), i_arg(a, 2), &cx.heap.meter)
}

pub(crate) fn must_regex_split(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    go_regex_split(&re, s_arg(a, 1), i_arg(a, 2), &cx.heap.meter)
}

pub(crate) fn regex_quote_meta(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = String::new();
    for c in s_arg(a, 0).chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::str(out))
}
