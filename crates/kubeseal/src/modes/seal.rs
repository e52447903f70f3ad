//! The default mode: every Secret in the input (`-f` or stdin; YAML documents or concatenated
//! JSON) sealed into a SealedSecret.

use anyhow::{Result, bail};
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::{InputSecret, PublicKey, Scope, SealOptions, seal};

use crate::cluster::Connection;
use crate::input::Input;

#[derive(Debug, Clone)]
pub struct Options {
    /// `--scope`; `None` lets the input's annotations decide.
    pub scope: Option<Scope>,
    pub allow_empty_data: bool,
    /// `--name`: replaces (or supplies) the input's name.
    pub name: Option<String>,
    /// `--key-hint`: record the sealing key's fingerprint.
    pub key_hint: bool,
    pub format: Format,
}

pub fn run(
    opts: &Options,
    key: &PublicKey,
    conn: &Connection,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    let docs = codec::parse_documents(input.bytes()?)?;
    if docs.is_empty() {
        bail!("no secrets found. Ensure the input is valid and UTF-8 encoded");
    }
    let (namespace, explicit) = conn.namespace();
    let seal_opts = SealOptions {
        scope: opts.scope,
        allow_empty_data: opts.allow_empty_data,
        name: opts.name.clone(),
        force_namespace: None,
        default_namespace: Some(namespace),
        namespace_explicit: explicit,
    };
    for doc in docs {
        let secret = InputSecret::from_value(doc)?;
        let mut sealed = seal(secret, key, &seal_opts)?;
        if opts.key_hint {
            sealed.metadata.annotations.get_or_insert_default().insert(
                sealed_secrets_core::annotations::KEY_HINT.to_string(),
                key.fingerprint().to_string(),
            );
        }
        out.extend_from_slice(codec::render_sealed_secret(&sealed, opts.format)?.as_bytes());
    }
    Ok(())
}
