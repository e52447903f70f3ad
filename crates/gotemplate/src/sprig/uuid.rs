//! Sprig's UUID function (`uuidv4`).

use rand::RngExt as _;

use crate::call::Cx;
use crate::value::Value;

use super::R;
use super::crypto::hex;

pub(crate) fn uuidv4(_: &mut Cx<'_>, _: &[Value]) -> R {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b[..]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(Value::str(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )))
}
