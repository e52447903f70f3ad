//! `--re-encrypt` (`--rotate`) of the SealedSecrets in one input: through the controller
//! (`/v1/rotate`), or offline with `--recovery-private-key` for the `--cert` certificate.
//! Several files, or `-R`, are `reencrypt_many`.

use anyhow::{Context, Result, anyhow, bail};
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::{SealedSecret, reencrypt};

use crate::cert::CertSource;
use crate::cluster::runtime;
use crate::input::{Input, read_private_keys};
use crate::output::clean_for_output;

#[derive(Debug, Clone)]
pub struct Options {
    /// `--recovery-private-key` files: offline when given, else through the controller.
    pub recovery_keys: Vec<String>,
    pub format: Format,
}

pub fn run(
    opts: &Options,
    source: &CertSource,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    if opts.recovery_keys.is_empty() {
        online(source, opts.format, input, out)
    } else {
        offline(source, &opts.recovery_keys, opts.format, input, out)
    }
}

fn online(source: &CertSource, format: Format, input: &mut Input, out: &mut Vec<u8>) -> Result<()> {
    let docs = input.sealed_secrets()?;
    runtime()?.block_on(async {
        let ctl = source.controller.connect().await?;
        for ss in docs {
            let body = serde_json::to_vec(&ss)?;
            let Some(text) = ctl
                .rotate(body)
                .await
                .map_err(|e| anyhow!("cannot re-encrypt secret: {e}"))?
            else {
                bail!("unable to rotate secret");
            };
            let mut new: SealedSecret = serde_json::from_str(&text)
                .context("the controller returned an invalid SealedSecret")?;
            clean_for_output(&mut new);
            out.extend_from_slice(codec::render_sealed_secret(&new, format)?.as_bytes());
        }
        Ok(())
    })
}

fn offline(
    source: &CertSource,
    keys: &[String],
    format: Format,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    let cert = source.offline()?;
    let keys = read_private_keys(keys)?;
    for ss in input.sealed_secrets()? {
        let mut new = reencrypt(&ss, &keys, cert.public_key()).map_err(|e| {
            anyhow!(
                "cannot re-encrypt {}: {e}",
                ss.metadata.name.as_deref().unwrap_or("<unnamed>")
            )
        })?;
        clean_for_output(&mut new);
        out.extend_from_slice(codec::render_sealed_secret(&new, format)?.as_bytes());
    }
    Ok(())
}
