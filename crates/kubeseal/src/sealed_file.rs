//! A sealed file on disk (YAML or JSON, one or several documents) whose
//! `spec.encryptedData` items are changed in place, keeping every other byte
//! (`sealed_secrets_core::splice`).

use std::ops::Range;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::splice::{self, ItemChanges, SpliceError};
use sealed_secrets_core::{PublicKey, SealedSecret, hybrid_encrypt};

use crate::input::sealed_secret_from_value;
use crate::output::{Sensitivity, write_atomically};

/// One document of the file: the SealedSecret it holds, if it is one.
pub struct Doc {
    pub range: Range<usize>,
    pub sealed: Option<SealedSecret>,
}

pub struct SealedFile {
    pub path: String,
    pub text: String,
    pub docs: Vec<Doc>,
    changed: bool,
}

impl SealedFile {
    /// Reads and parses `path`. Documents of another kind are kept as they are.
    pub fn load(path: &str) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("{path:?} is not UTF-8"))?;
        Self::parse(path, text)
    }

    pub fn parse(path: &str, text: String) -> Result<Self> {
        let ranges = splice::documents(&text).with_context(|| format!("cannot read {path:?}"))?;
        let mut docs = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.into_iter().enumerate() {
            let what = format!("{path:?} (document {})", i + 1);
            let value = codec::parse_single(text.get(range.clone()).unwrap_or_default().as_bytes())
                .with_context(|| format!("cannot read {what}"))?;
            let sealed = match value.get("kind").and_then(|k| k.as_str()) {
                Some("SealedSecret") => Some(sealed_secret_from_value(value, &what)?),
                _ => None,
            };
            docs.push(Doc { range, sealed });
        }
        Ok(Self {
            path: path.to_string(),
            text,
            docs,
            changed: false,
        })
    }

    /// The document to work on: the only SealedSecret, or the one named `name`.
    pub fn select(&self, name: Option<&str>) -> Result<usize> {
        let candidates: Vec<usize> = self
            .docs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let ss = d.sealed.as_ref()?;
                match name {
                    Some(n) if ss.metadata.name.as_deref() != Some(n) => None,
                    _ => Some(i),
                }
            })
            .collect();
        match (candidates.as_slice(), name) {
            ([i], _) => Ok(*i),
            ([], None) => bail!("{:?} holds no SealedSecret", self.path),
            ([], Some(n)) => bail!("{:?} holds no SealedSecret named {n:?}", self.path),
            (_, None) => bail!(
                "{:?} holds {} SealedSecrets; choose one with --name",
                self.path,
                candidates.len()
            ),
            (_, Some(n)) => bail!("{:?} holds several SealedSecrets named {n:?}", self.path),
        }
    }

    pub fn sealed(&self, doc: usize) -> Result<&SealedSecret> {
        self.docs
            .get(doc)
            .and_then(|d| d.sealed.as_ref())
            .ok_or_else(|| anyhow!("document {} is not a SealedSecret", doc + 1))
    }

    /// Applies `changes` to document `doc`, in place when the layout allows, else by
    /// re-rendering that document only (with a warning).
    pub fn apply(&mut self, doc: usize, changes: &ItemChanges) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let text = match splice::splice(&self.text, doc, changes) {
            Ok(t) => t,
            Err(SpliceError::Layout { why, .. }) => {
                eprintln!(
                    "warning: {:?} (document {}): {why}; re-writing that document in kubeseal's layout",
                    self.path,
                    doc + 1
                );
                self.rerender(doc, changes)?
            }
            Err(e) => return Err(anyhow!("{:?}: {e}", self.path)),
        };
        *self = Self::parse(&self.path, text)?;
        self.changed = true;
        Ok(())
    }

    fn rerender(&self, doc: usize, changes: &ItemChanges) -> Result<String> {
        let d = self
            .docs
            .get(doc)
            .ok_or_else(|| anyhow!("document {} does not exist", doc + 1))?;
        let mut ss = self.sealed(doc)?.clone();
        for k in &changes.remove {
            ss.spec.encrypted_data.remove(k);
        }
        for (k, v) in &changes.set {
            ss.spec.encrypted_data.insert(k.clone(), v.clone());
        }
        ss.status = None;
        let json = matches!(
            self.text.bytes().find(|b| !b.is_ascii_whitespace()),
            Some(b'{')
        );
        let mut rendered = if json {
            codec::render_sealed_secret(&ss, Format::Json)?
        } else {
            let y = codec::render_sealed_secret(&ss, Format::Yaml)?;
            y.strip_prefix("---\n").map(str::to_string).unwrap_or(y)
        };
        let original = self.text.get(d.range.clone()).unwrap_or_default();
        if !original.ends_with('\n') {
            rendered = rendered.trim_end_matches('\n').to_string();
        }
        Ok(format!(
            "{}{}{}",
            self.text.get(..d.range.start).unwrap_or_default(),
            rendered,
            self.text.get(d.range.end..).unwrap_or_default()
        ))
    }

    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Writes the file back (atomically, keeping its mode) if anything changed.
    pub fn write(&self) -> Result<()> {
        if self.changed {
            write_atomically(&self.path, self.text.as_bytes(), Sensitivity::Sealed)?;
        }
        Ok(())
    }
}

/// Encrypts one item for `ss`'s own scope (a fresh session key every time).
pub fn seal_item(ss: &SealedSecret, key: &PublicKey, item: &str, plain: &[u8]) -> Result<String> {
    let scope = sealed_secrets_core::Scope::from_annotations(ss.metadata.annotations.as_ref());
    let ns = ss.metadata.namespace.as_deref().unwrap_or_default();
    let name = ss.metadata.name.as_deref().unwrap_or_default();
    if scope < sealed_secrets_core::Scope::ClusterWide && ns.is_empty() {
        bail!("the SealedSecret has no metadata.namespace, which its scope ({scope}) needs");
    }
    if scope < sealed_secrets_core::Scope::NamespaceWide && name.is_empty() {
        bail!("the SealedSecret has no metadata.name, which its scope ({scope}) needs");
    }
    let label = sealed_secrets_core::unseal::label_for(ss);
    let ct = hybrid_encrypt(key, &label, plain)
        .map_err(|e| anyhow!("cannot seal item {item:?}: {e}"))?;
    Ok(STANDARD.encode(ct))
}

/// Secret data keys, as the API server accepts them.
pub fn check_item_name(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > 253
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        bail!(
            "invalid item name {key:?}: must consist of alphanumeric characters, '-', '_' or '.'"
        );
    }
    Ok(())
}
