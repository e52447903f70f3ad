//! The printf verb engine: integers, floats, strings and booleans under a verb, flags, width and precision.

use crate::budget::Exceeded;
use crate::uni;
use crate::value::{Value, type_name};

use super::float::format_float;
use super::quote::{can_backquote, quote_rune, quote_str, rune_from_i64};
use super::{Flags, LDIGITS, Printer, Sign, UDIGITS};

impl Printer<'_> {
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

    pub(super) fn fmt_int_verb(&mut self, v: i64, sign: Sign, verb: char, arg: &Value) {
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

    pub(super) fn fmt_float(&mut self, v: f64, verb: char, arg: &Value) {
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

    pub(super) fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
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

    pub(super) fn fmt_s(&mut self, s: &str) {
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

    pub(super) fn fmt_bool(&mut self, b: bool, verb: char, arg: &Value) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, arg),
        }
    }

    pub(super) fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        // Depth errors cannot occur here: the caller already walked this value at the same
        // depth.
        let _ = self.typed_value(arg);
        self.buf.push(')');
    }

    /// Go's `type=value` (`<nil>` for nil) of a bad verb's or an extra argument, the value
    /// printed with `%v` and default flags.
    pub(super) fn typed_value(&mut self, arg: &Value) -> Result<(), Exceeded> {
        if arg.is_nilish() {
            self.buf.push_str("<nil>");
            return Ok(());
        }
        self.buf.push_str(type_name(arg));
        self.buf.push('=');
        let saved = self.f;
        self.f = Flags::default();
        let res = self.print_value(arg, 'v', 0);
        self.f = saved;
        res
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
