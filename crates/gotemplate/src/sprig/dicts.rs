//! Sprig's dictionary functions (`dict`, `get`, `set`, `pick`, `dig`, `deepCopy` ...).

use std::collections::BTreeMap;

use crate::call::{Cx, arg, m_arg, over_budget, s_arg, strval};
use crate::value::{ElemType, Value, deep_copy as value_deep_copy, type_name};

use super::{R, normalize_nil};

pub(crate) fn deep_copy(cx: &mut Cx<'_>, a: &[Value]) -> R {
    value_deep_copy(arg(a, 0), cx.heap, 0).map_err(over_budget)
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
