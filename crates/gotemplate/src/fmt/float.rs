//! Go's `strconv.FormatFloat` (verbs `e`, `f`, `g`, `x`, `b`; shortest and fixed precision).

use super::{LDIGITS, UDIGITS};

/// Decimal digits of a float: `d` holds the significant digits without
/// trailing zeros and the decimal point sits after `dp` digits.
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

fn parse_exp_repr(s: &str) -> Decimal {
    // s looks like "1.2345e-7" or "5e3"
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp: exp + 1 }
}

fn shortest_decimal(v: f64) -> Decimal {
    if v == 0.0 {
        return Decimal {
            d: Vec::new(),
            dp: 0,
        };
    }
    parse_exp_repr(&format!("{:e}", v.abs()))
}

fn fixed_decimal(v: f64, digits: usize) -> Decimal {
    if v == 0.0 {
        return Decimal {
            d: Vec::new(),
            dp: 0,
        };
    }
    let digits = digits.clamp(1, 800);
    parse_exp_repr(&format!("{:.*e}", digits - 1, v.abs()))
}

fn fmt_e(dst: &mut String, neg: bool, d: &Decimal, prec: i64, fmt: char) {
    if neg {
        dst.push('-');
    }
    dst.push(char::from(d.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        dst.push('.');
        let mut i: i64 = 1;
        let m = (d.d.len() as i64).min(prec + 1);
        while i < m {
            dst.push(char::from(d.d[i as usize]));
            i += 1;
        }
        while i <= prec {
            dst.push('0');
            i += 1;
        }
    }
    dst.push(fmt);
    let mut exp = d.dp - 1;
    if d.d.is_empty() {
        exp = 0;
    }
    push_exponent(dst, exp);
}

fn fmt_f(dst: &mut String, neg: bool, d: &Decimal, prec: i64) {
    if neg {
        dst.push('-');
    }
    let nd = d.d.len() as i64;
    if d.dp > 0 {
        let m = nd.min(d.dp);
        for &c in &d.d[..m as usize] {
            dst.push(char::from(c));
        }
        for _ in m..d.dp {
            dst.push('0');
        }
    } else {
        dst.push('0');
    }
    if prec > 0 {
        dst.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let ch = if (0..nd).contains(&j) {
                d.d[j as usize]
            } else {
                b'0'
            };
            dst.push(char::from(ch));
        }
    }
}

/// The unbiased binary exponent of `v` and its mantissa with the implicit
/// leading bit (`exp` as for a normal number when `v` is subnormal).
fn binary_parts(v: f64) -> (i64, u64) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    (exp - 1023, mant)
}

fn fmt_x(dst: &mut String, prec: i64, fmt: char, neg: bool, v: f64) {
    let (mut exp, mut mant) = binary_parts(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1u64 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1u64 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1u64 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if fmt == 'X' { UDIGITS } else { LDIGITS };
    if neg {
        dst.push('-');
    }
    dst.push('0');
    dst.push(fmt);
    dst.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        dst.push('.');
        while mant != 0 {
            dst.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        dst.push('.');
        for _ in 0..prec {
            dst.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    dst.push(if fmt == 'X' { 'P' } else { 'p' });
    push_exponent(dst, exp);
}

fn fmt_b(dst: &mut String, neg: bool, v: f64) {
    let (mut exp, mant) = binary_parts(v);
    exp -= 52;
    if neg {
        dst.push('-');
    }
    dst.push_str(&mant.to_string());
    dst.push('p');
    if exp >= 0 {
        dst.push('+');
    }
    dst.push_str(&exp.to_string());
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`.
pub(crate) fn format_float(v: f64, fmt: char, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = v.is_sign_negative();
    let mut dst = String::new();
    match fmt {
        'b' => {
            fmt_b(&mut dst, neg, v);
            return dst;
        }
        'x' | 'X' => {
            fmt_x(&mut dst, prec, fmt, neg, v);
            return dst;
        }
        _ => {}
    }
    let shortest = prec < 0;
    let (digs, mut prec) = if shortest {
        let digs = shortest_decimal(v);
        let nd = digs.d.len() as i64;
        let p = match fmt {
            'e' | 'E' => (nd - 1).max(0),
            'f' => (nd - digs.dp).max(0),
            _ => nd,
        };
        (digs, p)
    } else {
        match fmt {
            'e' | 'E' => (fixed_decimal(v, (prec + 1) as usize), prec),
            'f' => {
                let p = prec.min(1_000_000) as usize;
                let s = format!("{:.*}", p, v.abs());
                if neg {
                    dst.push('-');
                }
                dst.push_str(&s);
                return dst;
            }
            _ => {
                let p = if prec == 0 { 1 } else { prec };
                (fixed_decimal(v, p as usize), p)
            }
        }
    };
    let nd = digs.d.len() as i64;
    match fmt {
        'e' | 'E' => fmt_e(&mut dst, neg, &digs, prec, fmt),
        'f' => fmt_f(&mut dst, neg, &digs, prec),
        _ => {
            let upper = fmt == 'G';
            let mut eprec = prec;
            if eprec > nd && nd >= digs.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(
                    &mut dst,
                    neg,
                    &digs,
                    prec - 1,
                    if upper { 'E' } else { 'e' },
                );
            } else {
                if prec > digs.dp {
                    prec = nd;
                }
                fmt_f(&mut dst, neg, &digs, (prec - digs.dp).max(0));
            }
        }
    }
    dst
}

/// The exponent as `FormatFloat` writes it: a sign and at least two digits.
fn push_exponent(dst: &mut String, mut exp: i64) {
    if exp < 0 {
        dst.push('-');
        exp = -exp;
    } else {
        dst.push('+');
    }
    if exp < 10 {
        dst.push('0');
    }
    dst.push_str(&exp.to_string());
}
