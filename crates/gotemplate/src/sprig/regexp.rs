//! Sprig's regular-expression functions (Go RE2 syntax on top of the `regex` crate).

use regex::Regex;

use crate::MAX_STRING_BYTES;
use crate::budget::{Limit, Meter};
use crate::call::{Cx, i_arg, over_budget, s_arg};
use crate::uni;
use crate::value::{ELEM_BYTES, ElemType, Value};

use super::{R, too_big};

/// Rewrites Go's ASCII-only Perl classes (`\d`, `\w`, `\s`, `\b`) into
/// explicit ASCII forms, since the `regex` crate makes them Unicode-aware.
fn translate_go_regex(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len() + 16);
    let mut chars = pat.chars().peekable();
    let mut class_depth = 0usize;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = class_start;
        class_start = false;
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let inside = class_depth > 0;
                let rep: Option<&str> = match (n, inside) {
                    ('d', false) => Some("[0-9]"),
                    ('D', _) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', _) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('S', _) => Some("[^\\t\\n\\f\\r ]"),
                    ('d', true) => Some("0-9"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    _ => None,
                };
                match rep {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if class_depth > 0 => {
                if chars.peek() == Some(&':') {
                    // POSIX class like [:alpha:]; copy verbatim.
                    out.push('[');
                    for d in chars.by_ref() {
                        out.push(d);
                        if d == ']' {
                            break;
                        }
                    }
                } else {
                    // A '[' inside a class is a literal in Go but would
                    // open a nested class in the `regex` crate.
                    out.push_str("\\[");
                }
            }
            '&' | '~' if class_depth > 0 => {
                // Set operators (`&&`, `~~`) in the `regex` crate.
                out.push('\\');
                out.push(c);
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                class_start = true;
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    // A leading ']' is a literal in Go.
                    out.push_str("\\]");
                    chars.next();
                    class_start = false;
                }
            }
            ']' if class_depth > 0 && !at_class_start => {
                class_depth -= 1;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

fn compile(pattern: &str, literal: bool) -> Result<Regex, String> {
    regex::RegexBuilder::new(&translate_go_regex(pattern))
        .size_limit(1 << 22)
        .dfa_size_limit(1 << 22)
        .build()
        .map_err(|e| {
            if literal {
                let detail = e.to_string().replace('\n', " ");
                format!(
                    "error parsing regexp: {}",
                    detail.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            } else {
                "error parsing regexp (pattern withheld: not a template literal)".to_string()
            }
        })
}

fn compile_arg(cx: &Cx<'_>, a: &[Value]) -> Result<Regex, String> {
    compile(s_arg(a, 0), cx.literal.first().copied().unwrap_or(false))
}

/// Like `compile_arg`, but phrased as the panic of Go's `MustCompile`.
fn must_compile_arg(cx: &Cx<'_>, a: &[Value]) -> Result<Regex, String> {
    compile_arg(cx, a).map_err(|e| format!("regexp: Compile: {e}"))
}

/// How a function compiles its pattern (argument 0): the `must*` functions return the error
/// of [`compile_arg`], the others fail with Go's `MustCompile` panic ([`must_compile_arg`]).
/// Otherwise the two variants of each function are the same.
type CompileArg = fn(&Cx<'_>, &[Value]) -> Result<Regex, String>;

/// Go's `allMatches` iteration (empty matches abutting a previous match
/// are skipped). `n < 0` means no limit.
/// Every accepted match is charged to the allocation budget (the pair and
/// the string later made of it).
fn all_matches(re: &Regex, s: &str, n: i64, meter: &Meter) -> Result<Vec<(usize, usize)>, String> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut out = Vec::new();
    let end = s.len();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while out.len() < limit && pos <= end {
        let Some(m) = re.find_at(s, pos) else {
            break;
        };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            meter
                .alloc_usize(16 + ELEM_BYTES + (m.end() - m.start()))
                .map_err(over_budget)?;
            out.push((m.start(), m.end()));
        }
    }
    Ok(out)
}

pub(crate) fn regex_match(cx: &mut Cx<'_>, a: &[Value]) -> R {
    Ok(Value::Bool(
        compile_arg(cx, a).is_ok_and(|re| re.is_match(s_arg(a, 1))),
    ))
}

pub(crate) fn must_regex_match(cx: &mut Cx<'_>, a: &[Value]) -> R {
    let re = compile_arg(cx, a)?;
    Ok(Value::Bool(re.is_match(s_arg(a, 1))))
}

fn find_all(cx: &mut Cx<'_>, a: &[Value], compile: CompileArg) -> R {
    let re = compile(cx, a)?;
    let (s, n) = (s_arg(a, 1), i_arg(a, 2));
    if n == 0 {
        return Ok(Value::nil_list(ElemType::Str));
    }
    let found: Vec<String> = all_matches(&re, s, n, &cx.heap.meter)?
        .into_iter()
        .map(|(a, b)| s[a..b].to_string())
        .collect();
    if found.is_empty() {
        return Ok(Value::nil_list(ElemType::Str));
    }
    Ok(Value::str_list(found))
}

pub(crate) fn regex_find_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    find_all(cx, a, must_compile_arg)
}

pub(crate) fn must_regex_find_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    find_all(cx, a, compile_arg)
}

fn find(cx: &mut Cx<'_>, a: &[Value], compile: CompileArg) -> R {
    let re = compile(cx, a)?;
    let found = re.find(s_arg(a, 1)).map_or("", |m| m.as_str());
    cx.alloc(found.len())?;
    Ok(Value::str(found))
}

pub(crate) fn regex_find(cx: &mut Cx<'_>, a: &[Value]) -> R {
    find(cx, a, must_compile_arg)
}

pub(crate) fn must_regex_find(cx: &mut Cx<'_>, a: &[Value]) -> R {
    find(cx, a, compile_arg)
}

/// Go's `Regexp.Expand` template expansion.
fn expand(re: &Regex, template: &str, src: &str, caps: &regex::Captures<'_>, dst: &mut String) {
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let mut t = template;
    while let Some(i) = t.find('$') {
        dst.push_str(&t[..i]);
        t = &t[i + 1..];
        if t.starts_with('$') {
            dst.push('$');
            t = &t[1..];
            continue;
        }
        // extract
        let (brace, body) = match t.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let name_len: usize = body
            .char_indices()
            .find(|&(_, c)| !(uni::is_letter(c) || uni::is_digit(c) || c == '_'))
            .map_or(body.len(), |(i, _)| i);
        if name_len == 0 || (brace && !body[name_len..].starts_with('}')) {
            dst.push('$');
            continue;
        }
        let name = &body[..name_len];
        let rest = &body[name_len + usize::from(brace)..];
        t = rest;
        let mut num: i64 = 0;
        for b in name.bytes() {
            if !b.is_ascii_digit() || num >= 100_000_000 {
                num = -1;
                break;
            }
            num = num * 10 + i64::from(b - b'0');
        }
        if name.starts_with('0') && name.len() > 1 {
            num = -1;
        }
        if num >= 0 {
            if let Some(m) = caps.get(num as usize) {
                dst.push_str(&src[m.start()..m.end()]);
            }
        } else if let Some(idx) = names.iter().position(|n| *n == Some(name)) {
            if let Some(m) = caps.get(idx) {
                dst.push_str(&src[m.start()..m.end()]);
            }
        }
    }
    dst.push_str(t);
}

/// Go's `replaceAll` loop.
/// Fails as soon as the result outgrows the allocation budget.
fn replace_all(
    re: &Regex,
    src: &str,
    repl: &str,
    literal: bool,
    meter: &Meter,
) -> Result<String, String> {
    let cap = meter.alloc_left();
    let mut buf = String::new();
    let mut last_match_end = 0usize;
    let mut search_pos = 0usize;
    let end = src.len();
    while search_pos <= end {
        let Some(caps) = re.captures_at(src, search_pos) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        buf.push_str(src.get(last_match_end..m.start()).unwrap_or(""));
        if m.end() > last_match_end || m.start() == 0 {
            if literal {
                buf.push_str(repl);
            } else {
                expand(re, repl, src, &caps, &mut buf);
            }
        }
        if buf.len() > cap {
            return Err(over_budget(meter.fail(Limit::Alloc)));
        }
        if buf.len() > MAX_STRING_BYTES {
            return Err(too_big());
        }
        last_match_end = m.end();
        let width = src[search_pos..].chars().next().map_or(0, char::len_utf8);
        if search_pos + width > m.end() {
            search_pos += width;
        } else if search_pos + 1 > m.end() {
            search_pos += 1;
        } else {
            search_pos = m.end();
        }
    }
    buf.push_str(&src[last_match_end.min(end)..]);
    meter.alloc_usize(buf.len()).map_err(over_budget)?;
    Ok(buf)
}

/// `regexReplaceAll` (`literal` false: `$1` expands) and `regexReplaceAllLiteral`.
fn replace(cx: &mut Cx<'_>, a: &[Value], literal: bool, compile: CompileArg) -> R {
    let re = compile(cx, a)?;
    replace_all(&re, s_arg(a, 1), s_arg(a, 2), literal, &cx.heap.meter).map(Value::str)
}

pub(crate) fn regex_replace_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    replace(cx, a, false, must_compile_arg)
}

pub(crate) fn must_regex_replace_all(cx: &mut Cx<'_>, a: &[Value]) -> R {
    replace(cx, a, false, compile_arg)
}

pub(crate) fn regex_replace_all_literal(cx: &mut Cx<'_>, a: &[Value]) -> R {
    replace(cx, a, true, must_compile_arg)
}

pub(crate) fn must_regex_replace_all_literal(cx: &mut Cx<'_>, a: &[Value]) -> R {
    replace(cx, a, true, compile_arg)
}

/// Go's `Regexp.Split`.
fn go_regex_split(re: &Regex, s: &str, n: i64, meter: &Meter) -> R {
    if n == 0 {
        return Ok(Value::nil_list(ElemType::Str));
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return Ok(Value::str_list(vec![String::new()]));
    }
    // The parts hold at most the input's bytes.
    meter.alloc_usize(s.len()).map_err(over_budget)?;
    let matches = all_matches(re, s, n, meter)?;
    let mut strings: Vec<String> = Vec::with_capacity(matches.len());
    let (mut beg, mut end) = (0usize, 0usize);
    for (ms, me) in matches {
        if n > 0 && strings.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            strings.push(s[beg..end].to_string());
        }
        beg = me;
    }
    if end != s.len() {
        strings.push(s[beg..].to_string());
    }
    Ok(Value::str_list(strings))
}

fn split(cx: &mut Cx<'_>, a: &[Value], compile: CompileArg) -> R {
    let re = compile(cx, a)?;
    go_regex_split(&re, s_arg(a, 1), i_arg(a, 2), &cx.heap.meter)
}

pub(crate) fn regex_split(cx: &mut Cx<'_>, a: &[Value]) -> R {
    split(cx, a, must_compile_arg)
}

pub(crate) fn must_regex_split(cx: &mut Cx<'_>, a: &[Value]) -> R {
    split(cx, a, compile_arg)
}

pub(crate) fn regex_quote_meta(_: &mut Cx<'_>, a: &[Value]) -> R {
    let mut out = String::new();
    for c in s_arg(a, 0).chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::str(out))
}
