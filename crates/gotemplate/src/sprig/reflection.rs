//! Sprig's reflection functions (`typeOf`, `kindIs`, `deepEqual` ...).

use crate::call::{Cx, arg, over_budget, s_arg};
use crate::value::{Value, deep_equal, kind_name, type_name};

use super::R;

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
