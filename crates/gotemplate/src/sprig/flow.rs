//! Sprig's flow control (`fail`).

use crate::call::{Cx, s_arg};
use crate::value::Value;

use super::R;

pub(crate) fn fail(cx: &mut Cx<'_>, a: &[Value]) -> R {
    // The message is echoed only when it is a literal in the template text;
    // a computed message might contain secret data.
    if cx.literal.first().copied().unwrap_or(false) {
        Err(s_arg(a, 0).to_string())
    } else {
        Err("(message withheld: it was not a string literal in the template)".to_string())
    }
}
