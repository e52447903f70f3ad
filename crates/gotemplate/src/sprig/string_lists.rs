//! Sprig's string-list functions (`join`, `split`, `splitList`, `splitn`, `sortAlpha`).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::call::{Cx, arg, i_arg, s_arg, strval};
use crate::value::Value;

use super::{R, check_len};

/// Sprig's `strslice`.
pub(super) fn strslice(v: &Value, cx: &Cx<'_>) -> Result<Vec<String>, String> {
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
