//! Sprig's encoding functions: base64 and base32 as Go's `encoding` packages do them.

use base64::Engine as _;

use crate::call::{Cx, s_arg};
use crate::value::Value;

use super::R;

pub(crate) fn b64enc(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(
        base64::engine::general_purpose::STANDARD.encode(s_arg(a, 0).as_bytes()),
    ))
}

fn b64_decode_map(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString`, including its error offsets.
fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut dst = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0usize;
    loop {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4usize;
        let mut j = 0usize;
        let mut trailing_err: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(dst);
                }
                // Padding is mandatory for StdEncoding.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_decode_map(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18)
            | (u32::from(dbuf[1]) << 12)
            | (u32::from(dbuf[2]) << 6)
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        match dlen {
            4 => dst.extend_from_slice(&bytes),
            3 => dst.extend_from_slice(&bytes[..2]),
            2 => dst.push(bytes[0]),
            _ => {}
        }
        if let Some(e) = trailing_err {
            return Err(e);
        }
        if dlen < 4 {
            return Ok(dst);
        }
    }
}

pub(crate) fn b64dec(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(match go_b64_decode(s_arg(a, 0).as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(pos) => format!("illegal base64 data at input byte {pos}"),
    }))
}

const B32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(crate) fn b32enc(_: &mut Cx<'_>, a: &[Value]) -> R {
    let src = s_arg(a, 0).as_bytes();
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let nchars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < nchars {
                let idx = ((v >> (35 - 5 * i)) & 0x1F) as usize;
                out.push(char::from(B32_ALPHABET[idx]));
            } else {
                out.push('=');
            }
        }
    }
    Ok(Value::str(out))
}

/// Go's `base32.StdEncoding.DecodeString` (newlines stripped first).
fn go_b32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input
        .iter()
        .copied()
        .filter(|&c| c != b'\n' && c != b'\r')
        .collect();
    let olen = src.len();
    let mut dst = Vec::new();
    let mut rest: &[u8] = &src;
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8usize;
        let mut j = 0usize;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - rest.len() - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 8 - 1 {
                    return Err(olen);
                }
                for k in 0..(8 - 1 - j) {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if dlen == 1 || dlen == 3 || dlen == 6 {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32_ALPHABET.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = v as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let mut out = [0u8; 5];
        out[0] = (dbuf[0] << 3) | (dbuf[1] >> 2);
        out[1] = (dbuf[1] << 6) | (dbuf[2] << 1) | (dbuf[3] >> 4);
        out[2] = (dbuf[3] << 4) | (dbuf[4] >> 1);
        out[3] = (dbuf[4] << 7) | (dbuf[5] << 2) | (dbuf[6] >> 3);
        out[4] = (dbuf[6] << 5) | dbuf[7];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        dst.extend_from_slice(&out[..n]);
    }
    Ok(dst)
}

pub(crate) fn b32dec(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(match go_b32_decode(s_arg(a, 0).as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(pos) => format!("illegal base32 data at input byte {pos}"),
    }))
}
