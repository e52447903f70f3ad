//! Packaging checks for deploy/ and charts/sealed-secrets.
//!
//! There is no Helm binary here (no registry, no Go toolchain), so the chart is rendered by
//! `gotpl` below: a small, strict interpreter for the subset of Go's text/template + Sprig +
//! Helm that the chart's templates use. It errors on anything it does not implement (unknown
//! functions, `template`/`tpl`, printing maps, `%d` of a Helm number …) instead of guessing.
//! What this proves and what it does not is written down in charts/sealed-secrets/README.md.
//!
//! - the chart's CRD is byte-identical to deploy/crd.yaml;
//! - the chart with default values renders exactly the objects of deploy/controller.yaml
//!   (order-insensitive, apart from three Helm bookkeeping labels), whatever the release name;
//! - every `.Values.…` used by a template exists in values.yaml and values.schema.json, every
//!   value in values.yaml is used, and values.yaml satisfies the schema;
//! - non-default values render objects whose controller arguments the real flag parser accepts,
//!   with the RBAC that goes with them;
//! - deploy/crd.yaml applies (server-side) and becomes Established; deploy/controller.yaml and
//!   a non-default chart rendering pass a server-side dry-run against the real API server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::*;
use sealed_secrets_core::codec::parse_documents;
use serde_json::{Value, json};

/// A strict interpreter for a subset of Go text/template with Sprig and Helm functions.
mod gotpl {
    use std::collections::BTreeMap;

    use serde_json::{Map, Value};

    pub type Result<T> = std::result::Result<T, String>;

    #[derive(Debug, Clone)]
    enum Operand {
        /// A field chain on dot (`.a.b`); empty is dot itself.
        Field(Vec<String>),
        /// A variable (`$` is the template's data) and a field chain on it.
        Var(String, Vec<String>),
        Lit(Value),
        Func(String),
        Sub(Pipeline),
    }

    #[derive(Debug, Clone)]
    struct Pipeline {
        decl: Vec<String>,
        cmds: Vec<Vec<Operand>>,
    }

    #[derive(Debug, Clone)]
    enum Node {
        Text(String),
        Action(Pipeline),
        If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
        Range(Pipeline, Vec<Node>, Vec<Node>),
        With(Pipeline, Vec<Node>, Vec<Node>),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Lit(Value),
        Field(Vec<String>),
        Var(String, Vec<String>),
        Ident(String),
        Pipe,
        LParen,
        RParen,
        Comma,
        Declare,
        Assign,
    }

    enum Item {
        Text(String),
        Action(String),
    }

    enum Stop {
        End,
        Else(Vec<Tok>),
        Eof,
    }

    fn is_space(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\r' | '\n')
    }

    /// Splits a template into text and action items, applying `{{- ` / ` -}}` trimming and
    /// dropping comments.
    fn split(src: &str) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut rest = src;
        let mut trim_next = false;
        loop {
            let Some(open) = rest.find("{{") else {
                let t = if trim_next {
                    rest.trim_start_matches(is_space)
                } else {
                    rest
                };
                items.push(Item::Text(t.to_string()));
                return Ok(items);
            };
            let mut text = &rest[..open];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            let mut after = &rest[open + 2..];
            if after.starts_with('-') && after[1..].starts_with(is_space) {
                text = text.trim_end_matches(is_space);
                after = &after[1..];
            }
            items.push(Item::Text(text.to_string()));
            let body = after.trim_start_matches(is_space);
            if let Some(comment) = body.strip_prefix("/*") {
                let end = comment.find("*/").ok_or("unclosed comment")?;
                let tail = &comment[end + 2..];
                if let Some(t) = tail.strip_prefix("}}") {
                    trim_next = false;
                    rest = t;
                } else {
                    let t = tail.trim_start_matches(is_space);
                    let t = t
                        .strip_prefix("-}}")
                        .ok_or("comment must end with */}} or */ -}}")?;
                    if t.len() == tail.len() {
                        return Err("comment end: need a space before -}}".into());
                    }
                    trim_next = true;
                    rest = t;
                }
                continue;
            }
            let bytes = after.as_bytes();
            let mut i = 0;
            let mut quote: Option<u8> = None;
            let close = loop {
                if i >= bytes.len() {
                    return Err("unclosed action".into());
                }
                let c = bytes[i];
                match quote {
                    Some(q) => {
                        if c == b'\\' && q != b'`' {
                            i += 2;
                            continue;
                        }
                        if c == q {
                            quote = None;
                        }
                    }
                    None => {
                        if c == b'"' || c == b'`' || c == b'\'' {
                            quote = Some(c);
                        } else if after[i..].starts_with("}}") {
                            break i;
                        }
                    }
                }
                i += 1;
            };
            let mut content = &after[..close];
            trim_next = false;
            if let Some(c) = content.strip_suffix('-')
                && c.ends_with(is_space)
            {
                content = c;
                trim_next = true;
            }
            items.push(Item::Action(content.to_string()));
            rest = &after[close + 2..];
        }
    }

    fn is_ident(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    fn read_ident(cs: &[char], i: &mut usize) -> String {
        let start = *i;
        while *i < cs.len() && is_ident(cs[*i]) {
            *i += 1;
        }
        cs[start..*i].iter().collect()
    }

    fn read_fields(cs: &[char], i: &mut usize) -> Vec<String> {
        let mut out = Vec::new();
        while *i + 1 < cs.len() && cs[*i] == '.' && is_ident(cs[*i + 1]) {
            *i += 1;
            out.push(read_ident(cs, i));
        }
        out
    }

    fn tokens(s: &str) -> Result<Vec<Tok>> {
        let cs: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut out = Vec::new();
        while i < cs.len() {
            let c = cs[i];
            if is_space(c) {
                i += 1;
                continue;
            }
            match c {
                '|' => {
                    out.push(Tok::Pipe);
                    i += 1;
                }
                '(' => {
                    out.push(Tok::LParen);
                    i += 1;
                }
                ')' => {
                    out.push(Tok::RParen);
                    i += 1;
                    if i < cs.len() && cs[i] == '.' {
                        return Err("field access on a parenthesised pipeline".into());
                    }
                }
                ',' => {
                    out.push(Tok::Comma);
                    i += 1;
                }
                ':' if cs.get(i + 1) == Some(&'=') => {
                    out.push(Tok::Declare);
                    i += 2;
                }
                '=' => {
                    out.push(Tok::Assign);
                    i += 1;
                }
                '"' => {
                    let mut s = String::new();
                    i += 1;
                    loop {
                        let c = *cs.get(i).ok_or("unterminated string")?;
                        i += 1;
                        match c {
                            '"' => break,
                            '\\' => {
                                let e = *cs.get(i).ok_or("unterminated string")?;
                                i += 1;
                                s.push(match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    'r' => '\r',
                                    '\\' => '\\',
                                    '"' => '"',
                                    _ => return Err(format!("unsupported escape \\{e}")),
                                });
                            }
                            c => s.push(c),
                        }
                    }
                    out.push(Tok::Lit(Value::String(s)));
                }
                '`' => {
                    let end = cs[i + 1..]
                        .iter()
                        .position(|&c| c == '`')
                        .ok_or("unterminated raw string")?;
                    out.push(Tok::Lit(Value::String(
                        cs[i + 1..i + 1 + end].iter().collect(),
                    )));
                    i += end + 2;
                }
                '$' => {
                    i += 1;
                    let name = format!("${}", read_ident(&cs, &mut i));
                    out.push(Tok::Var(name, read_fields(&cs, &mut i)));
                }
                '.' => {
                    if cs.get(i + 1).is_some_and(|&c| is_ident(c)) {
                        out.push(Tok::Field(read_fields(&cs, &mut i)));
                    } else {
                        out.push(Tok::Field(Vec::new()));
                        i += 1;
                    }
                }
                c if c.is_ascii_digit()
                    || (c == '-' && cs.get(i + 1).is_some_and(char::is_ascii_digit)) =>
                {
                    let start = i;
                    i += 1;
                    while i < cs.len() && (cs[i].is_ascii_digit()) {
                        i += 1;
                    }
                    if i < cs.len() && (cs[i] == '.' || is_ident(cs[i])) {
                        return Err("only integer literals are supported".into());
                    }
                    let n: i64 = cs[start..i]
                        .iter()
                        .collect::<String>()
                        .parse()
                        .map_err(|e| format!("bad number: {e}"))?;
                    out.push(Tok::Lit(Value::from(n)));
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let id = read_ident(&cs, &mut i);
                    out.push(match id.as_str() {
                        "true" => Tok::Lit(Value::Bool(true)),
                        "false" => Tok::Lit(Value::Bool(false)),
                        "nil" => Tok::Lit(Value::Null),
                        _ => Tok::Ident(id),
                    });
                }
                c => return Err(format!("unexpected character {c:?} in action")),
            }
        }
        Ok(out)
    }

    fn parse_pipeline(toks: &[Tok], pos: &mut usize, in_paren: bool) -> Result<Pipeline> {
        // Optional `$a :=` or `$k, $v :=`.
        let mut decl = Vec::new();
        let mut p = *pos;
        loop {
            match toks.get(p) {
                Some(Tok::Var(n, f)) if f.is_empty() => {
                    decl.push(n.clone());
                    p += 1;
                }
                _ => {
                    decl.clear();
                    break;
                }
            }
            match toks.get(p) {
                Some(Tok::Comma) => p += 1,
                Some(Tok::Declare) => {
                    p += 1;
                    break;
                }
                Some(Tok::Assign) => return Err("variable assignment is not supported".into()),
                _ => {
                    decl.clear();
                    break;
                }
            }
        }
        if !decl.is_empty() {
            *pos = p;
        }
        let mut cmds = Vec::new();
        loop {
            let mut cmd = Vec::new();
            loop {
                match toks.get(*pos) {
                    None | Some(Tok::Pipe) | Some(Tok::RParen) => break,
                    Some(Tok::LParen) => {
                        *pos += 1;
                        let sub = parse_pipeline(toks, pos, true)?;
                        if toks.get(*pos) != Some(&Tok::RParen) {
                            return Err("missing )".into());
                        }
                        *pos += 1;
                        cmd.push(Operand::Sub(sub));
                    }
                    Some(t) => {
                        cmd.push(match t {
                            Tok::Lit(v) => Operand::Lit(v.clone()),
                            Tok::Field(f) => Operand::Field(f.clone()),
                            Tok::Var(n, f) => Operand::Var(n.clone(), f.clone()),
                            Tok::Ident(n) => Operand::Func(n.clone()),
                            other => return Err(format!("unexpected {other:?}")),
                        });
                        *pos += 1;
                    }
                }
            }
            if cmd.is_empty() {
                return Err("empty command".into());
            }
            cmds.push(cmd);
            if toks.get(*pos) == Some(&Tok::Pipe) {
                *pos += 1;
            } else {
                break;
            }
        }
        if !in_paren && *pos != toks.len() {
            return Err(format!("unexpected {:?}", toks[*pos]));
        }
        Ok(Pipeline { decl, cmds })
    }

    fn pipeline(toks: &[Tok]) -> Result<Pipeline> {
        let mut pos = 0;
        parse_pipeline(toks, &mut pos, false)
    }

    fn keyword(toks: &[Tok]) -> Option<&str> {
        match toks.first() {
            Some(Tok::Ident(k))
                if matches!(
                    k.as_str(),
                    "if" | "else"
                        | "end"
                        | "range"
                        | "with"
                        | "define"
                        | "template"
                        | "block"
                        | "break"
                        | "continue"
                ) =>
            {
                Some(k)
            }
            _ => None,
        }
    }

    fn parse_list(
        items: &[Item],
        pos: &mut usize,
        defines: &mut BTreeMap<String, Vec<Node>>,
        top: bool,
    ) -> Result<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while *pos < items.len() {
            let item = &items[*pos];
            *pos += 1;
            let content = match item {
                Item::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t.clone()));
                    }
                    continue;
                }
                Item::Action(c) => c,
            };
            let toks = tokens(content).map_err(|e| format!("{{{{{content}}}}}: {e}"))?;
            match keyword(&toks) {
                Some("end") => {
                    if toks.len() != 1 {
                        return Err("unexpected tokens after end".into());
                    }
                    return Ok((nodes, Stop::End));
                }
                Some("else") => return Ok((nodes, Stop::Else(toks[1..].to_vec()))),
                Some("if") => {
                    let mut branches = Vec::new();
                    let mut cond = pipeline(&toks[1..])?;
                    loop {
                        let (body, end) = parse_list(items, pos, defines, false)?;
                        branches.push((cond, body));
                        match end {
                            Stop::End => {
                                nodes.push(Node::If(branches, Vec::new()));
                                break;
                            }
                            Stop::Else(rest) if rest.is_empty() => {
                                let (else_body, end) = parse_list(items, pos, defines, false)?;
                                if !matches!(end, Stop::End) {
                                    return Err("else without end".into());
                                }
                                nodes.push(Node::If(branches, else_body));
                                break;
                            }
                            Stop::Else(rest) if keyword(&rest) == Some("if") => {
                                cond = pipeline(&rest[1..])?;
                            }
                            Stop::Else(_) => return Err("unsupported else form".into()),
                            Stop::Eof => return Err("if without end".into()),
                        }
                    }
                }
                Some(k @ ("range" | "with")) => {
                    let k = k.to_string();
                    let p = pipeline(&toks[1..])?;
                    if k == "with" && !p.decl.is_empty() {
                        return Err("with with a declaration is not supported".into());
                    }
                    let (body, end) = parse_list(items, pos, defines, false)?;
                    let else_body = match end {
                        Stop::End => Vec::new(),
                        Stop::Else(rest) if rest.is_empty() => {
                            let (e, end) = parse_list(items, pos, defines, false)?;
                            if !matches!(end, Stop::End) {
                                return Err(format!("{k} else without end"));
                            }
                            e
                        }
                        _ => return Err(format!("unterminated or unsupported {k}")),
                    };
                    nodes.push(if k == "range" {
                        Node::Range(p, body, else_body)
                    } else {
                        Node::With(p, body, else_body)
                    });
                }
                Some("define") => {
                    if !top {
                        return Err("define inside a block".into());
                    }
                    let name = match toks.as_slice() {
                        [_, Tok::Lit(Value::String(n))] => n.clone(),
                        _ => return Err("define needs one string".into()),
                    };
                    let (body, end) = parse_list(items, pos, defines, false)?;
                    if !matches!(end, Stop::End) {
                        return Err(format!("define {name:?} without end"));
                    }
                    if defines.insert(name.clone(), body).is_some() {
                        return Err(format!("template {name:?} defined twice"));
                    }
                }
                Some(k) => return Err(format!("{k:?} is not supported by this renderer")),
                None => nodes.push(Node::Action(pipeline(&toks)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// Go's truthiness (`if`, `with`, `and`, `or`, `not`) and Sprig's `empty` (negated).
    pub fn truthy(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
        }
    }

    /// Go's `%v` of a float64 (Helm's values are JSON numbers, i.e. float64): shortest form,
    /// exponent from 1e6 (`1e+06`, the well-known Helm pitfall) which this refuses to emulate.
    fn go_number(v: &serde_json::Number) -> Result<String> {
        let f = v.as_f64().ok_or("number out of range")?;
        if f.fract() == 0.0 && f.abs() < 1e6 {
            Ok(format!("{}", f as i64))
        } else if f.fract() != 0.0 && f.abs() >= 1e-4 && f.abs() < 1e6 {
            Ok(format!("{f}"))
        } else {
            Err(format!(
                "Go would print {f} in exponent form: not emulated, quote the value"
            ))
        }
    }

    /// Sprig's `strval` / `toString`.
    fn strval(v: &Value) -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => go_number(n),
            Value::Null => Ok("<nil>".into()),
            _ => Err("converting a map or list to a string is not emulated".into()),
        }
    }

    /// What `{{ x }}` prints (Helm replaces Go's `<no value>` by nothing).
    fn print(v: &Value) -> Result<String> {
        match v {
            Value::Null => Ok(String::new()),
            Value::Object(_) | Value::Array(_) => {
                Err("printing a map or list (Go's map[...] syntax) is not emulated".into())
            }
            other => strval(other),
        }
    }

    /// Go's `%q` / strconv.Quote for the characters that matter here.
    fn go_quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn as_str<'a>(f: &str, v: &'a Value) -> Result<&'a str> {
        v.as_str()
            .ok_or_else(|| format!("{f}: expected a string, got {v}"))
    }

    fn as_int(f: &str, v: &Value) -> Result<i64> {
        v.as_f64()
            .filter(|x| x.fract() == 0.0)
            .map(|x| x as i64)
            .ok_or_else(|| format!("{f}: expected an integer, got {v}"))
    }

    fn arity(f: &str, args: &[Value], n: usize) -> Result<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {f}: want {n} got {}",
                args.len()
            ))
        }
    }

    fn go_eq(a: &Value, b: &Value) -> Result<bool> {
        match (a, b) {
            (Value::String(x), Value::String(y)) => Ok(x == y),
            (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
            (Value::Number(x), Value::Number(y)) => Ok(x.as_f64() == y.as_f64()),
            _ => Err(format!("incompatible types for comparison: {a} and {b}")),
        }
    }

    fn indent(n: i64, s: &str) -> String {
        let pad = " ".repeat(usize::try_from(n).unwrap_or(0));
        format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
    }

    fn go_printf(format: &str, args: &[Value]) -> Result<String> {
        let mut out = String::new();
        let mut args = args.iter();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let verb = chars.next().ok_or("printf: trailing %")?;
            if verb == '%' {
                out.push('%');
                continue;
            }
            let arg = args.next().ok_or("printf: missing argument")?;
            match verb {
                's' => out.push_str(
                    arg.as_str()
                        .ok_or_else(|| format!("printf %s of {arg}: Go prints %!s(…)"))?,
                ),
                'q' => out.push_str(&go_quote(as_str("printf %q", arg)?)),
                'v' => out.push_str(&print(arg)?),
                _ => {
                    return Err(format!(
                        "printf %{verb} is not supported (%d of a Helm number is %!d(float64=…))"
                    ));
                }
            }
        }
        if args.next().is_some() {
            return Err("printf: extra arguments".into());
        }
        Ok(out)
    }

    /// mergo.Merge without override (Sprig's `merge`): keys of `dst` win unless their value
    /// is empty; maps merge recursively.
    fn merge_into(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
        for (k, v) in src {
            match dst.get_mut(k) {
                Some(Value::Object(d)) => {
                    if let Value::Object(s) = v {
                        merge_into(d, s);
                    }
                }
                Some(d) if truthy(d) => {}
                _ => {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
    }

    fn walk(mut v: Value, fields: &[String]) -> Result<Value> {
        for f in fields {
            v = match v {
                Value::Object(mut m) => m.remove(f).unwrap_or(Value::Null),
                Value::Null => return Err(format!("nil pointer evaluating interface {{}}.{f}")),
                other => return Err(format!("can't evaluate field {f} in {other}")),
            };
        }
        Ok(v)
    }

    /// The templates of a chart, sharing their `define`s like Helm's.
    #[derive(Default)]
    pub struct Templates {
        defines: BTreeMap<String, Vec<Node>>,
        files: BTreeMap<String, Vec<Node>>,
    }

    impl Templates {
        pub fn add(&mut self, name: &str, src: &str) -> Result<()> {
            let items = split(src).map_err(|e| format!("{name}: {e}"))?;
            let mut pos = 0;
            let (nodes, end) = parse_list(&items, &mut pos, &mut self.defines, true)
                .map_err(|e| format!("{name}: {e}"))?;
            if !matches!(end, Stop::Eof) {
                return Err(format!("{name}: unexpected end/else"));
            }
            self.files.insert(name.to_string(), nodes);
            Ok(())
        }

        pub fn render(&self, name: &str, data: &Value) -> Result<String> {
            let nodes = self
                .files
                .get(name)
                .ok_or_else(|| format!("no template {name}"))?;
            let mut vars = vec![("$".to_string(), data.clone())];
            let mut out = String::new();
            self.exec(nodes, data, &mut vars, &mut out, 0)
                .map_err(|e| format!("{name}: {e}"))?;
            Ok(out)
        }

        fn exec(
            &self,
            nodes: &[Node],
            dot: &Value,
            vars: &mut Vec<(String, Value)>,
            out: &mut String,
            depth: usize,
        ) -> Result<()> {
            for n in nodes {
                let mark = vars.len();
                match n {
                    Node::Text(t) => out.push_str(t),
                    Node::Action(p) => {
                        let v = self.pipeline(p, dot, vars, depth)?;
                        if p.decl.is_empty() {
                            out.push_str(&print(&v)?);
                        } else {
                            return Err("variable declarations outside range".into());
                        }
                    }
                    Node::If(branches, else_body) => {
                        let mut done = false;
                        for (cond, body) in branches {
                            if truthy(&self.pipeline(cond, dot, vars, depth)?) {
                                self.exec(body, dot, vars, out, depth)?;
                                done = true;
                                break;
                            }
                        }
                        if !done {
                            self.exec(else_body, dot, vars, out, depth)?;
                        }
                    }
                    Node::With(p, body, else_body) => {
                        let v = self.pipeline(p, dot, vars, depth)?;
                        if truthy(&v) {
                            self.exec(body, &v, vars, out, depth)?;
                        } else {
                            self.exec(else_body, dot, vars, out, depth)?;
                        }
                    }
                    Node::Range(p, body, else_body) => {
                        let v = self.pipeline(p, dot, vars, depth)?;
                        let elems: Vec<(Value, Value)> = match v {
                            Value::Array(a) => a
                                .into_iter()
                                .enumerate()
                                .map(|(i, e)| (Value::from(i), e))
                                .collect(),
                            Value::Object(m) => {
                                let mut v: Vec<(Value, Value)> =
                                    m.into_iter().map(|(k, e)| (Value::String(k), e)).collect();
                                v.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
                                v
                            }
                            Value::Null => Vec::new(),
                            other => return Err(format!("range can't iterate over {other}")),
                        };
                        if elems.is_empty() {
                            self.exec(else_body, dot, vars, out, depth)?;
                        }
                        for (k, e) in elems {
                            let inner = vars.len();
                            match p.decl.as_slice() {
                                [] => {}
                                [v] => vars.push((v.clone(), e.clone())),
                                [kv, v] => {
                                    vars.push((kv.clone(), k));
                                    vars.push((v.clone(), e.clone()));
                                }
                                _ => return Err("too many range variables".into()),
                            }
                            self.exec(body, &e, vars, out, depth)?;
                            vars.truncate(inner);
                        }
                    }
                }
                vars.truncate(mark);
            }
            Ok(())
        }

        fn pipeline(
            &self,
            p: &Pipeline,
            dot: &Value,
            vars: &[(String, Value)],
            depth: usize,
        ) -> Result<Value> {
            let mut piped: Option<Value> = None;
            for cmd in &p.cmds {
                piped = Some(self.command(cmd, dot, vars, piped, depth)?);
            }
            Ok(piped.unwrap_or(Value::Null))
        }

        fn command(
            &self,
            cmd: &[Operand],
            dot: &Value,
            vars: &[(String, Value)],
            piped: Option<Value>,
            depth: usize,
        ) -> Result<Value> {
            let Operand::Func(name) = &cmd[0] else {
                if cmd.len() > 1 || piped.is_some() {
                    return Err("can't give arguments to a non-function".into());
                }
                return self.operand(&cmd[0], dot, vars, depth);
            };
            if name == "and" || name == "or" {
                // Short-circuit (Go >= 1.18): the first falsy (and) / truthy (or) operand.
                let n = cmd.len() - 1 + usize::from(piped.is_some());
                if n < 1 {
                    return Err(format!("{name} needs arguments"));
                }
                let mut last = Value::Null;
                let mut piped = piped;
                for i in 0..n {
                    last = match cmd.get(i + 1) {
                        Some(o) => self.operand(o, dot, vars, depth)?,
                        None => piped.take().unwrap_or(Value::Null),
                    };
                    if truthy(&last) == (name == "or") {
                        return Ok(last);
                    }
                }
                return Ok(last);
            }
            let mut args = cmd[1..]
                .iter()
                .map(|o| self.operand(o, dot, vars, depth))
                .collect::<Result<Vec<_>>>()?;
            if let Some(v) = piped {
                args.push(v);
            }
            self.call(name, args, depth)
        }

        fn operand(
            &self,
            o: &Operand,
            dot: &Value,
            vars: &[(String, Value)],
            depth: usize,
        ) -> Result<Value> {
            match o {
                Operand::Field(f) => walk(dot.clone(), f),
                Operand::Var(name, f) => {
                    let v = vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("undefined variable {name}"))?;
                    walk(v, f)
                }
                Operand::Lit(v) => Ok(v.clone()),
                Operand::Func(name) => self.call(name, Vec::new(), depth),
                Operand::Sub(p) => self.pipeline(p, dot, vars, depth),
            }
        }

        fn call(&self, f: &str, args: Vec<Value>, depth: usize) -> Result<Value> {
            let s = |v: &Value| Value::String(v.as_str().unwrap_or_default().to_string());
            Ok(match f {
                "include" => {
                    arity(f, &args, 2)?;
                    let name = as_str(f, &args[0])?;
                    let body = self
                        .defines
                        .get(name)
                        .ok_or_else(|| format!("no template {name:?}"))?;
                    if depth > 50 {
                        return Err("include nested too deeply".into());
                    }
                    let mut vars = vec![("$".to_string(), args[1].clone())];
                    let mut out = String::new();
                    self.exec(body, &args[1], &mut vars, &mut out, depth + 1)
                        .map_err(|e| format!("include {name:?}: {e}"))?;
                    Value::String(out)
                }
                "default" => match args.len() {
                    1 => args[0].clone(),
                    2 if truthy(&args[1]) => args[1].clone(),
                    2 => args[0].clone(),
                    _ => return Err("default takes 1 or 2 arguments".into()),
                },
                "quote" => Value::String(
                    args.iter()
                        .filter(|a| !a.is_null())
                        .map(|a| strval(a).map(|s| go_quote(&s)))
                        .collect::<Result<Vec<_>>>()?
                        .join(" "),
                ),
                "toYaml" => {
                    arity(f, &args, 1)?;
                    let y = sealed_secrets_core::codec::to_yaml(&args[0])
                        .map_err(|e| format!("toYaml: {e}"))?;
                    Value::String(y.trim_end_matches('\n').to_string())
                }
                "toString" => {
                    arity(f, &args, 1)?;
                    Value::String(strval(&args[0])?)
                }
                "nindent" | "indent" => {
                    arity(f, &args, 2)?;
                    let text = indent(as_int(f, &args[0])?, as_str(f, &args[1])?);
                    Value::String(if f == "nindent" {
                        format!("\n{text}")
                    } else {
                        text
                    })
                }
                "printf" => {
                    let (format, rest) = args.split_first().ok_or("printf needs a format")?;
                    Value::String(go_printf(as_str(f, format)?, rest)?)
                }
                "trunc" => {
                    arity(f, &args, 2)?;
                    let n = as_int(f, &args[0])?;
                    let text = as_str(f, &args[1])?;
                    let chars: Vec<char> = text.chars().collect();
                    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
                    Value::String(if n >= 0 {
                        chars[..usize::try_from(n.min(len)).unwrap_or(0)]
                            .iter()
                            .collect()
                    } else {
                        chars[usize::try_from((len + n).max(0)).unwrap_or(0)..]
                            .iter()
                            .collect()
                    })
                }
                "trimSuffix" => {
                    arity(f, &args, 2)?;
                    let suffix = as_str(f, &args[0])?;
                    let text = as_str(f, &args[1])?;
                    Value::String(text.strip_suffix(suffix).unwrap_or(text).to_string())
                }
                "replace" => {
                    arity(f, &args, 3)?;
                    let text = as_str(f, &args[2])?;
                    Value::String(text.replace(as_str(f, &args[0])?, as_str(f, &args[1])?))
                }
                "join" => {
                    arity(f, &args, 2)?;
                    let list = args[1].as_array().ok_or("join: expected a list")?;
                    Value::String(
                        list.iter()
                            .filter(|v| !v.is_null())
                            .map(strval)
                            .collect::<Result<Vec<_>>>()?
                            .join(as_str(f, &args[0])?),
                    )
                }
                "omit" => {
                    let (map, keys) = args.split_first().ok_or("omit needs a map")?;
                    let mut m = map.as_object().ok_or("omit: expected a map")?.clone();
                    for k in keys {
                        m.remove(as_str(f, k)?);
                    }
                    Value::Object(m)
                }
                "merge" => {
                    let (dst, srcs) = args.split_first().ok_or("merge needs maps")?;
                    let mut m = dst.as_object().ok_or("merge: expected maps")?.clone();
                    for src in srcs {
                        match src {
                            Value::Object(o) => merge_into(&mut m, o),
                            Value::Null => {}
                            _ => return Err("merge: expected maps".into()),
                        }
                    }
                    Value::Object(m)
                }
                "dict" => {
                    if !args.len().is_multiple_of(2) {
                        return Err("dict needs key/value pairs".into());
                    }
                    let mut m = Map::new();
                    for kv in args.chunks(2) {
                        m.insert(strval(&kv[0])?, kv[1].clone());
                    }
                    Value::Object(m)
                }
                "kindIs" => {
                    arity(f, &args, 2)?;
                    let kind = match &args[1] {
                        Value::Null => "invalid",
                        Value::Bool(_) => "bool",
                        Value::Number(_) => "float64",
                        Value::String(_) => "string",
                        Value::Array(_) => "slice",
                        Value::Object(_) => "map",
                    };
                    Value::Bool(as_str(f, &args[0])? == kind)
                }
                "eq" => {
                    let (first, rest) = args.split_first().ok_or("eq needs arguments")?;
                    if rest.is_empty() {
                        return Err("eq needs two arguments".into());
                    }
                    let mut any = false;
                    for r in rest {
                        any |= go_eq(first, r)?;
                    }
                    Value::Bool(any)
                }
                "ne" => {
                    arity(f, &args, 2)?;
                    Value::Bool(!go_eq(&args[0], &args[1])?)
                }
                "not" => {
                    arity(f, &args, 1)?;
                    Value::Bool(!truthy(&args[0]))
                }
                "fail" => {
                    arity(f, &args, 1)?;
                    return Err(format!("fail: {}", s(&args[0])));
                }
                _ => return Err(format!("function {f:?} not defined (in this renderer)")),
            })
        }
    }
}

// ------------------------------------------------------------------------------------------

fn chart_dir() -> PathBuf {
    repo_root().join("charts/sealed-secrets")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml_docs(p: &Path) -> Vec<Value> {
    parse_documents(read(p).as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml_one(p: &Path) -> Value {
    let mut d = yaml_docs(p);
    assert_eq!(d.len(), 1, "{}", p.display());
    d.remove(0)
}

/// The template files of the chart: (file name, source).
fn template_sources() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(chart_dir().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read(&p),
            )
        })
        .collect();
    out.sort();
    out
}

/// Helm's coalescing of user values over the defaults: maps merge, anything else replaces,
/// null deletes.
fn coalesce(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(bv) = b.get_mut(k) {
                    coalesce(bv, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// A mini JSON-schema validator for the keywords values.schema.json uses (any other keyword
/// is an error, so the schema cannot silently rely on something unchecked).
fn validate(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{path}: not allowed"));
        }
        return;
    };
    for k in s.keys() {
        if ![
            "$schema",
            "title",
            "description",
            "type",
            "properties",
            "additionalProperties",
            "items",
            "enum",
            "minimum",
            "maximum",
        ]
        .contains(&k.as_str())
        {
            errors.push(format!(
                "{path}: schema keyword {k:?} is not checked by this test"
            ));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(Value::Array(e)) = s.get("enum")
        && !e
            .iter()
            .any(|x| x == v || (x.as_f64().is_some() && x.as_f64() == v.as_f64()))
    {
        errors.push(format!("{path}: {v} not in {e:?}"));
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        errors.push(format!("{path}: {x} < {min}"));
    }
    if let (Some(max), Some(x)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64())
        && x > max
    {
        errors.push(format!("{path}: {x} > {max}"));
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            let p = format!("{path}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(cs) => validate(cs, child, &p, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{p}: unknown value")),
                    Some(a @ Value::Object(_)) => validate(a, child, &p, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, child) in arr.iter().enumerate() {
            validate(items, child, &format!("{path}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    serde_json::from_str(&read(&chart_dir().join("values.schema.json"))).unwrap()
}

fn default_values() -> Value {
    yaml_one(&chart_dir().join("values.yaml"))
}

/// `helm template` as far as this chart needs it: values coalesced over values.yaml and
/// validated against the schema, every template rendered with .Values/.Release/.Chart, the
/// output of the non-partial templates split into documents. Also returns NOTES.txt.
fn render_chart(overrides: &Value, release: &str, namespace: &str) -> (Vec<Value>, String) {
    let mut values = default_values();
    coalesce(&mut values, overrides);
    let mut errors = Vec::new();
    validate(&schema(), &values, "values", &mut errors);
    assert!(
        errors.is_empty(),
        "values rejected by the schema: {errors:#?}"
    );
    let chart = yaml_one(&chart_dir().join("Chart.yaml"));
    let root = json!({
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                    "IsInstall": true, "IsUpgrade": false, "Revision": 1},
        "Chart": {"Name": chart["name"], "Version": chart["version"],
                  "AppVersion": chart["appVersion"]},
    });
    let mut t = gotpl::Templates::default();
    let sources = template_sources();
    for (name, src) in &sources {
        t.add(name, src).unwrap_or_else(|e| panic!("parse: {e}"));
    }
    let mut docs = Vec::new();
    let mut notes = String::new();
    for (name, _) in &sources {
        let out = t
            .render(name, &root)
            .unwrap_or_else(|e| panic!("render: {e}"));
        // E2E_CHART_OUT=<dir>: keep the rendered files, to read what `helm template` would give.
        if let Some(dir) = std::env::var_os("E2E_CHART_OUT") {
            let dir = Path::new(&dir).join(release);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), &out).unwrap();
        }
        if name == "NOTES.txt" {
            notes = out;
        } else if !name.starts_with('_') {
            docs.extend(
                parse_documents(out.as_bytes())
                    .unwrap_or_else(|e| panic!("{name} renders invalid YAML ({e}):\n{out}")),
            );
        }
    }
    (docs, notes)
}

fn object_key(o: &Value) -> String {
    format!(
        "{}/{} {}/{}",
        o["apiVersion"].as_str().unwrap_or_default(),
        o["kind"].as_str().unwrap_or_default(),
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn by_key(docs: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    let mut m = std::collections::BTreeMap::new();
    for d in docs {
        let k = object_key(&d);
        assert!(m.insert(k.clone(), d).is_none(), "duplicate object {k}");
    }
    m
}

/// Where two JSON values differ, as `path: left != right` lines.
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff(l, r, &p, out),
                    (l, r) => out.push(format!("{p}: {l:?} != {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(l, r, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

const HELM_LABELS: [&str; 3] = [
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
];

/// Removes (after checking them) the Helm bookkeeping labels that the static manifests do
/// not carry.
fn strip_helm_labels(o: &mut Value, release: &str) {
    let key = object_key(o);
    let labels = o["metadata"]["labels"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("{key} has no labels"));
    let expected = [release, "Helm", "sealed-secrets-0.1.0"];
    for (l, want) in HELM_LABELS.iter().zip(expected) {
        assert_eq!(
            labels.remove(*l).as_ref().and_then(Value::as_str),
            Some(want),
            "{key}: label {l}"
        );
    }
}

fn objects(docs: &[Value], kind: &str) -> Vec<Value> {
    docs.iter().filter(|d| d["kind"] == kind).cloned().collect()
}

fn the(docs: &[Value], kind: &str, name: &str) -> Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .clone()
}

/// The controller arguments of a rendered Deployment.
struct Args(Vec<String>);

impl Args {
    /// `--flag value` or `--flag=value`.
    fn value(&self, flag: &str) -> Option<&str> {
        let eq = format!("{flag}=");
        self.0.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                self.0
                    .get(i + 1)
                    .map(String::as_str)
                    .filter(|v| !v.starts_with("--"))
            } else {
                a.strip_prefix(&eq)
            }
        })
    }

    /// A boolean flag: `--flag` is true, `--flag=false` false, absent None.
    fn bool(&self, flag: &str) -> Option<bool> {
        let eq = format!("{flag}=");
        self.0.iter().find_map(|a| {
            if a == flag {
                Some(true)
            } else {
                a.strip_prefix(&eq).map(|v| v == "true")
            }
        })
    }
}

/// The container's command must be the image's `controller`, and the controller's own flag
/// parser and validation must accept the arguments. The e2e crate cannot name clap's trait,
/// so this runs the real controller program with the arguments and an unreadable kubeconfig:
/// it parses and validates every flag (exit 2 / "invalid …" otherwise) and then stops at
/// "cannot read kubeconfig", before binding any port or calling any API.
fn controller_args(deployment: &Value) -> Args {
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["controller"]));
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect();
    let mut cmd = Command::new(bin("e2e-sealed-secrets-controller"));
    cmd.args(&args)
        .arg("--kubeconfig=/nonexistent/e2e-deploy/kubeconfig")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("SEALED_SECRETS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.code() == Some(1) && text.contains("cannot read kubeconfig"),
        "the controller rejects {args:?}:\n{text}"
    );
    Args(args)
}

fn rule_verbs(rules: &Value, group: &str, resource: &str) -> Vec<String> {
    rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["apiGroups"] == json!([group])
                && r["resources"] == json!([resource])
                && r.get("resourceNames").is_none()
        })
        .flat_map(|r| r["verbs"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------------------------------------

#[test]
fn chart_crd_is_deploy_crd() {
    let chart_crd = chart_dir().join("crds/bitnami.com_sealedsecrets.yaml");
    assert!(
        read(&chart_crd) == read(&repo_root().join("deploy/crd.yaml")),
        "charts/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml differs from deploy/crd.yaml: \
         cp deploy/crd.yaml charts/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"
    );
    let crds: Vec<_> = std::fs::read_dir(chart_dir().join("crds"))
        .unwrap()
        .collect();
    assert_eq!(crds.len(), 1, "only the SealedSecret CRD in crds/");
}

#[test]
fn chart_defaults_render_deploy_controller_yaml() {
    let expected = by_key(yaml_docs(&repo_root().join("deploy/controller.yaml")));
    // Two release names: the object names must not depend on it (upstream #571).
    for release in ["sealed-secrets", "my-release"] {
        let (docs, notes) = render_chart(&json!({}), release, "kube-system");
        let mut rendered = by_key(docs);
        for o in rendered.values_mut() {
            strip_helm_labels(o, release);
        }
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !rendered.contains_key(*k))
            .collect();
        let extra: Vec<_> = rendered
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "release {release}: objects only in deploy/controller.yaml: {missing:?}; only in the chart: {extra:?}"
        );
        for (k, want) in &expected {
            let mut diffs = Vec::new();
            diff(want, &rendered[k], "", &mut diffs);
            assert!(
                diffs.is_empty(),
                "release {release}: {k} differs (deploy/controller.yaml vs chart):\n{}",
                diffs.join("\n")
            );
        }
        assert!(notes.contains("sealed-secrets-controller in namespace kube-system"));
        assert!(
            !notes.contains("--controller-name"),
            "defaults need no kubeseal flags"
        );
    }
    // The chart's namespace is the release namespace.
    let (docs, notes) = render_chart(&json!({}), "x", "security");
    for d in docs.iter().filter(|d| {
        !matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        )
    }) {
        assert_eq!(d["metadata"]["namespace"], "security", "{}", object_key(d));
    }
    assert_eq!(
        the(&docs, "ClusterRoleBinding", "sealed-secrets-controller")["subjects"][0]["namespace"],
        "security"
    );
    assert!(notes.contains("--controller-namespace security"), "{notes}");
}

#[test]
fn deploy_controller_yaml_is_consistent() {
    let docs = yaml_docs(&repo_root().join("deploy/controller.yaml"));
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert!(
        !kinds.contains("CustomResourceDefinition"),
        "the CRD lives in deploy/crd.yaml only"
    );
    for d in &docs {
        if !matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        ) {
            assert_eq!(
                d["metadata"]["namespace"],
                "kube-system",
                "{}",
                object_key(d)
            );
        }
    }
    // kubeseal's defaults: Service sealed-secrets-controller in kube-system, first port `http`.
    let svc = the(&docs, "Service", "sealed-secrets-controller");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    let metrics = the(&docs, "Service", "sealed-secrets-controller-metrics");
    assert_eq!(metrics["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(metrics["spec"]["ports"][0]["port"], 8081);

    let dep = the(&docs, "Deployment", "sealed-secrets-controller");
    let pod = &dep["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["name"],
        "sealed-secrets-controller"
    );
    for s in [&svc, &metrics] {
        assert_eq!(
            s["spec"]["selector"],
            json!({"name": "sealed-secrets-controller"})
        );
    }
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "sealed-secrets-controller"
    );
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "ghcr.io/example/sealed-secrets-controller:0.1.0"
    );

    // The arguments are accepted by the controller's own flag parser, and agree with the ports.
    let a = controller_args(&dep);
    assert_eq!(a.value("--key-prefix"), Some("sealed-secrets-key"));
    assert_eq!(a.bool("--update-status"), Some(true));
    for absent in ["--all-namespaces", "--old-gc-behavior", "--skip-recreate"] {
        assert_eq!(a.bool(absent), None, "{absent}: the default");
    }
    assert_eq!(a.value("--listen-addr"), Some(":8080"));
    assert_eq!(a.value("--listen-metrics-addr"), Some(":8081"));
    assert_eq!(
        c["ports"],
        json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"},
               {"name": "metrics", "containerPort": 8081, "protocol": "TCP"},
               {"name": "webhook", "containerPort": 9443, "protocol": "TCP"}])
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "http"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "http"})
    );
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    assert_eq!(env[0]["name"], "POD_NAMESPACE");
    assert_eq!(
        env[0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(env[1]["name"], "POD_NAME");
    assert_eq!(
        env[1]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    // Hardening.
    let psc = &pod["spec"]["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], 1001);
    assert_eq!(psc["fsGroup"], 65534);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["capabilities"]["drop"], json!(["ALL"]));
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );

    // RBAC: the unsealer rules (tests/tests/rbac.rs proves they are enough).
    let cr = the(&docs, "ClusterRole", "secrets-unsealer");
    assert_eq!(
        rule_verbs(&cr["rules"], "", "secrets"),
        ["get", "list", "watch", "create", "update"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "bitnami.com", "sealedsecrets"),
        ["list", "watch"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "bitnami.com", "sealedsecrets/status"),
        ["patch"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "events.k8s.io", "events"),
        ["create", "patch"]
    );
    assert_eq!(cr["rules"].as_array().unwrap().len(), 4, "no other rules");
    let proxier = the(&docs, "Role", "sealed-secrets-service-proxier");
    assert_eq!(
        proxier["rules"][1]["resourceNames"],
        json!([
            "http:sealed-secrets-controller:",
            "http:sealed-secrets-controller:http",
            "sealed-secrets-controller"
        ])
    );
    let rb = the(&docs, "RoleBinding", "sealed-secrets-service-proxier");
    assert_eq!(rb["subjects"][0]["name"], "system:authenticated");

    // High availability: two replicas electing a leader, rolled one at a time, spread over
    // nodes, with a PodDisruptionBudget; the Lease rules name the one Lease where RBAC can.
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    let anti = &pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(
        anti["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(
        anti["podAffinityTerm"]["labelSelector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    assert_eq!(
        a.bool("--leader-elect"),
        None,
        "leader election: the default (on)"
    );
    assert_eq!(a.value("--kubeclient-qps"), Some("50"));
    assert_eq!(a.value("--kubeclient-burst"), Some("100"));
    let pdb = the(&docs, "PodDisruptionBudget", "sealed-secrets-controller");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    let key_admin = the(&docs, "Role", "sealed-secrets-key-admin");
    let lease_rules: Vec<&Value> = key_admin["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["apiGroups"] == json!(["coordination.k8s.io"]))
        .collect();
    assert_eq!(lease_rules.len(), 2);
    assert_eq!(lease_rules[0]["resources"], json!(["leases"]));
    assert_eq!(lease_rules[0]["verbs"], json!(["create"]));
    assert!(lease_rules[0].get("resourceNames").is_none());
    assert_eq!(
        lease_rules[1]["resourceNames"],
        json!(["sealed-secrets-controller"])
    );
    assert_eq!(lease_rules[1]["verbs"], json!(["get", "update", "watch"]));

    // The image the Deployment runs: the Dockerfile installs the controller as `controller`.
    let dockerfile = read(&repo_root().join("Dockerfile"));
    assert!(dockerfile.contains("/usr/local/bin/controller"));
    assert!(dockerfile.contains("USER 1001"));
    assert!(dockerfile.contains("EXPOSE 8080 8081"));
}

/// Paths `a.b.c` of `.Values.a.b.c` in the template sources.
fn template_value_paths() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, src) in template_sources() {
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".Values.") {
            rest = &rest[i + ".Values.".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            out.insert(rest[..end].trim_end_matches('.').to_string());
        }
    }
    out
}

/// Leaf paths of values.yaml (maps whose schema is closed are descended into).
fn value_paths(v: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    match v.as_object() {
        Some(m) if closed && !m.is_empty() => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                value_paths(child, &schema["properties"][k], &p, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

#[test]
fn chart_values_are_declared_validated_and_used() {
    let values = default_values();
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &values, "values", &mut errors);
    assert!(
        errors.is_empty(),
        "values.yaml vs values.schema.json: {errors:#?}"
    );

    let used = template_value_paths();
    assert!(used.len() > 40, "found {} .Values paths", used.len());
    for p in &used {
        let mut v = &values;
        let mut s = &schema;
        for part in p.split('.') {
            v = v
                .get(part)
                .unwrap_or_else(|| panic!(".Values.{p} is not in values.yaml"));
            if let Some(props) = s.get("properties") {
                s = props
                    .get(part)
                    .unwrap_or_else(|| panic!(".Values.{p} is not in values.schema.json"));
            } else {
                assert!(
                    s["type"] == "object",
                    ".Values.{p}: not an open map in values.schema.json"
                );
            }
        }
    }
    let mut declared = BTreeSet::new();
    value_paths(&values, &schema, "", &mut declared);
    for d in &declared {
        assert!(
            used.iter().any(|u| u == d
                || d.starts_with(&format!("{u}."))
                || u.starts_with(&format!("{d}."))),
            "values.yaml declares {d}, which no template uses"
        );
    }
    // Every schema property (but `global`) has a default in values.yaml.
    for k in schema["properties"].as_object().unwrap().keys() {
        assert!(
            k == "global" || values.get(k).is_some(),
            "schema-only value {k}"
        );
    }

    // The schema rejects what it should.
    for (bad, why) in [
        (json!({"replicaCount": -1}), "negative replicas"),
        (
            json!({"leaderElection": {"enable": false}}),
            "typo in leaderElection",
        ),
        (
            json!({"keyRenewPeriod": "1h"}),
            "unknown key (it is keyrenewperiod)",
        ),
        (json!({"logFormat": "xml"}), "enum"),
        (json!({"service": {"port": "http"}}), "type"),
        (
            json!({"privateKeyLabels": {"a": 1}}),
            "label values are strings",
        ),
        (
            json!({"rbac": {"serviceProxier": {"subjets": []}}}),
            "typo in a closed map",
        ),
    ] {
        let mut v = values.clone();
        coalesce(&mut v, &bad);
        let mut errors = Vec::new();
        validate(&schema, &v, "values", &mut errors);
        assert!(!errors.is_empty(), "schema accepts {bad} ({why})");
    }
}

#[test]
fn chart_options_render_the_matching_flags_and_rbac() {
    // Non-default values: the arguments must parse, and the RBAC must follow them.
    let overrides = json!({
        "fullnameOverride": "sealed",
        "skipRecreate": true,
        "oldGcBehavior": true,
        "updateStatus": false,
        "keyrenewperiod": "0",
        "keyttl": "8760h",
        "rateLimit": 5,
        "logLevel": "DEBUG",
        "logFormat": "json",
        "maxRetries": "3",
        "kubeClientQPS": 20,
        "containerPorts": {"http": 9090},
        "additionalNamespaces": ["default", "kube-public", "kube-system"],
        "privateKeyLabels": {"team": "sec", "env": "prod"},
        "privateKeyAnnotations": {"note": "a b"},
        "commonLabels": {"org": "example"},
        "commonAnnotations": {"owner": "sec"},
        "service": {"annotations": {"owner": "svc", "x": "y"}},
        "rbac": {
            "clusterRole": false,
            "namespacedRoles": true,
            "serviceProxier": {
                "subjects": "- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: sealers\n"
            }
        },
        "resources": {"limits": {"cpu": "1", "memory": null}, "requests": null},
        "livenessProbe": {"enabled": false},
        "replicaCount": 1,
        "updateStrategy": {"type": "Recreate"},
        "leaderElection": {"enabled": false},
        "pdb": {"create": false},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]}}},
    });
    let (docs, notes) = render_chart(&overrides, "rel", "kube-system");
    let dep = the(&docs, "Deployment", "sealed");
    let a = controller_args(&dep);
    assert_eq!(a.bool("--skip-recreate"), Some(true));
    assert_eq!(a.bool("--old-gc-behavior"), Some(true));
    assert_eq!(a.bool("--update-status"), Some(false));
    assert_eq!(a.bool("--all-namespaces"), Some(false));
    assert_eq!(a.value("--key-renew-period"), Some("0"));
    assert_eq!(a.value("--key-ttl"), Some("8760h"));
    assert_eq!(a.value("--rate-limit"), Some("5"));
    assert_eq!(a.value("--max-unseal-retries"), Some("3"));
    assert_eq!(a.value("--kubeclient-qps"), Some("20"));
    assert_eq!(a.value("--log-level"), Some("DEBUG"));
    assert_eq!(a.value("--log-format"), Some("json"));
    assert_eq!(a.value("--listen-addr"), Some(":9090"));
    assert_eq!(
        a.value("--additional-namespaces"),
        Some("default,kube-public,kube-system")
    );
    assert_eq!(a.value("--privatekey-labels"), Some("env=prod,team=sec"));
    assert_eq!(a.value("--privatekey-annotations"), Some("note=a b"));
    // Single replica without leader election: Recreate, no PDB, no Lease rules.
    assert_eq!(a.bool("--leader-elect"), Some(false));
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_eq!(dep["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        dep["spec"]["template"]["spec"]["affinity"],
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]}}})
    );
    assert!(objects(&docs, "PodDisruptionBudget").is_empty());
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    assert!(c.get("livenessProbe").is_none());
    assert_eq!(c["resources"], json!({"limits": {"cpu": "1"}}));
    assert!(notes.contains("--controller-name sealed"), "{notes}");

    // Namespaced unsealer Roles in the controller's namespace and each additional one (once).
    assert!(objects(&docs, "ClusterRole").is_empty());
    assert!(objects(&docs, "ClusterRoleBinding").is_empty());
    let roles: BTreeSet<String> = objects(&docs, "Role")
        .iter()
        .filter(|r| r["metadata"]["name"] == "secrets-unsealer")
        .map(|r| r["metadata"]["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from(["default".into(), "kube-public".into(), "kube-system".into()])
    );
    let unsealer = the(&docs, "Role", "secrets-unsealer");
    // skipRecreate: no Secret watch; oldGcBehavior: delete.
    assert_eq!(
        rule_verbs(&unsealer["rules"], "", "secrets"),
        ["get", "create", "update", "delete"]
    );
    for rb in objects(&docs, "RoleBinding")
        .iter()
        .filter(|r| r["metadata"]["name"] == "secrets-unsealer")
    {
        assert_eq!(rb["subjects"][0]["name"], "sealed");
        assert_eq!(rb["subjects"][0]["namespace"], "kube-system");
    }
    // The key Role still lists and watches the keys.
    let keys = the(&docs, "Role", "sealed-secrets-key-admin");
    assert_eq!(
        rule_verbs(&keys["rules"], "", "secrets"),
        ["create", "list", "watch"]
    );
    assert!(rule_verbs(&keys["rules"], "coordination.k8s.io", "leases").is_empty());
    // Names derived from fullnameOverride; upstream-style string subjects.
    let proxier = the(&docs, "Role", "sealed-secrets-service-proxier");
    assert_eq!(proxier["rules"][0]["resourceNames"], json!(["sealed"]));
    assert_eq!(
        proxier["rules"][1]["resourceNames"],
        json!(["http:sealed:", "http:sealed:http", "sealed"])
    );
    assert_eq!(
        the(&docs, "RoleBinding", "sealed-secrets-service-proxier")["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sealers"}])
    );
    // Labels and annotations.
    for d in &docs {
        assert_eq!(
            d["metadata"]["labels"]["org"],
            "example",
            "{}",
            object_key(d)
        );
        assert_eq!(
            d["metadata"]["annotations"]["owner"],
            if d["kind"] == "Service" && d["metadata"]["name"] == "sealed" {
                "svc"
            } else {
                "sec"
            },
            "{}",
            object_key(d)
        );
    }
    assert_eq!(
        the(&docs, "Service", "sealed")["metadata"]["annotations"]["x"],
        "y"
    );

    // The API server accepts these objects (dry run; the namespaces exist).
    server_dry_run(&docs);

    // Without RBAC: no RBAC objects and no ServiceAccount if told so.
    let (docs, _) = render_chart(
        &json!({"rbac": {"create": false}, "serviceAccount": {"create": false}}),
        "norbac",
        "kube-system",
    );
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ValidatingWebhookConfiguration"
        ])
    );
    assert_eq!(
        the(&docs, "Deployment", "sealed-secrets-controller")["spec"]["template"]["spec"]["serviceAccountName"],
        "default"
    );
}

#[test]
fn chart_network_policy_is_deploy_networkpolicy_yaml_and_admits_only_its_peers() {
    // Off by default (chart_defaults_render_deploy_controller_yaml checks every object).
    let (docs, _) = render_chart(&json!({}), "sealed-secrets", "kube-system");
    assert!(objects(&docs, "NetworkPolicy").is_empty());

    // deploy/optional/networkpolicy.yaml is the chart's policy with the placeholder API server address.
    let expected = yaml_docs(&repo_root().join("deploy/optional/networkpolicy.yaml"));
    assert_eq!(expected.len(), 1);
    let overlay = json!({"networkPolicy": {"enabled": true, "apiServerCIDRs": ["192.0.2.1/32"]}});
    let (docs, _) = render_chart(&overlay, "sealed-secrets", "kube-system");
    let mut nps = objects(&docs, "NetworkPolicy");
    assert_eq!(nps.len(), 1);
    strip_helm_labels(&mut nps[0], "sealed-secrets");
    let mut diffs = Vec::new();
    diff(&expected[0], &nps[0], "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "deploy/optional/networkpolicy.yaml vs chart:\n{}",
        diffs.join("\n")
    );
    // It selects the controller pods (the Deployment's selector) and restricts ingress only.
    let dep = the(&docs, "Deployment", "sealed-secrets-controller");
    assert_eq!(
        nps[0]["spec"]["podSelector"], dep["spec"]["selector"],
        "the policy must select the controller pods"
    );
    assert_eq!(nps[0]["spec"]["policyTypes"], json!(["Ingress"]));

    // Every peer option, ports following containerPorts.
    let (docs, _) = render_chart(
        &json!({
            "fullnameOverride": "sealed",
            "containerPorts": {"http": 9090, "metrics": 9091},
            "networkPolicy": {
                "enabled": true,
                "apiServerCIDRs": ["10.0.0.10/32", "10.0.1.0/24"],
                "apiServerNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "apiServerPodSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}},
                "metrics": {
                    // Helm merges maps: the default matchLabels must be dropped explicitly.
                    "namespaceSelector": {"matchLabels": null, "matchExpressions": [
                        {"key": "team", "operator": "In", "values": ["obs"]}
                    ]},
                    "podSelector": null
                }
            }
        }),
        "rel",
        "kube-system",
    );
    let np = the(&docs, "NetworkPolicy", "sealed");
    assert_eq!(
        np["spec"]["ingress"],
        json!([
            {"ports": [{"protocol": "TCP", "port": 9090}], "from": [
                {"ipBlock": {"cidr": "10.0.0.10/32"}},
                {"ipBlock": {"cidr": "10.0.1.0/24"}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}}}
            ]},
            {"ports": [{"protocol": "TCP", "port": 9091}], "from": [
                {"namespaceSelector": {"matchExpressions": [
                    {"key": "team", "operator": "In", "values": ["obs"]}
                ]}}
            ]}
        ])
    );
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        json!({"name": "sealed"})
    );
    server_dry_run(&docs);

    // No peers at all: an empty ingress list, i.e. all ingress denied (never "allow all").
    let (docs, _) = render_chart(
        &json!({"networkPolicy": {"enabled": true,
                                  "metrics": {"namespaceSelector": null, "podSelector": null}}}),
        "closed",
        "kube-system",
    );
    let np = the(&docs, "NetworkPolicy", "sealed-secrets-controller");
    assert_eq!(np["spec"]["ingress"], json!([]));
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));

    // The schema rejects a typo and a bad selector operator.
    for bad in [
        json!({"networkPolicy": {"apiServerCIDR": ["10.0.0.0/8"]}}),
        json!({"networkPolicy": {"metrics": {"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "Equals"}
        ]}}}}),
    ] {
        let mut v = default_values();
        coalesce(&mut v, &bad);
        let mut errors = Vec::new();
        validate(&schema(), &v, "values", &mut errors);
        assert!(!errors.is_empty(), "schema accepts {bad}");
    }
}

/// True if the API server serves `policy/v1` (Kubernetes ≥ 1.21). The local control plane
/// may be older; there the PodDisruptionBudget is dry-run as `policy/v1beta1` (same fields).
fn serves_policy_v1() -> bool {
    kubectl(&["api-versions"])
        .lines()
        .any(|l| l.trim() == "policy/v1")
}

/// The manifest text as this API server accepts it (see [`serves_policy_v1`]).
fn for_this_server(text: &str) -> String {
    if serves_policy_v1() {
        text.to_string()
    } else {
        text.replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n")
    }
}

/// `kubectl apply --server-side --dry-run=server` of objects (nothing is persisted).
fn server_dry_run(docs: &[Value]) {
    let old = !serves_policy_v1();
    let docs: Vec<Value> = docs
        .iter()
        .cloned()
        .map(|mut d| {
            if old && d["apiVersion"] == "policy/v1" {
                d["apiVersion"] = json!("policy/v1beta1");
            }
            d
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
    let path = std::env::temp_dir().join(format!("e2e-deploy-{}.json", random_suffix()));
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=e2e-deploy",
        "--dry-run=server",
        "-f",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.lines().count(), docs.len(), "{out}");
}

#[test]
fn deploy_manifests_apply_to_the_api_server() {
    let root = repo_root();
    // The CRD for real (the harness applies it too; server-side apply is idempotent).
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        root.join("deploy/crd.yaml").to_str().unwrap(),
    ]);
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/sealedsecrets.bitnami.com",
    ]);
    let established = kubectl(&[
        "get",
        "crd",
        "sealedsecrets.bitnami.com",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(established.trim(), "True");

    // controller.yaml as a server-side dry run: validated and admitted by the real API server
    // (schemas, RBAC escalation checks), but nothing is created, so other tests may own the
    // real sealed-secrets-controller objects in kube-system.
    let tmp = std::env::temp_dir().join(format!("e2e-deploy-dir-{}", random_suffix()));
    std::fs::create_dir_all(&tmp).unwrap();
    for f in ["crd.yaml", "controller.yaml"] {
        std::fs::write(
            tmp.join(f),
            for_this_server(&read(&root.join("deploy").join(f))),
        )
        .unwrap();
    }
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=e2e-deploy",
        "--dry-run=server",
        "-f",
        tmp.join("controller.yaml").to_str().unwrap(),
    ]);
    let docs = yaml_docs(&root.join("deploy/controller.yaml"));
    assert_eq!(out.lines().count(), docs.len(), "{out}");
    for d in &docs {
        let kind = d["kind"].as_str().unwrap().to_lowercase();
        let name = d["metadata"]["name"].as_str().unwrap();
        assert!(
            out.lines().any(|l| l
                .contains(&format!("/{name} serverside-applied (server dry run)"))
                && l.to_lowercase().starts_with(&kind)),
            "{kind}/{name} not applied:\n{out}"
        );
    }

    // `kubectl apply -f deploy/` (both files, in directory order) is also valid.
    let dir = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=e2e-deploy",
            "--dry-run=server",
            "-f",
        ])
        .arg(&tmp)
        .env("KUBECONFIG", kubeconfig())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        dir.status.success(),
        "{}",
        String::from_utf8_lossy(&dir.stderr)
    );
}
