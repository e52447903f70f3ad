//! `--recovery-unseal`: one SealedSecret decrypted offline with `--recovery-private-key`, for
//! disaster recovery. The output is plaintext: kept in wiped buffers, written owner-only.

use anyhow::{Result, bail};
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::{UnsealOptions, unseal};
use zeroize::Zeroizing;

use crate::input::{Input, read_private_keys};

#[derive(Debug, Clone)]
pub struct Options {
    /// `--recovery-private-key` files.
    pub keys: Vec<String>,
    pub format: Format,
}

pub fn run(opts: &Options, input: &mut Input, out: &mut Vec<u8>) -> Result<()> {
    if opts.keys.is_empty() {
        bail!("--recovery-unseal requires --recovery-private-key");
    }
    let keys = read_private_keys(&opts.keys)?;
    let docs = input.sealed_secrets()?;
    let [ss] = docs.as_slice() else {
        bail!(
            "--recovery-unseal expects exactly one SealedSecret, found {}",
            docs.len()
        );
    };
    let unsealed = unseal(ss, &keys, UnsealOptions::default())?;
    // k8s-openapi writes `apiVersion` and `kind` itself.
    let rendered = Zeroizing::new(codec::render(&unsealed.secret, opts.format)?);
    // Reserve first so that no reallocation leaves an unwiped copy behind.
    out.reserve(rendered.len());
    out.extend_from_slice(rendered.as_bytes());
    Ok(())
}
