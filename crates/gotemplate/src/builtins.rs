//! Go's builtin template functions (`and`, `eq`, `index`, `len`, `printf`, `html`, ...).

use super::call::{Cx, arg, over_budget, s_arg};
use super::fmt::{sprint, sprintf, sprintln};
use super::uni;
use super::value::{Heap, Value, is_true, type_name};

/// Go's `indirectInterface`: a nil interface becomes the invalid value.
fn indirect_interface(v: &Value) -> Value {
    match v {
        Value::Nil => Value::Invalid,
        other => other.clone(),
    }
}

pub(crate) fn b_not(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!is_true(arg(a, 0), cx.heap)))
}

pub(crate) fn b_len(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    match arg(a, 0) {
        Value::Nil => Err("len of nil pointer".to_string()),
        Value::Invalid => Err("reflect: call of reflect.Value.Type on zero Value".to_string()),
        v @ (Value::Str(_) | Value::List(_) | Value::Map(_) | Value::StrMap(_)) => {
            let n = super::value::value_len(v, cx.heap).unwrap_or(0);
            Ok(Value::Int(n as i64))
        }
        v => Err(format!("len of type {}", type_name(v))),
    }
}

fn index_arg(index: &Value, len: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint8(b) => i64::from(*b),
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(other)
            ));
        }
    };
    // Go reports the offending index; it may be derived from secret data,
    // so it is deliberately left out of the message.
    if x < 0 || x as u64 > len as u64 {
        return Err("index out of range".to_string());
    }
    Ok(x as usize)
}

pub(crate) fn b_index(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut item = indirect_interface(arg(a, 0));
    if matches!(item, Value::Invalid) {
        return Err("index of untyped nil".to_string());
    }
    for index in a.iter().skip(1) {
        let index = indirect_interface(index);
        if matches!(item, Value::Nil | Value::Invalid) {
            return Err("index of nil pointer".to_string());
        }
        item = match &item {
            Value::Str(s) => {
                let x = index_arg(&index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Uint8(*b),
                    None => return Err("reflect: string index out of range".to_string()),
                }
            }
            Value::List(l) => {
                let x = index_arg(&index, l.items.len())?;
                match l.items.get(x) {
                    Some(v) => v.clone(),
                    None => return Err("reflect: slice index out of range".to_string()),
                }
            }
            Value::Map(id) => {
                let key = map_key(&index)?;
                cx.heap.map_get(*id, &key).unwrap_or(Value::Nil)
            }
            Value::StrMap(m) => {
                let key = map_key(&index)?;
                let found = m.get(&key).map_or("", String::as_str);
                cx.alloc(found.len())?;
                Value::str(found)
            }
            other => return Err(format!("can't index item of type {}", type_name(other))),
        };
    }
    Ok(item)
}

fn map_key(index: &Value) -> Result<String, String> {
    match index {
        Value::Str(s) => Ok(s.to_string()),
        Value::Invalid | Value::Nil => Err("value is nil; should be of type string".to_string()),
        other => Err(format!(
            "value has type {}; should be string",
            type_name(other)
        )),
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Uint,
}

fn basic_kind(v: &Value) -> BasicKind {
    match v {
        Value::Bool(_) => BasicKind::Bool,
        Value::Int(_) | Value::Int64(_) => BasicKind::Int,
        Value::Uint8(_) => BasicKind::Uint,
        Value::Float(_) => BasicKind::Float,
        Value::Str(_) => BasicKind::Str,
        _ => BasicKind::Invalid,
    }
}

fn int_of(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

fn reflect_kind(v: &Value) -> u8 {
    match v {
        Value::Invalid | Value::Nil => 0,
        Value::List(_) => 1,
        Value::Map(_) | Value::StrMap(_) => 2,
        _ => 3,
    }
}

fn is_nil_value(v: &Value, heap: &Heap) -> bool {
    match v {
        Value::Invalid | Value::Nil => true,
        Value::List(l) => l.is_nil,
        Value::Map(id) => heap.map_is_nil(*id),
        _ => false,
    }
}

fn eq_impl(heap: &Heap, arg1: &Value, rest: &[Value]) -> Result<bool, String> {
    let arg1 = indirect_interface(arg1);
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic_kind(&arg1);
    for arg in rest {
        let arg = indirect_interface(arg);
        let k2 = basic_kind(&arg);
        let truth;
        if k1 != k2 {
            match (k1, k2) {
                (BasicKind::Int, BasicKind::Uint) | (BasicKind::Uint, BasicKind::Int) => {
                    truth = int_of(&arg1) == int_of(&arg);
                }
                _ => {
                    if !matches!(arg1, Value::Invalid) && !matches!(arg, Value::Invalid) {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            type_name(&arg1),
                            type_name(&arg)
                        ));
                    }
                    truth = false;
                }
            }
        } else {
            truth = match (&arg1, &arg) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                #[allow(clippy::float_cmp)]
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == BasicKind::Int || k1 == BasicKind::Uint => int_of(&arg1) == int_of(&arg),
                _ => {
                    let (r1, r2) = (reflect_kind(&arg1), reflect_kind(&arg));
                    if r1 != r2 && r1 != 0 && r2 != 0 {
                        // Go includes the values here; they may be secret.
                        return Err(format!(
                            "non-comparable types {} and {}",
                            type_name(&arg1),
                            type_name(&arg)
                        ));
                    }
                    if is_nil_value(&arg1, heap) || is_nil_value(&arg, heap) {
                        is_nil_value(&arg, heap) == is_nil_value(&arg1, heap)
                    } else {
                        return Err(format!("non-comparable type {}", type_name(&arg)));
                    }
                }
            };
        }
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt_impl(a1: &Value, a2: &Value) -> Result<bool, String> {
    let a1 = indirect_interface(a1);
    let a2 = indirect_interface(a2);
    let k1 = basic_kind(&a1);
    if k1 == BasicKind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    let k2 = basic_kind(&a2);
    if k2 == BasicKind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (BasicKind::Int, BasicKind::Uint) | (BasicKind::Uint, BasicKind::Int) => {
                Ok(int_of(&a1) < int_of(&a2))
            }
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                type_name(&a1),
                type_name(&a2)
            )),
        };
    }
    match (&a1, &a2) {
        (Value::Bool(_), _) => Err("invalid type for comparison".to_string()),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        _ => Ok(int_of(&a1) < int_of(&a2)),
    }
}

pub(crate) fn b_eq(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    eq_impl(cx.heap, arg(a, 0), a.get(1..).unwrap_or(&[])).map(Value::Bool)
}

pub(crate) fn b_ne(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    eq_impl(cx.heap, arg(a, 0), a.get(1..2).unwrap_or(&[])).map(|b| Value::Bool(!b))
}

pub(crate) fn b_lt(_: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    lt_impl(arg(a, 0), arg(a, 1)).map(Value::Bool)
}

fn le_impl(heap: &Heap, a: &[Value]) -> Result<bool, String> {
    if lt_impl(arg(a, 0), arg(a, 1))? {
        return Ok(true);
    }
    eq_impl(heap, arg(a, 0), a.get(1..2).unwrap_or(&[]))
}

pub(crate) fn b_le(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    le_impl(cx.heap, a).map(Value::Bool)
}

pub(crate) fn b_gt(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    le_impl(cx.heap, a).map(|b| Value::Bool(!b))
}

pub(crate) fn b_ge(_: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    lt_impl(arg(a, 0), arg(a, 1)).map(|b| Value::Bool(!b))
}

pub(crate) fn b_print(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprint(a, cx.heap).map(Value::str).map_err(over_budget)
}

pub(crate) fn b_println(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprintln(a, cx.heap).map(Value::str).map_err(over_budget)
}

pub(crate) fn b_printf(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprintf(s_arg(a, 0), a.get(1..).unwrap_or(&[]), cx.heap)
        .map(Value::str)
        .map_err(over_budget)
}

/// Go's `evalArgs` used by html/js/urlquery.
fn eval_args(heap: &Heap, a: &[Value]) -> Result<String, String> {
    if let [Value::Str(s)] = a {
        return Ok(s.to_string());
    }
    let args: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nilish() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    sprint(&args, heap).map_err(over_budget)
}

/// `s` with each char of `from` replaced by the string at the same place in `to`, and every
/// other char handed to `other`.
fn replace_chars(s: &str, from: &str, to: &[&str], other: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match from.chars().position(|f| f == c).and_then(|i| to.get(i)) {
            Some(r) => out.push_str(r),
            None => other(c, &mut out),
        }
    }
    out
}

pub(crate) fn html_escape(s: &str) -> String {
    const TO: [&str; 6] = ["\u{FFFD}", "&#34;", "&#39;", "&amp;", "&lt;", "&gt;"];
    replace_chars(s, "\0\"'&<>", &TO, |c, out| out.push(c))
}

pub(crate) fn js_escape(s: &str) -> String {
    const TO: [&str; 7] = [
        "\\\\", "\\'", "\\\"", "\\u003C", "\\u003E", "\\u0026", "\\u003D",
    ];
    replace_chars(s, "\\'\"<>&=", &TO, |c, out| {
        if u32::from(c) >= 0x20 && (c.is_ascii() || uni::is_print(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{:04X}", u32::from(c)));
        }
    })
}

pub(crate) fn url_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// The escapers charge their worst-case expansion (one input byte becomes
// at most 6 output bytes) before escaping.

pub(crate) fn b_html(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(6))?;
    Ok(Value::str(html_escape(&s)))
}

pub(crate) fn b_js(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(6))?;
    Ok(Value::str(js_escape(&s)))
}

pub(crate) fn b_urlquery(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(3))?;
    Ok(Value::str(url_query_escape(&s)))
}
