//! `--merge-into FILE`: the input's items sealed for the existing SealedSecret in FILE (its
//! name, namespace and scope) and merged into it; FILE is rewritten in place.

use anyhow::{Context, Result, bail};
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::{InputSecret, PublicKey, Scope, SealOptions, seal};

use crate::cluster::Connection;
use crate::input::{Input, sealed_secret_from_value};
use crate::output::{Sensitivity, write_atomically};

#[derive(Debug, Clone)]
pub struct Options {
    /// The sealed file to merge into.
    pub target: String,
    /// `--scope`: must agree with the file's.
    pub scope: Option<Scope>,
    pub allow_empty_data: bool,
    /// `-o`; without it the file keeps its own format.
    pub format: Option<Format>,
}

pub fn run(opts: &Options, key: &PublicKey, conn: &Connection, input: &mut Input) -> Result<()> {
    let target = &opts.target;
    let scope = opts.scope;
    let original_bytes = std::fs::read(target)
        .with_context(|| format!("cannot read --merge-into file {target:?}"))?;
    let mut original = sealed_secret_from_value(
        codec::parse_single(&original_bytes)
            .with_context(|| format!("cannot read --merge-into file {target:?}"))?,
        &format!("{target:?}"),
    )?;
    let original_scope = Scope::from_annotations(original.metadata.annotations.as_ref());
    if let Some(s) = scope.filter(|s| *s != original_scope) {
        bail!(
            "scope mismatch: {target:?} is sealed with scope {original_scope}, but --scope {s} was given"
        );
    }
    let (namespace, explicit) = conn.namespace();
    let seal_opts = SealOptions {
        scope: Some(original_scope),
        allow_empty_data: opts.allow_empty_data,
        name: original.metadata.name.clone(),
        force_namespace: original.metadata.namespace.clone(),
        default_namespace: Some(namespace),
        namespace_explicit: explicit,
    };
    let docs = codec::parse_documents(input.bytes()?)?;
    if docs.is_empty() {
        bail!("no secrets found. Ensure the input is valid and UTF-8 encoded");
    }
    for doc in docs {
        let secret = InputSecret::from_value(doc)?;
        // The input's own scope annotations win over a strict (or no) --scope and would
        // produce items that cannot be decrypted under the original's scope.
        let declared = Scope::from_annotations(secret.metadata.annotations.as_ref());
        if scope.filter(|s| *s != Scope::Strict).is_none()
            && declared != Scope::Strict
            && declared != original_scope
        {
            bail!(
                "scope mismatch: {target:?} is sealed with scope {original_scope}, but the input secret is annotated with scope {declared}"
            );
        }
        let update = seal(secret, key, &seal_opts)?;
        sealed_secrets_core::seal::merge_into(&mut original, update);
    }
    // Keep the file's own format unless -o says otherwise (upstream always wrote JSON).
    let format = opts.format.unwrap_or_else(|| {
        match original_bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Yaml,
        }
    });
    let rendered = codec::render_sealed_secret(&original, format)?;
    write_atomically(target, rendered.as_bytes(), Sensitivity::Sealed)
}
