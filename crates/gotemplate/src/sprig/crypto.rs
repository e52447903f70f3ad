//! Sprig's cryptographic and security functions: hashes, `bcrypt`, `htpasswd`, `randBytes`.

use base64::Engine as _;
use rand::RngExt as _;
use sha1::Digest as _;

use crate::call::{Cx, i_arg, s_arg};
use crate::value::Value;

use super::{R, check_len};

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha1sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha1::Sha1::digest(s_arg(a, 0).as_bytes()))))
}

pub(crate) fn sha256sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha2::Sha256::digest(
        s_arg(a, 0).as_bytes(),
    ))))
}

pub(crate) fn sha512sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(hex(&sha2::Sha512::digest(
        s_arg(a, 0).as_bytes(),
    ))))
}

pub(crate) fn adler32sum(_: &mut Cx<'_>, a: &[Value]) -> R {
    const MOD: u32 = 65521;
    let (mut s1, mut s2) = (1u32, 0u32);
    for &b in s_arg(a, 0).as_bytes() {
        s1 = (s1 + u32::from(b)) % MOD;
        s2 = (s2 + s1) % MOD;
    }
    Ok(Value::str(((s2 << 16) | s1).to_string()))
}

const BCRYPT_COST: u32 = 10;

fn bcrypt_hash(input: &str) -> String {
    if input.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .to_string();
    }
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt[..]);
    match bcrypt::hash_with_salt(input.as_bytes(), BCRYPT_COST, salt) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

pub(crate) fn bcrypt_fn(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(bcrypt_hash(s_arg(a, 0))))
}

pub(crate) fn htpasswd(_: &mut Cx<'_>, a: &[Value]) -> R {
    let (user, password) = (s_arg(a, 0), s_arg(a, 1));
    if user.contains(':') {
        return Ok(Value::str(format!("invalid username: {user}")));
    }
    Ok(Value::str(format!("{user}:{}", bcrypt_hash(password))))
}

pub(crate) fn rand_bytes(_: &mut Cx<'_>, a: &[Value]) -> R {
    let count = i_arg(a, 0);
    if count < 0 {
        return Err("runtime error: makeslice: len out of range".to_string());
    }
    check_len((count as usize).saturating_mul(4) / 3)?;
    let mut buf = vec![0u8; count as usize];
    rand::rng().fill(&mut buf[..]);
    Ok(Value::str(
        base64::engine::general_purpose::STANDARD.encode(&buf),
    ))
}
