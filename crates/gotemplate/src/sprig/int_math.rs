//! Sprig's integer math and integer slices (`add`, `div`, `max`, `until`, `seq` ...).

use rand::RngExt as _;

use crate::MAX_LIST_LEN;
use crate::call::{Cx, arg, i_arg};
use crate::value::{ElemType, Value};

use super::R;
use super::conversion::to_int64;

/// Sprig's `untilStep`, with a size guard.
fn until_step_vec(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let mut v = Vec::new();
    // Counts towards `stop`; a step of the wrong sign (or zero) gives an empty list.
    let up = stop >= start;
    if (up && step <= 0) || (!up && step >= 0) {
        return Ok(v);
    }
    let mut i = start;
    while (up && i < stop) || (!up && i > stop) {
        if v.len() >= MAX_LIST_LEN {
            return Err(format!("list exceeds the maximum length of {MAX_LIST_LEN}"));
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

/// Combines the arguments (each as `cast.ToInt64`) left to right with `op`.
fn fold_int64(a: &[Value], op: fn(i64, i64) -> i64) -> R {
    let mut v = to_int64(arg(a, 0));
    for b in a.iter().skip(1) {
        v = op(v, to_int64(b));
    }
    Ok(Value::Int64(v))
}

pub(crate) fn mul(_: &mut Cx<'_>, a: &[Value]) -> R {
    fold_int64(a, i64::wrapping_mul)
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
    fold_int64(a, i64::max)
}

pub(crate) fn min(_: &mut Cx<'_>, a: &[Value]) -> R {
    fold_int64(a, i64::min)
}
