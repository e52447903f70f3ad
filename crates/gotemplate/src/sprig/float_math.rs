//! Sprig's float math (`maxf`, `minf`, `ceil`, `floor`, `round`).

use crate::call::{Cx, arg, i_arg};
use crate::value::Value;

use super::R;
use super::conversion::to_float64;

/// Go's `math.Max`.
fn go_fmax(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`.
fn go_fmin(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

pub(crate) fn maxf(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_float64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = go_fmax(m, to_float64(b));
    }
    Ok(Value::Float(m))
}

pub(crate) fn minf(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut m = to_float64(arg(a, 0));
    for b in a.iter().skip(1) {
        m = go_fmin(m, to_float64(b));
    }
    Ok(Value::Float(m))
}

pub(crate) fn ceil(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)).ceil()))
}

pub(crate) fn floor(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)).floor()))
}

pub(crate) fn round(_: &mut Cx<'_>, a: &[Value]) -> R {
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        _ => 0.5,
    };
    let val = to_float64(arg(a, 0));
    let places = i_arg(a, 1) as f64;
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let div = digit.fract();
    let r = if div >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}
