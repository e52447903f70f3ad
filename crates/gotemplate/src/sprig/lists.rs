//! Sprig's list functions (`list`, `append`, `first`, `uniq`, `slice`, `chunk` ...).
//!
//! Sprig's `mustX` variants return as an error what `X` panics with; a panic and an error
//! surface as the same template error here, so the table maps both names to one function.

use crate::MAX_LIST_LEN;
use crate::call::{Cx, arg, i_arg, over_budget};
use crate::value::{ElemType, ListVal, Value, deep_equal, kind_name};

use super::conversion::to_int64;
use super::defaults::empty_value;
use super::{NIL_DEREF, R, normalize_nil};

pub(crate) fn list(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::list(
        ElemType::Any,
        a.iter().map(normalize_nil).collect(),
    ))
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

pub(crate) fn prepend(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "prepend")?;
    let mut items = vec![normalize_nil(arg(a, 1))];
    items.extend(items_of(l));
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn first(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find first")?;
    Ok(l.items.first().map_or(Value::Nil, normalize_nil))
}

pub(crate) fn last(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find last")?;
    Ok(l.items.last().map_or(Value::Nil, normalize_nil))
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

pub(crate) fn initial(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find initial")?;
    if l.items.is_empty() {
        return Ok(Value::nil_list(ElemType::Any));
    }
    let mut items = items_of(l);
    items.pop();
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn reverse(_: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find reverse")?;
    let mut items = items_of(l);
    items.reverse();
    Ok(Value::list(ElemType::Any, items))
}

pub(crate) fn compact(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "compact")?;
    let items = items_of(l)
        .into_iter()
        .filter(|v| !empty_value(v, cx))
        .collect();
    Ok(Value::list(ElemType::Any, items))
}

fn in_list(cx: &Cx<'_>, haystack: &[Value], needle: &Value) -> Result<bool, String> {
    for h in haystack {
        if deep_equal(needle, h, cx.heap, 0).map_err(over_budget)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The items of `l` that are not in `omit`, or, when `omit` is `None`, not among the items
/// already kept (the first occurrence of each value: `uniq`).
fn keep_unless_in(cx: &Cx<'_>, l: &ListVal, omit: Option<&[Value]>) -> R {
    let mut kept: Vec<Value> = Vec::new();
    for item in items_of(l) {
        if !in_list(cx, omit.unwrap_or(&kept), &item)? {
            kept.push(item);
        }
    }
    Ok(Value::list(ElemType::Any, kept))
}

pub(crate) fn uniq(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find uniq")?;
    keep_unless_in(cx, l, None)
}

pub(crate) fn without(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let l = as_list(arg(a, 0), "find without")?;
    let omit: Vec<Value> = a.iter().skip(1).map(normalize_nil).collect();
    keep_unless_in(cx, l, Some(&omit))
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
