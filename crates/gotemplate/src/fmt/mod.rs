//! A port of the parts of Go's `fmt` and `strconv` formatting that
//! templates can reach: `print`, `println`, `printf` (verbs, flags, width,
//! precision, argument indexes and the `%!verb(...)` error forms) and
//! `strconv.Quote`/`FormatFloat`.

mod float;
mod quote;
mod values;
mod verbs;

pub(crate) use float::format_float;
pub(crate) use quote::quote_str;

use super::budget::{Exceeded, Limit};
use super::value::{Heap, Value};

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

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
        (arg_num, i, after_index) = arg_number(&mut st, arg_num, fb, i, args.len());
        // width
        if i < end && fb[i] == b'*' {
            i += 1;
            let w;
            (w, arg_num) = int_from_arg(args, arg_num);
            // A negative width means left-justified.
            if w.is_some_and(|w| w < 0) {
                p.f.minus = true;
                p.f.zero = false;
            }
            p.f.wid = w.map(|w| w.unsigned_abs() as usize);
            if w.is_none() {
                p.buf.push_str("%!(BADWIDTH)");
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
            (arg_num, i, after_index) = arg_number(&mut st, arg_num, fb, i, args.len());
            if i < end && fb[i] == b'*' {
                i += 1;
                let pr;
                (pr, arg_num) = int_from_arg(args, arg_num);
                // A negative precision means none.
                p.f.prec = pr.and_then(|pr| usize::try_from(pr).ok());
                if pr.is_none() {
                    p.buf.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(fb, i, end);
                i = ni;
                p.f.prec = Some(pr.unwrap_or(0));
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(&mut st, arg_num, fb, i, args.len());
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
            p.typed_value(arg)?;
        }
        p.buf.push(')');
    }
    p.finish()
}
