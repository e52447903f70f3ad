//! Sprig's default functions (`default`, `empty`, `coalesce`, `all`, `any`, `ternary`).

use crate::call::{Cx, arg, b_arg};
use crate::value::{Value, is_true};

use super::R;

pub(super) fn empty_value(v: &Value, cx: &Cx<'_>) -> bool {
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
