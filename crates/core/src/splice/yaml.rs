//! YAML streams as text: where documents start and end, and where `spec.encryptedData`
//! and its items are, so that an item's value can be replaced, removed or added.

use std::ops::Range;

use crate::codec;

pub(super) fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Lines with their byte offsets, terminators included.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for l in text.split_inclusive('\n') {
        out.push((pos, l));
        pos += l.len();
    }
    out
}

fn is_doc_marker(line: &str) -> bool {
    let l = line.trim_end();
    (l.starts_with("---") || l.starts_with("..."))
        && l.get(3..)
            .is_none_or(|r| r.is_empty() || r.starts_with([' ', '\t']))
}

/// Ranges between `---`/`...` marker lines (and directives).
pub(super) fn yaml_documents(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (pos, line) in lines(text) {
        if is_doc_marker(line) {
            out.push(start..pos);
            start = pos + line.len();
        } else if line.starts_with('%') && pos == start {
            start = pos + line.len();
        }
    }
    out.push(start..text.len());
    out
}

/// A key at the start of `rest` (plain, single- or double-quoted) followed by `:`; returns the
/// key and the offset just after the colon.
fn yaml_key(rest: &str) -> Option<(String, usize)> {
    let bytes = rest.as_bytes();
    let (key, after) = match bytes.first()? {
        b'"' => {
            let end = find_closing_double(rest)?;
            let key: String = serde_json::from_str(rest.get(..=end)?).ok()?;
            (key, end + 1)
        }
        b'\'' => {
            let mut i = 1;
            let mut key = String::new();
            loop {
                let c = rest.get(i..)?.chars().next()?;
                if c == '\'' {
                    if rest.get(i + 1..)?.starts_with('\'') {
                        key.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                key.push(c);
                i += c.len_utf8();
            }
            (key, i + 1)
        }
        _ => {
            let mut i = 0;
            loop {
                let r = rest.get(i..)?;
                if r.starts_with(':')
                    && r.get(1..)
                        .is_none_or(|n| n.is_empty() || n.starts_with([' ', '\n', '\r', '\t']))
                {
                    break;
                }
                if r.starts_with(" #") || r.is_empty() || r.starts_with('\n') {
                    return None;
                }
                i += r.chars().next()?.len_utf8();
            }
            (rest.get(..i)?.trim_end().to_string(), i)
        }
    };
    let tail = rest.get(after..)?;
    let ws = tail.len() - tail.trim_start_matches([' ', '\t']).len();
    tail.get(ws..)?.strip_prefix(':')?;
    Some((key, after + ws + 1))
}

fn find_closing_double(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A block-mapping entry: the line index of its key and of its last line (continuations and
/// block-scalar lines included, trailing blank/comment lines excluded).
struct Entry {
    key: String,
    first: usize,
    last: usize,
    /// Byte offset (in the line) just after the colon.
    colon_end: usize,
}

/// The entries of the block mapping whose lines are `lines[from..to]`, all at `indent`.
fn entries(
    ls: &[(usize, &str)],
    from: usize,
    to: usize,
    indent: usize,
) -> Result<Vec<Entry>, &'static str> {
    let mut out: Vec<Entry> = Vec::new();
    for i in from..to {
        let Some(&(_, line)) = ls.get(i) else { break };
        if is_blank_or_comment(line) {
            continue;
        }
        let ind = indent_of(line);
        if ind == indent {
            let rest = line.get(ind..).unwrap_or_default();
            let (key, colon_end) = yaml_key(rest).ok_or("a mapping entry is not a simple key")?;
            out.push(Entry {
                key,
                first: i,
                last: i,
                colon_end: ind + colon_end,
            });
        } else if ind > indent {
            match out.last_mut() {
                Some(e) => e.last = i,
                None => return Err("unexpected indentation"),
            }
        } else {
            return Err("unexpected indentation");
        }
    }
    Ok(out)
}

/// The lines `[from, to)` of a block nested under the entry at line `first` with `indent`, and
/// the nested indent (`None` if the block is empty).
fn block_of(ls: &[(usize, &str)], first: usize, indent: usize) -> (usize, usize, Option<usize>) {
    let from = first + 1;
    let mut to = from;
    let mut child = None;
    for (i, &(_, line)) in ls.iter().enumerate().skip(from) {
        if is_blank_or_comment(line) {
            continue;
        }
        let ind = indent_of(line);
        if ind <= indent {
            break;
        }
        child.get_or_insert(ind);
        to = i + 1;
    }
    (from, to, child)
}

/// Locates `spec.encryptedData`: the index of its key line, its indent, and its entries with
/// their indent.
struct YamlData<'a> {
    ls: Vec<(usize, &'a str)>,
    key_line: usize,
    key_indent: usize,
    items: Vec<Entry>,
    item_indent: Option<usize>,
    /// The bytes of ` {}` when the mapping is written as an empty flow mapping.
    empty_flow: Option<Range<usize>>,
}

impl Entry {
    /// What follows the key's colon on its first line.
    fn after_colon<'a>(&self, ls: &[(usize, &'a str)]) -> &'a str {
        ls.get(self.first)
            .and_then(|(_, l)| l.get(self.colon_end..))
            .unwrap_or_default()
    }
}

fn yaml_data(doc: &str) -> Result<YamlData<'_>, &'static str> {
    let ls = lines(doc);
    let top = entries(&ls, 0, ls.len(), 0)?;
    let spec = top
        .iter()
        .find(|e| e.key == "spec")
        .ok_or("no spec mapping")?;
    let after_colon = spec.after_colon(&ls);
    if !is_blank_or_comment(after_colon) {
        return Err("spec is not a block mapping");
    }
    let (from, to, spec_indent) = block_of(&ls, spec.first, 0);
    let spec_indent = spec_indent.ok_or("empty spec")?;
    let fields = entries(&ls, from, to, spec_indent)?;
    let data = fields
        .iter()
        .find(|e| e.key == "encryptedData")
        .ok_or("no spec.encryptedData mapping")?;
    let after_colon = data.after_colon(&ls);
    let mut empty_flow = None;
    if !is_blank_or_comment(after_colon) {
        let t = after_colon.trim_start_matches([' ', '\t']);
        if t.starts_with("{}") && is_blank_or_comment(t.get(2..).unwrap_or_default()) {
            let line_start = ls.get(data.first).map(|l| l.0).unwrap_or_default();
            let start = line_start + data.colon_end;
            empty_flow = Some(start..start + (after_colon.len() - t.len()) + 2);
        } else {
            return Err("spec.encryptedData is not a block mapping");
        }
    }
    let (from, to, item_indent) = block_of(&ls, data.first, spec_indent);
    if empty_flow.is_some() && item_indent.is_some() {
        return Err("unexpected indentation");
    }
    let items = match item_indent {
        Some(ind) => entries(&ls, from, to, ind)?,
        None => Vec::new(),
    };
    Ok(YamlData {
        key_line: data.first,
        key_indent: spec_indent,
        items,
        item_indent,
        empty_flow,
        ls,
    })
}

/// A key as YAML writes it: plain when unambiguous, double-quoted otherwise.
fn yaml_key_text(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '.')
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | ".inf" | ".nan"
        );
    if plain {
        key.to_string()
    } else {
        serde_json::Value::String(key.to_string()).to_string()
    }
}

/// A base64 value as a YAML scalar: plain unless YAML would read it as something other than
/// this string (a number, a boolean, null), then double-quoted.
fn yaml_value_text(value: &str) -> String {
    let plain_reads_back = codec::parse_single(format!("v: {value}\n").as_bytes())
        .ok()
        .is_some_and(|v| v.get("v").and_then(|s| s.as_str()) == Some(value));
    if plain_reads_back {
        value.to_string()
    } else {
        format!("\"{value}\"")
    }
}

fn newline_of(doc: &str) -> &'static str {
    if doc.contains("\r\n") { "\r\n" } else { "\n" }
}

pub(super) fn yaml_remove(doc: &str, item: &str) -> Result<String, &'static str> {
    let d = yaml_data(doc)?;
    let Some(e) = d.items.iter().find(|e| e.key == item) else {
        return Ok(doc.to_string());
    };
    let start = d.ls.get(e.first).map(|l| l.0).ok_or("internal")?;
    let end =
        d.ls.get(e.last)
            .map(|l| l.0 + l.1.len())
            .ok_or("internal")?;
    let mut out = String::with_capacity(doc.len());
    out.push_str(doc.get(..start).unwrap_or_default());
    out.push_str(doc.get(end..).unwrap_or_default());
    Ok(out)
}

pub(super) fn yaml_set(doc: &str, item: &str, value: &str) -> Result<String, &'static str> {
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Err("value is not base64");
    }
    let d = yaml_data(doc)?;
    let nl = newline_of(doc);
    if let Some(e) = d.items.iter().find(|e| e.key == item) {
        let &(line_start, line) = d.ls.get(e.first).ok_or("internal")?;
        let after = line.get(e.colon_end..).unwrap_or_default();
        let lead = after.len() - after.trim_start_matches([' ', '\t']).len();
        let value_start = line_start + e.colon_end + lead;
        let rest = after.get(lead..).unwrap_or_default();
        if e.last == e.first && !rest.starts_with(['|', '>']) {
            // One line: keep quotes and a trailing comment.
            let body = rest.trim_end_matches(['\n', '\r']);
            let (quote, core_len) = match body.as_bytes().first() {
                Some(b'"') => ("\"", find_closing_double(body).map(|i| i + 1)),
                Some(b'\'') => ("'", body.get(1..).and_then(|b| b.find('\'')).map(|i| i + 2)),
                _ => (
                    "",
                    Some(
                        body.get(..body.find(" #").unwrap_or(body.len()))
                            .unwrap_or_default()
                            .trim_end()
                            .len(),
                    ),
                ),
            };
            let core_len = core_len.ok_or("unterminated quoted value")?;
            let mut out = String::with_capacity(doc.len() + value.len());
            out.push_str(doc.get(..value_start).unwrap_or_default());
            if quote.is_empty() {
                out.push_str(&yaml_value_text(value));
            } else {
                out.push_str(quote);
                out.push_str(value);
                out.push_str(quote);
            }
            out.push_str(doc.get(value_start + core_len..).unwrap_or_default());
            return Ok(out);
        }
        // Multi-line or block scalar: the whole value becomes one plain line.
        let end_line = d.ls.get(e.last).ok_or("internal")?;
        let end = end_line.0 + end_line.1.len();
        let mut out = String::with_capacity(doc.len() + value.len());
        out.push_str(doc.get(..line_start + e.colon_end).unwrap_or_default());
        out.push(' ');
        out.push_str(&yaml_value_text(value));
        out.push_str(nl);
        out.push_str(doc.get(end..).unwrap_or_default());
        return Ok(out);
    }
    // A new item: in sorted position if the existing items are sorted, else at the end.
    let indent = d.item_indent.unwrap_or(d.key_indent + d.key_indent.max(2));
    let new_line = format!(
        "{}{}: {}{nl}",
        " ".repeat(indent),
        yaml_key_text(item),
        yaml_value_text(value)
    );
    let sorted = d.items.windows(2).all(|w| match w {
        [a, b] => a.key <= b.key,
        _ => true,
    });
    let before = if sorted {
        d.items.iter().find(|e| e.key.as_str() > item)
    } else {
        None
    };
    let at = match before {
        Some(e) => d.ls.get(e.first).map(|l| l.0).ok_or("internal")?,
        None => match d.items.last() {
            Some(e) => {
                d.ls.get(e.last)
                    .map(|l| l.0 + l.1.len())
                    .ok_or("internal")?
            }
            None => {
                d.ls.get(d.key_line)
                    .map(|l| l.0 + l.1.len())
                    .ok_or("internal")?
            }
        },
    };
    let mut out = String::with_capacity(doc.len() + new_line.len() + 1);
    match &d.empty_flow {
        Some(flow) => {
            out.push_str(doc.get(..flow.start).unwrap_or_default());
            out.push_str(doc.get(flow.end..at).unwrap_or_default());
        }
        None => out.push_str(doc.get(..at).unwrap_or_default()),
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
    out.push_str(&new_line);
    out.push_str(doc.get(at..).unwrap_or_default());
    Ok(out)
}
