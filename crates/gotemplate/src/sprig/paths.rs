//! Sprig's path and filepath functions (Go's `path` package; `filepath` is identical on Unix).

use crate::call::{Cx, s_arg};
use crate::value::Value;

use super::R;

pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let p = path.as_bytes();
    let rooted = p[0] == b'/';
    let n = p.len();
    // Port of Go's lazybuf: `buf[..w]` is the output so far, and bytes past
    // `w` may still be inspected after backing up.
    let mut buf: Vec<u8> = Vec::with_capacity(n);
    let mut w = 0usize;
    let append = |buf: &mut Vec<u8>, w: &mut usize, c: u8| {
        if *w < buf.len() {
            buf[*w] = c;
        } else {
            buf.push(c);
        }
        *w += 1;
    };
    let (mut r, mut dotdot) = (0usize, 0usize);
    if rooted {
        append(&mut buf, &mut w, b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            r += 1;
        } else if p[r] == b'.' && p.get(r + 1) == Some(&b'.') && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if w > dotdot {
                w -= 1;
                while w > dotdot && buf.get(w) != Some(&b'/') {
                    w -= 1;
                }
            } else if !rooted {
                if w > 0 {
                    append(&mut buf, &mut w, b'/');
                }
                append(&mut buf, &mut w, b'.');
                append(&mut buf, &mut w, b'.');
                dotdot = w;
            }
        } else {
            if (rooted && w != 1) || (!rooted && w != 0) {
                append(&mut buf, &mut w, b'/');
            }
            while r < n && p[r] != b'/' {
                append(&mut buf, &mut w, p[r]);
                r += 1;
            }
        }
    }
    if w == 0 {
        return ".".to_string();
    }
    String::from_utf8_lossy(buf.get(..w).unwrap_or(&[])).into_owned()
}

pub(crate) fn path_clean(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::str(clean_path(s_arg(a, 0))))
}

pub(crate) fn path_base(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut p = s_arg(a, 0);
    if p.is_empty() {
        return Ok(Value::str("."));
    }
    p = p.trim_end_matches('/');
    if let Some(i) = p.rfind('/') {
        p = &p[i + 1..];
    }
    if p.is_empty() {
        return Ok(Value::str("/"));
    }
    Ok(Value::str(p))
}

pub(crate) fn path_dir(_: &mut Cx<'_>, a: &[Value]) -> R {
    let p = s_arg(a, 0);
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    Ok(Value::str(clean_path(dir)))
}

pub(crate) fn path_ext(_: &mut Cx<'_>, a: &[Value]) -> R {
    let p = s_arg(a, 0);
    for (i, b) in p.bytes().enumerate().rev() {
        if b == b'/' {
            break;
        }
        if b == b'.' {
            return Ok(Value::str(&p[i..]));
        }
    }
    Ok(Value::str(""))
}

pub(crate) fn path_is_abs(_: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(s_arg(a, 0).starts_with('/')))
}
