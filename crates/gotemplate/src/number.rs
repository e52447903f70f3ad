//! Go `strconv`-compatible number and string-literal parsing.

use super::lex::ItemType;
use super::node::{NumberNode, Pos};

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NumError {
    Syntax,
    Range,
}

fn lower(c: u8) -> u8 {
    c | 0x20
}

/// Go's `underscoreOK`: underscores may only separate digits.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut s = b;
    if !s.is_empty() && (s[0] == b'-' || s[0] == b'+') {
        s = &s[1..];
    }
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&lower(c))) {
            saw = b'0';
            i += 1;
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            i += 1;
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, base, 64)` for base 0 or an explicit base.
pub(crate) fn parse_uint(s0: &str, base: u32) -> Result<u64, NumError> {
    if s0.is_empty() {
        return Err(NumError::Syntax);
    }
    let base0 = base == 0;
    let mut s = s0.as_bytes();
    let mut base = base;
    if base0 {
        base = 10;
        if s[0] == b'0' {
            if s.len() >= 3 && lower(s[1]) == b'b' {
                base = 2;
                s = &s[2..];
            } else if s.len() >= 3 && lower(s[1]) == b'o' {
                base = 8;
                s = &s[2..];
            } else if s.len() >= 3 && lower(s[1]) == b'x' {
                base = 16;
                s = &s[2..];
            } else {
                base = 8;
                s = &s[1..];
            }
        }
    } else if !(2..=36).contains(&base) {
        return Err(NumError::Syntax);
    }
    let mut n: u64 = 0;
    let mut underscores = false;
    let mut overflow = false;
    for &c in s {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u32::from(c - b'0'),
            _ if lower(c).is_ascii_lowercase() => u32::from(lower(c) - b'a') + 10,
            _ => return Err(NumError::Syntax),
        };
        if d >= base {
            return Err(NumError::Syntax);
        }
        if overflow {
            continue;
        }
        match n
            .checked_mul(u64::from(base))
            .and_then(|m| m.checked_add(u64::from(d)))
        {
            Some(v) => n = v,
            None => overflow = true,
        }
    }
    if underscores && !underscore_ok(s0) {
        return Err(NumError::Syntax);
    }
    if overflow {
        return Err(NumError::Range);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, base, 64)`. On a range error the clamped
/// value is returned alongside the error, as Go does.
pub(crate) fn parse_int(s0: &str, base: u32) -> Result<i64, (NumError, i64)> {
    if s0.is_empty() {
        return Err((NumError::Syntax, 0));
    }
    let (neg, s) = match s0.as_bytes()[0] {
        b'+' => (false, &s0[1..]),
        b'-' => (true, &s0[1..]),
        _ => (false, s0),
    };
    let un = match parse_uint(s, base) {
        Ok(v) => v,
        Err(NumError::Syntax) => return Err((NumError::Syntax, 0)),
        Err(NumError::Range) => u64::MAX,
    };
    let cutoff: u64 = 1 << 63;
    if !neg && un >= cutoff {
        return Err((NumError::Range, i64::MAX));
    }
    if neg && un > cutoff {
        return Err((NumError::Range, i64::MIN));
    }
    if neg {
        Ok((un as i64).wrapping_neg())
    } else {
        Ok(un as i64)
    }
}

/// Go's `strconv.ParseFloat(s, 64)` (decimal and hexadecimal forms,
/// `inf`/`nan` spellings, underscores per Go syntax).
pub(crate) fn parse_float(s: &str) -> Result<f64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lowered = body.to_ascii_lowercase();
    if lowered == "inf" || lowered == "infinity" {
        return Ok(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lowered == "nan" && s.len() == 3 {
        return Ok(f64::NAN);
    }
    if body.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let cleaned: String = body.chars().filter(|&c| c != '_').collect();
    let v =
        if cleaned.len() >= 2 && cleaned.starts_with('0') && lower(cleaned.as_bytes()[1]) == b'x' {
            parse_hex_float(&cleaned[2..])?
        } else {
            if !cleaned
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
                || !cleaned
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == b'.')
            {
                return Err(NumError::Syntax);
            }
            cleaned.parse::<f64>().map_err(|_| NumError::Syntax)?
        };
    if v.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Result<f64, NumError> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => return Err(NumError::Syntax),
    };
    let exp: i64 = match parse_int(exp, 10) {
        Ok(e) => e,
        Err((NumError::Range, e)) => e,
        Err(_) => return Err(NumError::Syntax),
    };
    let mut value: f64 = 0.0;
    let mut scale: i64 = 0;
    let mut seen_dot = false;
    let mut any_digit = false;
    for c in mant.chars() {
        if c == '.' {
            if seen_dot {
                return Err(NumError::Syntax);
            }
            seen_dot = true;
            continue;
        }
        let d = c.to_digit(16).ok_or(NumError::Syntax)?;
        any_digit = true;
        value = value * 16.0 + f64::from(d);
        if seen_dot {
            scale -= 4;
        }
    }
    if !any_digit {
        return Err(NumError::Syntax);
    }
    let total = exp.saturating_add(scale).clamp(-2000, 2000) as i32;
    Ok(value * 2f64.powi(total))
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape in
/// `s`, returning it and the remaining tail.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(char, &str), String> {
    let syntax = || "invalid syntax".to_string();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(syntax)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(syntax());
    }
    if c != '\\' {
        return Ok((c, chars.as_str()));
    }
    let c = chars.next().ok_or_else(syntax)?;
    let rest = chars.as_str();
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if c != quote {
                return Err(syntax());
            }
            Some(c)
        }
        _ => None,
    };
    if let Some(v) = simple {
        return Ok((v, rest));
    }
    match c {
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).ok_or_else(syntax)?;
            let v = u32::from_str_radix(digits, 16).map_err(|_| syntax())?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax());
            }
            let tail = rest.get(n..).ok_or_else(syntax)?;
            if c == 'x' {
                // Go yields a single byte; bytes >= 0x80 are not valid UTF-8
                // on their own, so they are mapped to the same code point.
                return Ok((char::from_u32(v).ok_or_else(syntax)?, tail));
            }
            let ch = char::from_u32(v).ok_or_else(syntax)?;
            Ok((ch, tail))
        }
        '0'..='7' => {
            let digits = rest.get(..2).ok_or_else(syntax)?;
            let mut v = c.to_digit(8).ok_or_else(syntax)?;
            for d in digits.chars() {
                v = v * 8 + d.to_digit(8).ok_or_else(syntax)?;
            }
            if v > 255 {
                return Err(syntax());
            }
            let tail = rest.get(2..).ok_or_else(syntax)?;
            Ok((char::from_u32(v).ok_or_else(syntax)?, tail))
        }
        _ => Err(syntax()),
    }
}

/// Go's `strconv.Unquote` for double-quoted and back-quoted literals.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let syntax = || "invalid syntax".to_string();
    let n = s.len();
    if n < 2 {
        return Err(syntax());
    }
    let quote = s.as_bytes()[0];
    if !matches!(quote, b'"' | b'`') || quote != s.as_bytes()[n - 1] {
        return Err(syntax());
    }
    let inner = s.get(1..n - 1).ok_or_else(syntax)?;
    match quote {
        b'`' => {
            if inner.contains('`') {
                return Err(syntax());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(syntax());
            }
            let mut out = String::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, '"')?;
                out.push(c);
                rest = tail;
            }
            Ok(out)
        }
        _ => Err(syntax()),
    }
}

/// Go's `parse.Tree.newNumber`.
pub(crate) fn new_number(pos: Pos, text: &str, typ: ItemType) -> Result<NumberNode, String> {
    let mut n = NumberNode {
        pos,
        text: text.to_string(),
        is_int: false,
        is_uint: false,
        is_float: false,
        int64: 0,
        float64: 0.0,
    };
    match typ {
        ItemType::CharConstant => {
            let body = text.get(1..).unwrap_or("");
            let (r, tail) = unquote_char(body, '\'')?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            let v = u32::from(r);
            n.int64 = i64::from(v);
            n.is_int = true;
            n.is_uint = true;
            n.float64 = f64::from(v);
            n.is_float = true;
            return Ok(n);
        }
        ItemType::Complex => {
            return Err(format!("complex constants are not supported: {text}"));
        }
        _ => {}
    }
    if text.ends_with('i') {
        return Err(format!("complex constants are not supported: {text}"));
    }
    let u = parse_uint(text, 0);
    if u.is_ok() {
        n.is_uint = true;
    }
    if let Ok(i) = parse_int(text, 0) {
        n.is_int = true;
        n.int64 = i;
        if i == 0 {
            n.is_uint = true;
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float64 = n.int64 as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float64 = u.map(|v| v as f64).unwrap_or(0.0);
    } else if let Ok(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!(
                "integer overflow: {}",
                super::fmt::quote_str(text, false)
            ));
        }
        n.is_float = true;
        n.float64 = f;
        if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            n.is_int = true;
            n.int64 = f as i64;
        }
        if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            n.is_uint = true;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            super::fmt::quote_str(text, false)
        ));
    }
    Ok(n)
}
