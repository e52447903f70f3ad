//! Sprig's type conversions (spf13/cast semantics): `atoi`, `int`, `float64`, `toString` ...

use crate::call::{Cx, arg, s_arg, strval};
use crate::number::{parse_float, parse_int};
use crate::value::Value;

use super::R;
use super::string_lists::strslice;

pub(crate) fn to_string(cx: &mut Cx<'_>, a: &[Value]) -> R {
    strval(arg(a, 0), cx.heap).map(Value::str)
}

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
        Err((crate::number::NumError::Range, clamped)) => clamped,
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

pub(crate) fn to_strings(cx: &mut Cx<'_>, a: &[Value]) -> R {
    strslice(arg(a, 0), cx).map(Value::str_list)
}
