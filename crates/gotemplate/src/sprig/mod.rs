//! Sprig (v3.3) function implementations.
//!
//! Each function mirrors the Go implementation's observable behaviour,
//! including its quirks (byte-oriented string slicing, errors swallowed into
//! zero values, panics surfacing as `error calling NAME: ...`).
//!
//! One module per category of Sprig's documentation; the function table
//! (`crate::table`) registers them all.

pub(crate) mod conversion;
pub(crate) mod crypto;
pub(crate) mod defaults;
pub(crate) mod dicts;
pub(crate) mod encoding;
pub(crate) mod float_math;
pub(crate) mod flow;
pub(crate) mod int_math;
pub(crate) mod json;
pub(crate) mod lists;
pub(crate) mod paths;
pub(crate) mod reflection;
pub(crate) mod regexp;
pub(crate) mod string_lists;
pub(crate) mod strings;
pub(crate) mod uuid;

use crate::MAX_STRING_BYTES;
use crate::value::Value;

// What several categories share: the result type, Go's runtime panic
// messages and size checks.

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

fn normalize_nil(v: &Value) -> Value {
    match v {
        Value::Invalid => Value::Nil,
        other => other.clone(),
    }
}
