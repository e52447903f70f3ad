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

mod json;
mod yaml;

use json::{Json, json_remove, json_set};
use yaml::{is_blank_or_comment, yaml_documents, yaml_remove, yaml_set};

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

#[cfg(test)]
mod tests;
