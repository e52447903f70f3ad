//! Sprig's JSON functions (`toJson`, `fromJson` ...; Sprig documents them with the defaults).

use std::collections::BTreeMap;

use crate::MAX_STRING_BYTES;
use crate::budget::{Exceeded, Limit, Meter};
use crate::call::{Cx, arg, over_budget, s_arg};
use crate::value::{ELEM_BYTES, ENTRY_BYTES, ElemType, Value};

use super::{R, too_big};

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
            crate::fmt::format_float(f, 'g', -1)
        ));
    }
    let abs = f.abs();
    let fmt = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        'e'
    } else {
        'f'
    };
    let mut s = crate::fmt::format_float(f, fmt, -1);
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
