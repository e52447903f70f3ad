//! `kubeseal set FILE [KEY=VALUE]… [--from-file KEY=PATH]… [--unset KEY]…`: seals the named
//! items into an existing sealed file; every other byte of the file stays as it was.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result, anyhow, bail};
use sealed_secrets_core::splice::ItemChanges;
use zeroize::Zeroizing;

use crate::cert::{CertSource, parse_cert};
use crate::cli::SetArgs;
use crate::sealed_file::{SealedFile, check_item_name, seal_item};

/// The new plaintexts, wiped on drop.
type Values = BTreeMap<String, Zeroizing<Vec<u8>>>;

fn insert(values: &mut Values, key: &str, value: Zeroizing<Vec<u8>>) -> Result<()> {
    check_item_name(key)?;
    if values.insert(key.to_string(), value).is_some() {
        bail!("item {key:?} is given more than once");
    }
    Ok(())
}

/// Collects the values from the arguments, files and stdin (before anything else happens, so
/// that a typo fails fast).
fn collect_values(args: &SetArgs) -> Result<Values> {
    let mut values = Values::new();
    let mut stdin_used = false;
    for (i, spec) in args.items.iter().enumerate() {
        // Never quote the argument: it holds a secret.
        let Some((key, value)) = spec.split_once('=') else {
            bail!(
                "argument {} after the file is not KEY=VALUE (use KEY=- to read the value from stdin)",
                i + 1
            );
        };
        let value = if value == "-" {
            if stdin_used {
                bail!("only one item can be read from stdin");
            }
            stdin_used = true;
            let mut buf = Zeroizing::new(Vec::new());
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            buf
        } else {
            Zeroizing::new(value.as_bytes().to_vec())
        };
        insert(&mut values, key, value)?;
    }
    for spec in &args.from_file {
        let (key, path) = match spec.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                std::path::Path::new(spec)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                spec.as_str(),
            ),
        };
        let data = Zeroizing::new(
            std::fs::read(path).with_context(|| format!("cannot read --from-file {path:?}"))?,
        );
        insert(&mut values, &key, data)?;
    }
    Ok(values)
}

pub fn run(args: &SetArgs, source: &CertSource) -> Result<()> {
    let values = collect_values(args)?;
    for key in &args.unset {
        check_item_name(key)?;
        if values.contains_key(key) {
            bail!("item {key:?} is both set and unset");
        }
    }
    if values.is_empty() && args.unset.is_empty() {
        bail!("nothing to do: give KEY=VALUE, --from-file or --unset");
    }
    let mut file = SealedFile::load(&args.file)?;
    let doc = file.select(args.name.as_deref())?;
    let ss = file.sealed(doc)?.clone();
    let mut changes = ItemChanges::default();
    for key in &args.unset {
        if !ss.spec.encrypted_data.contains_key(key) {
            bail!("{:?} has no item {key:?} to unset", args.file);
        }
        changes.remove.insert(key.clone());
    }
    if !values.is_empty() {
        let cert = parse_cert(&source.open()?)?;
        for (key, plain) in &values {
            let ct = seal_item(&ss, cert.public_key(), key, plain)
                .map_err(|e| anyhow!("{:?}: {e:#}", args.file))?;
            changes.set.insert(key.clone(), ct);
        }
    }
    file.apply(doc, &changes)?;
    file.write()
}
