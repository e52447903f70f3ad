//! Format-preserving edits of `spec.encryptedData` in sealed files (`kubeseal set`, `edit`,
//! `--re-encrypt` over many files).
//!
//! The file is treated as text: only the values of the named items change (or their lines are
//! removed, or new lines are added); every other byte — other ciphertexts, key order,
//! comments, indentation, other documents — is kept. Every result is checked by parsing it
//! again: if the parsed document differs from the expected one in anything but the requested
//! items, the splice is refused with [`SpliceError::Layout`] and the caller can fall back to
//! re-rendering the object.
//!
//! Supported: YAML streams (`---`-separated documents, block mappings for `spec` and
//! `spec.encryptedData`, any comments and indentation) and concatenated JSON values.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::codec::{self, CodecError};

/// Why a splice was refused. Messages never quote file content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpliceError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("document {0} does not exist")]
    NoSuchDocument(usize),
    #[error("document {doc}: cannot edit spec.encryptedData in place ({why})")]
    Layout { doc: usize, why: &'static str },
}

/// The changes to one document's `spec.encryptedData`: items to set (name → base64
/// ciphertext) and items to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemChanges {
    pub set: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl ItemChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

fn is_json(text: &str) -> bool {
    matches!(
        text.bytes().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

/// Byte ranges of the non-empty documents of `text`, in the order
/// [`codec::parse_documents`] returns them.
pub fn documents(text: &str) -> Result<Vec<Range<usize>>, SpliceError> {
    if is_json(text) {
        let mut s = Json::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            s.ws();
            if s.pos >= s.b.len() {
                break;
            }
            let start = s.pos;
            s.value().map_err(|why| SpliceError::Layout {
                doc: out.len() + 1,
                why,
            })?;
            out.push(start..s.pos);
        }
        Ok(out)
    } else {
        Ok(yaml_documents(text)
            .into_iter()
            .filter(|r| {
                text.get(r.clone())
                    .is_some_and(|d| d.lines().any(|l| !is_blank_or_comment(l)))
            })
            .collect())
    }
}

/// Applies `changes` to document `doc` (an index into [`documents`]) and returns the new
/// text. Items named in `changes.set` are replaced in place or added; items in
/// `changes.remove` are deleted; nothing else changes.
pub fn splice(text: &str, doc: usize, changes: &ItemChanges) -> Result<String, SpliceError> {
    let docs = documents(text)?;
    let range = docs
        .get(doc)
        .cloned()
        .ok_or(SpliceError::NoSuchDocument(doc + 1))?;
    if changes.is_empty() {
        return Ok(text.to_string());
    }
    let original = text.get(range.clone()).unwrap_or_default();
    let layout = |why| SpliceError::Layout { doc: doc + 1, why };
    let mut new_doc = original.to_string();
    let json = is_json(text);
    for item in &changes.remove {
        new_doc = if json {
            json_remove(&new_doc, item)
        } else {
            yaml_remove(&new_doc, item)
        }
        .map_err(layout)?;
    }
    for (item, value) in &changes.set {
        new_doc = if json {
            json_set(&new_doc, item, value)
        } else {
            yaml_set(&new_doc, item, value)
        }
        .map_err(layout)?;
    }
    // The result must parse to exactly the original with the changes applied.
    let mut expected = codec::parse_single(original.as_bytes())?;
    let data = expected
        .get_mut("spec")
        .and_then(|s| s.as_object_mut())
        .ok_or(layout("no spec mapping"))?
        .entry("encryptedData")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if data.is_null() {
        *data = serde_json::Value::Object(Default::default());
    }
    let map = data
        .as_object_mut()
        .ok_or(layout("encryptedData is not a mapping"))?;
    for item in &changes.remove {
        map.remove(item);
    }
    for (item, value) in &changes.set {
        map.insert(item.clone(), serde_json::Value::String(value.clone()));
    }
    let mut got =
        codec::parse_single(new_doc.as_bytes()).map_err(|_| layout("result does not parse"))?;
    // An emptied block mapping reads back as null.
    if let Some(d) = got.get_mut("spec").and_then(|s| s.get_mut("encryptedData"))
        && d.is_null()
    {
        *d = serde_json::Value::Object(Default::default());
    }
    if got != expected {
        return Err(layout("result differs from the expected object"));
    }
    let mut out = String::with_capacity(text.len() + new_doc.len());
    out.push_str(text.get(..range.start).unwrap_or_default());
    out.push_str(&new_doc);
    out.push_str(text.get(range.end..).unwrap_or_default());
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------

fn is_blank_or_comment(line: &str) -> bool {
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
fn yaml_documents(text: &str) -> Vec<Range<usize>> {
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

fn yaml_data(doc: &str) -> Result<YamlData<'_>, &'static str> {
    let ls = lines(doc);
    let top = entries(&ls, 0, ls.len(), 0)?;
    let spec = top
        .iter()
        .find(|e| e.key == "spec")
        .ok_or("no spec mapping")?;
    let after_colon = ls
        .get(spec.first)
        .and_then(|(_, l)| l.get(spec.colon_end..))
        .unwrap_or_default();
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
    let after_colon = ls
        .get(data.first)
        .and_then(|(_, l)| l.get(data.colon_end..))
        .unwrap_or_default();
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

fn yaml_remove(doc: &str, item: &str) -> Result<String, &'static str> {
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

fn yaml_set(doc: &str, item: &str, value: &str) -> Result<String, &'static str> {
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

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// A minimal JSON scanner that records where things are.
struct Json<'a> {
    b: &'a [u8],
    pos: usize,
}

struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value: Range<usize>,
}

impl<'a> Json<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<(), &'static str> {
        if self.b.get(self.pos) != Some(&b'"') {
            return Err("expected a string");
        }
        self.pos += 1;
        loop {
            match self.b.get(self.pos) {
                None => return Err("unterminated string"),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn value(&mut self) -> Result<(), &'static str> {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'{') => self.object().map(|_| ()),
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.value()?;
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err("invalid array"),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(_) => {
                let start = self.pos;
                while self
                    .b
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c))
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    Err("invalid value")
                } else {
                    Ok(())
                }
            }
            None => Err("unexpected end of input"),
        }
    }

    /// Scans an object at the cursor; returns its members and the offsets of `{` and `}`.
    fn object(&mut self) -> Result<(Vec<Member>, usize, usize), &'static str> {
        let open = self.pos;
        if self.b.get(self.pos) != Some(&b'{') {
            return Err("expected an object");
        }
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok((members, open, self.pos - 1));
        }
        loop {
            self.ws();
            let key_start = self.pos;
            self.string()?;
            let key_end = self.pos;
            let key: String = self
                .b
                .get(key_start..key_end)
                .and_then(|k| serde_json::from_slice(k).ok())
                .ok_or("invalid key")?;
            self.ws();
            if self.b.get(self.pos) != Some(&b':') {
                return Err("expected ':'");
            }
            self.pos += 1;
            self.ws();
            let vstart = self.pos;
            self.value()?;
            members.push(Member {
                key,
                key_start,
                key_end,
                value: vstart..self.pos,
            });
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok((members, open, self.pos - 1));
                }
                _ => return Err("invalid object"),
            }
        }
    }
}

/// The members of `spec.encryptedData` and the offsets of its braces.
fn json_data(doc: &str) -> Result<(Vec<Member>, usize, usize), &'static str> {
    let mut s = Json::new(doc.as_bytes());
    s.ws();
    let (top, _, _) = s.object()?;
    let spec = top
        .iter()
        .find(|m| m.key == "spec")
        .ok_or("no spec object")?;
    s.pos = spec.value.start;
    let (fields, _, _) = s.object().map_err(|_| "spec is not an object")?;
    let data = fields
        .iter()
        .find(|m| m.key == "encryptedData")
        .ok_or("no spec.encryptedData object")?;
    s.pos = data.value.start;
    s.object()
        .map_err(|_| "spec.encryptedData is not an object")
}

fn replace(doc: &str, range: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(doc.len() + with.len());
    out.push_str(doc.get(..range.start).unwrap_or_default());
    out.push_str(with);
    out.push_str(doc.get(range.end..).unwrap_or_default());
    out
}

fn json_remove(doc: &str, item: &str) -> Result<String, &'static str> {
    let (members, open, close) = json_data(doc)?;
    let Some(i) = members.iter().position(|m| m.key == item) else {
        return Ok(doc.to_string());
    };
    let range = match (
        members.get(i.wrapping_sub(1)),
        members.get(i),
        members.get(i + 1),
    ) {
        (_, Some(m), Some(next)) => m.key_start..next.key_start,
        (Some(prev), Some(m), None) => prev.value.end..m.value.end,
        (None, Some(_), None) => open + 1..close,
        _ => return Err("internal"),
    };
    Ok(replace(doc, range, ""))
}

fn json_set(doc: &str, item: &str, value: &str) -> Result<String, &'static str> {
    let (members, open, close) = json_data(doc)?;
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    if let Some(m) = members.iter().find(|m| m.key == item) {
        return Ok(replace(doc, m.value.clone(), &quoted));
    }
    let key = serde_json::Value::String(item.to_string()).to_string();
    let Some(last) = members.last() else {
        return Ok(replace(doc, open + 1..close, &format!("{key}: {quoted}")));
    };
    let sep = doc.get(last.key_end..last.value.start).unwrap_or(": ");
    let sorted = members.windows(2).all(|w| match w {
        [a, b] => a.key <= b.key,
        _ => true,
    });
    let before = if sorted {
        members.iter().position(|m| m.key.as_str() > item)
    } else {
        None
    };
    // The whitespace before a member's key (after `{` or the previous comma).
    let lead = |i: usize| -> &str {
        let start = match i.checked_sub(1).and_then(|p| members.get(p)) {
            Some(prev) => {
                let after = doc.get(prev.value.end..).unwrap_or_default();
                prev.value.end + after.find(',').map_or(0, |c| c + 1)
            }
            None => open + 1,
        };
        members
            .get(i)
            .and_then(|m| doc.get(start..m.key_start))
            .unwrap_or("")
    };
    match before.and_then(|i| members.get(i).map(|m| (i, m))) {
        Some((i, m)) => Ok(replace(
            doc,
            m.key_start..m.key_start,
            &format!("{key}{sep}{quoted},{}", lead(i)),
        )),
        None => Ok(replace(
            doc,
            last.value.end..last.value.end,
            &format!(",{}{key}{sep}{quoted}", lead(members.len() - 1)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(items: &[(&str, &str)]) -> ItemChanges {
        ItemChanges {
            set: items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remove: BTreeSet::new(),
        }
    }

    fn remove(items: &[&str]) -> ItemChanges {
        ItemChanges {
            set: BTreeMap::new(),
            remove: items.iter().map(|k| k.to_string()).collect(),
        }
    }

    const YAML: &str = "# leading comment\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n    name: s   # the name\n    namespace: ns\nspec:\n    # items\n    encryptedData:\n        a: AAAA   # first\n        \"b.c\": 'BBBB'\n        d: >-\n            DDDD\n            DDDD\n        f: FFFF\n    template:\n        metadata: {}\n---\nkind: Other\n";

    #[test]
    fn yaml_replace_keeps_everything_else() {
        let out = splice(YAML, 0, &set(&[("a", "NEW1")])).unwrap();
        assert_eq!(out, YAML.replace("a: AAAA", "a: NEW1"));
        let out = splice(YAML, 0, &set(&[("b.c", "NEW2")])).unwrap();
        assert_eq!(out, YAML.replace("'BBBB'", "'NEW2'"));
        let out = splice(YAML, 0, &set(&[("d", "NEW3")])).unwrap();
        assert_eq!(
            out,
            YAML.replace("d: >-\n            DDDD\n            DDDD\n", "d: NEW3\n")
        );
    }

    #[test]
    fn yaml_remove_and_add() {
        let out = splice(YAML, 0, &remove(&["d"])).unwrap();
        assert_eq!(
            out,
            YAML.replace("        d: >-\n            DDDD\n            DDDD\n", "")
        );
        let out = splice(YAML, 0, &set(&[("e", "EEEE")])).unwrap();
        assert_eq!(
            out,
            YAML.replace("        f: FFFF\n", "        e: EEEE\n        f: FFFF\n")
        );
        let out = splice(YAML, 0, &set(&[("zz", "ZZZZ"), ("true", "TTTT")])).unwrap();
        assert!(
            out.contains(
                "        f: FFFF\n        \"true\": TTTT\n        zz: ZZZZ\n    template:"
            ),
            "{out}"
        );
    }

    #[test]
    fn yaml_empty_data_and_second_document() {
        let y = "kind: SealedSecret\nspec:\n  encryptedData:\n  template: {}\n---\nkind: SealedSecret\nspec:\n  encryptedData:\n    x: XXXX\n";
        let out = splice(y, 0, &set(&[("a", "AAAA")])).unwrap();
        assert!(
            out.starts_with(
                "kind: SealedSecret\nspec:\n  encryptedData:\n    a: AAAA\n  template: {}\n---\n"
            ),
            "{out}"
        );
        let out = splice(y, 1, &remove(&["x"])).unwrap();
        assert_eq!(out, y.replace("    x: XXXX\n", ""));
        assert_eq!(
            splice(y, 2, &remove(&["x"])).unwrap_err(),
            SpliceError::NoSuchDocument(3)
        );
    }

    #[test]
    fn yaml_flow_mapping_is_refused() {
        let y = "kind: SealedSecret\nspec:\n  encryptedData: {a: AAAA}\n";
        assert!(matches!(
            splice(y, 0, &set(&[("a", "BBBB")])).unwrap_err(),
            SpliceError::Layout { .. }
        ));
    }

    const JSON: &str = "{\n  \"kind\": \"SealedSecret\",\n  \"spec\": {\n    \"encryptedData\": {\n      \"a\": \"AAAA\",\n      \"c\": \"CCCC\"\n    },\n    \"template\": {}\n  }\n}\n{\"kind\":\"SealedSecret\",\"spec\":{\"encryptedData\":{\"x\":\"XXXX\"}}}\n";

    #[test]
    fn json_replace_remove_add() {
        let out = splice(JSON, 0, &set(&[("c", "NEW1")])).unwrap();
        assert_eq!(out, JSON.replace("CCCC", "NEW1"));
        let out = splice(JSON, 0, &set(&[("b", "BBBB")])).unwrap();
        assert_eq!(
            out,
            JSON.replace(
                "\"AAAA\",\n      \"c\"",
                "\"AAAA\",\n      \"b\": \"BBBB\",\n      \"c\""
            )
        );
        let out = splice(JSON, 0, &set(&[("d", "DDDD")])).unwrap();
        assert_eq!(
            out,
            JSON.replace("\"CCCC\"\n", "\"CCCC\",\n      \"d\": \"DDDD\"\n")
        );
        let out = splice(JSON, 0, &remove(&["a"])).unwrap();
        assert_eq!(out, JSON.replace("\"a\": \"AAAA\",\n      ", ""));
        let out = splice(JSON, 0, &remove(&["c"])).unwrap();
        assert_eq!(out, JSON.replace(",\n      \"c\": \"CCCC\"", ""));
        let out = splice(JSON, 1, &remove(&["x"])).unwrap();
        assert!(out.ends_with("{\"encryptedData\":{}}}\n"), "{out}");
        let out = splice(&out, 1, &set(&[("y", "YYYY")])).unwrap();
        assert!(
            out.ends_with("{\"encryptedData\":{\"y\": \"YYYY\"}}}\n"),
            "{out}"
        );
    }

    fn items() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[a-z][a-z0-9._-]{0,8}", "[A-Za-z0-9+/]{4,40}={0,2}", 0..6)
    }

    fn render(items: &BTreeMap<String, String>, json: bool, comments: bool) -> String {
        let v = serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"encryptedData": items, "template": {"metadata": {"name": "s"}}}
        });
        let mut text = if json {
            codec::to_json(&v).unwrap()
        } else {
            codec::render(&v, codec::Format::Yaml).unwrap()
        };
        if comments && !json {
            text = text.replace(
                "encryptedData:\n",
                "encryptedData: # the items\n    # inside\n",
            );
        }
        // Two documents: the first must never change.
        format!("{text}{text}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Setting items and removing others changes only those items; setting the old values
        /// back restores the file byte for byte.
        #[test]
        fn only_named_items_change(
            orig in items(), new in items(), drop in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            json in any::<bool>(), comments in any::<bool>(),
        ) {
            let text = render(&orig, json, comments);
            let names: Vec<&String> = orig.keys().collect();
            let mut changes = ItemChanges { set: new.clone(), remove: BTreeSet::new() };
            if !names.is_empty() {
                for d in &drop {
                    let k = names[d.index(names.len())];
                    if !new.contains_key(k) {
                        changes.remove.insert(k.clone());
                    }
                }
            }
            let out = splice(&text, 1, &changes).unwrap();
            let docs = documents(&out).unwrap();
            prop_assert_eq!(&out[docs[0].clone()], &text[documents(&text).unwrap()[0].clone()]);
            let parsed = codec::parse_documents(out.as_bytes()).unwrap();
            let mut want = orig.clone();
            for k in &changes.remove { want.remove(k); }
            want.extend(new.clone());
            let got: BTreeMap<String, String> = serde_json::from_value(
                parsed[1]["spec"]["encryptedData"].clone()).unwrap_or_default();
            prop_assert_eq!(got, want);
            prop_assert_eq!(&parsed[0], &codec::parse_documents(text.as_bytes()).unwrap()[0]);
            // Untouched items keep their exact text.
            for (k, v) in &orig {
                if !changes.set.contains_key(k) && !changes.remove.contains(k) {
                    prop_assert!(out.contains(v.as_str()));
                }
            }
            // Replacing values with the old ones restores the file.
            let back = ItemChanges {
                set: new.keys().filter_map(|k| orig.get(k).map(|v| (k.clone(), v.clone()))).collect(),
                remove: BTreeSet::new(),
            };
            let restored = splice(&out, 1, &back).unwrap();
            if changes.remove.is_empty() && new.keys().all(|k| orig.contains_key(k)) {
                prop_assert_eq!(restored, text);
            }
        }
    }
}
