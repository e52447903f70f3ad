//! A port of the parts of Go's `fmt` and `strconv` formatting that
//! templates can reach: `print`, `println`, `printf` (verbs, flags, width,
//! precision, argument indexes and the `%!verb(...)` error forms) and
//! `strconv.Quote`/`FormatFloat`.

use super::budget::{Exceeded, Limit};
use super::uni;
use super::value::{ElemType, Heap, Value, type_name};

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

// ---------------------------------------------------------------------------
// strconv.Quote and friends

fn push_hex_escape(buf: &mut String, prefix: &str, v: u32, digits: u32) {
    buf.push_str(prefix);
    for i in (0..digits).rev() {
        let d = (v >> (i * 4)) & 0xF;
        buf.push(char::from(LDIGITS[d as usize]));
    }
}

fn append_escaped_rune(buf: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        buf.push('\\');
        buf.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && uni::is_print(r) {
            buf.push(r);
            return;
        }
    } else if uni::is_print(r) {
        buf.push(r);
        return;
    }
    match r {
        '\u{7}' => buf.push_str("\\a"),
        '\u{8}' => buf.push_str("\\b"),
        '\u{c}' => buf.push_str("\\f"),
        '\n' => buf.push_str("\\n"),
        '\r' => buf.push_str("\\r"),
        '\t' => buf.push_str("\\t"),
        '\u{b}' => buf.push_str("\\v"),
        _ => {
            let c = u32::from(r);
            if c < 0x20 || c == 0x7f {
                push_hex_escape(buf, "\\x", c, 2);
            } else if c < 0x10000 {
                push_hex_escape(buf, "\\u", c, 4);
            } else {
                push_hex_escape(buf, "\\U", c, 8);
            }
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub(crate) fn quote_str(s: &str, ascii_only: bool) -> String {
    let mut buf = String::with_capacity(s.len() + 2);
    buf.push('"');
    for r in s.chars() {
        append_escaped_rune(&mut buf, r, '"', ascii_only);
    }
    buf.push('"');
    buf
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(r: char, ascii_only: bool) -> String {
    let mut buf = String::new();
    buf.push('\'');
    append_escaped_rune(&mut buf, r, '\'', ascii_only);
    buf.push('\'');
    buf
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        c != '`' && c != '\u{FEFF}' && (c == '\t' || !((c as u32) < 0x20 || c == '\u{7f}'))
    })
}

fn rune_from_i64(v: i64) -> char {
    u32::try_from(v)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

// ---------------------------------------------------------------------------
// strconv.FormatFloat

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

fn fmt_x(dst: &mut String, prec: i64, fmt: char, neg: bool, v: f64) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
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

fn fmt_b(dst: &mut String, neg: bool, v: f64) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023 + 52;
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

// ---------------------------------------------------------------------------
// fmt printer

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

struct Printer<'h> {
    buf: String,
    f: Flags,
    heap: &'h Heap,
    /// The allocation budget left when printing started: the buffer may
    /// not grow beyond it (checked before padding and at every value).
    cap: usize,
    /// Padding was refused for lack of budget.
    over: bool,
}

enum Sign {
    Signed,
    Unsigned,
}

impl<'h> Printer<'h> {
    fn new(heap: &'h Heap) -> Self {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            heap,
            cap: heap.meter.alloc_left(),
            over: false,
        }
    }

    /// Fails once the buffer has outgrown the allocation budget.
    fn check(&self) -> Result<(), Exceeded> {
        if self.heap.meter.exceeded().is_some() {
            return Err(Exceeded);
        }
        if self.over || self.buf.len() > self.cap {
            return Err(self.heap.meter.fail(Limit::Alloc));
        }
        Ok(())
    }

    /// Charges the finished buffer to the allocation budget.
    fn finish(self) -> Result<String, Exceeded> {
        self.check()?;
        self.heap.meter.alloc_usize(self.buf.len())?;
        Ok(self.buf)
    }

    fn write_padding(&mut self, n: usize) {
        // Over-budget padding is skipped; `check` then fails the call.
        if self.buf.len().saturating_add(n) > self.cap {
            self.over = true;
            return;
        }
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        for _ in 0..n {
            self.buf.push(pad);
        }
    }

    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|w| *w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn pad_no_zero(&mut self, s: &str) {
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(s);
        self.f.zero = old;
    }

    fn fmt_integer(&mut self, u: u64, base: u64, sign: Sign, verb: char, digits: &[u8; 17]) {
        let negative = matches!(sign, Sign::Signed) && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec: usize = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus {
            if let Some(w) = self.f.wid {
                prec = w;
                if negative || self.f.plus || self.f.space {
                    prec = prec.saturating_sub(1);
                }
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(70 + prec);
        loop {
            out.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while out.len() < prec {
            out.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => out.extend_from_slice(b"b0"),
                8 => {
                    if out.last() != Some(&b'0') {
                        out.push(b'0');
                    }
                }
                16 => {
                    out.push(digits[16]);
                    out.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            out.extend_from_slice(b"o0");
        }
        if negative {
            out.push(b'-');
        } else if self.f.plus {
            out.push(b'+');
        } else if self.f.space {
            out.push(b' ');
        }
        out.reverse();
        let s: String = out.into_iter().map(char::from).collect();
        self.pad_no_zero(&s);
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4;
        if let Some(p) = self.f.prec {
            if p > 4 {
                prec = p;
            }
        }
        let mut s = format!("U+{:0width$X}", u, width = prec);
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                if uni::is_print(c) {
                    s.push_str(" '");
                    s.push(c);
                    s.push('\'');
                }
            }
        }
        self.pad_no_zero(&s);
    }

    fn fmt_int_verb(&mut self, v: i64, sign: Sign, verb: char, arg: &Value) {
        let u = v as u64;
        match verb {
            'v' => {
                if self.f.sharp_v && matches!(sign, Sign::Unsigned) {
                    let old = self.f.sharp;
                    self.f.sharp = true;
                    self.fmt_integer(u, 16, sign, 'v', LDIGITS);
                    self.f.sharp = old;
                } else {
                    self.fmt_integer(u, 10, sign, verb, LDIGITS);
                }
            }
            'd' => self.fmt_integer(u, 10, sign, verb, LDIGITS),
            'b' => self.fmt_integer(u, 2, sign, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, sign, verb, LDIGITS),
            'x' => self.fmt_integer(u, 16, sign, verb, LDIGITS),
            'X' => self.fmt_integer(u, 16, sign, verb, UDIGITS),
            'c' => {
                let s = rune_from_i64(v).to_string();
                self.pad(&s);
            }
            'q' => {
                let s = quote_rune(rune_from_i64(v), self.f.plus);
                self.pad(&s);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, arg: &Value) {
        let (verb, default_prec) = match verb {
            'v' => ('g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => (verb, -1),
            'f' | 'e' | 'E' => (verb, 6),
            'F' => ('f', 6),
            _ => {
                self.bad_verb(verb, arg);
                return;
            }
        };
        let prec = self.f.prec.map_or(default_prec, |p| p as i64);
        let formatted = if verb == 'b' {
            format_float(v, 'b', 0)
        } else {
            format_float(v, verb, prec)
        };
        let mut num: String = if formatted.starts_with('-') || formatted.starts_with('+') {
            formatted
        } else {
            format!("+{formatted}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            if second == Some(b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad_no_zero(&num);
            return;
        }
        if self.f.sharp && verb != 'b' {
            num = sharp_float(&num, verb, prec);
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && !self.f.minus {
                if let Some(w) = self.f.wid {
                    if w > num.chars().count() {
                        let (sign, rest) = num.split_at(1);
                        self.buf.push_str(sign);
                        self.write_padding(w - num.chars().count());
                        self.buf.push_str(rest);
                        return;
                    }
                }
            }
            self.pad(&num);
            return;
        }
        let unsigned = num.get(1..).unwrap_or("").to_string();
        self.pad(&unsigned);
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
        // Since Go 1.23 the '0' flag is ignored for strings.
        let old_zero = self.f.zero;
        self.f.zero = false;
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => {
                self.f.zero = old_zero;
                self.bad_verb(verb, arg);
                return;
            }
        }
        self.f.zero = old_zero;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if let Some(p) = self.f.prec {
            if let Some((i, _)) = s.char_indices().nth(p) {
                return &s[..i];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let t = self.truncate(s).to_string();
        self.pad(&t);
    }

    fn fmt_q(&mut self, s: &str) {
        let t = self.truncate(s);
        let quoted = if self.f.sharp && can_backquote(t) {
            format!("`{t}`")
        } else {
            quote_str(t, self.f.plus)
        };
        self.pad(&quoted);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let bytes = s.as_bytes();
        let mut length = bytes.len();
        if let Some(p) = self.f.prec {
            length = length.min(p);
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(char::from(digits[16]));
        }
        for (i, &c) in bytes.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(char::from(digits[16]));
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xF)]));
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_bool(&mut self, b: bool, verb: char, arg: &Value) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if arg.is_nilish() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(type_name(arg));
            self.buf.push('=');
            let saved = self.f;
            self.f = Flags::default();
            // Depth errors cannot occur here: the caller already walked
            // this value at the same depth.
            let _ = self.print_value(arg, 'v', 0);
            self.f = saved;
        }
        self.buf.push(')');
    }

    /// Go's `printArg` for a top-level operand.
    fn print_arg(&mut self, arg: &Value, verb: char) -> Result<(), Exceeded> {
        if arg.is_nilish() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            }
            return Ok(());
        }
        match verb {
            'T' => {
                let t = type_name(arg).to_string();
                self.fmt_s(&t);
                return Ok(());
            }
            'p' => {
                self.bad_verb(verb, arg);
                return Ok(());
            }
            _ => {}
        }
        self.print_value(arg, verb, 0)
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) -> Result<(), Exceeded> {
        self.heap.meter.check_depth(depth)?;
        self.heap.meter.step(1)?;
        self.check()?;
        match v {
            Value::Invalid | Value::Nil => {
                if depth == 0 {
                    self.pad("<nil>");
                } else if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) | Value::Int64(i) => self.fmt_int_verb(*i, Sign::Signed, verb, v),
            Value::Uint8(b) => self.fmt_int_verb(i64::from(*b), Sign::Unsigned, verb, v),
            Value::Float(f) => self.fmt_float(*f, verb, v),
            Value::Str(s) => self.fmt_string(s, verb, v),
            Value::List(l) => {
                if self.f.sharp_v {
                    self.buf.push_str(type_name(v));
                    if l.is_nil {
                        self.buf.push_str("(nil)");
                        return Ok(());
                    }
                    self.buf.push('{');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_elem(item, l.elem == ElemType::Any, verb, depth + 1)?;
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_elem(item, l.elem == ElemType::Any, verb, depth + 1)?;
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(id) => {
                let entries = self.heap.entries(*id);
                let is_nil = self.heap.map_is_nil(*id);
                self.print_map(
                    v,
                    is_nil,
                    entries.into_iter().map(|(k, v)| (k, v, true)).collect(),
                    verb,
                    depth,
                )?;
            }
            Value::StrMap(m) => {
                let entries = m
                    .iter()
                    .map(|(k, s)| (k.clone(), Value::str(s.as_str()), false))
                    .collect();
                self.print_map(v, false, entries, verb, depth)?;
            }
        }
        Ok(())
    }

    fn print_elem(
        &mut self,
        item: &Value,
        in_interface: bool,
        verb: char,
        depth: usize,
    ) -> Result<(), Exceeded> {
        if in_interface && item.is_nilish() {
            if self.f.sharp_v {
                self.buf.push_str("interface {}(nil)");
            } else {
                self.buf.push_str("<nil>");
            }
            return Ok(());
        }
        self.print_value(item, verb, depth)
    }

    fn print_map(
        &mut self,
        v: &Value,
        is_nil: bool,
        entries: Vec<(String, Value, bool)>,
        verb: char,
        depth: usize,
    ) -> Result<(), Exceeded> {
        if self.f.sharp_v {
            self.buf.push_str(type_name(v));
            if is_nil {
                self.buf.push_str("(nil)");
                return Ok(());
            }
            self.buf.push('{');
        } else {
            self.buf.push_str("map[");
        }
        for (i, (k, item, in_interface)) in entries.iter().enumerate() {
            if i > 0 {
                if self.f.sharp_v {
                    self.buf.push_str(", ");
                } else {
                    self.buf.push(' ');
                }
            }
            self.print_value(&Value::str(k.as_str()), verb, depth + 1)?;
            self.buf.push(':');
            self.print_elem(item, *in_interface, verb, depth + 1)?;
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
        Ok(())
    }
}

/// The `#` flag handling of Go's `fmt.fmtFloat`.
fn sharp_float(num: &str, verb: char, prec: i64) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => {
            if prec == -1 {
                6
            } else {
                prec
            }
        }
        _ => 0,
    };
    let bytes = num.as_bytes();
    let mut body: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut has_decimal_point = false;
    let mut saw_nonzero = false;
    body.push(bytes[0]);
    let mut i = 1;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'.' => {
                has_decimal_point = true;
                body.push(c);
            }
            b'p' | b'P' => {
                tail.extend_from_slice(&bytes[i..]);
                break;
            }
            b'e' | b'E' if verb != 'x' && verb != 'X' => {
                tail.extend_from_slice(&bytes[i..]);
                break;
            }
            _ => {
                if c != b'0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
                body.push(c);
            }
        }
        i += 1;
    }
    if !has_decimal_point {
        if body.len() == 2 && body[1] == b'0' {
            digits -= 1;
        }
        body.push(b'.');
    }
    while digits > 0 {
        body.push(b'0');
        digits -= 1;
    }
    body.extend_from_slice(&tail);
    body.into_iter().map(char::from).collect()
}

/// `fmt.Sprint(v)` for a single value, as used when printing an action's
/// result or converting with Sprig's `toString`.
pub(crate) fn sprint_value(v: &Value, heap: &Heap) -> Result<String, Exceeded> {
    let mut p = Printer::new(heap);
    p.print_arg(v, 'v')?;
    p.finish()
}

/// `fmt.Sprint(args...)`.
pub(crate) fn sprint(args: &[Value], heap: &Heap) -> Result<String, Exceeded> {
    let mut p = Printer::new(heap);
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v')?;
        p.check()?;
        prev_string = is_string;
    }
    p.finish()
}

/// `fmt.Sprintln(args...)`.
pub(crate) fn sprintln(args: &[Value], heap: &Heap) -> Result<String, Exceeded> {
    let mut p = Printer::new(heap);
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v')?;
        p.check()?;
    }
    p.buf.push('\n');
    p.finish()
}

const MAX_FMT_NUM: usize = 1_000_000;

/// Go's `parsenum`.
fn parse_num(s: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    if start >= end {
        return (None, end);
    }
    let mut num: usize = 0;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > MAX_FMT_NUM {
            return (None, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (if isnum { Some(num) } else { None }, i)
}

/// Go's `intFromArg`.
fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, usize) {
    let Some(a) = args.get(arg_num) else {
        return (None, arg_num);
    };
    let n = a
        .as_int()
        .filter(|n| n.unsigned_abs() <= MAX_FMT_NUM as u64);
    (n, arg_num + 1)
}

struct ArgState {
    reordered: bool,
    good_arg_num: bool,
}

/// Go's `argNumber`.
fn arg_number(
    st: &mut ArgState,
    arg_num: usize,
    format: &[u8],
    i: usize,
    num_args: usize,
) -> (usize, usize, bool) {
    if format.len() <= i || format[i] != b'[' {
        return (arg_num, i, false);
    }
    st.reordered = true;
    let rest = &format[i..];
    // parseArgNumber
    let (index, wid, ok) = 'parse: {
        if rest.len() < 3 {
            break 'parse (0usize, 1usize, false);
        }
        for j in 1..rest.len() {
            if rest[j] == b']' {
                let (width, newi) = parse_num(rest, 1, j);
                match width {
                    Some(w) if newi == j && w >= 1 => break 'parse (w - 1, j + 1, true),
                    Some(_) if newi == j => break 'parse (usize::MAX, j + 1, true),
                    _ => break 'parse (0, j + 1, false),
                }
            }
        }
        (0, 1, false)
    };
    if ok && index < num_args {
        return (index, i + wid, true);
    }
    st.good_arg_num = false;
    (arg_num, i + wid, ok)
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Value], heap: &Heap) -> Result<String, Exceeded> {
    let mut p = Printer::new(heap);
    let fb = format.as_bytes();
    let end = fb.len();
    let mut arg_num: usize = 0;
    let mut after_index;
    let mut st = ArgState {
        reordered: false,
        good_arg_num: true,
    };
    let mut i = 0;
    'format_loop: while i < end {
        p.check()?;
        st.good_arg_num = true;
        let lasti = i;
        while i < end && fb[i] != b'%' {
            i += 1;
        }
        if i > lasti {
            p.buf.push_str(format.get(lasti..i).unwrap_or(""));
        }
        if i >= end {
            break;
        }
        i += 1; // skip '%'
        p.f = Flags::default();
        // flags
        while i < end {
            match fb[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = true,
                b'+' => p.f.plus = true,
                b'-' => p.f.minus = true,
                b' ' => p.f.space = true,
                c => {
                    if c.is_ascii_lowercase() && arg_num < args.len() {
                        if c == b'v' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        let arg = args[arg_num].clone();
                        p.print_arg(&arg, char::from(c))?;
                        arg_num += 1;
                        i += 1;
                        continue 'format_loop;
                    }
                    break;
                }
            }
            i += 1;
        }
        // argument index
        let (an, ni, ai) = arg_number(&mut st, arg_num, fb, i, args.len());
        arg_num = an;
        i = ni;
        after_index = ai;
        // width
        if i < end && fb[i] == b'*' {
            i += 1;
            let (w, an) = int_from_arg(args, arg_num);
            arg_num = an;
            match w {
                Some(w) => {
                    if w < 0 {
                        p.f.minus = true;
                        p.f.zero = false;
                    }
                    p.f.wid = Some(w.unsigned_abs() as usize);
                }
                None => {
                    p.f.wid = None;
                    p.buf.push_str("%!(BADWIDTH)");
                }
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(fb, i, end);
            p.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                st.good_arg_num = false;
            }
        }
        // precision
        if i + 1 < end && fb[i] == b'.' {
            i += 1;
            if after_index {
                st.good_arg_num = false;
            }
            let (an, ni, ai) = arg_number(&mut st, arg_num, fb, i, args.len());
            arg_num = an;
            i = ni;
            after_index = ai;
            if i < end && fb[i] == b'*' {
                i += 1;
                let (pr, an) = int_from_arg(args, arg_num);
                arg_num = an;
                match pr {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    Some(_) => p.f.prec = None,
                    None => {
                        p.f.prec = None;
                        p.buf.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(fb, i, end);
                i = ni;
                p.f.prec = Some(pr.unwrap_or(0));
            }
        }
        if !after_index {
            let (an, ni, _) = arg_number(&mut st, arg_num, fb, i, args.len());
            arg_num = an;
            i = ni;
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let Some(verb) = format.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            p.buf.push('%');
        } else if !st.good_arg_num {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(BADINDEX)");
        } else if arg_num >= args.len() {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(MISSING)");
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            let arg = args[arg_num].clone();
            p.print_arg(&arg, verb)?;
            arg_num += 1;
        }
    }
    if !st.reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if arg.is_nilish() {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(type_name(arg));
                p.buf.push('=');
                p.print_arg(arg, 'v')?;
            }
        }
        p.buf.push(')');
    }
    p.finish()
}
