//! Concatenated JSON values as text: a scanner that records where values are, and the
//! item edits of `spec.encryptedData` on top of it.

use std::ops::Range;

/// A minimal JSON scanner that records where things are.
pub(super) struct Json<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value: Range<usize>,
}

impl<'a> Json<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    pub(super) fn ws(&mut self) {
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

    pub(super) fn value(&mut self) -> Result<(), &'static str> {
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

pub(super) fn json_remove(doc: &str, item: &str) -> Result<String, &'static str> {
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

pub(super) fn json_set(doc: &str, item: &str, value: &str) -> Result<String, &'static str> {
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
