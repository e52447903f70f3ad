//! `--raw`: one value (stdin, or the one `--from-file`) sealed on its own, printed as the bare
//! base64 ciphertext, for the scope's label.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use sealed_secrets_core::{PublicKey, Scope, seal_raw};
use zeroize::Zeroizing;

use crate::cluster::Connection;

#[derive(Debug, Clone)]
pub struct Options {
    /// `--scope`; strict when not given.
    pub scope: Option<Scope>,
    pub name: Option<String>,
    pub from_file: Vec<String>,
}

pub fn run(opts: &Options, key: &PublicKey, conn: &Connection, out: &mut Vec<u8>) -> Result<()> {
    let scope = opts.scope.unwrap_or_default();
    let name = opts.name.as_deref().unwrap_or_default();
    let mut ns = String::new();
    if scope < Scope::ClusterWide {
        ns = conn.namespace().0;
        if ns.is_empty() {
            bail!("must provide the --namespace flag with --raw and --scope {scope}");
        }
        if name.is_empty() && scope < Scope::NamespaceWide {
            bail!("must provide the --name flag with --raw and --scope {scope}");
        }
    }
    let data = Zeroizing::new(if let Some(spec) = opts.from_file.first() {
        if opts.from_file.len() > 1 {
            bail!("must provide only one --from-file when encrypting a single item with --raw");
        }
        let path = spec.split_once('=').map_or(spec.as_str(), |(_, p)| p);
        std::fs::read(path).with_context(|| format!("cannot read --from-file {path:?}"))?
    } else {
        if std::io::stdin().is_terminal() {
            eprintln!("(tty detected: expecting a secret to encrypt in stdin)");
        }
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        buf
    });
    let sealed = seal_raw(key, scope, &ns, name, &data)?;
    out.extend_from_slice(sealed.as_bytes());
    Ok(())
}
