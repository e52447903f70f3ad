//! What kubeseal reads: the input (`-f` or stdin, read once, wiped on drop), SealedSecrets
//! in it, and `--recovery-private-key` files.

use std::io::Read;

use anyhow::{Context, Result, anyhow, bail};
use sealed_secrets_core::codec::{self, Kind};
use sealed_secrets_core::keyfile::{dedup, private_keys_from_bytes};
use sealed_secrets_core::{Backend, PrivateKey, SealedSecret};
use zeroize::Zeroizing;

/// Lazily read input (`-f` or stdin).
pub struct Input {
    file: Option<String>,
    /// The input may be a plain Secret: wiped on drop.
    data: Option<Zeroizing<Vec<u8>>>,
}

impl Input {
    pub fn new(file: Option<String>) -> Self {
        Self { file, data: None }
    }

    pub fn bytes(&mut self) -> Result<&[u8]> {
        if self.data.is_none() {
            let data = match &self.file {
                Some(f) => std::fs::read(f).map_err(|e| {
                    anyhow!("could not read file specified with --secret-file ({f}): {e}")
                })?,
                None => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf)?;
                    buf
                }
            };
            self.data = Some(Zeroizing::new(data));
        }
        Ok(self.data.as_deref().map(Vec::as_slice).unwrap_or_default())
    }

    pub fn sealed_secrets(&mut self) -> Result<Vec<SealedSecret>> {
        let docs = codec::parse_documents(self.bytes()?)?;
        docs.into_iter()
            .enumerate()
            .map(|(i, d)| sealed_secret_from_value(d, &format!("document {}", i + 1)))
            .collect()
    }
}

/// Reads a SealedSecret, refusing objects of another kind (like upstream's typed decoder) so
/// that a plain Secret or anything else is reported as such. A missing `kind` is accepted.
pub fn sealed_secret_from_value(doc: serde_json::Value, what: &str) -> Result<SealedSecret> {
    match codec::kind(&doc, "SealedSecret") {
        Kind::Expected | Kind::Missing => {}
        Kind::Other(k) => bail!("{what} is not a SealedSecret (kind {k:?})"),
        Kind::NotAString => bail!("{what} is not a SealedSecret (kind is not a string)"),
    }
    serde_json::from_value::<SealedSecret>(doc)
        .map_err(|e| anyhow!("{what} is not a valid SealedSecret: {e}"))
}

/// Every private key in `files` (PEM keys, key Secrets, `v1.List`s of them), without
/// duplicates; an unreadable or invalid file is an error naming it.
pub fn read_private_keys(files: &[String]) -> Result<Vec<PrivateKey>> {
    let mut keys = Vec::new();
    for f in files.iter().filter(|f| !f.is_empty()) {
        let data = zeroize::Zeroizing::new(
            std::fs::read(f).with_context(|| format!("cannot read private key file {f:?}"))?,
        );
        keys.extend(
            private_keys_from_bytes(&data, Backend::AwsLc)
                .with_context(|| format!("invalid private key file {f:?}"))?,
        );
    }
    dedup(&mut keys);
    Ok(keys)
}
